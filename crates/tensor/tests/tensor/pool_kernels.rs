//! The CNN step's element-wise kernels against naive loops: the 2×2 stride-2 max pool's
//! vectorized path (ties, NaN, odd sizes, strided and offset views), the max pool's
//! adjoint (a scatter through the argmax, overlapping windows included), ReLU fused into
//! the max pool, and dropout masks drawn in bulk.

use descent_tensor::{Error, Float, Tensor, Window2d};
use rand::{rngs::StdRng, Rng, RngCore, SeedableRng};

fn f64s<F: Float>(t: &Tensor<F>) -> Vec<f64> {
    t.to_vec().iter().map(|x| x.as_f64()).collect()
}

/// An `[n, c, h, w]` input with many ties (values in {−1, 0, 1}) and, if `nan`, a few NaNs,
/// laid out as: 0 contiguous; 1 a transposed view (columns strided); 2 a window of a larger
/// tensor (rows longer than `w`, an offset; columns still adjacent); 3 every other column.
fn input<F: Float>(rng: &mut StdRng, shape: [usize; 4], layout: usize, nan: bool) -> Tensor<F> {
    let [n, c, h, w] = shape;
    let mut draw = |s: &[usize]| {
        let v: Vec<F> = (0..s.iter().product::<usize>())
            .map(|_| {
                if nan && rng.random_range(0..12) == 0 {
                    F::nan()
                } else {
                    F::of(rng.random_range(-1..=1) as f64)
                }
            })
            .collect();
        Tensor::from_vec(v, s).unwrap()
    };
    match layout {
        1 => draw(&[n, c, w, h]).transpose(2, 3).unwrap(),
        2 => draw(&[n, c + 1, h + 2, w + 3])
            .narrow(1, 1, c)
            .and_then(|t| t.narrow(2, 1, h))
            .and_then(|t| t.narrow(3, 2, w))
            .unwrap(),
        3 => draw(&[n, c, h, 2 * w]).slice(3, 0, 2 * w, 2).unwrap(),
        _ => draw(&[n, c, h, w]),
    }
}

/// Max pooling without padding or dilation, as PyTorch scans a window: row by row, a tap
/// replacing the maximum if greater or NaN. Floor mode, or ceil mode's last partial window.
fn naive_max_pool(
    x: &[f64],
    [n, c, h, w]: [usize; 4],
    [kh, kw]: [usize; 2],
    [sh, sw]: [usize; 2],
    ceil: bool,
) -> (Vec<f64>, Vec<usize>) {
    let len = |size: usize, k: usize, s: usize| {
        let full = (size - k) / s + 1;
        // Ceil mode adds a last window that starts inside the input.
        if ceil && !(size - k).is_multiple_of(s) {
            full + 1
        } else {
            full
        }
    };
    let (oh, ow) = (len(h, kh, sh), len(w, kw, sw));
    let (mut values, mut index) = (vec![], vec![]);
    for p in 0..n * c {
        for oy in 0..oh {
            for ox in 0..ow {
                let mut best: Option<(f64, usize)> = None;
                for y in oy * sh..(oy * sh + kh).min(h) {
                    for x0 in ox * sw..(ox * sw + kw).min(w) {
                        let v = x[p * h * w + y * w + x0];
                        if best.is_none_or(|(m, _)| v > m || v.is_nan()) {
                            best = Some((v, y * w + x0));
                        }
                    }
                }
                let (v, i) = best.unwrap();
                values.push(v);
                index.push(i);
            }
        }
    }
    (values, index)
}

/// Bits of values, so NaN equals NaN.
fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn max_pool_2x2_matches_naive<F: Float>(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for case in 0..80 {
        let shape = [
            rng.random_range(1..=3),
            rng.random_range(1..=4),
            rng.random_range(2..=13),
            rng.random_range(2..=41),
        ];
        let (layout, ceil) = (case % 4, case % 3 == 2);
        let x = input::<F>(&mut rng, shape, layout, case % 2 == 0);
        let win = Window2d::new([2, 2]).stride([2, 2]).ceil_mode(ceil);
        let (y, idx) = x.max_pool2d_with_indices(win).unwrap();
        let (want, want_idx) = naive_max_pool(&f64s(&x), shape, [2, 2], [2, 2], ceil);
        let what = format!("case {case}: {shape:?} layout {layout} ceil {ceil}");
        assert_eq!(bits(&f64s(&y)), bits(&want), "values, {what}");
        assert_eq!(idx, want_idx, "indices, {what}");
        let values_only = x.max_pool2d(win).unwrap();
        assert_eq!(bits(&f64s(&values_only)), bits(&want), "max_pool2d, {what}");
    }
}

#[test]
fn max_pool2d_2x2_stride_2_matches_a_naive_loop_f32() {
    max_pool_2x2_matches_naive::<f32>(11);
}

#[test]
fn max_pool2d_2x2_stride_2_matches_a_naive_loop_f64() {
    max_pool_2x2_matches_naive::<f64>(12);
}

/// Other windows beside the 2×2 one, so the general path is checked against the same loop.
#[test]
fn max_pool2d_other_windows_match_a_naive_loop() {
    let mut rng = StdRng::seed_from_u64(13);
    for case in 0..60 {
        let shape = [1, rng.random_range(1..=3), 9, rng.random_range(4..=17)];
        let k = [rng.random_range(1..=3), rng.random_range(1..=3)];
        let s = [rng.random_range(1..=3), rng.random_range(1..=3)];
        let x = input::<f32>(&mut rng, shape, case % 4, case % 2 == 1);
        let (y, idx) = x
            .max_pool2d_with_indices(Window2d::new(k).stride(s))
            .unwrap();
        let (want, want_idx) = naive_max_pool(&f64s(&x), shape, k, s, false);
        assert_eq!(
            bits(&f64s(&y)),
            bits(&want),
            "case {case}: {shape:?} {k:?} {s:?}"
        );
        assert_eq!(idx, want_idx, "case {case}: {shape:?} {k:?} {s:?}");
    }
}

/// `relu` fused into the max pool gives the bits of `relu` then `max_pool2d` (ties, NaN, −0
/// from negated zeros, windows with no positive element) and the raw argmax of the input,
/// on the vectorized 2×2 path and the general ones (padding, dilation, ceil mode), every
/// layout, both precisions.
fn relu_max_pool_matches_relu_then_pool<F: Float>(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for case in 0..120 {
        let shape = [
            rng.random_range(1..=3),
            rng.random_range(1..=4),
            rng.random_range(3..=13),
            rng.random_range(3..=29),
        ];
        let win = match case % 4 {
            0 | 1 => Window2d::new([2, 2])
                .stride([2, 2])
                .ceil_mode(case % 8 == 1),
            2 => Window2d::new([3, 2]).stride([2, 1]).padding([1, 1]),
            _ => Window2d::new([2, 2]).dilation([2, 1]).ceil_mode(true),
        };
        let x = input::<F>(&mut rng, shape, case % 4, case % 3 == 0);
        for x in [x.clone(), x.neg()] {
            let what = format!("case {case}: {shape:?} {win:?}");
            let (y, idx) = x.relu_max_pool2d_with_indices(win).unwrap();
            let want = x.relu().max_pool2d(win).unwrap();
            assert_eq!(bits(&f64s(&y)), bits(&f64s(&want)), "values, {what}");
            let (_, raw_idx) = x.max_pool2d_with_indices(win).unwrap();
            assert_eq!(idx, raw_idx, "indices, {what}");
        }
    }
}

#[test]
fn relu_max_pool2d_matches_relu_then_max_pool2d_f32() {
    relu_max_pool_matches_relu_then_pool::<f32>(21);
}

#[test]
fn relu_max_pool2d_matches_relu_then_max_pool2d_f64() {
    relu_max_pool_matches_relu_then_pool::<f64>(22);
}

#[test]
fn relu_max_pool2d_bad_input_names_the_op() {
    let x = Tensor::<f32>::ones(&[64, 3, 28, 28]);
    let err = x.relu_max_pool2d_with_indices(Window2d::new([2, 40]));
    assert_eq!(
        err.unwrap_err().to_string(),
        "relu_max_pool2d: output width would be zero: the kernel spans 40 but the padded input width is 28: [64, 3, 28, 28] * [2, 40]"
    );
    let err = Tensor::<f64>::ones(&[2, 5, 4]).relu_max_pool2d_with_indices(Window2d::new([2, 2]));
    assert_eq!(
        err.unwrap_err().to_string(),
        "relu_max_pool2d: expected 4 dims [N, C, H, W], got shape [2, 5, 4]"
    );
}

/// `out[plane, index[k]] += g[k]` in the output's order, from zeros.
fn naive_adjoint(g: &[f64], index: &[usize], planes: usize, hw: usize) -> Vec<f64> {
    let mut out = vec![0.0; planes * hw];
    let per = g.len() / planes.max(1);
    for (k, (&v, &i)) in g.iter().zip(index).enumerate() {
        out[(k / per) * hw + i] += v;
    }
    out
}

fn adjoint_matches_naive<F: Float>(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for case in 0..60 {
        let shape = [
            rng.random_range(1..=2),
            rng.random_range(1..=3),
            rng.random_range(3..=9),
            rng.random_range(3..=9),
        ];
        // The CNN's window, then windows that overlap (a position may win twice) and pad.
        let win = match case % 3 {
            0 => Window2d::new([2, 2]).stride([2, 2]),
            1 => Window2d::new([3, 3]).stride([1, 2]).padding([1, 1]),
            _ => Window2d::new([3, 2]).stride([2, 1]).ceil_mode(true),
        };
        let x = input::<F>(&mut rng, shape, case % 4, false);
        let (y, idx) = x.max_pool2d_with_indices(win).unwrap();
        let g = Tensor::<F>::rand(y.shape(), F::of(-1.0), F::of(1.0), &mut rng).unwrap();
        // A transposed gradient half the time: the kernel reads any layout.
        let g = if case % 2 == 0 {
            g
        } else {
            g.transpose(2, 3)
                .unwrap()
                .contiguous()
                .transpose(2, 3)
                .unwrap()
        };
        let [n, c, h, w] = shape;
        let got = g.max_pool2d_adjoint(&idx, [h, w]).unwrap();
        assert_eq!(got.shape(), shape);
        let want = naive_adjoint(&f64s(&g), &idx, n * c, h * w);
        // Sums in the same order: the same bits (in F, so compare after rounding to F).
        let want: Vec<f64> = want.iter().map(|&v| F::of(v).as_f64()).collect();
        if case % 3 == 0 {
            assert_eq!(f64s(&got), want, "case {case}: {shape:?} {win:?}");
        }
        // And exactly `scatter_add` over the planes, which the backward used before.
        let planes = [n, c, h * w];
        let positions = y.shape()[2] * y.shape()[3];
        let g3 = g
            .reshape(&[n as isize, c as isize, positions as isize])
            .unwrap();
        let scattered = Tensor::scatter_add(&planes, 2, &idx, &[n, c, positions], &g3).unwrap();
        assert_eq!(
            got.to_vec(),
            scattered.to_vec(),
            "case {case}: {shape:?} {win:?}"
        );
        let close = f64s(&got)
            .iter()
            .zip(&want)
            .all(|(a, b)| (a - b).abs() <= 1e-6 * b.abs().max(1.0));
        assert!(close, "case {case}: {shape:?} {win:?}");
    }
}

#[test]
fn max_pool2d_adjoint_matches_a_naive_scatter_f32() {
    adjoint_matches_naive::<f32>(21);
}

#[test]
fn max_pool2d_adjoint_matches_a_naive_scatter_f64() {
    adjoint_matches_naive::<f64>(22);
}

#[test]
fn max_pool2d_adjoint_refuses_bad_indices() {
    let g = Tensor::<f32>::ones(&[1, 2, 1, 2]);
    let err = g.max_pool2d_adjoint(&[0, 1, 2], [2, 4]).unwrap_err();
    assert!(matches!(err, Error::Length { .. }), "{err}");
    let err = g.max_pool2d_adjoint(&[0, 1, 8, 2], [2, 4]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "max_pool2d_adjoint: index 8 is out of range for size 8 (dim 2 of shape [1, 2, 8])"
    );
    let err = Tensor::<f32>::ones(&[2, 4]).max_pool2d_adjoint(&[], [2, 4]);
    assert!(matches!(err, Err(Error::Rank { .. })));
    // An empty gradient gives zeros of the input's shape.
    let empty = Tensor::<f32>::ones(&[0, 2, 1, 2])
        .max_pool2d_adjoint(&[], [2, 4])
        .unwrap();
    assert_eq!(empty.shape(), [0, 2, 2, 4]);
}

/// The mask against a naive loop that draws the same generator's `u32`s one at a time and
/// drops an element when its draw, as a fraction of 2³², is below `p`.
#[test]
fn dropout_mask_matches_a_naive_loop_and_is_unbiased() {
    for (p, seed) in [(0.25, 1u64), (0.5, 2), (0.1, 3), (0.9, 4), (1.0 / 3.0, 5)] {
        let n = 100_003;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut naive_rng = rng.clone();
        let mask = Tensor::<f32>::dropout_mask(&[7, n / 7], p, &mut rng).unwrap();
        let keep = (1.0 / (1.0 - p)) as f32;
        let want: Vec<f32> = (0..mask.numel())
            .map(|_| {
                let u = naive_rng.next_u32() as f64 / 4_294_967_296.0;
                if u < p {
                    0.0
                } else {
                    keep
                }
            })
            .collect();
        assert_eq!(mask.to_vec(), want, "p = {p}");
        // Both generators are at the same place afterwards.
        assert_eq!(rng.next_u64(), naive_rng.next_u64(), "p = {p}");
        let kept = want.iter().filter(|&&m| m != 0.0).count() as f64 / want.len() as f64;
        // Five standard deviations of a binomial proportion.
        let sd = (p * (1.0 - p) / want.len() as f64).sqrt();
        assert!((kept - (1.0 - p)).abs() < 5.0 * sd, "p = {p}: kept {kept}");
        // The same seed, the same mask; in f64 the same draws.
        let again = Tensor::<f64>::dropout_mask(&[7, n / 7], p, &mut StdRng::seed_from_u64(seed));
        let again: Vec<bool> = again.unwrap().to_vec().iter().map(|&m| m == 0.0).collect();
        let zeros: Vec<bool> = want.iter().map(|&m| m == 0.0).collect();
        assert_eq!(again, zeros, "p = {p}");
    }
}

/// The mask drawn in parallel pieces from a ChaCha generator is `StdRng`'s serial mask of
/// the same seed, bit for bit, and leaves the generator where the serial draw does: sizes
/// that end inside a block, a generator that starts inside its buffer, one thread, three.
#[test]
fn dropout_mask_chacha_is_the_serial_mask() {
    use rand_chacha::ChaCha12Rng;
    for (n, skip, p) in [
        (100_003, 0, 0.25),
        (589_824, 5, 0.5),
        (40_000, 17, 1.0),
        (9, 1, 0.5),
    ] {
        for threads in [0, 1, 3] {
            let mut rng = ChaCha12Rng::seed_from_u64(n as u64);
            let mut serial = StdRng::seed_from_u64(n as u64);
            for _ in 0..skip {
                assert_eq!(rng.next_u32(), serial.next_u32());
            }
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
            let got = pool
                .unwrap()
                .install(|| Tensor::<f32>::dropout_mask_chacha(&[n], p, &mut rng).unwrap());
            let want = Tensor::<f32>::dropout_mask(&[n], p, &mut serial).unwrap();
            let bits = |t: &Tensor<f32>| t.to_vec().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert!(bits(&got) == bits(&want), "n = {n}, {threads} threads");
            assert_eq!(
                rng.next_u64(),
                serial.next_u64(),
                "n = {n}, {threads} threads"
            );
        }
    }
}

#[test]
fn dropout_mask_edges() {
    let mut rng = StdRng::seed_from_u64(0);
    let none = Tensor::<f64>::dropout_mask(&[3, 5], 0.0, &mut rng).unwrap();
    assert_eq!(none.to_vec(), vec![1.0; 15]);
    let all = Tensor::<f64>::dropout_mask(&[2000], 1.0, &mut rng).unwrap();
    assert_eq!(all.to_vec(), vec![0.0; 2000]);
    assert_eq!(
        Tensor::<f32>::dropout_mask(&[0, 4], 0.5, &mut rng)
            .unwrap()
            .numel(),
        0
    );
    for p in [-0.1, 1.5, f64::NAN] {
        let err = Tensor::<f32>::dropout_mask(&[4], p, &mut rng).unwrap_err();
        assert!(
            err.to_string().starts_with("dropout_mask: invalid p"),
            "{err}"
        );
    }
}
