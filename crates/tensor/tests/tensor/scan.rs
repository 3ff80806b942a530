//! Reductions (`prod`, `std`, `any`, `all`, `count_nonzero`), scans (`cumsum`, `cumprod`,
//! `logcumsumexp` and the reversed forms) and order (`sort`, `argsort`, `topk`, `kthvalue`,
//! `median`, `max_dim`, `min_dim`) against loops over plain vectors, on random shapes and
//! layouts (see `math.rs`) in f32 and f64, with ties, ±inf and NaN; and large inputs that
//! take the parallel paths.

use crate::common::{numel, ravel, unravel};
use crate::math::{tensor, values};
use crate::ops_vs_naive::{check, shape, Check};
use descent_tensor::{Float, Tensor};
use proptest::prelude::*;
use std::cmp::Ordering;

/// The lines along `d`: for each position of the other axes (row-major), the flat
/// positions of its elements.
fn lines(shape: &[usize], d: usize) -> Vec<Vec<usize>> {
    let mut outer = shape.to_vec();
    outer[d] = 1;
    (0..numel(&outer))
        .map(|p| {
            let mut idx = unravel(p, &outer);
            (0..shape[d])
                .map(|j| {
                    idx[d] = j;
                    ravel(&idx, shape)
                })
                .collect()
        })
        .collect()
}

/// Writes `per_line[l][j]` at position `j` along `d` of line `l` of `shape` (axis `d` of
/// length `k`).
fn place(shape: &[usize], d: usize, k: usize, per_line: &[Vec<f64>]) -> (Vec<usize>, Vec<f64>) {
    let mut out_shape = shape.to_vec();
    out_shape[d] = k;
    let mut out = vec![0.0; numel(&out_shape)];
    for (l, pos) in lines(&out_shape, d).iter().enumerate() {
        for (j, &p) in pos.iter().enumerate() {
            out[p] = per_line[l][j];
        }
    }
    (out_shape, out)
}

fn nan_last(a: f64, b: f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap(),
    }
}

/// The positions of `line` in stable ascending (or descending) order, NaN largest.
fn order(line: &[f64], descending: bool) -> Vec<usize> {
    let mut o: Vec<usize> = (0..line.len()).collect();
    o.sort_by(|&a, &b| {
        let c = nan_last(line[a], line[b]);
        if descending {
            c.reverse()
        } else {
            c
        }
    });
    o
}

fn logaddexp(a: f64, b: f64) -> f64 {
    if a == b && a.is_infinite() {
        a
    } else if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b) + (-(a - b).abs()).exp().ln_1p()
    }
}

fn scan_case<F: Float>(shape: &[usize], seed: u64, layout: u8, d: usize) -> Check {
    let data: Vec<f64> = values(shape, seed)
        .iter()
        .map(|&v| F::of(v).as_f64())
        .collect();
    let x = tensor::<F>(shape, &data, layout);
    let ls = lines(shape, d);
    let dim = d as isize - shape.len() as isize;
    /// The op, a step of its reference, and whether it runs from the end.
    type Scan<F> = (
        &'static str,
        fn(&Tensor<F>, isize) -> descent_tensor::Result<Tensor<F>>,
        fn(f64, f64) -> f64,
        bool,
    );
    let scans: [Scan<F>; 5] = [
        ("cumsum", |t, d| t.cumsum(d), |a, x| a + x, false),
        (
            "cumsum_reverse",
            |t, d| t.cumsum_reverse(d),
            |a, x| a + x,
            true,
        ),
        ("cumprod", |t, d| t.cumprod(d), |a, x| a * x, false),
        ("logcumsumexp", |t, d| t.logcumsumexp(d), logaddexp, false),
        (
            "logcumsumexp_reverse",
            |t, d| t.logcumsumexp_reverse(d),
            logaddexp,
            true,
        ),
    ];
    for (name, op, step, reverse) in scans {
        let mut want = vec![0.0; data.len()];
        for pos in &ls {
            let mut it: Vec<usize> = pos.clone();
            if reverse {
                it.reverse();
            }
            let mut acc = None;
            for p in it {
                // Rounded to F at each step, as the kernel accumulates in F.
                let next = acc.map_or(data[p], |a| F::of(step(a, data[p])).as_f64());
                want[p] = next;
                acc = Some(next);
            }
        }
        check(name, &op(&x, dim).unwrap(), shape, &want)?;
    }

    let n = shape[d];
    let sorted = |desc: bool| -> Vec<Vec<usize>> {
        ls.iter()
            .map(|pos| order(&pos.iter().map(|&p| data[p]).collect::<Vec<_>>(), desc))
            .collect()
    };
    for desc in [false, true] {
        let idx = sorted(desc);
        let vals: Vec<Vec<f64>> = (ls.iter().zip(&idx))
            .map(|(pos, o)| o.iter().map(|&j| data[pos[j]]).collect())
            .collect();
        let (s, v) = place(shape, d, n, &vals);
        let (got, gi) = x.sort(dim, desc, true).unwrap();
        check("sort", &got, &s, &v)?;
        let (_, i) = place(
            shape,
            d,
            n,
            &idx.iter()
                .map(|o| o.iter().map(|&j| j as f64).collect())
                .collect::<Vec<_>>(),
        );
        let gi: Vec<f64> = gi.iter().map(|&j| j as f64).collect();
        prop_assert_eq!(&gi, &i, "sort indices desc={}", desc);
        let ai: Vec<f64> = x
            .argsort(dim, desc, true)
            .unwrap()
            .iter()
            .map(|&j| j as f64)
            .collect();
        prop_assert_eq!(&ai, &i, "argsort desc={}", desc);
        // An unstable sort orders the same values.
        check(
            "sort unstable",
            &x.sort(dim, desc, false).unwrap().0,
            &s,
            &v,
        )?;
        for k in [0, n / 2, n] {
            let (s, v) = place(
                shape,
                d,
                k,
                &vals.iter().map(|v| v[..k].to_vec()).collect::<Vec<_>>(),
            );
            let (got, gi) = x.topk(k, dim, desc).unwrap();
            check("topk", &got, &s, &v)?;
            let (_, i) = place(
                shape,
                d,
                k,
                &idx.iter()
                    .map(|o| o[..k].iter().map(|&j| j as f64).collect())
                    .collect::<Vec<_>>(),
            );
            let gi: Vec<f64> = gi.iter().map(|&j| j as f64).collect();
            prop_assert_eq!(&gi, &i, "topk {} largest={}", k, desc);
        }
    }
    if n > 0 {
        let idx = sorted(false);
        let mut kept = shape.to_vec();
        kept[d] = 1;
        for k in [1, n.div_ceil(2), n] {
            let (got, gi) = x.kthvalue(k, dim, true).unwrap();
            let want: Vec<f64> = (ls.iter().zip(&idx))
                .map(|(pos, o)| data[pos[o[k - 1]]])
                .collect();
            let wi: Vec<usize> = idx.iter().map(|o| o[k - 1]).collect();
            check("kthvalue", &got, &kept, &want)?;
            prop_assert_eq!(gi, wi, "kthvalue {}", k);
        }
        let (got, gi) = x.median(dim, true).unwrap();
        let wi: Vec<usize> = (ls.iter().zip(&idx))
            .map(
                |(pos, o)| match pos.iter().position(|&p| data[p].is_nan()) {
                    Some(j) => j,
                    None => o[(n - 1) / 2],
                },
            )
            .collect();
        let want: Vec<f64> = ls.iter().zip(&wi).map(|(pos, &j)| data[pos[j]]).collect();
        check("median", &got, &kept, &want)?;
        prop_assert_eq!(gi, wi, "median");
        for (name, max) in [("max_dim", true), ("min_dim", false)] {
            let (got, gi) = if max {
                x.max_dim(dim, false)
            } else {
                x.min_dim(dim, false)
            }
            .unwrap();
            let wi: Vec<usize> = ls
                .iter()
                .map(|pos| {
                    let line: Vec<f64> = pos.iter().map(|&p| data[p]).collect();
                    match line.iter().position(|v| v.is_nan()) {
                        Some(j) => j,
                        None => (0..n)
                            .find(|&j| {
                                (0..n).all(|i| {
                                    if max {
                                        line[i] <= line[j]
                                    } else {
                                        line[i] >= line[j]
                                    }
                                })
                            })
                            .unwrap(),
                    }
                })
                .collect();
            let want: Vec<f64> = ls.iter().zip(&wi).map(|(pos, &j)| data[pos[j]]).collect();
            let mut dropped = shape.to_vec();
            dropped.remove(d);
            check(name, &got, &dropped, &want)?;
            prop_assert_eq!(gi, wi, "{}", name);
        }
    }
    Ok(())
}

fn reduce_case<F: Float>(
    shape: &[usize],
    seed: u64,
    layout: u8,
    mask: &[bool],
    keepdim: bool,
) -> Check {
    let data: Vec<f64> = values(shape, seed)
        .iter()
        .map(|&v| F::of(v).as_f64())
        .collect();
    let x = tensor::<F>(shape, &data, layout);
    let dims: Vec<isize> = (0..shape.len())
        .filter(|&d| mask[d])
        .map(|d| d as isize)
        .collect();
    let all = dims.is_empty();
    let reduced = |d: usize| all || mask[d];
    let out_full: Vec<usize> = (0..shape.len())
        .map(|d| if reduced(d) { 1 } else { shape[d] })
        .collect();
    let out_shape: Vec<usize> = if keepdim {
        out_full.clone()
    } else {
        (0..shape.len())
            .filter(|&d| !reduced(d))
            .map(|d| shape[d])
            .collect()
    };
    // The elements of each output position, in order.
    let group = |data: &[f64]| {
        let mut groups = vec![Vec::new(); numel(&out_full)];
        for (p, &v) in data.iter().enumerate() {
            let mut idx = unravel(p, shape);
            for (d, i) in idx.iter_mut().enumerate() {
                if reduced(d) {
                    *i = 0;
                }
            }
            groups[ravel(&idx, &out_full)].push(v);
        }
        groups
    };
    let groups = group(&data);
    let by = |f: &dyn Fn(&[f64]) -> f64| -> Vec<f64> { groups.iter().map(|g| f(g)).collect() };
    check(
        "prod",
        &x.prod(&dims, keepdim).unwrap(),
        &out_shape,
        &by(&|g| g.iter().product()),
    )?;
    check(
        "any",
        &x.any(&dims, keepdim).unwrap(),
        &out_shape,
        &by(&|g| g.iter().any(|&v| v != 0.0) as u8 as f64),
    )?;
    check(
        "all",
        &x.all(&dims, keepdim).unwrap(),
        &out_shape,
        &by(&|g| g.iter().all(|&v| v != 0.0) as u8 as f64),
    )?;
    let dropped: Vec<usize> = (0..shape.len())
        .filter(|&d| !reduced(d))
        .map(|d| shape[d])
        .collect();
    check(
        "count_nonzero",
        &x.count_nonzero(&dims).unwrap(),
        &dropped,
        &by(&|g| g.iter().filter(|&&v| v != 0.0).count() as f64),
    )?;
    // std on finite values only (its reference is two-pass, as the kernel's).
    let finite: Vec<f64> = data
        .iter()
        .map(|&v| if v.is_finite() { v } else { 0.5 })
        .collect();
    let xf = tensor::<F>(shape, &finite, layout);
    for correction in [0, 1] {
        let want: Vec<f64> = group(&finite)
            .iter()
            .map(|g| {
                let m = g.iter().sum::<f64>() / g.len() as f64;
                let ss: f64 = g.iter().map(|v| (v - m) * (v - m)).sum();
                (ss / (g.len() as f64 - correction as f64).max(0.0)).sqrt()
            })
            .collect();
        check(
            "std",
            &xf.std(&dims, correction, keepdim).unwrap(),
            &out_shape,
            &want,
        )?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn scans_and_order_along_any_axis(s in shape(1..=4), seed in any::<u64>(), layout in 0..3u8, d in 0..4usize) {
        let d = d % s.len();
        scan_case::<f32>(&s, seed, layout, d)?;
        scan_case::<f64>(&s, seed, layout, d)?;
    }

    #[test]
    fn extra_reductions_over_axis_lists(s in shape(0..=4), seed in any::<u64>(), layout in 0..3u8, mask in prop::collection::vec(any::<bool>(), 4), keepdim in any::<bool>()) {
        reduce_case::<f32>(&s, seed, layout, &mask, keepdim)?;
        reduce_case::<f64>(&s, seed, layout, &mask, keepdim)?;
    }
}

#[test]
fn large_inputs_take_the_parallel_paths() {
    for (shape, d) in [([400, 300], 1), ([300, 400], 0), ([3, 40_000], 1)] {
        let s = shape.to_vec();
        let data = values(&s, 5);
        let data: Vec<f64> = data
            .iter()
            .map(|&v| if v.is_finite() { v } else { 1.0 })
            .collect();
        scan_case::<f64>(&s, 5, 0, d).unwrap();
        let x = tensor::<f64>(&s, &data, 0);
        let (v, _) = x.sort(d as isize, false, true).unwrap();
        // Sorted lines are non-decreasing.
        let v = v.to_vec();
        for pos in lines(&s, d) {
            assert!(pos.windows(2).all(|w| v[w[0]] <= v[w[1]]));
        }
    }
}

#[test]
fn bad_arguments_are_errors_naming_the_op_and_shape() {
    let x = Tensor::<f64>::zeros(&[2, 3]);
    let e = x.topk(4, 1, true).unwrap_err().to_string();
    assert_eq!(
        e,
        "topk: invalid k = 4 for dim 1 of shape [2, 3]: must not exceed the size of dim"
    );
    let e = x.kthvalue(0, -1, false).unwrap_err().to_string();
    assert!(e.starts_with("kthvalue: invalid k = 0"), "{e}");
    let e = Tensor::<f64>::zeros(&[2, 0])
        .median(1, false)
        .unwrap_err()
        .to_string();
    assert!(
        e == "median: invalid dim = 1 of shape [2, 0]: the axis is empty",
        "{e}"
    );
    assert_eq!(
        x.cumsum(2).unwrap_err().to_string(),
        "cumsum: dim 2 is out of range for shape [2, 3]"
    );
    assert!(x
        .sort(-3, false, true)
        .unwrap_err()
        .to_string()
        .starts_with("sort: dim -3"));
    assert!(x.max_dim(5, false).is_err() && x.min_dim(-5, true).is_err());
}
