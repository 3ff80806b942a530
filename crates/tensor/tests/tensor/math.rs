//! The element-wise math ops (`log1p` … `lerp`) against the `f64` functions of the standard
//! library applied by hand, on random shapes of rank 0–4 laid out contiguously, permuted
//! or strided, in f32 and f64, with broadcasting for the binary ops. Values are multiples of
//! 1/8 in [-3, 3] (exact in both types) plus ±inf and NaN, so domain edges (±1, 0), halves
//! for rounding and the special values all occur. The value and strided-input builders serve `scan.rs` too;
//! the comparison is `ops_vs_naive.rs`'s.

use crate::common::{numel, ravel, unravel};
use crate::ops_vs_naive::{check, shape, Check};
use descent_tensor::{Float, Tensor};
use proptest::prelude::*;

/// Logical row-major values of `shape` drawn from `seed`: multiples of 1/8 in [-3, 3], and
/// one in 16 a special value (±inf, NaN).
pub fn values(shape: &[usize], seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..numel(shape))
        .map(|_| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let r = (s >> 33) as usize;
            match r % 64 {
                0 => f64::INFINITY,
                1 => f64::NEG_INFINITY,
                2 | 3 => f64::NAN,
                _ => ((r / 64) % 49) as f64 / 8.0 - 3.0,
            }
        })
        .collect()
}

/// A tensor with the logical values `data` of `shape`: contiguous (`layout` 0), stored
/// transposed and permuted back (1), or every other element of a longer buffer (2).
pub fn tensor<F: Float>(shape: &[usize], data: &[f64], layout: u8) -> Tensor<F> {
    let f = |v: &[f64]| v.iter().map(|&x| F::of(x)).collect::<Vec<F>>();
    let rank = shape.len();
    let t = match layout {
        1 if rank >= 2 => {
            let mut stored = shape.to_vec();
            stored.swap(0, rank - 1);
            let buf: Vec<f64> = (0..numel(&stored))
                .map(|q| {
                    let mut idx = unravel(q, &stored);
                    idx.swap(0, rank - 1);
                    data[ravel(&idx, shape)]
                })
                .collect();
            let t = Tensor::from_vec(f(&buf), &stored).unwrap();
            t.transpose(0, rank as isize - 1).unwrap()
        }
        2 => {
            let buf: Vec<f64> = data.iter().flat_map(|&x| [x, 777.0]).collect();
            let t = Tensor::from_vec(f(&buf), &[2 * data.len()]).unwrap();
            let t = t.slice(0, 0, 2 * data.len(), 2).unwrap();
            let signed: Vec<isize> = shape.iter().map(|&n| n as isize).collect();
            // A reshape of a strided 1-D view stays a view when it can; either way the
            // values are those of `data`.
            t.reshape(&signed).unwrap()
        }
        _ => Tensor::from_vec(f(data), shape).unwrap(),
    };
    assert_eq!(t.shape(), shape);
    t
}

type Unary<F> = (&'static str, fn(&Tensor<F>) -> Tensor<F>, fn(f64) -> f64);

fn unary_ops<F: Float>() -> Vec<Unary<F>> {
    vec![
        ("log1p", |t| t.log1p(), f64::ln_1p),
        ("expm1", |t| t.expm1(), f64::exp_m1),
        ("log2", |t| t.log2(), f64::log2),
        ("log10", |t| t.log10(), f64::log10),
        ("tan", |t| t.tan(), f64::tan),
        ("asin", |t| t.asin(), f64::asin),
        ("acos", |t| t.acos(), f64::acos),
        ("atan", |t| t.atan(), f64::atan),
        ("sinh", |t| t.sinh(), f64::sinh),
        ("cosh", |t| t.cosh(), f64::cosh),
        ("asinh", |t| t.asinh(), f64::asinh),
        ("acosh", |t| t.acosh(), f64::acosh),
        ("atanh", |t| t.atanh(), f64::atanh),
        ("rsqrt", |t| t.rsqrt(), |x| 1.0 / x.sqrt()),
        ("floor", |t| t.floor(), f64::floor),
        ("ceil", |t| t.ceil(), f64::ceil),
        ("round", |t| t.round(), f64::round_ties_even),
        ("trunc", |t| t.trunc(), f64::trunc),
        ("frac", |t| t.frac(), |x| x - x.trunc()),
    ]
}

fn unary_case<F: Float>(shape: &[usize], data: &[f64], layout: u8) -> Check {
    let x = tensor::<F>(shape, data, layout);
    for (name, op, reference) in unary_ops::<F>() {
        // The reference sees the value the kernel sees (rounded to F).
        let want: Vec<f64> = data.iter().map(|&v| reference(F::of(v).as_f64())).collect();
        check(name, &op(&x), shape, &want)?;
    }
    Ok(())
}

/// Flat position, in an operand of `shape`, of the element broadcast to multi-index `idx`.
fn source(idx: &[usize], shape: &[usize]) -> usize {
    let lead = idx.len() - shape.len();
    shape.iter().enumerate().fold(0, |acc, (d, &n)| {
        acc * n + if n == 1 { 0 } else { idx[lead + d] }
    })
}

fn xlogy(x: f64, y: f64) -> f64 {
    if y.is_nan() {
        y
    } else if x == 0.0 {
        0.0
    } else {
        x * y.ln()
    }
}

fn logaddexp(a: f64, b: f64) -> f64 {
    if a == b && a.is_infinite() {
        a
    } else {
        let m = if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            a.max(b)
        };
        m + (-(a - b).abs()).exp().ln_1p()
    }
}

fn lerp(a: f64, b: f64, w: f64) -> f64 {
    if w.abs() < 0.5 {
        a + w * (b - a)
    } else {
        b - (b - a) * (1.0 - w)
    }
}

type Binary<F> = (
    &'static str,
    fn(&Tensor<F>, &Tensor<F>) -> descent_tensor::Result<Tensor<F>>,
    fn(f64, f64) -> f64,
);

fn binary_case<F: Float>(shape: &[usize], other: &[usize], seed: u64, layout: u8) -> Check {
    let (da, db) = (values(shape, seed), values(other, seed ^ 0xabc));
    let (a, b) = (tensor::<F>(shape, &da, layout), tensor::<F>(other, &db, 0));
    let r = |v: f64| F::of(v).as_f64();
    let ops: [Binary<F>; 6] = [
        ("atan2", |a, b| a.atan2(b), f64::atan2),
        ("hypot", |a, b| a.hypot(b), f64::hypot),
        ("logaddexp", |a, b| a.logaddexp(b), logaddexp),
        ("xlogy", |a, b| a.xlogy(b), xlogy),
        (
            "lerp_scalar 0.25",
            |a, b| a.lerp_scalar(b, F::of(0.25)),
            |a, b| lerp(a, b, 0.25),
        ),
        (
            "lerp_scalar 0.75",
            |a, b| a.lerp_scalar(b, F::of(0.75)),
            |a, b| lerp(a, b, 0.75),
        ),
    ];
    for (name, op, reference) in ops {
        let want: Vec<f64> = (0..numel(shape))
            .map(|p| {
                let idx = unravel(p, shape);
                reference(r(da[p]), r(db[source(&idx, other)]))
            })
            .collect();
        check(name, &op(&a, &b).unwrap(), shape, &want)?;
        // Reversed operands broadcast the same way.
        let want: Vec<f64> = (0..numel(shape))
            .map(|p| {
                let idx = unravel(p, shape);
                reference(r(db[source(&idx, other)]), r(da[p]))
            })
            .collect();
        check(name, &op(&b, &a).unwrap(), shape, &want)?;
    }
    // lerp's weight broadcasts too: quarter steps in [-1, 2].
    let dw: Vec<f64> = (0..numel(other))
        .map(|i| (i % 13) as f64 / 4.0 - 1.0)
        .collect();
    let w = tensor::<F>(other, &dw, 0);
    let want: Vec<f64> = (0..numel(shape))
        .map(|p| {
            let q = source(&unravel(p, shape), other);
            lerp(r(da[p]), r(db[q]), dw[q])
        })
        .collect();
    check("lerp", &a.lerp(&b, &w).unwrap(), shape, &want)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn unary_math_matches_std(s in shape(0..=4), seed in any::<u64>(), layout in 0..3u8) {
        let data = values(&s, seed);
        unary_case::<f32>(&s, &data, layout)?;
        unary_case::<f64>(&s, &data, layout)?;
    }

    #[test]
    fn binary_math_broadcasts(s in shape(0..=4), seed in any::<u64>(), layout in 0..3u8, drop in 0..5usize, ones in any::<u8>()) {
        let other: Vec<usize> = s[drop.min(s.len())..]
            .iter()
            .enumerate()
            .map(|(i, &n)| if ones >> i & 1 == 1 { 1 } else { n })
            .collect();
        binary_case::<f32>(&s, &other, seed, layout)?;
        binary_case::<f64>(&s, &other, seed, layout)?;
    }
}

#[test]
fn binary_math_names_the_op_when_shapes_do_not_broadcast() {
    let (a, b) = (Tensor::<f64>::zeros(&[2, 3]), Tensor::<f64>::zeros(&[4]));
    let e = a.atan2(&b).unwrap_err().to_string();
    assert_eq!(e, "atan2: shapes [2, 3] and [4] do not broadcast");
    let e = a.lerp(&a, &b).unwrap_err().to_string();
    assert!(e.starts_with("lerp: shapes"), "{e}");
}
