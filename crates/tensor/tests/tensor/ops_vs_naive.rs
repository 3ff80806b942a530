//! Every public tensor op against a reference written here, independently, as index
//! arithmetic on plain `Vec<f64>`s. Inputs have random shapes of rank 0–4 with size-0 and
//! size-1 axes, and are laid out contiguously or as permuted, strided (step 2, offset) and
//! broadcast (stride 0) views; every case runs in f32 and in f64. Values are multiples of
//! 1/8 in [-3, 3], exact in both types, so ties and equal elements occur.

use crate::common;

use common::{numel, ravel, unravel};
use descent_tensor::{Float, Tensor};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

pub(crate) type Check = Result<(), TestCaseError>;

// ----- index arithmetic ------------------------------------------------------------------

/// NumPy's broadcast of two shapes, or `None` if they do not broadcast.
fn broadcast(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let at = |s: &[usize], i: usize| {
        if i + s.len() >= n {
            s[i + s.len() - n]
        } else {
            1
        }
    };
    (0..n)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y || y == 1 => Some(x),
            (1, y) => Some(y),
            _ => None,
        })
        .collect()
}

/// Flat position, in an operand of `shape`, of the element broadcast to multi-index `idx`.
fn source(idx: &[usize], shape: &[usize]) -> usize {
    let lead = idx.len() - shape.len();
    shape.iter().enumerate().fold(0, |acc, (d, &n)| {
        acc * n + if n == 1 { 0 } else { idx[lead + d] }
    })
}

/// SplitMix64: derives the layouts, values and indices of a case from one seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// A shape that broadcasts to `shape`: leading axes dropped, some axes set to 1.
    fn broadcastable(&mut self, shape: &[usize]) -> Vec<usize> {
        let drop = self.below(shape.len() + 1);
        shape[drop..]
            .iter()
            .map(|&n| if self.below(3) == 0 { 1 } else { n })
            .collect()
    }
    /// Usually a shape that broadcasts to `shape`, sometimes an unrelated small one.
    fn partner(&mut self, shape: &[usize]) -> Vec<usize> {
        if self.below(4) == 0 {
            let rank = self.below(4);
            (0..rank).map(|_| 1 + self.below(3)).collect()
        } else {
            self.broadcastable(shape)
        }
    }
}

// ----- inputs ----------------------------------------------------------------------------

/// How an input's elements sit in memory.
#[derive(Debug, Clone)]
enum Layout {
    Contiguous,
    /// Stored with axis `i` holding logical axis `p[i]`, then permuted back.
    Permuted(Vec<usize>),
    /// Stored at every other position of a longer `axis`, from `start`, then sliced.
    Strided {
        axis: usize,
        start: usize,
    },
    /// Stored with `axis` of size 1, then broadcast (the values repeat along `axis`).
    Broadcast {
        axis: usize,
    },
}

/// A test input: its logical row-major values, and the layout its tensor is built with.
#[derive(Debug, Clone)]
struct Input {
    shape: Vec<usize>,
    data: Vec<f64>,
    layout: Layout,
}

impl Input {
    fn new(shape: &[usize], seed: u64) -> Self {
        let mut rng = Rng(seed);
        let rank = shape.len();
        let layout = match if rank == 0 { 0 } else { rng.below(4) } {
            0 => Layout::Contiguous,
            1 => {
                let mut p: Vec<usize> = (0..rank).collect();
                for i in (1..rank).rev() {
                    p.swap(i, rng.below(i + 1));
                }
                Layout::Permuted(p)
            }
            2 => Layout::Strided {
                axis: rng.below(rank),
                start: rng.below(2),
            },
            _ => Layout::Broadcast {
                axis: rng.below(rank),
            },
        };
        let mut data: Vec<f64> = (0..numel(shape))
            .map(|_| (rng.below(49) as f64 - 24.0) / 8.0)
            .collect();
        if let Layout::Broadcast { axis } = layout {
            for p in 0..data.len() {
                let mut idx = unravel(p, shape);
                idx[axis] = 0;
                data[p] = data[ravel(&idx, shape)];
            }
        }
        Input {
            shape: shape.to_vec(),
            data,
            layout,
        }
    }

    fn at(&self, idx: &[usize]) -> f64 {
        self.data[ravel(idx, &self.shape)]
    }

    /// The elements of a tensor of `stored` shape, element `idx` being `self.at(to(idx))`.
    fn stored<F: Float>(
        &self,
        stored: &[usize],
        to: impl Fn(&[usize]) -> Option<Vec<usize>>,
    ) -> Tensor<F> {
        let v = (0..numel(stored))
            .map(|q| to(&unravel(q, stored)).map_or(F::of(777.0), |i| F::of(self.at(&i))))
            .collect();
        Tensor::from_vec(v, stored).unwrap()
    }

    fn tensor<F: Float>(&self) -> Tensor<F> {
        let s = &self.shape;
        let t = match &self.layout {
            Layout::Contiguous => self.stored(s, |i| Some(i.to_vec())),
            Layout::Permuted(p) => {
                let stored: Vec<usize> = p.iter().map(|&a| s[a]).collect();
                let mut inv = vec![0isize; p.len()];
                for (i, &a) in p.iter().enumerate() {
                    inv[a] = i as isize;
                }
                let buf = self.stored::<F>(&stored, |j| {
                    let mut idx = vec![0; p.len()];
                    for (i, &a) in p.iter().enumerate() {
                        idx[a] = j[i];
                    }
                    Some(idx)
                });
                buf.permute(&inv).unwrap()
            }
            &Layout::Strided { axis, start } => {
                let mut stored = s.clone();
                stored[axis] = start + 2 * s[axis];
                let buf = self.stored::<F>(&stored, |j| {
                    let k = j[axis].checked_sub(start).filter(|k| k % 2 == 0)?;
                    let mut idx = j.to_vec();
                    idx[axis] = k / 2;
                    Some(idx)
                });
                buf.slice(axis as isize, start, start + 2 * s[axis], 2)
                    .unwrap()
            }
            &Layout::Broadcast { axis } => {
                let mut stored = s.clone();
                stored[axis] = 1;
                let buf = self.stored::<F>(&stored, |j| (s[axis] > 0).then(|| j.to_vec()));
                buf.broadcast_to(s).unwrap()
            }
        };
        assert_eq!(t.shape(), &s[..]);
        t
    }

    /// `out[idx] = self.at(from(idx))` for every `idx` of `out_shape`.
    fn pick(&self, out_shape: &[usize], from: impl Fn(&[usize]) -> Vec<usize>) -> Vec<f64> {
        (0..numel(out_shape))
            .map(|p| self.at(&from(&unravel(p, out_shape))))
            .collect()
    }
}

// ----- comparison ------------------------------------------------------------------------

fn tol<F: Float>() -> f64 {
    if F::DTYPE == "float32" {
        3e-5
    } else {
        1e-12
    }
}

fn close(got: f64, want: f64, tol: f64) -> bool {
    if want.is_nan() {
        got.is_nan()
    } else if want.is_infinite() {
        got == want
    } else {
        (got - want).abs() <= tol * (1.0 + want.abs())
    }
}

pub(crate) fn check<F: Float>(what: &str, got: &Tensor<F>, shape: &[usize], want: &[f64]) -> Check {
    prop_assert_eq!(got.shape(), shape, "{} ({}): shape", what, F::DTYPE);
    let got: Vec<f64> = got.to_vec().iter().map(|x| x.as_f64()).collect();
    let bad = (0..want.len()).find(|&i| !close(got[i], want[i], tol::<F>()));
    prop_assert!(
        bad.is_none(),
        "{} ({}): first difference at {:?}\n got {:?}\nwant {:?}",
        what,
        F::DTYPE,
        bad,
        got,
        want
    );
    Ok(())
}

fn dim_size() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(0usize), 3 => Just(1usize), 6 => 2..5usize]
}

pub(crate) fn shape(rank: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(dim_size(), rank)
}

// ----- element-wise ----------------------------------------------------------------------

type Unary<F> = (&'static str, fn(&Tensor<F>) -> Tensor<F>, fn(f64) -> f64);

fn unary_ops<F: Float>() -> Vec<Unary<F>> {
    vec![
        ("neg", |t| t.neg(), |x| -x),
        ("abs", |t| t.abs(), |x| if x < 0.0 { -x } else { x }),
        (
            "sign",
            |t| t.sign(),
            |x| {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            },
        ),
        ("exp", |t| t.exp(), f64::exp),
        ("ln", |t| t.ln(), f64::ln),
        ("sqrt", |t| t.sqrt(), f64::sqrt),
        ("square", |t| t.square(), |x| x * x),
        ("powf", |t| t.powf(F::of(1.5)), |x| x.powf(1.5)),
        ("recip", |t| t.recip(), |x| 1.0 / x),
        ("sin", |t| t.sin(), f64::sin),
        ("cos", |t| t.cos(), f64::cos),
        (
            "tanh",
            |t| t.tanh(),
            |x| (x.exp() - (-x).exp()) / (x.exp() + (-x).exp()),
        ),
        ("sigmoid", |t| t.sigmoid(), |x| 1.0 / (1.0 + (-x).exp())),
        ("relu", |t| t.relu(), |x| if x > 0.0 { x } else { 0.0 }),
        (
            "clamp",
            |t| t.clamp(F::of(-0.5), F::of(1.0)),
            |x| x.clamp(-0.5, 1.0),
        ),
        ("softplus", |t| t.softplus(), |x| (1.0 + x.exp()).ln()),
        (
            "heaviside",
            |t| t.heaviside(),
            |x| if x > 0.0 { 1.0 } else { 0.0 },
        ),
        ("add_scalar", |t| t.add_scalar(F::of(0.75)), |x| x + 0.75),
        ("mul_scalar", |t| t.mul_scalar(F::of(-1.5)), |x| x * -1.5),
        ("div_scalar", |t| t.div_scalar(F::of(0.25)), |x| x / 0.25),
        ("rsub_scalar", |t| t.rsub_scalar(F::of(2.0)), |x| 2.0 - x),
        (
            "maximum_scalar",
            |t| t.maximum_scalar(F::of(0.25)),
            |x| if x > 0.25 { x } else { 0.25 },
        ),
        (
            "gt_scalar",
            |t| t.gt_scalar(F::of(0.25)),
            |x| (x > 0.25) as u8 as f64,
        ),
        (
            "lt_scalar",
            |t| t.lt_scalar(F::of(0.25)),
            |x| (x < 0.25) as u8 as f64,
        ),
        ("contiguous", |t| t.contiguous(), |x| x),
        ("cast", |t| t.cast::<f64>().cast::<F>(), |x| x),
        ("map", |t| t.map(|x| x * x - F::one()), |x| x * x - 1.0),
    ]
}

fn unary_case<F: Float>(x: &Input) -> Check {
    let t = x.tensor::<F>();
    for (name, op, f) in unary_ops::<F>() {
        let want: Vec<f64> = x.data.iter().map(|&v| f(v)).collect();
        check(name, &op(&t), &x.shape, &want)?;
    }
    prop_assert_eq!(t.ln().has_non_finite(), x.data.iter().any(|&v| v <= 0.0));
    prop_assert!(!t.has_non_finite());
    Ok(())
}

type Binary<F> = (
    &'static str,
    fn(&Tensor<F>, &Tensor<F>) -> descent_tensor::Result<Tensor<F>>,
    fn(f64, f64) -> f64,
);

fn binary_ops<F: Float>() -> Vec<Binary<F>> {
    vec![
        ("add", |a, b| a.add(b), |x, y| x + y),
        ("sub", |a, b| a.sub(b), |x, y| x - y),
        ("mul", |a, b| a.mul(b), |x, y| x * y),
        ("div", |a, b| a.div(b), |x, y| x / y),
        ("pow", |a, b| a.pow(b), f64::powf),
        (
            "maximum",
            |a, b| a.maximum(b),
            |x, y| if y > x { y } else { x },
        ),
        (
            "minimum",
            |a, b| a.minimum(b),
            |x, y| if y < x { y } else { x },
        ),
        ("eq", |a, b| a.eq(b), |x, y| (x == y) as u8 as f64),
        ("ne", |a, b| a.ne(b), |x, y| (x != y) as u8 as f64),
        ("lt", |a, b| a.lt(b), |x, y| (x < y) as u8 as f64),
        ("le", |a, b| a.le(b), |x, y| (x <= y) as u8 as f64),
        ("gt", |a, b| a.gt(b), |x, y| (x > y) as u8 as f64),
        ("ge", |a, b| a.ge(b), |x, y| (x >= y) as u8 as f64),
    ]
}

/// `f(a[idx], b[idx])` over the broadcast shape `out`.
fn zip_ref(a: &Input, b: &Input, out: &[usize], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    (0..numel(out))
        .map(|p| {
            let idx = unravel(p, out);
            f(
                a.data[source(&idx, &a.shape)],
                b.data[source(&idx, &b.shape)],
            )
        })
        .collect()
}

fn binary_case<F: Float>(a: &Input, b: &Input) -> Check {
    let (ta, tb) = (a.tensor::<F>(), b.tensor::<F>());
    let Some(out) = broadcast(&a.shape, &b.shape) else {
        for (name, op, _) in binary_ops::<F>() {
            prop_assert!(op(&ta, &tb).is_err(), "{} should not broadcast", name);
        }
        return Ok(());
    };
    for (name, op, f) in binary_ops::<F>() {
        check(name, &op(&ta, &tb).unwrap(), &out, &zip_ref(a, b, &out, f))?;
    }
    check("+", &(&ta + &tb), &out, &zip_ref(a, b, &out, |x, y| x + y))?;
    check("-", &(&ta - &tb), &out, &zip_ref(a, b, &out, |x, y| x - y))?;
    check("*", &(&ta * &tb), &out, &zip_ref(a, b, &out, |x, y| x * y))?;
    check("/", &(&ta / &tb), &out, &zip_ref(a, b, &out, |x, y| x / y))?;
    check(
        "unary -",
        &(-&ta),
        &a.shape,
        &a.data.iter().map(|x| -x).collect::<Vec<_>>(),
    )?;
    Ok(())
}

fn where_case<F: Float>(mask: &Input, t: &Input, f: &Input) -> Check {
    let got = Tensor::where_cond(&mask.tensor::<F>(), &t.tensor::<F>(), &f.tensor::<F>());
    let out = broadcast(&mask.shape, &t.shape).and_then(|s| broadcast(&s, &f.shape));
    let Some(out) = out else {
        prop_assert!(got.is_err());
        return Ok(());
    };
    let want: Vec<f64> = (0..numel(&out))
        .map(|p| {
            let idx = unravel(p, &out);
            let m = mask.data[source(&idx, &mask.shape)];
            let (x, y) = (
                t.data[source(&idx, &t.shape)],
                f.data[source(&idx, &f.shape)],
            );
            if m != 0.0 {
                x
            } else {
                y
            }
        })
        .collect();
    check("where_cond", &got.unwrap(), &out, &want)
}

type Inplace<F> = (
    &'static str,
    fn(&mut Tensor<F>, &Tensor<F>) -> descent_tensor::Result<()>,
    fn(f64, f64) -> f64,
);

fn inplace_case<F: Float>(x: &Input, r: &Input) -> Check {
    let ops: Vec<Inplace<F>> = vec![
        ("add_inplace", |a, b| a.add_inplace(b), |x, y| x + y),
        ("sub_inplace", |a, b| a.sub_inplace(b), |x, y| x - y),
        ("mul_inplace", |a, b| a.mul_inplace(b), |x, y| x * y),
        ("div_inplace", |a, b| a.div_inplace(b), |x, y| x / y),
        (
            "axpy_inplace",
            |a, b| a.axpy_inplace(F::of(-0.5), b),
            |x, y| x - 0.5 * y,
        ),
        ("copy_from", |a, b| a.copy_from(b), |_, y| y),
        (
            "scale_inplace",
            |a, _| {
                a.scale_inplace(F::of(3.0));
                Ok(())
            },
            |x, _| 3.0 * x,
        ),
        (
            "fill_inplace",
            |a, _| {
                a.fill_inplace(F::of(0.5));
                Ok(())
            },
            |_, _| 0.5,
        ),
        (
            "map_inplace",
            |a, _| {
                a.map_inplace(|v| v * v);
                Ok(())
            },
            |x, _| x * x,
        ),
    ];
    let fits = broadcast(&x.shape, &r.shape).as_deref() == Some(&x.shape[..]);
    let rhs = r.tensor::<F>();
    for (i, (name, op, f)) in ops.into_iter().enumerate() {
        let original = x.tensor::<F>();
        let mut t = original.clone(); // shares storage: the write must copy first
        let res = op(&mut t, &rhs);
        if !fits && i < 6 {
            prop_assert!(res.is_err(), "{} should not broadcast", name);
            continue;
        }
        prop_assert!(res.is_ok());
        let want: Vec<f64> = (0..x.data.len())
            .map(|p| {
                let y = if fits {
                    r.data[source(&unravel(p, &x.shape), &r.shape)]
                } else {
                    0.0
                };
                f(x.data[p], y)
            })
            .collect();
        check(name, &t, &x.shape, &want)?;
        check("untouched original", &original, &x.shape, &x.data)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn unary_and_scalar_ops(s in shape(0..=4), seed in any::<u64>()) {
        let x = Input::new(&s, seed);
        unary_case::<f32>(&x)?;
        unary_case::<f64>(&x)?;
    }

    #[test]
    fn binary_ops_broadcast(s in shape(0..=4), seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let (sa, sb) = (rng.broadcastable(&s), rng.partner(&s));
        let (sa, sb) = if rng.below(2) == 0 { (sa, sb) } else { (sb, sa) };
        let (a, b) = (Input::new(&sa, rng.next()), Input::new(&sb, rng.next()));
        binary_case::<f32>(&a, &b)?;
        binary_case::<f64>(&a, &b)?;
    }

    #[test]
    fn where_selects_by_mask(s in shape(0..=4), seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let mut mask = Input::new(&rng.broadcastable(&s), rng.next());
        mask.data.iter_mut().for_each(|m| *m = (*m > 0.0) as u8 as f64);
        let t = Input::new(&rng.partner(&s), rng.next());
        let f = Input::new(&rng.broadcastable(&s), rng.next());
        where_case::<f32>(&mask, &t, &f)?;
        where_case::<f64>(&mask, &t, &f)?;
    }

    #[test]
    fn inplace_ops(s in shape(0..=4), seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let x = Input::new(&s, rng.next());
        let r = Input::new(&rng.partner(&s), rng.next());
        inplace_case::<f32>(&x, &r)?;
        inplace_case::<f64>(&x, &r)?;
    }
}

// ----- reductions and softmax --------------------------------------------------------------

type Reduction<F> = (
    &'static str,
    fn(&Tensor<F>, &[isize], bool) -> descent_tensor::Result<Tensor<F>>,
    fn(&[f64]) -> f64,
);

fn var_ref(v: &[f64], correction: usize) -> f64 {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - correction as f64).max(0.0)
}

fn reductions<F: Float>() -> Vec<Reduction<F>> {
    vec![
        ("sum", |t, d, k| t.sum(d, k), |v| v.iter().sum()),
        (
            "mean",
            |t, d, k| t.mean(d, k),
            |v| v.iter().sum::<f64>() / v.len() as f64,
        ),
        (
            "max",
            |t, d, k| t.max(d, k),
            |v| v.iter().fold(f64::NEG_INFINITY, |a, &x| a.max(x)),
        ),
        (
            "min",
            |t, d, k| t.min(d, k),
            |v| v.iter().fold(f64::INFINITY, |a, &x| a.min(x)),
        ),
        ("var", |t, d, k| t.var(d, 1, k), |v| var_ref(v, 1)),
        ("var biased", |t, d, k| t.var(d, 0, k), |v| var_ref(v, 0)),
        (
            "logsumexp",
            |t, d, k| t.logsumexp(d, k),
            |v| v.iter().map(|x| x.exp()).sum::<f64>().ln(),
        ),
        (
            "norm 1",
            |t, d, k| t.norm(1.0, d, k),
            |v| v.iter().map(|x| x.abs()).sum(),
        ),
        (
            "norm 2",
            |t, d, k| t.norm(2.0, d, k),
            |v| v.iter().map(|x| x * x).sum::<f64>().sqrt(),
        ),
        (
            "norm 3",
            |t, d, k| t.norm(3.0, d, k),
            |v| v.iter().map(|x| x.abs().powi(3)).sum::<f64>().cbrt(),
        ),
        (
            "norm inf",
            |t, d, k| t.norm(f64::INFINITY, d, k),
            |v| v.iter().fold(0.0, |a, &x| a.max(x.abs())),
        ),
    ]
}

/// Reduces `x` over the axes in `mask` with each op, and checks `sum_all`.
fn reduce_case<F: Float>(x: &Input, dims: &[isize], mask: &[bool], keepdim: bool) -> Check {
    let t = x.tensor::<F>();
    let kept: Vec<usize> = x
        .shape
        .iter()
        .zip(mask)
        .map(|(&n, &m)| if m { 1 } else { n })
        .collect();
    let out: Vec<usize> = if keepdim {
        kept.clone()
    } else {
        x.shape
            .iter()
            .zip(mask)
            .filter(|(_, &m)| !m)
            .map(|(&n, _)| n)
            .collect()
    };
    let mut groups = vec![vec![]; numel(&kept)];
    for (p, &v) in x.data.iter().enumerate() {
        let mut idx = unravel(p, &x.shape);
        idx.iter_mut()
            .zip(mask)
            .for_each(|(i, &m)| *i = if m { 0 } else { *i });
        groups[ravel(&idx, &kept)].push(v);
    }
    let empty_axis = x.shape.iter().zip(mask).any(|(&n, &m)| m && n == 0);
    for (name, op, f) in reductions::<F>() {
        let got = op(&t, dims, keepdim);
        if empty_axis && ["max", "min", "logsumexp"].contains(&name) {
            prop_assert!(got.is_err(), "{} over an empty axis", name);
            continue;
        }
        let want: Vec<f64> = groups.iter().map(|g| f(g.as_slice())).collect();
        check(
            &format!("{name} over {dims:?} keepdim={keepdim}"),
            &got.unwrap(),
            &out,
            &want,
        )?;
    }
    let total: f64 = x.data.iter().sum();
    prop_assert!(close(t.sum_all().as_f64(), total, tol::<F>()));
    Ok(())
}

fn sum_to_case<F: Float>(x: &Input, target: &[usize]) -> Check {
    let got = x.tensor::<F>().sum_to(target);
    if broadcast(target, &x.shape).as_deref() != Some(&x.shape[..]) {
        prop_assert!(got.is_err(), "sum_to {:?} from {:?}", target, x.shape);
        return Ok(());
    }
    let mut want = vec![0.0; numel(target)];
    for (p, &v) in x.data.iter().enumerate() {
        want[source(&unravel(p, &x.shape), target)] += v;
    }
    check("sum_to", &got.unwrap(), target, &want)
}

fn softmax_case<F: Float>(x: &Input, dim: usize) -> Check {
    let t = x.tensor::<F>();
    let neg = dim as isize - x.shape.len() as isize;
    let line_sum = |idx: &[usize]| -> f64 {
        (0..x.shape[dim])
            .map(|j| {
                let mut i = idx.to_vec();
                i[dim] = j;
                x.at(&i).exp()
            })
            .sum()
    };
    let soft = &x.data;
    let sums: Vec<f64> = (0..soft.len())
        .map(|p| line_sum(&unravel(p, &x.shape)))
        .collect();
    let want: Vec<f64> = soft.iter().zip(&sums).map(|(v, s)| v.exp() / s).collect();
    check("softmax", &t.softmax(neg).unwrap(), &x.shape, &want)?;
    let want: Vec<f64> = soft.iter().zip(&sums).map(|(v, s)| v - s.ln()).collect();
    check(
        "log_softmax",
        &t.log_softmax(dim as isize).unwrap(),
        &x.shape,
        &want,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn reductions_over_axis_lists(
        s in shape(0..=4),
        seed in any::<u64>(),
        pick in prop::collection::vec(0..3u8, 4),
        keepdim in any::<bool>(),
    ) {
        let x = Input::new(&s, seed);
        let rank = s.len();
        // 0: axis not reduced, 1: named as d, 2: named as d - rank; then shuffled.
        let mut dims: Vec<isize> = (0..rank)
            .filter(|&d| pick[d] > 0)
            .map(|d| if pick[d] == 1 { d as isize } else { d as isize - rank as isize })
            .collect();
        let mut rng = Rng(seed);
        for i in (1..dims.len()).rev() {
            dims.swap(i, rng.below(i + 1));
        }
        let mask: Vec<bool> = (0..rank).map(|d| dims.is_empty() || pick[d] > 0).collect();
        reduce_case::<f32>(&x, &dims, &mask, keepdim)?;
        reduce_case::<f64>(&x, &dims, &mask, keepdim)?;
    }

    #[test]
    fn sum_to_undoes_broadcasting(s in shape(0..=4), seed in any::<u64>()) {
        let mut rng = Rng(seed);
        let x = Input::new(&s, rng.next());
        let target = rng.partner(&s);
        sum_to_case::<f32>(&x, &target)?;
        sum_to_case::<f64>(&x, &target)?;
    }

    #[test]
    fn softmax_along_any_axis(s in shape(1..=4), seed in any::<u64>(), d in 0..4usize) {
        let x = Input::new(&s, seed);
        softmax_case::<f32>(&x, d % s.len())?;
        softmax_case::<f64>(&x, d % s.len())?;
    }
}

// ----- views -------------------------------------------------------------------------------

fn views_case<F: Float>(x: &Input, r: &[usize]) -> Check {
    let t = x.tensor::<F>();
    let (s, rank, n) = (&x.shape, x.shape.len(), x.data.len());
    let view = |name: &str, v: &Tensor<F>, shape: &[usize], want: &[f64]| -> Check {
        prop_assert!(v.shares_storage(&t), "{} copied", name);
        check(name, v, shape, want)
    };

    let rev: Vec<usize> = s.iter().rev().copied().collect();
    let mut spec: Vec<isize> = rev.iter().map(|&d| d as isize).collect();
    if n > 0 && rank > 0 {
        spec[r[0] % rank] = -1;
    }
    check("reshape", &t.reshape(&spec).unwrap(), &rev, &x.data)?;
    check("flatten", &t.flatten(), &[n], &x.data)?;
    let u = r[1] % (rank + 1);
    let mut us = s.clone();
    us.insert(u, 1);
    let neg = u as isize - rank as isize - 1;
    view("unsqueeze", &t.unsqueeze(neg).unwrap(), &us, &x.data)?;
    prop_assert!(t.unsqueeze(rank as isize + 1).is_err());
    let sq: Vec<usize> = s.iter().copied().filter(|&d| d != 1).collect();
    view("squeeze all", &t.squeeze(None).unwrap(), &sq, &x.data)?;

    // broadcast_to: size-1 axes stretched, up to two leading axes added.
    let mut target: Vec<usize> = (0..r[2] % 3).map(|i| 1 + (r[3] + i) % 3).collect();
    let lead = target.len();
    target.extend(
        s.iter()
            .enumerate()
            .map(|(i, &d)| if d == 1 { (r[4] + i) % 3 } else { d }),
    );
    let want = x.pick(&target, |i| unravel(source(i, s), s));
    view(
        "broadcast_to",
        &t.broadcast_to(&target).unwrap(),
        &target,
        &want,
    )?;
    if rank > 0 {
        prop_assert!(t.broadcast_to(&target[lead + 1..]).is_err());
    }

    if rank < 2 {
        prop_assert!(t.t().is_err());
    } else {
        let mut ts = s.clone();
        ts.swap(rank - 2, rank - 1);
        let want = x.pick(&ts, |i| {
            let mut j = i.to_vec();
            j.swap(rank - 2, rank - 1);
            j
        });
        view("t", &t.t().unwrap(), &ts, &want)?;
    }
    if rank == 0 {
        prop_assert!(t.transpose(0, 0).is_err() && t.narrow(0, 0, 0).is_err());
        return Ok(());
    }

    let (a, b) = (r[0] % rank, r[1] % rank);
    let mut ts = s.clone();
    ts.swap(a, b);
    let want = x.pick(&ts, |i| {
        let mut j = i.to_vec();
        j.swap(a, b);
        j
    });
    let v = t.transpose(a as isize, b as isize - rank as isize).unwrap();
    view("transpose", &v, &ts, &want)?;
    prop_assert!(t.transpose(rank as isize, 0).is_err());

    let mut perm: Vec<usize> = (0..rank).collect();
    let mut rng = Rng(r[5] as u64);
    for i in (1..rank).rev() {
        perm.swap(i, rng.below(i + 1));
    }
    let ps: Vec<usize> = perm.iter().map(|&p| s[p]).collect();
    let want = x.pick(&ps, |i| {
        let mut j = vec![0; rank];
        for (k, &p) in perm.iter().enumerate() {
            j[p] = i[k];
        }
        j
    });
    let pi: Vec<isize> = perm.iter().map(|&p| p as isize).collect();
    view("permute", &t.permute(&pi).unwrap(), &ps, &want)?;
    if rank > 1 {
        prop_assert!(t.permute(&vec![0; rank]).is_err());
    }

    let d = r[2] % rank;
    let size = s[d];
    let narrowed = |start: usize, len: usize, step: usize| {
        let mut ns = s.clone();
        ns[d] = len;
        let want = x.pick(&ns, |i| {
            let mut j = i.to_vec();
            j[d] = start + i[d] * step;
            j
        });
        (ns, want)
    };
    let start = r[3] % (size + 1);
    let len = r[4] % (size - start + 1);
    let (ns, want) = narrowed(start, len, 1);
    view(
        "narrow",
        &t.narrow(d as isize, start, len).unwrap(),
        &ns,
        &want,
    )?;
    prop_assert!(t.narrow(d as isize, start, size - start + 1).is_err());

    let (start, end, step) = (r[3] % (size + 2), r[4] % (size + 3), 1 + r[5] % 3);
    let got = t.slice(d as isize - rank as isize, start, end, step);
    if start > size {
        prop_assert!(got.is_err());
    } else {
        let len = (end.min(size).max(start) - start).div_ceil(step);
        let (ns, want) = narrowed(start, len, step);
        view("slice", &got.unwrap(), &ns, &want)?;
    }
    prop_assert!(t.slice(0, 0, 1, 0).is_err());

    let got = t.squeeze(Some(d as isize));
    if size == 1 {
        let mut ss = s.clone();
        ss.remove(d);
        view("squeeze", &got.unwrap(), &ss, &x.data)?;
    } else {
        prop_assert!(got.is_err());
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn views_copy_nothing_and_match_index_arithmetic(
        s in shape(0..=4),
        seed in any::<u64>(),
        r in prop::collection::vec(0..1000usize, 6),
    ) {
        let x = Input::new(&s, seed);
        views_case::<f32>(&x, &r)?;
        views_case::<f64>(&x, &r)?;
    }
}

// ----- index ops ---------------------------------------------------------------------------

/// Indices below `size`, or (if `bad`) with one equal to `size`, which must be rejected.
fn indices(rng: &mut Rng, count: usize, size: usize, bad: bool) -> (Vec<usize>, bool) {
    let mut v: Vec<usize> = (0..count).map(|_| rng.below(size)).collect();
    if (bad || size == 0) && count > 0 {
        let i = rng.below(count);
        v[i] = size;
    }
    let valid = v.iter().all(|&i| i < size);
    (v, valid)
}

fn join_case<F: Float>(parts: &[Input], dim: usize) -> Check {
    let ts: Vec<Tensor<F>> = parts.iter().map(Input::tensor).collect();
    let refs: Vec<&Tensor<F>> = ts.iter().collect();
    let mut out = parts[0].shape.clone();
    out[dim] = parts.iter().map(|p| p.shape[dim]).sum();
    let want: Vec<f64> = (0..numel(&out))
        .map(|p| {
            let mut idx = unravel(p, &out);
            let mut k = 0;
            while idx[dim] >= parts[k].shape[dim] {
                idx[dim] -= parts[k].shape[dim];
                k += 1;
            }
            parts[k].at(&idx)
        })
        .collect();
    let neg = dim as isize - out.len() as isize;
    check("concat", &Tensor::concat(&refs, neg).unwrap(), &out, &want)?;

    // stack the first part with itself and the others that share its shape
    let same: Vec<&Input> = parts.iter().filter(|p| p.shape == parts[0].shape).collect();
    let ts: Vec<Tensor<F>> = same.iter().map(|p| p.tensor()).collect();
    let refs: Vec<&Tensor<F>> = ts.iter().collect();
    let mut out = parts[0].shape.clone();
    out.insert(dim, same.len());
    let want = (0..numel(&out))
        .map(|p| {
            let mut idx = unravel(p, &out);
            let k = idx.remove(dim);
            same[k].at(&idx)
        })
        .collect::<Vec<_>>();
    check(
        "stack",
        &Tensor::stack(&refs, dim as isize).unwrap(),
        &out,
        &want,
    )
}

fn select_case<F: Float>(x: &Input, dim: usize, seed: u64) -> Check {
    let mut rng = Rng(seed);
    let t = x.tensor::<F>();
    let s = &x.shape;
    let (count, bad) = (rng.below(6), rng.below(8) == 0);
    let (idx, valid) = indices(&mut rng, count, s[dim], bad);
    let mut out = s.clone();
    out[dim] = idx.len();
    let src = Input::new(&out, rng.next());
    let added = Tensor::index_add(s, dim as isize, &idx, &src.tensor::<F>());
    let got = t.index_select(dim as isize, &idx);
    if !valid {
        prop_assert!(got.is_err() && added.is_err());
        return Ok(());
    }
    let want = x.pick(&out, |i| {
        let mut j = i.to_vec();
        j[dim] = idx[i[dim]];
        j
    });
    check("index_select", &got.unwrap(), &out, &want)?;
    let mut want = vec![0.0; numel(s)];
    for (p, &v) in src.data.iter().enumerate() {
        let mut j = unravel(p, &out);
        j[dim] = idx[j[dim]];
        want[ravel(&j, s)] += v;
    }
    check("index_add", &added.unwrap(), s, &want)
}

fn gather_case<F: Float>(x: &Input, dim: usize, seed: u64) -> Check {
    let mut rng = Rng(seed);
    let s = &x.shape;
    let ishape: Vec<usize> = (0..s.len())
        .map(|d| rng.below(if d == dim { 4 } else { s[d] + 1 }))
        .collect();
    let bad = rng.below(8) == 0;
    let (index, valid) = indices(&mut rng, numel(&ishape), s[dim], bad);
    let src = Input::new(&ishape, rng.next());
    let got = x.tensor::<F>().gather(dim as isize, &index, &ishape);
    let scattered = Tensor::scatter_add(s, dim as isize, &index, &ishape, &src.tensor::<F>());
    if !valid {
        prop_assert!(got.is_err() && scattered.is_err());
        return Ok(());
    }
    let want = x.pick(&ishape, |i| {
        let mut j = i.to_vec();
        j[dim] = index[ravel(i, &ishape)];
        j
    });
    check("gather", &got.unwrap(), &ishape, &want)?;
    let mut want = vec![0.0; numel(s)];
    for (p, &v) in src.data.iter().enumerate() {
        let mut j = unravel(p, &ishape);
        j[dim] = index[p];
        want[ravel(&j, s)] += v;
    }
    check("scatter_add", &scattered.unwrap(), s, &want)
}

fn arg_case<F: Float>(x: &Input, dim: usize) -> Check {
    let t = x.tensor::<F>();
    let s = &x.shape;
    if s[dim] == 0 {
        prop_assert!(t.argmax(dim as isize).is_err() && t.argmin(dim as isize).is_err());
        return Ok(());
    }
    let mut rest = s.clone();
    rest.remove(dim);
    let (mut amax, mut amin) = (vec![], vec![]);
    for p in 0..numel(&rest) {
        let line: Vec<f64> = (0..s[dim])
            .map(|j| {
                let mut idx = unravel(p, &rest);
                idx.insert(dim, j);
                x.at(&idx)
            })
            .collect();
        let best = |better: fn(f64, f64) -> bool| {
            (1..line.len()).fold(0, |b, j| if better(line[j], line[b]) { j } else { b })
        };
        amax.push(best(|a, b| a > b));
        amin.push(best(|a, b| a < b));
    }
    prop_assert_eq!(t.argmax(dim as isize).unwrap(), amax);
    prop_assert_eq!(t.argmin(dim as isize - s.len() as isize).unwrap(), amin);
    Ok(())
}

fn one_hot_case<F: Float>(labels: &[usize], classes: usize) -> Check {
    let got = Tensor::<F>::one_hot(labels, classes);
    if let Some(pos) = labels.iter().position(|&l| l >= classes) {
        let msg = got.unwrap_err().to_string();
        let label = format!("label {} at position {pos} ", labels[pos]);
        prop_assert!(msg.contains(&label), "{}", msg);
        return Ok(());
    }
    let want: Vec<f64> = (0..labels.len() * classes)
        .map(|p| (labels[p / classes] == p % classes) as u8 as f64)
        .collect();
    check("one_hot", &got.unwrap(), &[labels.len(), classes], &want)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn concat_and_stack(
        s in shape(1..=4),
        sizes in prop::collection::vec(dim_size(), 1..=3),
        d in 0..4usize,
        seed in any::<u64>(),
    ) {
        let dim = d % s.len();
        let parts: Vec<Input> = sizes
            .iter()
            .enumerate()
            .map(|(k, &n)| {
                let mut ps = s.clone();
                ps[dim] = if k == 0 { s[dim] } else { n };
                Input::new(&ps, seed.wrapping_add(k as u64))
            })
            .collect();
        join_case::<f32>(&parts, dim)?;
        join_case::<f64>(&parts, dim)?;
    }

    #[test]
    fn index_select_and_index_add(s in shape(1..=4), d in 0..4usize, seed in any::<u64>()) {
        let x = Input::new(&s, seed);
        select_case::<f32>(&x, d % s.len(), seed)?;
        select_case::<f64>(&x, d % s.len(), seed)?;
    }

    #[test]
    fn gather_and_scatter_add(s in shape(1..=4), d in 0..4usize, seed in any::<u64>()) {
        let x = Input::new(&s, seed);
        gather_case::<f32>(&x, d % s.len(), seed)?;
        gather_case::<f64>(&x, d % s.len(), seed)?;
    }

    #[test]
    fn argmax_and_argmin(s in shape(1..=4), d in 0..4usize, seed in any::<u64>()) {
        let x = Input::new(&s, seed);
        arg_case::<f32>(&x, d % s.len())?;
        arg_case::<f64>(&x, d % s.len())?;
    }

    #[test]
    fn one_hot_rows(labels in prop::collection::vec(0..6usize, 0..6), classes in 0..7usize) {
        one_hot_case::<f32>(&labels, classes)?;
        one_hot_case::<f64>(&labels, classes)?;
    }
}

// ----- matmul ------------------------------------------------------------------------------

fn matmul_case<F: Float>(a: &Input, b: &Input) -> Check {
    let got = a.tensor::<F>().matmul(&b.tensor::<F>());
    let (ra, rb) = (a.shape.len(), b.shape.len());
    let (m, k, k2, n) = (
        a.shape[ra - 2],
        a.shape[ra - 1],
        b.shape[rb - 2],
        b.shape[rb - 1],
    );
    let batch = broadcast(&a.shape[..ra - 2], &b.shape[..rb - 2]);
    let Some(mut out) = batch.filter(|_| k == k2) else {
        prop_assert!(got.is_err());
        return Ok(());
    };
    let nb = out.len();
    out.extend([m, n]);
    // a[.., i, q] is at row_a + q and b[.., q, j] at col_b + q·n in the row-major data.
    let want: Vec<f64> = (0..numel(&out))
        .map(|p| {
            let idx = unravel(p, &out);
            let mut ia = idx[..nb].to_vec();
            ia.extend([idx[nb], 0]);
            let mut ib = idx[..nb].to_vec();
            ib.extend([0, idx[nb + 1]]);
            let (row_a, col_b) = (source(&ia, &a.shape), source(&ib, &b.shape));
            (0..k)
                .map(|q| a.data[row_a + q] * b.data[col_b + q * n])
                .sum()
        })
        .collect();
    check("matmul", &got.unwrap(), &out, &want)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn matmul_batched_and_strided(
        batch in prop::collection::vec(1..4usize, 0..=2),
        mkn in prop::collection::vec(prop::sample::select(vec![0usize, 1, 2, 7, 33]), 3),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let (m, k, n) = (mkn[0], mkn[1], mkn[2]);
        let mut sa = rng.broadcastable(&batch);
        sa.extend([m, k]);
        let mut sb = rng.broadcastable(&batch);
        // now and then an inner size that does not match
        sb.extend([if rng.below(10) == 0 { k + 1 } else { k }, n]);
        let (a, b) = (Input::new(&sa, rng.next()), Input::new(&sb, rng.next()));
        matmul_case::<f32>(&a, &b)?;
        matmul_case::<f64>(&a, &b)?;
    }
}

// ----- linear: the product with its bias added on write-back -------------------------------

/// `x.linear(w, b)` against the naive `Σ x[i,q]·w[j,q] + b[j]`, and bit for bit against
/// the unfused `x.matmul(wᵀ) + b` it replaces.
fn linear_case<F: Float>(x: &Input, w: &Input, b: &Input) -> Check {
    let (xt, wt, bt) = (x.tensor::<F>(), w.tensor::<F>(), b.tensor::<F>());
    let got = xt.linear(&wt, Some(&bt)).unwrap();
    let unfused = xt.matmul(&wt.t().unwrap()).unwrap().add(&bt).unwrap();
    prop_assert_eq!(
        got.to_vec(),
        unfused.to_vec(),
        "linear ({}): fused vs unfused",
        F::DTYPE
    );
    prop_assert_eq!(
        xt.linear(&wt, None).unwrap().to_vec(),
        xt.matmul(&wt.t().unwrap()).unwrap().to_vec()
    );
    let (m, k, n) = (x.shape[0], x.shape[1], w.shape[0]);
    let want: Vec<f64> = (0..m * n)
        .map(|p| {
            let (i, j) = (p / n, p % n);
            (0..k).map(|q| x.at(&[i, q]) * w.at(&[j, q])).sum::<f64>() + b.at(&[j])
        })
        .collect();
    check("linear", &got, &[m, n], &want)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Ragged batches, output widths on both sides of the 16-column kernel, products large
    /// enough to be split across threads, and every layout of each operand (contiguous,
    /// transposed, strided, broadcast).
    #[test]
    fn linear_matches_naive_and_unfused(
        m in prop::sample::select(vec![0usize, 1, 2, 7, 33, 96, 130]),
        k in prop::sample::select(vec![0usize, 1, 7, 33, 300]),
        n in prop::sample::select(vec![1usize, 2, 10, 16, 17, 33, 257]),
        seed in any::<u64>(),
    ) {
        let mut rng = Rng(seed);
        let x = Input::new(&[m, k], rng.next());
        let w = Input::new(&[n, k], rng.next());
        let b = Input::new(&[n], rng.next());
        linear_case::<f32>(&x, &w, &b)?;
        linear_case::<f64>(&x, &w, &b)?;
    }
}

/// The MNIST model's layers (and a ragged last batch of 96) with values that round in
/// every sum: the fused write-back gives the unfused bits, on the threaded paths too, for
/// contiguous and non-contiguous inputs.
#[test]
fn linear_is_bitwise_the_unfused_product_and_add() {
    let mut rng = Rng(21);
    let mut rand = |shape: &[usize]| {
        let v = (0..numel(shape))
            .map(|_| rng.next() as f64 / u64::MAX as f64 * 2.0 - 1.0)
            .collect::<Vec<f64>>();
        Tensor::<f64>::from_vec(v, shape).unwrap()
    };
    for (m, k, n) in [
        (128, 784, 512),
        (96, 784, 512),
        (128, 512, 256),
        (96, 256, 10),
        (1, 784, 512),
        (128, 256, 1),
    ] {
        let (x64, w64, b64) = (rand(&[m, k + 3]), rand(&[n, k]), rand(&[n]));
        let xt64 = rand(&[k, m]);
        fn both<F: Float>(x: &Tensor<F>, w: &Tensor<F>, b: &Tensor<F>) {
            let fused = x.linear(w, Some(b)).unwrap().to_vec();
            let unfused = x.matmul(&w.t().unwrap()).unwrap().add(b).unwrap().to_vec();
            assert!(
                fused == unfused,
                "{:?}·{:?}ᵀ + b ({})",
                x.shape(),
                w.shape(),
                F::DTYPE
            );
        }
        let narrowed = |x: &Tensor<f64>| x.narrow(1, 3, k).unwrap();
        let transposed = |x: &Tensor<f64>| x.t().unwrap();
        for x in [
            narrowed(&x64),
            narrowed(&x64).contiguous(),
            transposed(&xt64),
        ] {
            both(&x, &w64, &b64);
            both(&x.cast::<f32>(), &w64.cast(), &b64.cast());
        }
    }
}

#[test]
fn linear_errors_name_the_shapes() {
    let (x, w) = (Tensor::<f32>::zeros(&[4, 3]), Tensor::<f32>::zeros(&[2, 3]));
    let e = x.linear(&w, Some(&Tensor::zeros(&[3]))).unwrap_err();
    assert_eq!(e.to_string(), "linear: expected shape [2], got [3]");
    let e = Tensor::<f32>::zeros(&[2, 4, 3])
        .linear(&w, None)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "linear: expected 2 dims, got shape [2, 4, 3]"
    );
    let e = x.linear(&Tensor::zeros(&[2, 5]), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "matmul: inner dimensions differ: [4, 3] x [5, 2]"
    );
}

/// Odd sizes, one over 256, and products large enough to be split across threads (also
/// through the kernel for at most 16 columns), with
/// every combination of transposed operands.
#[test]
fn matmul_large_and_transposed_operands() {
    for (m, k, n) in [
        (257, 33, 7),
        (7, 257, 33),
        (33, 7, 257),
        (1, 257, 1),
        (300, 9, 1),
        (65, 33, 16),
        (257, 65, 129),
        (129, 65, 257),
        (2049, 129, 9),
    ] {
        for (i, (ta, tb)) in [(false, false), (true, false), (false, true), (true, true)]
            .into_iter()
            .enumerate()
        {
            let seed = (m * 1000 + n + i) as u64;
            let mk = |r: usize, c: usize, transposed: bool, seed: u64| Input {
                layout: if transposed {
                    Layout::Permuted(vec![1, 0])
                } else {
                    Layout::Contiguous
                },
                ..Input::new(&[r, c], seed)
            };
            let (a, b) = (mk(m, k, ta, seed), mk(k, n, tb, seed + 1));
            matmul_case::<f32>(&a, &b).unwrap();
            matmul_case::<f64>(&a, &b).unwrap();
        }
    }
}

/// Inputs above the size where kernels split work across threads (32768 elements), so the
/// chunked, parallel paths of the traversal helpers see contiguous, strided and broadcast
/// inputs too.
#[test]
fn large_inputs_take_the_parallel_paths() {
    let shape = [40, 33, 29];
    let layouts = [
        Layout::Contiguous,
        Layout::Permuted(vec![2, 0, 1]),
        Layout::Strided { axis: 1, start: 1 },
        Layout::Broadcast { axis: 2 },
    ];
    for (i, layout) in layouts.into_iter().enumerate() {
        let x = Input {
            layout,
            ..Input::new(&shape, 100 + i as u64)
        };
        let x = if let Layout::Broadcast { .. } = x.layout {
            let mut data = x.data.clone();
            for p in 0..data.len() {
                data[p] = data[p - p % 29];
            }
            Input { data, ..x }
        } else {
            x
        };
        let row = Input::new(&[33, 1], 7 + i as u64);
        unary_case::<f32>(&x).unwrap();
        binary_case::<f64>(&x, &row).unwrap();
        inplace_case::<f32>(&x, &row).unwrap();
        reduce_case::<f64>(&x, &[1], &[false, true, false], false).unwrap();
        reduce_case::<f32>(&x, &[1, 0], &[true, true, false], true).unwrap();
        reduce_case::<f64>(&x, &[-1, -2], &[false, true, true], false).unwrap();
        // (f64: an f32 running sum over all 38280 elements drifts past the f32 tolerance)
        reduce_case::<f64>(&x, &[], &[true; 3], true).unwrap();
        softmax_case::<f32>(&x, 0).unwrap();
        select_case::<f64>(&x, 1, 3).unwrap();
        gather_case::<f32>(&x, 2, 4).unwrap();
    }
}

/// `softmax` and `log_softmax` over inputs large enough to be split across the threads by
/// rows give the bits of one thread, and the naive formula to rounding: a ragged last piece,
/// rows along a middle or the first axis (moved last before the split), transposed inputs.
#[test]
fn softmax_split_across_threads_gives_the_bits_of_one_thread() {
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    let one = common::pool(1);
    let mut rng = StdRng::seed_from_u64(11);
    for (shape, dim) in [
        (vec![4097, 10], -1),
        (vec![1000, 33], 1),
        (vec![40, 1000], 0),
        (vec![3, 1100, 11], 1),
    ] {
        let x = Tensor::<f64>::randn(&shape, 0.0, 3.0, &mut rng).unwrap();
        let inputs = [x.clone(), x.transpose(0, -1).unwrap()];
        for x in inputs {
            for (name, op) in [
                (
                    "softmax",
                    Tensor::<f64>::softmax as fn(&Tensor<f64>, isize) -> _,
                ),
                ("log_softmax", Tensor::<f64>::log_softmax),
            ] {
                let split = op(&x, dim).unwrap();
                let alone = one.install(|| op(&x, dim).unwrap());
                let bits = |t: &Tensor<f64>| -> Vec<u64> {
                    t.to_vec().iter().map(|v| v.to_bits()).collect()
                };
                assert_eq!(
                    bits(&split),
                    bits(&alone),
                    "{name} {:?} dim {dim}",
                    x.shape()
                );
                let xf = x.cast::<f32>();
                let (split32, alone32) =
                    (op32(name, &xf, dim), one.install(|| op32(name, &xf, dim)));
                assert_eq!(split32, alone32, "{name} f32 {:?} dim {dim}", x.shape());
                // Against the definition, at every 61st element.
                let d = if dim < 0 { x.ndim() - 1 } else { dim as usize };
                let (shape, v) = (x.shape().to_vec(), split.to_vec());
                let xs = x.to_vec();
                for p in (0..xs.len()).step_by(61) {
                    let idx = unravel(p, &shape);
                    let line: Vec<f64> = (0..shape[d])
                        .map(|j| {
                            let mut i = idx.clone();
                            i[d] = j;
                            xs[ravel(&i, &shape)]
                        })
                        .collect();
                    let m = line.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let s: f64 = line.iter().map(|&y| (y - m).exp()).sum();
                    let want = if name == "softmax" {
                        (xs[p] - m).exp() / s
                    } else {
                        (xs[p] - m) - s.ln()
                    };
                    assert!(
                        (v[p] - want).abs() <= 1e-12 * (1.0 + want.abs()),
                        "{name} at {idx:?}"
                    );
                }
            }
        }
    }
}

/// The f32 op by name, as bits.
fn op32(name: &str, x: &Tensor<f32>, dim: isize) -> Vec<u32> {
    let t = if name == "softmax" {
        x.softmax(dim)
    } else {
        x.log_softmax(dim)
    };
    t.unwrap().to_vec().iter().map(|v| v.to_bits()).collect()
}

/// Sums over leading axes (a bias gradient's sum over the batch), on one thread or split by
/// columns across the threads, give the same bits, and the naive sums to rounding: sizes
/// on both sides of the split's threshold, a ragged last chunk, several outer rows.
#[test]
fn batch_sums_give_the_same_bits_on_one_thread_or_split() {
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    let one = common::pool(1);
    let mut rng = StdRng::seed_from_u64(5);
    for (shape, dims) in [
        (vec![128, 256], vec![0]),
        (vec![128, 512], vec![0]),
        (vec![1000, 701], vec![0]),
        (vec![3, 301, 129], vec![1]),
        (vec![4, 50, 999], vec![0, 1]),
    ] {
        let x = Tensor::<f32>::randn(&shape, 0.0, 1.0, &mut rng).unwrap();
        let split = x.sum(&dims, false).unwrap();
        let alone = one.install(|| x.sum(&dims, false).unwrap());
        let bits =
            |t: &Tensor<f32>| -> Vec<u32> { t.to_vec().iter().map(|v| v.to_bits()).collect() };
        assert_eq!(bits(&split), bits(&alone), "{shape:?} over {dims:?}");
        let xs = x.to_vec();
        let kept: Vec<usize> = (0..shape.len())
            .filter(|d| !dims.contains(&(*d as isize)))
            .collect();
        let out_shape: Vec<usize> = kept.iter().map(|&d| shape[d]).collect();
        let mut want = vec![0.0f64; numel(&out_shape)];
        for (p, &v) in xs.iter().enumerate() {
            let idx = unravel(p, &shape);
            let o: Vec<usize> = kept.iter().map(|&d| idx[d]).collect();
            want[ravel(&o, &out_shape)] += f64::from(v);
        }
        for (g, w) in split.to_vec().iter().zip(&want) {
            assert!(
                (f64::from(*g) - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "{g} vs {w}"
            );
        }
    }
}
