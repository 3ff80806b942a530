//! The catalog of differentiable ops with sample inputs: every op the tape differentiates,
//! on seeded random shapes (size-1 axes, broadcasting, transposed non-contiguous inputs),
//! plus a small two-layer tanh network. The test suite gradchecks every entry and the
//! `gradcheck` example prints the table; a new op is covered by adding one line here.

use crate::error::Result;
use crate::gradcheck::MultiFunction;
use crate::tape::Var;
use descent_tensor::{ConvOptions, Tensor, Window2d};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One op applied to sample inputs.
pub struct Case {
    /// The op and the variant, e.g. `"add [2, 1, 3] + [3] (transposed)"`.
    pub name: String,
    /// The sample inputs (some are non-contiguous views).
    pub inputs: Vec<Tensor<f64>>,
    /// The function under test.
    pub f: Box<dyn MultiFunction>,
}

/// Draws sample inputs: shapes and values from a seeded RNG.
struct Sampler {
    rng: StdRng,
}

impl Sampler {
    /// A random shape of rank `lo..=hi` with axes of length 1 to 3.
    fn shape(&mut self, lo: usize, hi: usize) -> Vec<usize> {
        let rank = self.rng.random_range(lo..=hi);
        (0..rank).map(|_| self.rng.random_range(1..=3)).collect()
    }

    /// Uniform values in `[lo, hi)`; with `transposed`, a transposed view of a tensor of
    /// the swapped shape (a non-contiguous input).
    fn tensor(
        &mut self,
        shape: &[usize],
        lo: f64,
        hi: f64,
        transposed: bool,
    ) -> Result<Tensor<f64>> {
        if transposed && shape.len() >= 2 {
            let mut swapped = shape.to_vec();
            swapped.swap(shape.len() - 2, shape.len() - 1);
            Ok(Tensor::rand(&swapped, lo, hi, &mut self.rng)?.t()?)
        } else {
            Ok(Tensor::rand(shape, lo, hi, &mut self.rng)?)
        }
    }

    /// Values in `±[lo, hi)`: magnitudes kept away from 0 (for divisors and kinks).
    fn away_from_zero(
        &mut self,
        shape: &[usize],
        lo: f64,
        hi: f64,
        transposed: bool,
    ) -> Result<Tensor<f64>> {
        let t = self.tensor(shape, lo, hi, transposed)?;
        let signs = self.tensor(shape, -1.0, 1.0, false)?.sign();
        Ok(t.mul(&signs)?)
    }

    /// A random axis list (possibly empty: all axes) for `rank` axes, and a keepdim flag.
    fn axes(&mut self, rank: usize) -> (Vec<isize>, bool) {
        let mut dims = Vec::new();
        for d in 0..rank as isize {
            if self.rng.random_bool(0.5) {
                dims.push(if self.rng.random_bool(0.5) {
                    d - rank as isize
                } else {
                    d
                });
            }
        }
        (dims, self.rng.random_bool(0.5))
    }
}

/// Wraps a closure as a catalog entry.
fn case(
    name: impl Into<String>,
    inputs: Vec<Tensor<f64>>,
    f: impl MultiFunction + 'static,
) -> Case {
    Case {
        name: name.into(),
        inputs,
        f: Box::new(f),
    }
}

type Unary = for<'t> fn(Var<'t, f64>) -> Result<Var<'t, f64>>;
type Binary = for<'t> fn(Var<'t, f64>, Var<'t, f64>) -> Result<Var<'t, f64>>;
/// A unary closure that captures its sample masks or indices.
type BoxedUnary = Box<dyn for<'t> Fn(Var<'t, f64>) -> Result<Var<'t, f64>>>;

/// Every differentiable op, each on two variants (contiguous, and transposed with
/// broadcasting where it applies), from `seed`.
///
/// # Errors
/// Only if a sample cannot be built (a bug in the catalog).
pub fn cases(seed: u64) -> Result<Vec<Case>> {
    let mut s = Sampler {
        rng: StdRng::seed_from_u64(seed),
    };
    let mut out = Vec::new();
    for transposed in [false, true] {
        let tag = if transposed { " (transposed)" } else { "" };
        let any: [(&str, Unary); 10] = [
            ("neg", |x| x.neg()),
            ("exp", |x| x.exp()),
            ("square", |x| x.square()),
            ("powf 3", |x| x.powf(3.0)),
            ("sin", |x| x.sin()),
            ("cos", |x| x.cos()),
            ("tanh", |x| x.tanh()),
            ("sigmoid", |x| x.sigmoid()),
            ("softplus", |x| x.softplus()),
            ("clamp -0.5..0.5", |x| x.clamp(-0.5, 0.5)),
        ];
        for (name, f) in any {
            let shape = s.shape(0, 3);
            out.push(case(
                format!("{name} {shape:?}{tag}"),
                vec![s.tensor(&shape, -1.5, 1.5, transposed)?],
                move |_, v| f(v[0]),
            ));
        }
        let positive: [(&str, Unary); 3] = [
            ("ln", |x| x.ln()),
            ("sqrt", |x| x.sqrt()),
            ("powf 2.5", |x| x.powf(2.5)),
        ];
        for (name, f) in positive {
            let shape = s.shape(0, 3);
            out.push(case(
                format!("{name} {shape:?}{tag}"),
                vec![s.tensor(&shape, 0.3, 2.0, transposed)?],
                move |_, v| f(v[0]),
            ));
        }
        let kinked: [(&str, Unary); 3] = [
            ("abs", |x| x.abs()),
            ("relu", |x| x.relu()),
            ("recip", |x| x.recip()),
        ];
        for (name, f) in kinked {
            let shape = s.shape(0, 3);
            out.push(case(
                format!("{name} {shape:?}{tag}"),
                vec![s.away_from_zero(&shape, 0.2, 1.5, transposed)?],
                move |_, v| f(v[0]),
            ));
        }

        let binary: [(&str, Binary); 6] = [
            ("add", |a, b| a.add(b)),
            ("sub", |a, b| a.sub(b)),
            ("mul", |a, b| a.mul(b)),
            ("div", |a, b| a.div(b)),
            ("maximum", |a, b| a.maximum(b)),
            ("minimum", |a, b| a.minimum(b)),
        ];
        for (name, f) in binary {
            let (sa, sb) = broadcasting_pair(&mut s, transposed);
            let a = s.tensor(&sa, -1.5, 1.5, transposed)?;
            let b = if name == "div" {
                s.away_from_zero(&sb, 0.5, 1.5, false)?
            } else {
                s.tensor(&sb, -1.5, 1.5, false)?
            };
            out.push(case(
                format!("{name} {sa:?}, {sb:?}{tag}"),
                vec![a, b],
                move |_, v| f(v[0], v[1]),
            ));
        }
        let (sa, sb) = broadcasting_pair(&mut s, transposed);
        out.push(case(
            format!("pow {sa:?}, {sb:?}{tag}"),
            vec![
                s.tensor(&sa, 0.5, 2.0, transposed)?,
                s.tensor(&sb, -1.5, 1.5, false)?,
            ],
            |_, v| v[0].pow(v[1]),
        ));
        let (sa, sb) = broadcasting_pair(&mut s, transposed);
        let mask = s.tensor(&sa, -1.0, 1.0, false)?.gt_scalar(0.0);
        out.push(case(
            format!("where_cond {sa:?}, {sb:?}{tag}"),
            vec![
                s.tensor(&sa, -1.0, 1.0, transposed)?,
                s.tensor(&sb, -1.0, 1.0, false)?,
            ],
            move |_, v| Var::where_cond(&mask, v[0], v[1]),
        ));
        let shape = s.shape(0, 3);
        out.push(case(
            format!("scalar ops {shape:?}{tag}"),
            vec![s.tensor(&shape, -1.0, 1.0, transposed)?],
            |_, v| {
                v[0].add_scalar(0.5)?
                    .mul_scalar(-1.5)?
                    .div_scalar(0.7)?
                    .rsub_scalar(2.0)
            },
        ));

        // Reductions over a random axis list; axes of length >= 2 so that every variance
        // has a degree of freedom.
        let shape: Vec<usize> = s.shape(1, 3).iter().map(|n| n + 1).collect();
        let x = s.tensor(&shape, -1.5, 1.5, transposed)?;
        for (name, reduce) in reductions() {
            let (dims, keep) = s.axes(shape.len());
            out.push(case(
                format!("{name} {shape:?} over {dims:?} keepdim={keep}{tag}"),
                vec![x.clone()],
                move |_, v| reduce(v[0], &dims, keep),
            ));
        }
        let (big, small) = broadcasting_pair(&mut s, transposed);
        let full = descent_tensor::layout::broadcast_shapes("sum_to", &big, &small)?;
        out.push(case(
            format!("sum_to {full:?} -> {small:?}{tag}"),
            vec![s.tensor(&full, -1.0, 1.0, transposed)?],
            move |_, v| v[0].sum_to(&small),
        ));

        // Views.
        let x = s.tensor(&[2, 3, 4], -1.0, 1.0, transposed)?;
        let views: [(&str, Unary); 13] = [
            ("reshape", |x| x.reshape(&[4, -1])),
            ("flatten", |x| x.flatten()),
            ("transpose", |x| x.transpose(0, 2)),
            ("t", |x| x.t()),
            ("permute", |x| x.permute(&[1, 2, 0])),
            ("broadcast_to", |x| {
                x.unsqueeze(0)?.broadcast_to(&[2, 2, 3, 4])
            }),
            ("narrow", |x| x.narrow(1, 1, 2)),
            ("slice step 2", |x| x.slice(2, 1, 4, 2)),
            ("squeeze", |x| x.narrow(1, 0, 1)?.squeeze(Some(1))),
            ("unsqueeze", |x| x.unsqueeze(-1)),
            ("index_select", |x| x.index_select(-1, &[3, 0, 3])),
            ("gather", |x| {
                x.gather(1, &[0, 2, 1, 1, 2, 0, 0, 0], &[2, 1, 4])
            }),
            ("stack", |x| Var::stack(&[x, x.exp()?], 1)),
        ];
        for (name, f) in views {
            out.push(case(
                format!("{name} [2, 3, 4]{tag}"),
                vec![x.clone()],
                move |_, v| f(v[0]),
            ));
        }
        let y = s.tensor(&[2, 2, 4], -1.0, 1.0, transposed)?;
        out.push(case(
            format!("concat [2, 3, 4], [2, 2, 4]{tag}"),
            vec![x.clone(), y],
            |_, v| Var::concat(&[v[0], v[1]], 1),
        ));

        // Products and softmax.
        let (m, k, n) = (
            s.rng.random_range(1..=4),
            s.rng.random_range(1..=4),
            s.rng.random_range(1..=4),
        );
        out.push(case(
            format!("matmul [{m}, {k}] x [{k}, {n}]{tag}"),
            vec![
                s.tensor(&[m, k], -1.0, 1.0, transposed)?,
                s.tensor(&[k, n], -1.0, 1.0, transposed)?,
            ],
            |_, v| v[0].matmul(v[1]),
        ));
        out.push(case(
            format!("batched matmul [2, {m}, {k}] x [{k}, {n}]{tag}"),
            vec![
                s.tensor(&[2, m, k], -1.0, 1.0, transposed)?,
                s.tensor(&[k, n], -1.0, 1.0, transposed)?,
            ],
            |_, v| v[0].matmul(v[1]),
        ));
        out.push(case(
            format!("batched matmul [3, 1, {m}, {k}] x [2, {k}, {n}]{tag}"),
            vec![
                s.tensor(&[3, 1, m, k], -1.0, 1.0, transposed)?,
                s.tensor(&[2, k, n], -1.0, 1.0, transposed)?,
            ],
            |_, v| v[0].matmul(v[1]),
        ));
        let shape = s.shape(1, 3);
        let dim = -(s.rng.random_range(1..=shape.len()) as isize);
        let x = s.tensor(&shape, -2.0, 2.0, transposed)?;
        out.push(case(
            format!("softmax {shape:?} dim {dim}{tag}"),
            vec![x.clone()],
            move |_, v| v[0].softmax(dim),
        ));
        out.push(case(
            format!("log_softmax {shape:?} dim {dim}{tag}"),
            vec![x],
            move |_, v| v[0].log_softmax(dim),
        ));
        math_scan_cases(&mut s, &mut out, transposed)?;
        linalg_cases(&mut s, &mut out, transposed)?;
        products_cases(&mut s, &mut out, transposed)?;
        shape_cases(&mut s, &mut out, transposed)?;
    }
    out.extend(conv_cases(&mut s)?);
    out.push(case(
        "two-layer tanh network 5x3 -> 4 -> 2",
        vec![
            s.tensor(&[5, 3], -1.0, 1.0, false)?,
            s.tensor(&[3, 4], -1.0, 1.0, true)?,
            s.tensor(&[4], -0.5, 0.5, false)?,
            s.tensor(&[4, 2], -1.0, 1.0, false)?,
        ],
        |_, v| v[0].matmul(v[1])?.add(v[2])?.tanh()?.matmul(v[3]),
    ));
    Ok(out)
}

type Reduction = for<'t> fn(Var<'t, f64>, &[isize], bool) -> Result<Var<'t, f64>>;

/// The reductions, each as `(name, f(x, dims, keepdim))`.
fn reductions() -> [(&'static str, Reduction); 10] {
    [
        ("sum", |x, d, k| x.sum(d, k)),
        ("mean", |x, d, k| x.mean(d, k)),
        ("max", |x, d, k| x.max(d, k)),
        ("min", |x, d, k| x.min(d, k)),
        ("var (biased)", |x, d, k| x.var(d, 0, k)),
        ("var (unbiased)", |x, d, k| x.mul_scalar(2.0)?.var(d, 1, k)),
        ("logsumexp", |x, d, k| x.logsumexp(d, k)),
        ("norm 2", |x, d, k| x.norm(2.0, d, k)),
        ("norm 1", |x, d, k| x.norm(1.0, d, k)),
        ("norm 3", |x, d, k| x.norm(3.0, d, k)),
    ]
}

/// Two shapes that broadcast: the second drops leading axes and turns some into 1.
fn broadcasting_pair(s: &mut Sampler, at_least_2d: bool) -> (Vec<usize>, Vec<usize>) {
    let a = s.shape(if at_least_2d { 2 } else { 0 }, 3);
    let drop = s.rng.random_range(0..=a.len());
    let b = a[drop..]
        .iter()
        .map(|&n| if s.rng.random_bool(0.3) { 1 } else { n })
        .collect();
    (a, b)
}

/// Convolution and pooling on odd sizes: stride 2, padding 1, dilation 2, groups 2,
/// depthwise, with and without bias, some inputs transposed views (non-contiguous).
fn conv_cases(s: &mut Sampler) -> Result<Vec<Case>> {
    let d = ConvOptions::default();
    let mut out = Vec::new();
    let convs = [
        ("conv2d", [2, 3, 5, 4], [4, 3, 3, 2], d),
        (
            "conv2d stride 2 padding 1",
            [1, 2, 5, 5],
            [3, 2, 3, 3],
            ConvOptions {
                stride: [2, 2],
                padding: [1, 1],
                ..d
            },
        ),
        (
            "conv2d dilation 2",
            [1, 2, 6, 5],
            [2, 2, 2, 3],
            ConvOptions {
                dilation: [2, 2],
                padding: [1, 0],
                ..d
            },
        ),
        (
            "conv2d groups 2",
            [2, 4, 4, 3],
            [4, 2, 2, 2],
            ConvOptions {
                groups: 2,
                stride: [1, 2],
                ..d
            },
        ),
        (
            "conv2d depthwise",
            [1, 3, 5, 4],
            [6, 1, 3, 3],
            ConvOptions {
                groups: 3,
                padding: [1, 1],
                ..d
            },
        ),
    ];
    for (i, (name, xs, ws, opts)) in convs.into_iter().enumerate() {
        let transposed = i % 2 == 1;
        let tag = if transposed { " (transposed)" } else { "" };
        let x = s.tensor(&xs, -1.0, 1.0, transposed)?;
        let w = s.tensor(&ws, -1.0, 1.0, false)?;
        let b = s.tensor(&[ws[0]], -1.0, 1.0, false)?;
        out.push(case(
            format!("{name} {xs:?} * {ws:?}{tag}"),
            vec![x, w, b],
            move |_, v| v[0].conv2d(v[1], Some(v[2]), opts),
        ));
    }
    let opts = ConvOptions {
        stride: [2, 2],
        padding: [1, 1],
        ..d
    };
    out.push(case(
        "conv_transpose2d stride 2 padding 1 output_padding 1 [1, 2, 3, 4] * [2, 3, 3, 3]",
        vec![
            s.tensor(&[1, 2, 3, 4], -1.0, 1.0, false)?,
            s.tensor(&[2, 3, 3, 3], -1.0, 1.0, false)?,
            s.tensor(&[3], -1.0, 1.0, false)?,
        ],
        move |_, v| v[0].conv_transpose2d(v[1], Some(v[2]), opts, [1, 1]),
    ));
    let opts = ConvOptions {
        groups: 2,
        dilation: [2, 2],
        ..d
    };
    out.push(case(
        "conv_transpose2d groups 2 dilation 2 [2, 4, 3, 3] * [4, 1, 2, 2] (transposed)",
        vec![
            s.tensor(&[2, 4, 3, 3], -1.0, 1.0, true)?,
            s.tensor(&[4, 1, 2, 2], -1.0, 1.0, false)?,
        ],
        move |_, v| v[0].conv_transpose2d(v[1], None, opts, [0, 0]),
    ));
    let opts = ConvOptions {
        groups: 2,
        stride: [2, 1],
        padding: [1, 0],
        ..d
    };
    out.push(case(
        "conv2d_weight_grad groups 2 stride [2, 1] padding [1, 0] [2, 4, 3, 2] x [2, 2, 5, 4] (transposed)",
        vec![
            s.tensor(&[2, 4, 3, 2], -1.0, 1.0, true)?,
            s.tensor(&[2, 2, 5, 4], -1.0, 1.0, false)?,
        ],
        move |_, v| v[0].conv2d_weight_grad(v[1], [2, 3], opts),
    ));
    let win = Window2d::new([2, 3])
        .stride([2, 1])
        .padding([1, 1])
        .dilation([1, 2]);
    out.push(case(
        "unfold [1, 2, 5, 4] kernel [2, 3] stride [2, 1] padding 1 dilation [1, 2] (transposed)",
        vec![s.tensor(&[1, 2, 5, 4], -1.0, 1.0, true)?],
        move |_, v| v[0].unfold(win),
    ));
    out.push(case(
        "fold [1, 12, 6] -> [5, 4] kernel [2, 3] stride [2, 1] padding 1 dilation [1, 2]",
        vec![s.tensor(&[1, 12, 6], -1.0, 1.0, false)?],
        move |_, v| v[0].fold([5, 4], win),
    ));
    let pools: [(&str, [usize; 4], Window2d); 5] = [
        (
            "kernel 3 stride 2 padding 1",
            [2, 2, 5, 5],
            Window2d::new([3, 3]).stride([2, 2]).padding([1, 1]),
        ),
        (
            "kernel [2, 3] stride [1, 2]",
            [1, 2, 5, 4],
            Window2d::new([2, 3]).stride([1, 2]),
        ),
        (
            "kernel 2 dilation 2 padding 1",
            [1, 2, 5, 5],
            Window2d::new([2, 2]).dilation([2, 2]).padding([1, 1]),
        ),
        (
            "kernel 2 stride 2 ceil_mode",
            [1, 2, 5, 7],
            Window2d::new([2, 2]).stride([2, 2]).ceil_mode(true),
        ),
        (
            "kernel 3 stride [2, 4] padding 1 ceil_mode (last column window dropped)",
            [1, 1, 6, 6],
            Window2d::new([3, 3])
                .stride([2, 4])
                .padding([1, 1])
                .ceil_mode(true),
        ),
    ];
    for (i, (name, xs, win)) in pools.into_iter().enumerate() {
        let tag = if i % 2 == 0 { " (transposed)" } else { "" };
        // ReLU fused into the pool on the same sample shifted down, so that many windows
        // have no positive element (an output of 0, which passes no gradient).
        let x = s.tensor(&xs, -1.0, 1.0, i % 2 == 0)?;
        let shifted = if i % 2 == 0 {
            x.t()?.add_scalar(-0.5).t()?
        } else {
            x.add_scalar(-0.5)
        };
        out.push(case(
            format!("max_pool2d {xs:?} {name}{tag}"),
            vec![x.clone()],
            move |_, v| v[0].max_pool2d(win),
        ));
        out.push(case(
            format!("relu_max_pool2d {xs:?} {name}{tag}"),
            vec![shifted],
            move |_, v| v[0].relu_max_pool2d(win),
        ));
        if win.dilation == [1, 1] {
            for include in [true, false] {
                out.push(case(
                    format!("avg_pool2d {xs:?} {name} count_include_pad={include}{tag}"),
                    vec![s.tensor(&xs, -1.0, 1.0, i % 2 == 0)?],
                    move |_, v| v[0].avg_pool2d(win, include),
                ));
            }
        }
    }
    let win = Window2d::new([3, 3]).stride([2, 2]).padding([1, 1]);
    out.push(case(
        "avg_pool2d_adjoint [1, 2, 3, 2] -> [5, 4] kernel 3 stride 2 padding 1",
        vec![s.tensor(&[1, 2, 3, 2], -1.0, 1.0, false)?],
        move |_, v| v[0].avg_pool2d_adjoint([5, 4], win, false),
    ));
    // The max pool's backward as an op of its own, through the argmax of overlapping
    // windows (a position can take two gradients).
    let (_, index) = s
        .tensor(&[1, 2, 5, 4], -1.0, 1.0, false)?
        .max_pool2d_with_indices(win)?;
    let index = std::sync::Arc::new(index);
    out.push(case(
        "max_pool2d_adjoint [1, 2, 3, 2] -> [5, 4] kernel 3 stride 2 padding 1 (transposed)",
        vec![s.tensor(&[1, 2, 3, 2], -1.0, 1.0, true)?],
        move |_, v| v[0].max_pool2d_adjoint(index.clone(), [5, 4]),
    ));
    out.push(case(
        "adaptive_avg_pool2d_adjoint [1, 2, 3, 4] -> [5, 7] (transposed)",
        vec![s.tensor(&[1, 2, 3, 4], -1.0, 1.0, true)?],
        |_, v| v[0].adaptive_avg_pool2d_adjoint([5, 7]),
    ));
    for (xs, size) in [([1, 2, 5, 7], [3, 4]), ([2, 1, 4, 4], [3, 3])] {
        out.push(case(
            format!("adaptive_avg_pool2d {xs:?} -> {size:?} (transposed)"),
            vec![s.tensor(&xs, -1.0, 1.0, true)?],
            move |_, v| v[0].adaptive_avg_pool2d(size),
        ));
    }
    Ok(out)
}

/// Element-wise math, the extra reductions, scans and order-selecting ops, each on its
/// domain: contiguous or transposed inputs, broadcasting binary operands, exact zeros in
/// `prod` and `cumprod` (multilinear, so central differences are exact there too).
fn math_scan_cases(s: &mut Sampler, out: &mut Vec<Case>, transposed: bool) -> Result<()> {
    let tag = if transposed { " (transposed)" } else { "" };
    /// Ops sampled on `[lo, hi)`.
    type Domain<'a> = (f64, f64, &'a [(&'a str, Unary)]);
    let domains: [Domain; 4] = [
        (
            -1.2,
            1.2,
            &[
                ("expm1", |x| x.expm1()),
                ("tan", |x| x.tan()),
                ("atan", |x| x.atan()),
                ("sinh", |x| x.sinh()),
                ("cosh", |x| x.cosh()),
                ("asinh", |x| x.asinh()),
                ("floor", |x| x.floor()),
                ("ceil", |x| x.ceil()),
                ("round", |x| x.round()),
                ("trunc", |x| x.trunc()),
                ("frac", |x| x.frac()),
            ],
        ),
        (
            -0.9,
            0.9,
            &[
                ("asin", |x| x.asin()),
                ("acos", |x| x.acos()),
                ("atanh", |x| x.atanh()),
            ],
        ),
        (
            0.3,
            2.0,
            &[
                ("log1p", |x| x.log1p()),
                ("log2", |x| x.log2()),
                ("log10", |x| x.log10()),
                ("rsqrt", |x| x.rsqrt()),
            ],
        ),
        (1.2, 3.0, &[("acosh", |x| x.acosh())]),
    ];
    for (lo, hi, ops) in domains {
        for &(name, f) in ops {
            let shape = s.shape(0, 3);
            out.push(case(
                format!("{name} {shape:?}{tag}"),
                vec![s.tensor(&shape, lo, hi, transposed)?],
                move |_, v| f(v[0]),
            ));
        }
    }
    let binary: [(&str, Binary); 5] = [
        ("atan2", |a, b| a.atan2(b)),
        ("hypot", |a, b| a.hypot(b)),
        ("logaddexp", |a, b| a.logaddexp(b)),
        ("xlogy", |a, b| a.xlogy(b)),
        ("lerp_scalar 0.7", |a, b| a.lerp_scalar(b, 0.7)),
    ];
    for (name, f) in binary {
        let (sa, sb) = broadcasting_pair(s, transposed);
        let a = s.away_from_zero(&sa, 0.2, 1.5, transposed)?;
        let b = if name == "xlogy" {
            s.tensor(&sb, 0.3, 2.0, false)?
        } else {
            s.away_from_zero(&sb, 0.2, 1.5, false)?
        };
        out.push(case(
            format!("{name} {sa:?}, {sb:?}{tag}"),
            vec![a, b],
            move |_, v| f(v[0], v[1]),
        ));
    }
    let (sa, sb) = broadcasting_pair(s, transposed);
    out.push(case(
        format!("lerp {sa:?}, {sa:?}, weight {sb:?}{tag}"),
        vec![
            s.tensor(&sa, -1.0, 1.0, transposed)?,
            s.tensor(&sa, -1.0, 1.0, false)?,
            s.tensor(&sb, -0.5, 1.5, false)?,
        ],
        |_, v| v[0].lerp(v[1], v[2]),
    ));

    // Reductions over a random axis list; axes of length >= 2 for the deviations.
    let shape: Vec<usize> = s.shape(1, 3).iter().map(|n| n + 1).collect();
    let x = s.away_from_zero(&shape, 0.5, 1.5, transposed)?;
    let reductions: [(&str, Reduction); 3] = [
        ("prod", |x, d, k| x.prod(d, k)),
        ("std (biased)", |x, d, k| x.std(d, 0, k)),
        ("std (unbiased)", |x, d, k| x.std(d, 1, k)),
    ];
    for (name, reduce) in reductions {
        let (dims, keep) = s.axes(shape.len());
        out.push(case(
            format!("{name} {shape:?} over {dims:?} keepdim={keep}{tag}"),
            vec![x.clone()],
            move |_, v| reduce(v[0], &dims, keep),
        ));
    }
    // Rows with no zero, one zero and two zeros.
    let zeros = Tensor::from_vec(
        vec![0.5, -1.5, 0.7, 1.2, 0.0, 0.9, 0.0, 1.1, 0.0, 0.8, -0.6, 1.3],
        &[3, 4],
    )?;
    let zeros = if transposed {
        zeros.t()?.contiguous().t()?
    } else {
        zeros
    };
    for dims in [vec![1], vec![]] {
        out.push(case(
            format!("prod with zeros [3, 4] over {dims:?}{tag}"),
            vec![zeros.clone()],
            move |_, v| v[0].prod(&dims, false),
        ));
    }
    out.push(case(
        format!("cumprod with zeros [3, 4] dim 1{tag}"),
        vec![zeros.clone()],
        |_, v| v[0].cumprod(1),
    ));

    // Scans and order along a random axis.
    let shape = s.shape(1, 3).iter().map(|n| n + 1).collect::<Vec<_>>();
    let dim = s.rng.random_range(0..shape.len()) as isize - shape.len() as isize;
    let k = s
        .rng
        .random_range(1..=shape[(dim + shape.len() as isize) as usize]);
    let x = s.away_from_zero(&shape, 0.3, 1.5, transposed)?;
    type Along = Box<dyn Fn(Var<'_, f64>) -> Result<Var<'_, f64>>>;
    let scans: [(&str, Along); 10] = [
        ("cumsum", Box::new(move |x| x.cumsum(dim))),
        ("cumprod", Box::new(move |x| x.cumprod(dim))),
        ("logcumsumexp", Box::new(move |x| x.logcumsumexp(dim))),
        (
            "sort descending",
            Box::new(move |x| Ok(x.sort(dim, true, true)?.0)),
        ),
        ("topk {k}", Box::new(move |x| Ok(x.topk(k, dim, true)?.0))),
        (
            "topk {k} smallest",
            Box::new(move |x| Ok(x.topk(k, dim, false)?.0)),
        ),
        (
            "kthvalue {k}",
            Box::new(move |x| Ok(x.kthvalue(k, dim, false)?.0)),
        ),
        ("median", Box::new(move |x| Ok(x.median(dim, true)?.0))),
        ("max_dim", Box::new(move |x| Ok(x.max_dim(dim, false)?.0))),
        ("min_dim", Box::new(move |x| Ok(x.min_dim(dim, true)?.0))),
    ];
    for (name, f) in scans {
        let name = name.replace("{k}", &k.to_string());
        out.push(case(
            format!("{name} {shape:?} dim {dim}{tag}"),
            vec![x.clone()],
            move |_, v| f(v[0]),
        ));
    }
    Ok(())
}

/// A well-conditioned square matrix (or batch): uniform entries plus `3·I`.
fn conditioned(s: &mut Sampler, shape: &[usize], transposed: bool) -> Result<Tensor<f64>> {
    let n = shape[shape.len() - 1];
    Ok(s.tensor(shape, -1.0, 1.0, transposed)?
        .add(&Tensor::eye(n).mul_scalar(3.0))?)
}

/// Linear algebra, batched and not, contiguous and transposed: inverse, solve (matrix and
/// vector right-hand sides, broadcast batch), det, slogdet, cholesky, qr, eigh, svd,
/// svdvals and the matrix and vector norms. Symmetric inputs are formed inside the function
/// (`X + Xᵀ`, `X·Xᵀ + I`), as the factorizations read one triangle only.
fn linalg_cases(s: &mut Sampler, out: &mut Vec<Case>, transposed: bool) -> Result<()> {
    use crate::ops::MatrixNorm;
    let tag = if transposed { " (transposed)" } else { "" };
    let batch: Vec<usize> = if s.rng.random_bool(0.5) {
        vec![2]
    } else {
        vec![]
    };
    let sq = |n: usize| [batch.clone(), vec![n, n]].concat();
    let unary: [(&str, Unary); 5] = [
        ("inverse", |x| x.inverse()),
        ("det", |x| x.det()),
        ("slogdet", |x| Ok(x.slogdet()?.1)),
        ("cholesky of X·Xᵀ + I", |x| {
            let n = x.shape()[x.shape().len() - 1];
            let spd = x.matmul(x.transpose(-2, -1)?)?;
            spd.add(x.constant(Tensor::eye(n)))?.cholesky()
        }),
        ("eigh of X + Xᵀ: V·diag(λ)", |x| {
            let (l, v) = x.add(x.transpose(-2, -1)?)?.eigh()?;
            v.mul(l.unsqueeze(-2)?)
        }),
    ];
    for (name, f) in unary {
        let shape = sq(3);
        out.push(case(
            format!("{name} {shape:?}{tag}"),
            vec![conditioned(s, &shape, transposed)?],
            move |_, v| f(v[0]),
        ));
    }
    let a = sq(3);
    out.push(case(
        format!("solve {a:?}, [3, 2] (broadcast){tag}"),
        vec![
            conditioned(s, &a, transposed)?,
            s.tensor(&[3, 2], -1.0, 1.0, transposed)?,
        ],
        |_, v| v[0].solve(v[1]),
    ));
    out.push(case(
        format!("solve {a:?}, vector [3]{tag}"),
        vec![
            conditioned(s, &a, transposed)?,
            s.tensor(&[3], -1.0, 1.0, false)?,
        ],
        |_, v| v[0].solve(v[1]),
    ));
    for (m, n) in [(3, 3), (4, 2), (2, 4)] {
        let shape = [batch.clone(), vec![m, n]].concat();
        let x = s.tensor(&shape, -1.0, 1.0, transposed)?;
        out.push(case(
            format!("svd {shape:?}: U, S, Vh{tag}"),
            vec![x.clone()],
            |_, v| {
                let (u, s, vh) = v[0].svd()?;
                Var::concat(&[u.flatten()?, s.flatten()?, vh.flatten()?], 0)
            },
        ));
        out.push(case(
            format!("svdvals {shape:?}{tag}"),
            vec![x.clone()],
            |_, v| v[0].svdvals(),
        ));
        if m >= n {
            out.push(case(format!("qr {shape:?}: Q, R{tag}"), vec![x], |_, v| {
                let (q, r) = v[0].qr()?;
                Var::concat(&[q.flatten()?, r.flatten()?], 0)
            }));
        }
    }
    let norms = [
        MatrixNorm::Fro,
        MatrixNorm::Nuc,
        MatrixNorm::Two,
        MatrixNorm::NegTwo,
        MatrixNorm::One,
        MatrixNorm::NegOne,
        MatrixNorm::Inf,
        MatrixNorm::NegInf,
    ];
    for ord in norms {
        let shape = [batch.clone(), vec![3, 4]].concat();
        let keepdim = s.rng.random_bool(0.5);
        out.push(case(
            format!("matrix_norm {ord:?} {shape:?} keepdim {keepdim}{tag}"),
            vec![s.away_from_zero(&shape, 0.2, 1.5, transposed)?],
            move |_, v| v[0].matrix_norm(ord, keepdim),
        ));
    }
    let shape = s.shape(1, 3);
    out.push(case(
        format!("vector_norm -inf {shape:?}{tag}"),
        vec![s.away_from_zero(&shape, 0.2, 1.5, transposed)?],
        |_, v| v[0].vector_norm(f64::NEG_INFINITY, &[-1], false),
    ));
    Ok(())
}

/// Products: `matmul` with 1-D operands (vector·matrix, matrix·vector, vector·vector, batched
/// with broadcasting), `dot`, `outer`, and `einsum` on one- and two-operand equations
/// (batch axes, transposed operands, traces, diagonals, merged groups of axes).
fn products_cases(s: &mut Sampler, out: &mut Vec<Case>, transposed: bool) -> Result<()> {
    let tag = if transposed { " (transposed)" } else { "" };
    let pairs: [(&[usize], &[usize]); 6] = [
        (&[3], &[3, 2]),
        (&[2, 3], &[3]),
        (&[3], &[3]),
        (&[2, 3, 4], &[4]),
        (&[4], &[2, 4, 3]),
        (&[2, 1, 3, 4], &[3, 4, 2]),
    ];
    for (sa, sb) in pairs {
        out.push(case(
            format!("matmul {sa:?}, {sb:?}{tag}"),
            vec![
                s.tensor(sa, -1.0, 1.0, transposed)?,
                s.tensor(sb, -1.0, 1.0, transposed)?,
            ],
            |_, v| v[0].matmul(v[1]),
        ));
    }
    out.push(case(
        format!("dot [4], [4]{tag}"),
        vec![
            s.tensor(&[4], -1.0, 1.0, false)?,
            s.tensor(&[4], -1.0, 1.0, false)?,
        ],
        |_, v| v[0].dot(v[1]),
    ));
    out.push(case(
        format!("outer [3], [2]{tag}"),
        vec![
            s.tensor(&[3], -1.0, 1.0, false)?,
            s.tensor(&[2], -1.0, 1.0, false)?,
        ],
        |_, v| v[0].outer(v[1]),
    ));
    let einsums: [(&'static str, &[&[usize]]); 11] = [
        ("bij,bjk->bik", &[&[2, 3, 4], &[2, 4, 2]]),
        ("ij,kj->ik", &[&[3, 4], &[2, 4]]),
        ("bij,jk->bki", &[&[2, 3, 4], &[4, 2]]),
        ("abc,cd->abd", &[&[2, 3, 4], &[4, 2]]),
        ("ijk,jkl->il", &[&[2, 3, 2], &[3, 2, 4]]),
        ("i,j->ij", &[&[3], &[2]]),
        ("ij,ij->i", &[&[3, 2], &[3, 2]]),
        ("iij,jk->ik", &[&[3, 3, 2], &[2, 4]]),
        ("ij->ji", &[&[3, 4]]),
        ("ii", &[&[3, 3]]),
        ("ijk->j", &[&[2, 3, 4]]),
    ];
    for (spec, shapes) in einsums {
        let inputs = shapes
            .iter()
            .map(|sh| s.tensor(sh, -1.0, 1.0, transposed))
            .collect::<Result<Vec<_>>>()?;
        out.push(case(
            format!("einsum {spec} {shapes:?}{tag}"),
            inputs,
            move |_, v| Var::einsum(spec, v),
        ));
    }
    Ok(())
}

/// Shape and indexing ops (`flip` … `take_along_dim`, `scatter_add` with a larger source)
/// on a `[2, 3, 4]` input (a transposed view when `transposed`), and on a `[3, 1]` input
/// broadcast inside the function.
fn shape_cases(s: &mut Sampler, out: &mut Vec<Case>, transposed: bool) -> Result<()> {
    use descent_tensor::PadMode;
    let tag = if transposed { " (transposed)" } else { "" };
    let x = s.tensor(&[2, 3, 4], -1.0, 1.0, transposed)?;
    let mask = s.tensor(&[3, 4], -1.0, 1.0, false)?.gt_scalar(0.0);
    let select = s.tensor(&[2, 1, 4], -1.0, 1.0, false)?.gt_scalar(0.0);
    let mut index = |n: usize, below: usize| -> Vec<usize> {
        (0..n).map(|_| s.rng.random_range(0..below)).collect()
    };
    let (along, along_flat, scatter) = (index(4, 3), index(5, 24), index(16, 3));
    let mut ops: Vec<(&str, BoxedUnary)> = vec![
        ("flip [0, 2]", Box::new(|x| x.flip(&[0, 2]))),
        (
            "roll [1, -2] over [0, 2]",
            Box::new(|x| x.roll(&[1, -2], &[0, 2])),
        ),
        ("roll 5 flattened", Box::new(|x| x.roll(&[5], &[]))),
        ("repeat [2, 1, 1, 2]", Box::new(|x| x.repeat(&[2, 1, 1, 2]))),
        ("tile [2]", Box::new(|x| x.tile(&[2]))),
        (
            "pad constant [1, 2, 0, 1]",
            Box::new(|x| x.pad(&[1, 2, 0, 1], PadMode::Constant, 0.5)),
        ),
        (
            "pad reflect [2, 1, 1, 1]",
            Box::new(|x| x.pad(&[2, 1, 1, 1], PadMode::Reflect, 0.0)),
        ),
        (
            "pad replicate [1, 2, 2, 0]",
            Box::new(|x| x.pad(&[1, 2, 2, 0], PadMode::Replicate, 0.0)),
        ),
        (
            "pad circular [1, 3]",
            Box::new(|x| x.pad(&[1, 3], PadMode::Circular, 0.0)),
        ),
        (
            "split 2 dim 1",
            Box::new(|x| {
                let p = x.split(2, 1)?;
                Var::concat(&[p[1].exp()?, p[0]], 1)
            }),
        ),
        (
            "chunk 3 dim -1",
            Box::new(|x| {
                let p = x.chunk(3, -1)?;
                Var::concat(&[p[1], p[0].sin()?], -1)
            }),
        ),
        (
            "unbind 0",
            Box::new(|x| {
                let p = x.unbind(0)?;
                p[0].mul(p[1])
            }),
        ),
        (
            "masked_fill [3, 4] mask",
            Box::new(move |x| x.masked_fill(&mask, 2.0)),
        ),
        (
            "masked_select [2, 1, 4] mask",
            Box::new(move |x| x.masked_select(&select)),
        ),
        ("tril 0", Box::new(|x| x.tril(0))),
        ("tril 1", Box::new(|x| x.tril(1))),
        ("triu -1", Box::new(|x| x.triu(-1))),
        ("diagonal 1, 0, 2", Box::new(|x| x.diagonal(1, 0, 2))),
        ("diagonal -1, -1, 1", Box::new(|x| x.diagonal(-1, -1, 1))),
        ("diag_embed 1, 0, 2", Box::new(|x| x.diag_embed(1, 0, 2))),
        (
            "diag_embed -1, -2, -1",
            Box::new(|x| x.diag_embed(-1, -2, -1)),
        ),
        (
            "movedim [0, 2] -> [2, 0]",
            Box::new(|x| x.movedim(&[0, 2], &[2, 0])),
        ),
        ("expand_as", Box::new(|x| x.narrow(0, 0, 1)?.expand_as(x))),
        (
            "take_along_dim [2, 2, 1] dim 1",
            Box::new(move |x| x.take_along_dim(&along, &[2, 2, 1], Some(1))),
        ),
        (
            "take_along_dim flattened",
            Box::new(move |x| x.take_along_dim(&along_flat, &[5], None)),
        ),
        (
            "scatter_add src [2, 3, 4] index [2, 2, 4]",
            Box::new(move |x| Var::scatter_add(&[2, 3, 5], 1, &scatter, &[2, 2, 4], x)),
        ),
    ];
    for (name, f) in ops.drain(..) {
        out.push(case(
            format!("{name} [2, 3, 4]{tag}"),
            vec![x.clone()],
            move |_, v| f(v[0]),
        ));
    }
    let b = s.tensor(&[3, 1], -1.0, 1.0, transposed)?;
    let broadcast: [(&str, Unary); 4] = [
        ("flip", |x| x.broadcast_to(&[2, 3, 4])?.flip(&[1, 2])),
        ("pad reflect", |x| {
            x.broadcast_to(&[2, 3, 4])?
                .pad(&[2, 3], PadMode::Reflect, 0.0)
        }),
        ("tril", |x| x.broadcast_to(&[2, 3, 4])?.tril(-1)),
        ("diagonal", |x| {
            x.broadcast_to(&[2, 3, 4])?.diagonal(0, 1, 2)
        }),
    ];
    for (name, f) in broadcast {
        out.push(case(
            format!("{name} [3, 1] broadcast to [2, 3, 4]{tag}"),
            vec![b.clone()],
            move |_, v| f(v[0]),
        ));
    }
    Ok(())
}
