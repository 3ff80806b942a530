//! Convolution and pooling kernels against direct loops written here on plain `Vec<f64>`s,
//! on seeded random shapes, strides, paddings, dilations, groups and odd sizes, with
//! contiguous and non-contiguous (transposed, step-2 sliced) inputs, in f64 and f32.

use descent_tensor::{ConvOptions, Error, Float, Tensor, Window2d};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// An NCHW tensor with values uniform in [-1, 1) and a layout picked by `layout`:
/// 0 contiguous, 1 a transposed view of `[n, c, w, h]`, 2 every other element of a tensor
/// twice as wide.
fn image<F: Float>(rng: &mut StdRng, shape: [usize; 4], layout: usize) -> Tensor<F> {
    let [n, c, h, w] = shape;
    match layout {
        1 => Tensor::rand(&[n, c, w, h], F::of(-1.0), F::of(1.0), rng)
            .unwrap()
            .transpose(2, 3)
            .unwrap(),
        2 => Tensor::rand(&[n, c, h, 2 * w], F::of(-1.0), F::of(1.0), rng)
            .unwrap()
            .slice(3, 1, 2 * w, 2)
            .unwrap(),
        _ => Tensor::rand(&[n, c, h, w], F::of(-1.0), F::of(1.0), rng).unwrap(),
    }
}

fn f64s<F: Float>(t: &Tensor<F>) -> Vec<f64> {
    t.to_vec().iter().map(|x| x.as_f64()).collect()
}

#[track_caller]
fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}: element {i}: got {g}, want {w}"
        );
    }
}

/// The input coordinate of tap `k` of window `o`, if it is inside `0..size`.
fn tap(o: usize, k: usize, stride: usize, pad: usize, dil: usize, size: usize) -> Option<usize> {
    let p = (o * stride + k * dil).checked_sub(pad)?;
    (p < size).then_some(p)
}

fn out_len(size: usize, k: usize, stride: usize, pad: usize, dil: usize) -> Option<usize> {
    pool_len(size, k, stride, pad, dil, false)
}

/// PyTorch's `pooling_output_shape`, in signed arithmetic as it is written there: floor or
/// ceil division, and in ceil mode one position less if the last window would start past
/// the input and its left padding. `None` for an output of zero or fewer positions.
fn pool_len(
    size: usize,
    k: usize,
    stride: usize,
    pad: usize,
    dil: usize,
    ceil: bool,
) -> Option<usize> {
    let (size, k, stride, pad, dil) =
        (size as i64, k as i64, stride as i64, pad as i64, dil as i64);
    let extra = if ceil { stride - 1 } else { 0 };
    let mut n = (size + 2 * pad - dil * (k - 1) - 1 + extra).div_euclid(stride) + 1;
    if ceil && (n - 1) * stride >= size + pad {
        n -= 1;
    }
    (n >= 1).then_some(n as usize)
}

/// A random convolution: input and weight shapes and options (channels divisible by groups).
struct Case {
    x: [usize; 4],
    w: [usize; 4],
    opts: ConvOptions,
}

fn random_case(rng: &mut StdRng) -> Case {
    let groups = rng.random_range(1..=3);
    let (cg, og) = (rng.random_range(1..=3), rng.random_range(1..=3));
    let x = [
        rng.random_range(1..=3),
        cg * groups,
        rng.random_range(1..=9),
        rng.random_range(1..=9),
    ];
    let w = [
        og * groups,
        cg,
        rng.random_range(1..=4),
        rng.random_range(1..=4),
    ];
    let pick = |rng: &mut StdRng, lo, hi| [rng.random_range(lo..=hi), rng.random_range(lo..=hi)];
    let opts = ConvOptions {
        stride: pick(rng, 1, 3),
        padding: pick(rng, 0, 2),
        dilation: pick(rng, 1, 3),
        groups,
    };
    Case { x, w, opts }
}

/// `F.conv2d` as seven nested loops.
fn naive_conv2d(
    x: &[f64],
    xs: [usize; 4],
    w: &[f64],
    ws: [usize; 4],
    b: Option<&[f64]>,
    o: ConvOptions,
) -> Option<(Vec<f64>, [usize; 4])> {
    let [n, c, h, wd] = xs;
    let [oc, cg, kh, kw] = ws;
    let oh = out_len(h, kh, o.stride[0], o.padding[0], o.dilation[0])?;
    let ow = out_len(wd, kw, o.stride[1], o.padding[1], o.dilation[1])?;
    let og = oc / o.groups;
    let mut out = vec![0.0; n * oc * oh * ow];
    for b_ in 0..n {
        for co in 0..oc {
            let g = co / og;
            for y in 0..oh {
                for xx in 0..ow {
                    let mut acc = b.map_or(0.0, |b| b[co]);
                    for ci in 0..cg {
                        let cin = g * cg + ci;
                        for ki in 0..kh {
                            let Some(iy) = tap(y, ki, o.stride[0], o.padding[0], o.dilation[0], h)
                            else {
                                continue;
                            };
                            for kj in 0..kw {
                                let Some(ix) =
                                    tap(xx, kj, o.stride[1], o.padding[1], o.dilation[1], wd)
                                else {
                                    continue;
                                };
                                acc += x[((b_ * c + cin) * h + iy) * wd + ix]
                                    * w[((co * cg + ci) * kh + ki) * kw + kj];
                            }
                        }
                    }
                    out[((b_ * oc + co) * oh + y) * ow + xx] = acc;
                }
            }
        }
    }
    Some((out, [n, oc, oh, ow]))
}

fn check_conv2d<F: Float>(seed: u64, tol: f64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut checked = 0;
    for case in 0..80 {
        let Case { x: xs, w: ws, opts } = random_case(&mut rng);
        let x = image::<F>(&mut rng, xs, case % 3);
        let w = image::<F>(&mut rng, ws, (case / 3) % 2);
        let bias = (case % 2 == 0)
            .then(|| Tensor::<F>::rand(&[ws[0]], F::of(-1.0), F::of(1.0), &mut rng).unwrap());
        let want = naive_conv2d(
            &f64s(&x),
            xs,
            &f64s(&w),
            ws,
            bias.as_ref().map(f64s).as_deref(),
            opts,
        );
        let got = x.conv2d(&w, bias.as_ref(), opts);
        match (got, want) {
            (Ok(y), Some((want, shape))) => {
                assert_eq!(y.shape(), shape, "case {case}");
                assert_close(
                    &f64s(&y),
                    &want,
                    tol,
                    &format!("conv2d case {case} {xs:?} {ws:?} {opts:?}"),
                );
                checked += 1;
            }
            (Err(Error::Window { op: "conv2d", .. }), None) => {}
            (got, want) => panic!(
                "case {case} {xs:?} {ws:?} {opts:?}: got {got:?}, naive {:?}",
                want.map(|w| w.1)
            ),
        }
    }
    assert!(checked > 40, "only {checked} cases had an output");
}

#[test]
fn conv2d_matches_direct_loops_f64() {
    check_conv2d::<f64>(1, 1e-12);
}

#[test]
fn conv2d_matches_direct_loops_f32() {
    check_conv2d::<f32>(2, 1e-5);
}

/// A batch large enough that the products run split over the batch across threads.
#[test]
fn conv2d_large_batch_matches_direct_loops() {
    let mut rng = StdRng::seed_from_u64(3);
    let (xs, ws) = ([37, 3, 12, 11], [8, 3, 3, 3]);
    let opts = ConvOptions {
        padding: [1, 1],
        ..Default::default()
    };
    let x = image::<f64>(&mut rng, xs, 1);
    let w = image::<f64>(&mut rng, ws, 0);
    let (want, shape) = naive_conv2d(&f64s(&x), xs, &f64s(&w), ws, None, opts).unwrap();
    let y = x.conv2d(&w, None, opts).unwrap();
    assert_eq!(y.shape(), shape);
    assert_close(&f64s(&y), &want, 1e-12, "large batch");
}

fn bits(t: &Tensor<f32>) -> Vec<u32> {
    t.to_vec().iter().map(|v| v.to_bits()).collect()
}

/// The `f32` convolution with stride 1 (computed by a direct kernel where the CPU has
/// AVX2 and FMA) has the bits of `unfold` and one `matmul` per group: odd sizes, paddings,
/// dilations, groups, depths past one 256-tap block, channel counts that leave a partial
/// block of output channels, ragged rows and non-contiguous inputs; with a bias, the bias
/// is the sum's first term.
#[test]
fn conv2d_f32_stride_1_has_the_bits_of_unfold_and_matmul() {
    let mut rng = StdRng::seed_from_u64(17);
    let mut checked = 0;
    for case in 0..60 {
        let groups = rng.random_range(1..=2);
        let cg = [1, 3, 5, 32][rng.random_range(0..4)];
        let og = rng.random_range(1..=9);
        let (kh, kw) = (rng.random_range(1..=3), rng.random_range(1..=4));
        let n = rng.random_range(1..=3);
        let xs = [
            n,
            cg * groups,
            rng.random_range(4..=13),
            rng.random_range(4..=30),
        ];
        let ws = [og * groups, cg, kh, kw];
        let pick =
            |rng: &mut StdRng, lo, hi| [rng.random_range(lo..=hi), rng.random_range(lo..=hi)];
        let opts = ConvOptions {
            stride: [1, 1],
            padding: pick(&mut rng, 0, 2),
            dilation: pick(&mut rng, 1, 2),
            groups,
        };
        let x = image::<f32>(&mut rng, xs, case % 3);
        let w = image::<f32>(&mut rng, ws, 0);
        let b = Tensor::<f32>::rand(&[ws[0]], -1.0, 1.0, &mut rng).unwrap();
        let Ok(y) = x.conv2d(&w, None, opts) else {
            continue;
        };
        let [oh, ow] = [y.shape()[2], y.shape()[3]];
        // Products of at most 16 columns go to `matmul`'s narrow kernel, summed otherwise.
        if oh * ow <= 16 {
            continue;
        }
        let kk = cg * kh * kw;
        let cols = x.unfold(opts.window([kh, kw])).unwrap();
        let cols = cols.reshape(&[n as isize, groups as isize, kk as isize, (oh * ow) as isize]);
        let wg = w
            .reshape(&[groups as isize, og as isize, kk as isize])
            .unwrap();
        let want = wg.matmul(&cols.unwrap()).unwrap();
        let what = format!("case {case} {xs:?} {ws:?} {opts:?}");
        assert_eq!(bits(&y), bits(&want), "{what}");
        let yb = x.conv2d(&w, Some(&b), opts).unwrap();
        if kk <= 256 {
            let want = want
                .reshape(&[-1, ws[0] as isize, (oh * ow) as isize])
                .unwrap();
            let want = want.add(&b.reshape(&[-1, 1]).unwrap()).unwrap();
            assert_eq!(bits(&yb), bits(&want), "{what}, bias");
        } else {
            let want = y.add(&b.reshape(&[-1, 1, 1]).unwrap()).unwrap();
            assert_close(&f64s(&yb), &f64s(&want), 1e-5, &format!("{what}, bias"));
        }
        checked += 1;
    }
    assert!(checked > 30, "only {checked} cases had an output");
}

/// `F.conv_transpose2d` as a scatter: each input element adds its weighted kernel into the
/// output.
fn naive_conv_transpose2d(
    x: &[f64],
    xs: [usize; 4],
    w: &[f64],
    ws: [usize; 4],
    o: ConvOptions,
    op: [usize; 2],
) -> (Vec<f64>, [usize; 4]) {
    let [n, c, h, wd] = xs;
    let [_, og, kh, kw] = ws;
    let g = o.groups;
    let cg = c / g;
    let size = |a: usize, len: usize, k: usize| {
        ((len - 1) * o.stride[a] + o.dilation[a] * (k - 1) + op[a] + 1) as isize
            - 2 * o.padding[a] as isize
    };
    let (oh, ow) = (size(0, h, kh) as usize, size(1, wd, kw) as usize);
    let oc = og * g;
    let mut out = vec![0.0; n * oc * oh * ow];
    for b in 0..n {
        for ci in 0..c {
            let grp = ci / cg;
            for y in 0..h {
                for xx in 0..wd {
                    let v = x[((b * c + ci) * h + y) * wd + xx];
                    for o_ in 0..og {
                        for ki in 0..kh {
                            let Some(oy) = tap(y, ki, o.stride[0], o.padding[0], o.dilation[0], oh)
                            else {
                                continue;
                            };
                            for kj in 0..kw {
                                let Some(ox) =
                                    tap(xx, kj, o.stride[1], o.padding[1], o.dilation[1], ow)
                                else {
                                    continue;
                                };
                                out[((b * oc + grp * og + o_) * oh + oy) * ow + ox] +=
                                    v * w[((ci * og + o_) * kh + ki) * kw + kj];
                            }
                        }
                    }
                }
            }
        }
    }
    (out, [n, oc, oh, ow])
}

#[test]
fn conv_transpose2d_matches_direct_loops() {
    let mut rng = StdRng::seed_from_u64(4);
    let mut checked = 0;
    for case in 0..60 {
        let Case { x: xs, w: ws, opts } = random_case(&mut rng);
        // Weight [C, O/groups, kh, kw]: the conv case's roles swapped.
        let ws = [xs[1], ws[0] / opts.groups, ws[2], ws[3]];
        let op = [
            rng.random_range(0..opts.stride[0]),
            rng.random_range(0..opts.stride[1]),
        ];
        let x = image::<f64>(&mut rng, xs, case % 3);
        let w = image::<f64>(&mut rng, ws, 0);
        let grown = |a: usize, len: usize, k: usize| {
            (len - 1) * opts.stride[a] + opts.dilation[a] * (k - 1) + op[a] + 1
        };
        let fits = grown(0, xs[2], ws[2]) > 2 * opts.padding[0]
            && grown(1, xs[3], ws[3]) > 2 * opts.padding[1];
        let got = x.conv_transpose2d(&w, None, opts, op);
        if !fits {
            assert!(
                matches!(
                    got,
                    Err(Error::Window {
                        op: "conv_transpose2d",
                        ..
                    })
                ),
                "case {case}: {got:?}"
            );
            continue;
        }
        let (want, shape) = naive_conv_transpose2d(&f64s(&x), xs, &f64s(&w), ws, opts, op);
        let y = got.unwrap();
        assert_eq!(y.shape(), shape, "case {case}");
        assert_close(
            &f64s(&y),
            &want,
            1e-12,
            &format!("conv_transpose2d case {case}"),
        );
        checked += 1;
    }
    assert!(checked > 30, "only {checked} cases had an output");
}

/// `F.unfold` by its definition, and `F.fold` as its scatter-add adjoint.
fn naive_unfold(x: &[f64], xs: [usize; 4], win: Window2d) -> Option<(Vec<f64>, [usize; 3])> {
    let [n, c, h, w] = xs;
    let [kh, kw] = win.kernel;
    let oh = out_len(h, kh, win.stride[0], win.padding[0], win.dilation[0])?;
    let ow = out_len(w, kw, win.stride[1], win.padding[1], win.dilation[1])?;
    let mut out = Vec::new();
    for b in 0..n {
        for ch in 0..c {
            for ki in 0..kh {
                for kj in 0..kw {
                    for y in 0..oh {
                        for xx in 0..ow {
                            let iy = tap(y, ki, win.stride[0], win.padding[0], win.dilation[0], h);
                            let ix = tap(xx, kj, win.stride[1], win.padding[1], win.dilation[1], w);
                            out.push(match (iy, ix) {
                                (Some(iy), Some(ix)) => x[((b * c + ch) * h + iy) * w + ix],
                                _ => 0.0,
                            });
                        }
                    }
                }
            }
        }
    }
    Some((out, [n, c * kh * kw, oh * ow]))
}

fn random_window(rng: &mut StdRng) -> Window2d {
    let pick = |rng: &mut StdRng, lo, hi| [rng.random_range(lo..=hi), rng.random_range(lo..=hi)];
    Window2d::new(pick(rng, 1, 4))
        .stride(pick(rng, 1, 3))
        .padding(pick(rng, 0, 2))
        .dilation(pick(rng, 1, 2))
}

#[test]
fn unfold_and_fold_match_direct_loops() {
    let mut rng = StdRng::seed_from_u64(5);
    let mut checked = 0;
    for case in 0..80 {
        let xs = [
            rng.random_range(1..=2),
            rng.random_range(1..=3),
            rng.random_range(1..=8),
            rng.random_range(1..=8),
        ];
        let win = random_window(&mut rng);
        let x = image::<f64>(&mut rng, xs, case % 3);
        let Some((want, shape)) = naive_unfold(&f64s(&x), xs, win) else {
            assert!(matches!(
                x.unfold(win),
                Err(Error::Window { op: "unfold", .. })
            ));
            continue;
        };
        let cols = x.unfold(win).unwrap();
        assert_eq!(cols.shape(), shape);
        assert_eq!(f64s(&cols), want, "unfold case {case}");
        // fold: each column entry added back where unfold read it from.
        let c = Tensor::<f64>::rand(&[shape[0], shape[2], shape[1]], -1.0, 1.0, &mut rng)
            .unwrap()
            .transpose(1, 2)
            .unwrap();
        let mut back = vec![0.0; xs.iter().product()];
        let positions: Vec<usize> = {
            let index = Tensor::<f64>::arange(0.0, back.len() as f64, 1.0)
                .unwrap()
                .reshape(&[
                    xs[0] as isize,
                    xs[1] as isize,
                    xs[2] as isize,
                    xs[3] as isize,
                ])
                .unwrap();
            // unfold of the positions + 1 (0 marks padding).
            naive_unfold(&f64s(&index.add_scalar(1.0)), xs, win)
                .unwrap()
                .0
                .iter()
                .map(|&p| p as usize)
                .collect()
        };
        for (p, v) in positions.iter().zip(f64s(&c)) {
            if *p > 0 {
                back[p - 1] += v;
            }
        }
        let folded = c.fold([xs[2], xs[3]], win).unwrap();
        assert_eq!(folded.shape(), xs);
        assert_close(&f64s(&folded), &back, 1e-14, &format!("fold case {case}"));
        checked += 1;
    }
    assert!(checked > 40, "only {checked} cases had an output");
}

/// `F.max_pool2d` with PyTorch's scan: first valid tap first, `>` or NaN replaces; `None`
/// if the output is empty or a window holds no input element.
fn naive_max_pool(x: &[f64], xs: [usize; 4], win: Window2d) -> Option<(Vec<f64>, Vec<usize>)> {
    let [n, c, h, w] = xs;
    let [kh, kw] = win.kernel;
    let c_ = win.ceil_mode;
    let oh = pool_len(h, kh, win.stride[0], win.padding[0], win.dilation[0], c_)?;
    let ow = pool_len(w, kw, win.stride[1], win.padding[1], win.dilation[1], c_)?;
    let (mut vals, mut idx) = (Vec::new(), Vec::new());
    for plane in 0..n * c {
        for y in 0..oh {
            for xx in 0..ow {
                let mut best: Option<(f64, usize)> = None;
                for ki in 0..kh {
                    let Some(iy) = tap(y, ki, win.stride[0], win.padding[0], win.dilation[0], h)
                    else {
                        continue;
                    };
                    for kj in 0..kw {
                        let Some(ix) =
                            tap(xx, kj, win.stride[1], win.padding[1], win.dilation[1], w)
                        else {
                            continue;
                        };
                        let v = x[plane * h * w + iy * w + ix];
                        if best.is_none_or(|(m, _)| v > m || v.is_nan()) {
                            best = Some((v, iy * w + ix));
                        }
                    }
                }
                // A window wholly in the padding (dilation can skip the input): an error.
                let (v, i) = best?;
                vals.push(v);
                idx.push(i);
            }
        }
    }
    Some((vals, idx))
}

#[test]
fn max_pool2d_matches_direct_loops_with_ties() {
    let mut rng = StdRng::seed_from_u64(6);
    let mut checked = 0;
    for case in 0..100 {
        let xs = [
            rng.random_range(1..=2),
            rng.random_range(1..=3),
            rng.random_range(1..=8),
            rng.random_range(1..=8),
        ];
        let mut win = random_window(&mut rng).ceil_mode(case % 2 == 1);
        win.padding = [
            win.padding[0].min(win.kernel[0] / 2),
            win.padding[1].min(win.kernel[1] / 2),
        ];
        // Values from {-1, 0, 1}: many ties, broken by scan order.
        let x = image::<f64>(&mut rng, xs, case % 3)
            .mul_scalar(1.5)
            .map(f64::round);
        let got = x.max_pool2d_with_indices(win);
        let Some((want, want_idx)) = naive_max_pool(&f64s(&x), xs, win) else {
            assert!(
                matches!(got, Err(Error::Window { .. })),
                "case {case}: {got:?}"
            );
            continue;
        };
        let (y, idx) = got.unwrap();
        assert_eq!(f64s(&y), want, "max_pool2d case {case}");
        assert_eq!(idx, want_idx, "max_pool2d indices case {case}");
        checked += 1;
    }
    assert!(checked > 50, "only {checked} cases had an output");
}

#[test]
fn max_pool2d_propagates_nan_and_f32_agrees() {
    let x = Tensor::<f32>::from_vec(
        vec![1., f32::NAN, 5., 2., 7., 0., 3., 4., 6.],
        &[1, 1, 3, 3],
    )
    .unwrap();
    let (y, idx) = x.max_pool2d_with_indices(Window2d::new([2, 2])).unwrap();
    assert!(y.to_vec()[0].is_nan() && y.to_vec()[1].is_nan());
    assert_eq!(idx, [1, 1, 4, 4]);
    assert_eq!(y.to_vec()[2..], [7., 7.]);
}

/// `F.avg_pool2d`: sum of the taps inside the input over the divisor.
fn naive_avg_pool(
    x: &[f64],
    xs: [usize; 4],
    win: Window2d,
    include_pad: bool,
) -> Option<(Vec<f64>, Vec<f64>)> {
    let [n, c, h, w] = xs;
    let [kh, kw] = win.kernel;
    let oh = pool_len(h, kh, win.stride[0], win.padding[0], 1, win.ceil_mode)?;
    let ow = pool_len(w, kw, win.stride[1], win.padding[1], 1, win.ceil_mode)?;
    let (mut vals, mut divisors) = (Vec::new(), Vec::new());
    for plane in 0..n * c {
        for y in 0..oh {
            for xx in 0..ow {
                // `padded`: taps inside the padded input (a ceil-mode window may pass it).
                let (mut sum, mut inside, mut padded) = (0.0, 0, 0);
                for ki in 0..kh {
                    for kj in 0..kw {
                        let [py, px] = [y * win.stride[0] + ki, xx * win.stride[1] + kj];
                        if py < h + 2 * win.padding[0] && px < w + 2 * win.padding[1] {
                            padded += 1;
                        }
                        if let (Some(iy), Some(ix)) = (
                            tap(y, ki, win.stride[0], win.padding[0], 1, h),
                            tap(xx, kj, win.stride[1], win.padding[1], 1, w),
                        ) {
                            sum += x[plane * h * w + iy * w + ix];
                            inside += 1;
                        }
                    }
                }
                let d = if include_pad {
                    padded as f64
                } else {
                    inside as f64
                };
                vals.push(sum / d);
                divisors.push(d);
            }
        }
    }
    Some((vals, divisors))
}

/// The adjoint of a pool, by scattering each output's `g / divisor` over its window.
#[test]
fn avg_pool2d_and_its_adjoint_match_direct_loops() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut checked = 0;
    for case in 0..100 {
        let xs = [
            rng.random_range(1..=2),
            rng.random_range(1..=3),
            rng.random_range(1..=8),
            rng.random_range(1..=8),
        ];
        let mut win = random_window(&mut rng)
            .dilation([1, 1])
            .ceil_mode(case % 4 >= 2);
        win.padding = [
            win.padding[0].min(win.kernel[0] / 2),
            win.padding[1].min(win.kernel[1] / 2),
        ];
        let include_pad = case % 2 == 0;
        let x = image::<f64>(&mut rng, xs, case % 3);
        let got = x.avg_pool2d(win, include_pad);
        let Some((want, divisors)) = naive_avg_pool(&f64s(&x), xs, win, include_pad) else {
            assert!(
                matches!(got, Err(Error::Window { .. })),
                "case {case}: {got:?}"
            );
            continue;
        };
        let y = got.unwrap();
        assert_close(&f64s(&y), &want, 1e-14, &format!("avg_pool2d case {case}"));
        // Adjoint: scatter g / divisor over each window's taps inside the input.
        let g = image::<f64>(&mut rng, y.shape().try_into().unwrap(), case % 3);
        let (oh, ow) = (y.shape()[2], y.shape()[3]);
        let [_, _, h, w] = xs;
        let mut back = vec![0.0; xs.iter().product()];
        for (k, (gv, d)) in f64s(&g).iter().zip(&divisors).enumerate() {
            let (plane, oy, ox) = (k / (oh * ow), (k / ow) % oh, k % ow);
            for ki in 0..win.kernel[0] {
                for kj in 0..win.kernel[1] {
                    if let (Some(iy), Some(ix)) = (
                        tap(oy, ki, win.stride[0], win.padding[0], 1, h),
                        tap(ox, kj, win.stride[1], win.padding[1], 1, w),
                    ) {
                        back[plane * h * w + iy * w + ix] += gv / d;
                    }
                }
            }
        }
        let adj = g.avg_pool2d_adjoint([h, w], win, include_pad).unwrap();
        assert_close(
            &f64s(&adj),
            &back,
            1e-14,
            &format!("avg_pool2d_adjoint case {case}"),
        );
        checked += 1;
    }
    assert!(checked > 50, "only {checked} cases had an output");
}

#[test]
fn adaptive_avg_pool2d_and_its_adjoint_match_direct_loops() {
    let mut rng = StdRng::seed_from_u64(8);
    for case in 0..60 {
        let xs = [
            rng.random_range(1..=2),
            rng.random_range(1..=3),
            rng.random_range(1..=9),
            rng.random_range(1..=9),
        ];
        let out = [rng.random_range(1..=7), rng.random_range(1..=7)];
        let x = image::<f64>(&mut rng, xs, case % 3);
        let [_, _, h, w] = xs;
        let [oh, ow] = out;
        let range = |i: usize, o: usize, n: usize| {
            ((i * n) as f64 / o as f64).floor() as usize
                ..(((i + 1) * n) as f64 / o as f64).ceil() as usize
        };
        let xv = f64s(&x);
        let g = image::<f64>(&mut rng, [xs[0], xs[1], oh, ow], case % 2);
        let gv = f64s(&g);
        let (mut want, mut back) = (Vec::new(), vec![0.0; xv.len()]);
        for plane in 0..xs[0] * xs[1] {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (ry, rx) = (range(oy, oh, h), range(ox, ow, w));
                    let count = (ry.len() * rx.len()) as f64;
                    let mut sum = 0.0;
                    for y in ry.clone() {
                        for xx in rx.clone() {
                            sum += xv[plane * h * w + y * w + xx];
                            back[plane * h * w + y * w + xx] +=
                                gv[(plane * oh + oy) * ow + ox] / count;
                        }
                    }
                    want.push(sum / count);
                }
            }
        }
        let y = x.adaptive_avg_pool2d(out).unwrap();
        assert_eq!(y.shape(), [xs[0], xs[1], oh, ow]);
        assert_close(&f64s(&y), &want, 1e-14, &format!("adaptive case {case}"));
        let adj = g.adaptive_avg_pool2d_adjoint([h, w]).unwrap();
        assert_close(
            &f64s(&adj),
            &back,
            1e-14,
            &format!("adaptive adjoint case {case}"),
        );
    }
}

#[test]
fn bad_input_is_an_error_naming_the_op_and_shapes() {
    let x = Tensor::<f32>::ones(&[64, 3, 28, 28]);
    let err = |r: Result<Tensor<f32>, Error>| r.unwrap_err().to_string();
    let d = ConvOptions::default();
    assert_eq!(
        err(x.conv2d(&Tensor::ones(&[32, 1, 3, 3]), None, d)),
        "conv2d: input has 3 channels, weight expects 1: [64, 3, 28, 28] * [32, 1, 3, 3]"
    );
    assert_eq!(
        err(x.conv2d(&Tensor::ones(&[4, 3, 30, 3]), None, d)),
        "conv2d: output height would be zero: the kernel spans 30 but the padded input height is 28: [64, 3, 28, 28] * [4, 3, 30, 3]"
    );
    assert_eq!(
        err(x.conv2d(
            &Tensor::ones(&[4, 3, 3, 3]),
            None,
            ConvOptions {
                stride: [1, 0],
                ..d
            }
        )),
        "conv2d: invalid stride = [1, 0]: must be positive along both axes"
    );
    assert_eq!(
        err(x.conv2d(
            &Tensor::ones(&[4, 1, 3, 3]),
            None,
            ConvOptions { groups: 2, ..d }
        )),
        "conv2d: groups = 2 does not divide the 3 input channels: [64, 3, 28, 28] * [4, 1, 3, 3]"
    );
    assert_eq!(
        err(Tensor::ones(&[3, 28, 28]).conv2d(&Tensor::ones(&[4, 3, 3, 3]), None, d)),
        "conv2d: expected 4 dims [N, C, H, W], got shape [3, 28, 28]"
    );
    assert_eq!(
        err(x.conv2d(&Tensor::ones(&[4, 3, 3, 3]), Some(&Tensor::ones(&[3])), d)),
        "conv2d: expected shape [4], got [3]"
    );
    assert_eq!(
        err(x.max_pool2d(Window2d::new([2, 40]))),
        "max_pool2d: output width would be zero: the kernel spans 40 but the padded input width is 28: [64, 3, 28, 28] * [2, 40]"
    );
    assert_eq!(
        err(x.avg_pool2d(Window2d::new([2, 2]).padding([2, 0]), true)),
        "avg_pool2d: invalid padding = [2, 0]: must be at most half the kernel size along each axis"
    );
    assert_eq!(
        err(x.adaptive_avg_pool2d([0, 2])),
        "adaptive_avg_pool2d: invalid output_size = [0, 2]: must be positive along both axes"
    );
    assert_eq!(
        err(x.conv_transpose2d(&Tensor::ones(&[3, 2, 3, 3]), None, d, [1, 0])),
        "conv_transpose2d: invalid output_padding = [1, 0]: must be smaller than the stride along each axis"
    );
    assert_eq!(
        err(Tensor::<f32>::ones(&[1, 2, 1, 1]).conv_transpose2d(
            &Tensor::ones(&[2, 1, 1, 1]),
            None,
            ConvOptions {
                padding: [1, 1],
                ..d
            },
            [0, 0]
        )),
        "conv_transpose2d: output height would be 1 − 2 ≤ 0: [1, 2, 1, 1] * [2, 1, 1, 1]"
    );
    assert_eq!(
        err(Tensor::ones(&[1, 8, 5]).fold([4, 4], Window2d::new([2, 2]))),
        "fold: 5 columns, but the window has 3×3 = 9 positions over [4, 4]: [1, 8, 5] * [2, 2]"
    );
    // Sizes whose products overflow are errors, not wrap-arounds or panics.
    let huge = ConvOptions {
        padding: [usize::MAX / 2, 0],
        ..d
    };
    assert!(matches!(
        x.conv2d(&Tensor::ones(&[4, 3, 3, 3]), None, huge),
        Err(Error::Window { .. })
    ));
}

/// A convolution's weight gradient as seven nested loops: `dW[co, ci, ki, kj]` sums
/// `g[b, co, y, x] · x[b, cin, iy, ix]` over the batch and the positions.
fn naive_weight_grad(
    g: &[f64],
    x: &[f64],
    xs: [usize; 4],
    ws: [usize; 4],
    o: ConvOptions,
    out: [usize; 2],
) -> Vec<f64> {
    let [n, c, h, wd] = xs;
    let [oc, cg, kh, kw] = ws;
    let [oh, ow] = out;
    let og = oc / o.groups;
    let mut dw = vec![0.0; oc * cg * kh * kw];
    for co in 0..oc {
        let grp = co / og;
        for ci in 0..cg {
            for ki in 0..kh {
                for kj in 0..kw {
                    let mut acc = 0.0;
                    for b in 0..n {
                        for y in 0..oh {
                            let Some(iy) = tap(y, ki, o.stride[0], o.padding[0], o.dilation[0], h)
                            else {
                                continue;
                            };
                            for xx in 0..ow {
                                let Some(ix) =
                                    tap(xx, kj, o.stride[1], o.padding[1], o.dilation[1], wd)
                                else {
                                    continue;
                                };
                                acc += g[((b * oc + co) * oh + y) * ow + xx]
                                    * x[((b * c + grp * cg + ci) * h + iy) * wd + ix];
                            }
                        }
                    }
                    dw[((co * cg + ci) * kh + ki) * kw + kj] = acc;
                }
            }
        }
    }
    dw
}

/// `conv2d_weight_grad` against the loops over random strides, paddings, dilations,
/// groups and layouts, one batch long enough to be summed in several chunks and images
/// with more positions than one product takes at a time; the
/// result is the same whatever the number of threads.
#[test]
fn conv2d_weight_grad_matches_direct_loops() {
    check_weight_grad::<f64>(7, 1e-12);
}

/// The same in `f32`, whose products take the SIMD kernels (the loops sum in `f64`).
#[test]
fn conv2d_weight_grad_matches_direct_loops_f32() {
    check_weight_grad::<f32>(8, 2e-5);
}

fn check_weight_grad<F: Float>(seed: u64, tol: f64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut checked = 0;
    for case in 0..60 {
        let Case {
            x: mut xs,
            w: ws,
            opts,
        } = random_case(&mut rng);
        if case == 0 {
            xs[0] = 37;
        }
        if case % 20 == 1 {
            // More window positions than one block of the product.
            xs[2..].copy_from_slice(&[23, 21]);
        }
        let Some(oh) = out_len(
            xs[2],
            ws[2],
            opts.stride[0],
            opts.padding[0],
            opts.dilation[0],
        ) else {
            continue;
        };
        let Some(ow) = out_len(
            xs[3],
            ws[3],
            opts.stride[1],
            opts.padding[1],
            opts.dilation[1],
        ) else {
            continue;
        };
        let x = image::<F>(&mut rng, xs, case % 3);
        let g = image::<F>(&mut rng, [xs[0], ws[0], oh, ow], (case / 3) % 2);
        let want = naive_weight_grad(&f64s(&g), &f64s(&x), xs, ws, opts, [oh, ow]);
        let got = g.conv2d_weight_grad(&x, [ws[2], ws[3]], opts).unwrap();
        assert_eq!(got.shape(), ws, "case {case}");
        assert_close(
            &f64s(&got),
            &want,
            tol,
            &format!("weight grad case {case} {xs:?} {ws:?} {opts:?}"),
        );
        let pool = crate::common::pool(1);
        let one = pool
            .install(|| g.conv2d_weight_grad(&x, [ws[2], ws[3]], opts))
            .unwrap();
        assert_eq!(one.to_vec(), got.to_vec(), "case {case}: 1 thread");
        checked += 1;
    }
    assert!(checked > 30, "only {checked} cases had an output");
}

/// The `f32` weight gradient with channels in multiples of eight (computed by a direct
/// kernel where the CPU has AVX2 and FMA): for one sample, the bits of `matmul` of the
/// gradient by the unfolded input transposed; for several, the loops' values and the same
/// bits at one thread as at several. Strides, paddings, dilations, groups, more positions
/// than one 256-position block, output channels that leave a partial block, non-contiguous
/// operands.
#[test]
fn conv2d_weight_grad_f32_channel_panels_match_matmul_and_loops() {
    let mut rng = StdRng::seed_from_u64(19);
    let mut checked = 0;
    for case in 0..40 {
        let groups = rng.random_range(1..=2);
        let cg = [8, 16, 24][rng.random_range(0..3)];
        let og = rng.random_range(1..=9);
        let (kh, kw) = (rng.random_range(1..=3), rng.random_range(2..=3));
        let n = if case % 2 == 0 {
            1
        } else {
            rng.random_range(2..=11)
        };
        let size = if case % 5 == 0 {
            [23, 21]
        } else {
            [rng.random_range(3..=12), rng.random_range(3..=12)]
        };
        let xs = [n, cg * groups, size[0], size[1]];
        let ws = [og * groups, cg, kh, kw];
        let pick =
            |rng: &mut StdRng, lo, hi| [rng.random_range(lo..=hi), rng.random_range(lo..=hi)];
        let opts = ConvOptions {
            stride: pick(&mut rng, 1, 2),
            padding: pick(&mut rng, 0, 2),
            dilation: pick(&mut rng, 1, 2),
            groups,
        };
        let out = |a: usize| {
            out_len(
                xs[2 + a],
                ws[2 + a],
                opts.stride[a],
                opts.padding[a],
                opts.dilation[a],
            )
        };
        let (Some(oh), Some(ow)) = (out(0), out(1)) else {
            continue;
        };
        let x = image::<f32>(&mut rng, xs, case % 3);
        let g = image::<f32>(&mut rng, [n, ws[0], oh, ow], (case / 3) % 2);
        let got = g.conv2d_weight_grad(&x, [kh, kw], opts).unwrap();
        let what = format!("case {case} {xs:?} {ws:?} {opts:?}");
        if n == 1 {
            let (gi, kk, l) = (groups as isize, (cg * kh * kw) as isize, (oh * ow) as isize);
            let cols = x.unfold(opts.window([kh, kw])).unwrap();
            let cols = cols.reshape(&[gi, kk, l]).unwrap().transpose(1, 2).unwrap();
            let gg = g.reshape(&[gi, og as isize, l]).unwrap();
            let want = gg.matmul(&cols).unwrap();
            assert_eq!(bits(&got), bits(&want), "{what}");
        } else {
            let want = naive_weight_grad(&f64s(&g), &f64s(&x), xs, ws, opts, [oh, ow]);
            assert_close(&f64s(&got), &want, 1e-4, &what);
            let pool = crate::common::pool(1);
            let one = pool
                .install(|| g.conv2d_weight_grad(&x, [kh, kw], opts))
                .unwrap();
            assert_eq!(bits(&one), bits(&got), "{what}: 1 thread");
        }
        checked += 1;
    }
    assert!(checked > 25, "only {checked} cases had an output");
}

/// The three products of the MNIST CNN's second convolution, and of a ragged batch, have
/// the same bits whatever the threads: at one, at the pool's, and at three (whose jobs of a
/// few samples, and of the weight gradient's chunks, fall elsewhere).
#[test]
fn conv_products_have_the_same_bits_at_any_number_of_threads() {
    let mut rng = StdRng::seed_from_u64(23);
    for (n, c, o, size) in [(64, 32, 64, 26), (37, 16, 11, 9)] {
        let x = image::<f32>(&mut rng, [n, c, size, size], 1);
        let w = image::<f32>(&mut rng, [o, c, 3, 3], 0);
        let g = image::<f32>(&mut rng, [n, o, size - 2, size - 2], 2);
        let opts = ConvOptions::default();
        let products = || {
            let y = x.conv2d(&w, None, opts).unwrap();
            let dx = g.conv_transpose2d(&w, None, opts, [0, 0]).unwrap();
            let dw = g.conv2d_weight_grad(&x, [3, 3], opts).unwrap();
            [bits(&y), bits(&dx), bits(&dw)]
        };
        let want = products();
        for threads in [1, 3] {
            let pool = crate::common::pool(threads);
            let got = pool.install(products);
            for (k, name) in ["conv2d", "conv_transpose2d", "weight grad"]
                .iter()
                .enumerate()
            {
                assert!(got[k] == want[k], "{name}, batch {n}, {threads} threads");
            }
        }
    }
}

/// The `f32` transposed convolution (whose columns' product is a direct kernel where the
/// CPU has AVX2 and FMA) has the bits of `matmul` of the weight transposed by the input,
/// then `fold`: strides, paddings, dilations, groups, more than 256 input channels,
/// ragged column counts, non-contiguous inputs.
#[test]
fn conv_transpose2d_f32_has_the_bits_of_matmul_and_fold() {
    let mut rng = StdRng::seed_from_u64(23);
    let mut checked = 0;
    for case in 0..40 {
        let groups = rng.random_range(1..=2);
        let cg = [1, 3, 8, 260][rng.random_range(0..4)];
        let og = rng.random_range(1..=5);
        let (kh, kw) = (rng.random_range(1..=3), rng.random_range(1..=3));
        let n = rng.random_range(1..=3);
        let xs = [
            n,
            cg * groups,
            rng.random_range(3..=9),
            rng.random_range(5..=13),
        ];
        let ws = [cg * groups, og, kh, kw];
        let pick =
            |rng: &mut StdRng, lo, hi| [rng.random_range(lo..=hi), rng.random_range(lo..=hi)];
        let opts = ConvOptions {
            stride: pick(&mut rng, 1, 2),
            padding: pick(&mut rng, 0, 1),
            dilation: pick(&mut rng, 1, 2),
            groups,
        };
        let x = image::<f32>(&mut rng, xs, case % 3);
        let w = image::<f32>(&mut rng, ws, 0);
        let Ok(y) = x.conv_transpose2d(&w, None, opts, [0, 0]) else {
            continue;
        };
        let l = xs[2] * xs[3];
        if l <= 16 {
            continue;
        }
        let (gi, ok) = (groups as isize, (og * kh * kw) as isize);
        let wt = w
            .reshape(&[gi, cg as isize, ok])
            .unwrap()
            .transpose(1, 2)
            .unwrap();
        let xg = x
            .reshape(&[n as isize, gi, cg as isize, l as isize])
            .unwrap();
        let cols = wt.matmul(&xg).unwrap();
        let cols = cols.reshape(&[n as isize, gi * ok, l as isize]).unwrap();
        let size = [y.shape()[2], y.shape()[3]];
        let want = cols.fold(size, opts.window([kh, kw])).unwrap();
        assert_eq!(bits(&y), bits(&want), "case {case} {xs:?} {ws:?} {opts:?}");
        checked += 1;
    }
    assert!(checked > 20, "only {checked} cases had an output");
}
