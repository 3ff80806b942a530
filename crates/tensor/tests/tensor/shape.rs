//! The shape and indexing ops against naive loops over multi-indices, on contiguous and
//! transposed (permuted) inputs of random shapes.

use crate::common;

use common::{numel, ravel, unravel};
use descent_tensor::{PadMode, Tensor};
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Random values in a random 3-D shape, as a contiguous tensor and as a permuted view of
/// storage laid out in reverse axis order (same values).
fn sample(rng: &mut StdRng, lo: usize) -> (Vec<usize>, Vec<f64>, [Tensor<f64>; 2]) {
    let shape: Vec<usize> = (0..3).map(|_| rng.random_range(lo..=5)).collect();
    let v: Vec<f64> = (0..numel(&shape))
        .map(|_| rng.random_range(-2.0..2.0))
        .collect();
    let t = Tensor::from_vec(v.clone(), &shape).unwrap();
    let rev: Vec<usize> = shape.iter().rev().copied().collect();
    let stored = Tensor::from_vec(t.permute(&[2, 1, 0]).unwrap().to_vec(), &rev).unwrap();
    let view = stored.permute(&[2, 1, 0]).unwrap();
    assert!(!view.is_contiguous() || shape.iter().filter(|&&n| n > 1).count() < 2);
    (shape, v, [t, view])
}

/// The tensor built by `f(out_index) -> value` over `shape`.
fn naive(shape: &[usize], f: impl Fn(&[usize]) -> f64) -> Vec<f64> {
    (0..numel(shape)).map(|p| f(&unravel(p, shape))).collect()
}

#[test]
fn movement_ops_match_naive_loops() {
    let mut rng = StdRng::seed_from_u64(41);
    for _ in 0..20 {
        let (s, v, inputs) = sample(&mut rng, 1);
        let at = |i: &[usize]| v[ravel(i, &s)];
        let shift = rng.random_range(-7..7i64) as isize;
        for x in &inputs {
            let flipped = naive(&s, |i| at(&[s[0] - 1 - i[0], i[1], s[2] - 1 - i[2]]));
            assert_eq!(x.flip(&[0, 2]).unwrap().to_vec(), flipped);
            let roll = |i: usize, n: usize| (i as isize - shift).rem_euclid(n as isize) as usize;
            let rolled = naive(&s, |i| at(&[i[0], roll(i[1], s[1]), i[2]]));
            assert_eq!(x.roll(&[shift], &[1]).unwrap().to_vec(), rolled);
            let rs = [2 * s[0], s[1], 3 * s[2]];
            let repeated = naive(&rs, |i| at(&[i[0] % s[0], i[1], i[2] % s[2]]));
            let got = x.repeat(&[2, 1, 3]).unwrap();
            assert_eq!((got.shape(), got.to_vec()), (&rs[..], repeated));
            let moved = naive(&[s[1], s[2], s[0]], |i| at(&[i[2], i[0], i[1]]));
            assert_eq!(x.movedim(&[0], &[2]).unwrap().to_vec(), moved);
            for k in [-1isize, 0, 2] {
                let keep_low = |i: &[usize]| (i[2] as isize - i[1] as isize) <= k;
                let low = naive(&s, |i| if keep_low(i) { at(i) } else { 0.0 });
                assert_eq!(x.tril(k).unwrap().to_vec(), low);
                let keep_up = |i: &[usize]| (i[2] as isize - i[1] as isize) >= k;
                let up = naive(&s, |i| if keep_up(i) { at(i) } else { 0.0 });
                assert_eq!(x.triu(k).unwrap().to_vec(), up);
                // The diagonal of axes 0 and 2 at offset k.
                let d = x.diagonal(k, 0, 2).unwrap();
                let (r0, c0) = if k >= 0 {
                    (0, k as usize)
                } else {
                    ((-k) as usize, 0)
                };
                let len = d.shape()[1];
                assert_eq!(len, s[0].saturating_sub(r0).min(s[2].saturating_sub(c0)));
                let diag = naive(&[s[1], len], |i| at(&[r0 + i[1], i[0], c0 + i[1]]));
                assert_eq!(d.to_vec(), diag);
                // diag_embed of the last axis into new axes 0 and 2.
                let m = s[2] + k.unsigned_abs();
                let e = x.diag_embed(k, 0, 2).unwrap();
                let es = [m, s[0], m, s[1]];
                let embedded = naive(&es, |i| {
                    let (r, c) = (i[0], i[2]);
                    if r >= r0 && c >= c0 && r - r0 == c - c0 {
                        at(&[i[1], i[3], r - r0])
                    } else {
                        0.0
                    }
                });
                assert_eq!((e.shape(), e.to_vec()), (&es[..], embedded));
            }
        }
    }
}

#[test]
fn pad_matches_naive_loops_in_every_mode() {
    let mut rng = StdRng::seed_from_u64(42);
    for _ in 0..20 {
        let (s, v, inputs) = sample(&mut rng, 3);
        let at = |i: &[usize]| v[ravel(i, &s)];
        let p: [usize; 4] = std::array::from_fn(|_| rng.random_range(0..3));
        let ps = [s[0], s[1] + p[2] + p[3], s[2] + p[0] + p[1]];
        for mode in [
            PadMode::Constant,
            PadMode::Reflect,
            PadMode::Replicate,
            PadMode::Circular,
        ] {
            let src = |o: usize, before: usize, n: usize| -> Option<usize> {
                let i = o as isize - before as isize;
                let last = n as isize - 1;
                let j = match mode {
                    PadMode::Constant if i < 0 || i > last => return None,
                    PadMode::Reflect if i < 0 => -i,
                    PadMode::Reflect if i > last => 2 * last - i,
                    PadMode::Replicate => i.clamp(0, last),
                    PadMode::Circular => i.rem_euclid(n as isize),
                    _ => i,
                };
                Some(j as usize)
            };
            let want = naive(&ps, |i| {
                match (src(i[1], p[2], s[1]), src(i[2], p[0], s[2])) {
                    (Some(r), Some(c)) => at(&[i[0], r, c]),
                    _ => 7.5,
                }
            });
            for x in &inputs {
                let got = x.pad(&p, mode, 7.5).unwrap();
                assert_eq!(
                    (got.shape(), got.to_vec()),
                    (&ps[..], want.clone()),
                    "{mode:?}"
                );
            }
        }
    }
}

#[test]
fn selection_ops_match_naive_loops() {
    let mut rng = StdRng::seed_from_u64(43);
    for _ in 0..20 {
        let (s, v, inputs) = sample(&mut rng, 1);
        let at = |i: &[usize]| v[ravel(i, &s)];
        let mask_shape = [1, s[1], s[2]];
        let mask: Vec<f64> = (0..numel(&mask_shape))
            .map(|_| f64::from(u8::from(rng.random_bool(0.5))))
            .collect();
        let m = Tensor::from_vec(mask.clone(), &mask_shape).unwrap();
        let index_shape = [s[0], rng.random_range(1..=4), 1];
        let index: Vec<usize> = (0..numel(&index_shape))
            .map(|_| rng.random_range(0..s[1]))
            .collect();
        for x in &inputs {
            let selected: Vec<f64> = (0..v.len())
                .filter(|&p| {
                    let i = unravel(p, &s);
                    mask[ravel(&[0, i[1], i[2]], &mask_shape)] != 0.0
                })
                .map(|p| v[p])
                .collect();
            assert_eq!(x.masked_select(&m).unwrap().to_vec(), selected);
            let filled = naive(&s, |i| {
                if mask[ravel(&[0, i[1], i[2]], &mask_shape)] != 0.0 {
                    -9.0
                } else {
                    at(i)
                }
            });
            assert_eq!(x.masked_fill(&m, -9.0).unwrap().to_vec(), filled);
            let ts = [s[0], index_shape[1], s[2]];
            let taken = naive(&ts, |i| {
                at(&[i[0], index[ravel(&[i[0], i[1], 0], &index_shape)], i[2]])
            });
            let got = x.take_along_dim(&index, &index_shape, Some(1)).unwrap();
            assert_eq!((got.shape(), got.to_vec()), (&ts[..], taken));
            let parts = x.chunk(2, 2).unwrap();
            let joined = Tensor::concat(&parts.iter().collect::<Vec<_>>(), 2).unwrap();
            assert_eq!(joined.to_vec(), v);
            let rows = x.unbind(0).unwrap();
            assert_eq!(rows.len(), s[0]);
            assert_eq!(
                rows[s[0] - 1].to_vec(),
                naive(&s[1..], |i| at(&[s[0] - 1, i[0], i[1]]))
            );
        }
    }
}

#[test]
fn scatter_add_reads_the_leading_corner_of_a_larger_source() {
    let src = Tensor::<f64>::from_vec((1..=12).map(f64::from).collect(), &[3, 4]).unwrap();
    let out = Tensor::scatter_add(&[2, 4], 0, &[1, 0, 1], &[1, 3], &src).unwrap();
    assert_eq!(out.to_vec(), vec![0., 2., 0., 0., 1., 0., 3., 0.]);
    assert!(Tensor::scatter_add(
        &[2, 4],
        0,
        &[1, 0, 1],
        &[1, 3],
        &src.narrow(1, 0, 2).unwrap()
    )
    .is_err());
}
