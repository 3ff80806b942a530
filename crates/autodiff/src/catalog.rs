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
            format!("where_ {sa:?}, {sb:?}{tag}"),
            vec![
                s.tensor(&sa, -1.0, 1.0, transposed)?,
                s.tensor(&sb, -1.0, 1.0, false)?,
            ],
            move |_, v| Var::where_(&mask, v[0], v[1]),
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
    let pools: [(&str, [usize; 4], Window2d); 3] = [
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
    ];
    for (i, (name, xs, win)) in pools.into_iter().enumerate() {
        let tag = if i % 2 == 0 { " (transposed)" } else { "" };
        out.push(case(
            format!("max_pool2d {xs:?} {name}{tag}"),
            vec![s.tensor(&xs, -1.0, 1.0, i % 2 == 0)?],
            move |_, v| v[0].max_pool2d(win),
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
