//! Bad input to every convolution and pooling op: each case is an `Err` whose message names
//! the op and the operands' shapes (or the argument), never a panic; and a proptest over
//! random small parameters (zeros included) that every op returns `Ok` or `Err` and that
//! an `Ok` has the size PyTorch's formula gives.

use descent_tensor::{ConvOptions, Error, Tensor, Window2d};
use proptest::prelude::*;

fn err<T: std::fmt::Debug>(r: Result<T, Error>) -> String {
    r.unwrap_err().to_string()
}

const D: ConvOptions = ConvOptions {
    stride: [1, 1],
    padding: [0, 0],
    dilation: [1, 1],
    groups: 1,
};

#[test]
fn conv_ops_name_the_op_and_shapes() {
    let x = Tensor::<f32>::ones(&[2, 4, 6, 5]);
    let w = Tensor::<f32>::ones(&[6, 4, 3, 3]);
    // Zero dilation; zero groups; groups dividing the input but not the output channels.
    assert_eq!(
        err(x.conv2d(
            &w,
            None,
            ConvOptions {
                dilation: [0, 1],
                ..D
            }
        )),
        "conv2d: invalid dilation = [0, 1]: must be positive along both axes"
    );
    assert_eq!(
        err(x.conv2d(&w, None, ConvOptions { groups: 0, ..D })),
        "conv2d: invalid groups = 0: must be positive"
    );
    assert_eq!(
        err(x.conv2d(
            &Tensor::ones(&[6, 1, 3, 3]),
            None,
            ConvOptions { groups: 4, ..D }
        )),
        "conv2d: groups = 4 does not divide the 6 output channels: [2, 4, 6, 5] * [6, 1, 3, 3]"
    );
    // A weight that is not 4-D; a zero-sized kernel (as torch, an error).
    assert_eq!(
        err(x.conv2d(&Tensor::ones(&[6, 4, 3]), None, D)),
        "conv2d: expected a 4-D weight [O, C/groups, kh, kw], got shape [6, 4, 3]"
    );
    assert_eq!(
        err(x.conv2d(&Tensor::ones(&[6, 4, 0, 3]), None, D)),
        "conv2d: invalid kernel_size = [0, 3]: must be positive along both axes"
    );
    // The width, not the height, is too small: the message says which.
    assert_eq!(
        err(x.conv2d(&Tensor::ones(&[6, 4, 3, 6]), None, D)),
        "conv2d: output width would be zero: the kernel spans 6 but the padded input width is 5: [2, 4, 6, 5] * [6, 4, 3, 6]"
    );
    // Dilation makes the kernel span more than the padded input.
    assert_eq!(
        err(x.conv2d(&w, None, ConvOptions { dilation: [3, 1], padding: [0, 1], ..D })),
        "conv2d: output height would be zero: the kernel spans 7 but the padded input height is 6: [2, 4, 6, 5] * [6, 4, 3, 3]"
    );
    // The transposed convolution and the weight gradient.
    assert_eq!(
        err(x.conv_transpose2d(&Tensor::ones(&[3, 2, 3, 3]), None, D, [0, 0])),
        "conv_transpose2d: input has 4 channels, weight expects 3: [2, 4, 6, 5] * [3, 2, 3, 3]"
    );
    assert_eq!(
        err(Tensor::<f32>::ones(&[2, 4, 6]).conv_transpose2d(&w, None, D, [0, 0])),
        "conv_transpose2d: expected 4 dims [N, C, H, W], got shape [2, 4, 6]"
    );
    assert_eq!(
        err(x.conv_transpose2d(&w, None, ConvOptions { groups: 3, ..D }, [0, 0])),
        "conv_transpose2d: groups = 3 does not divide the 4 input channels: [2, 4, 6, 5] * [6, 4, 3, 3]"
    );
    let g = Tensor::<f32>::ones(&[2, 6, 4, 3]);
    assert_eq!(
        err(g.conv2d_weight_grad(&Tensor::ones(&[3, 4, 6, 5]), [3, 3], D)),
        "conv2d_weight_grad: the gradient has 2 samples, the input 3: [2, 6, 4, 3] * [3, 4, 6, 5]"
    );
    assert_eq!(
        err(g.conv2d_weight_grad(&x, [2, 3], D)),
        "conv2d_weight_grad: the window has [5, 3] positions over the input, the gradient [4, 3]: [2, 6, 4, 3] * [2, 4, 6, 5]"
    );
    assert_eq!(
        err(g.conv2d_weight_grad(
            &x,
            [3, 3],
            ConvOptions {
                stride: [0, 1],
                ..D
            }
        )),
        "conv2d_weight_grad: invalid stride = [0, 1]: must be positive along both axes"
    );
    // unfold / fold have no ceil mode.
    assert_eq!(
        err(x.unfold(Window2d::new([2, 2]).ceil_mode(true))),
        "unfold: invalid ceil_mode = true: is a pooling option; this op counts positions with floor"
    );
}

#[test]
fn pool_ops_name_the_op_and_shapes() {
    let x = Tensor::<f64>::ones(&[1, 2, 5, 4]);
    assert_eq!(
        err(x.max_pool2d(Window2d::new([2, 0]))),
        "max_pool2d: invalid kernel_size = [2, 0]: must be positive along both axes"
    );
    assert_eq!(
        err(x.max_pool2d(Window2d::new([3, 3]).padding([0, 2]))),
        "max_pool2d: invalid padding = [0, 2]: must be at most half the kernel size along each axis"
    );
    assert_eq!(
        err(Tensor::<f64>::ones(&[2, 5, 4]).max_pool2d(Window2d::new([2, 2]))),
        "max_pool2d: expected 4 dims [N, C, H, W], got shape [2, 5, 4]"
    );
    assert_eq!(
        err(x.avg_pool2d(Window2d::new([6, 2]), true)),
        "avg_pool2d: output height would be zero: the kernel spans 6 but the padded input height is 5: [1, 2, 5, 4] * [6, 2]"
    );
    assert_eq!(
        err(x.avg_pool2d(Window2d::new([2, 2]).dilation([2, 1]), true)),
        "avg_pool2d: invalid dilation = [2, 1]: average pooling has no dilation; must be [1, 1]"
    );
    // Ceil mode still needs a window that starts inside the input: kernel 7 over width 4
    // with stride 1 reaches no position even rounding up.
    assert_eq!(
        err(x.max_pool2d(Window2d::new([1, 7]).ceil_mode(true))),
        "max_pool2d: output width would be zero: the kernel spans 7 but the padded input width is 4: [1, 2, 5, 4] * [1, 7]"
    );
    assert_eq!(
        err(x.avg_pool2d_adjoint([5, 4], Window2d::new([2, 2]), true)),
        "avg_pool2d_adjoint: expected shape [1, 2, 4, 3], got [1, 2, 5, 4]"
    );
    assert_eq!(
        err(Tensor::<f64>::ones(&[1, 2, 0, 4]).adaptive_avg_pool2d([1, 1])),
        "adaptive_avg_pool2d: the input's height and width must be positive: [1, 2, 0, 4] * [1, 1]"
    );
}

/// Sizes that overflow `usize`, or that fit it but no memory could hold (a broadcast view
/// claims them over one element): errors naming the op and shapes, not aborts.
#[test]
fn absurd_sizes_are_errors() {
    let x = Tensor::<f32>::ones(&[1, 1, 4, 4]);
    let w = Tensor::<f32>::ones(&[1, 1, 2, 2]);
    let r = x.conv2d(
        &w,
        None,
        ConvOptions {
            dilation: [usize::MAX / 2, 1],
            ..D
        },
    );
    assert!(matches!(r, Err(Error::Window { .. })), "{r:?}");
    let r = x.max_pool2d(Window2d::new([usize::MAX, 1]).padding([usize::MAX / 2, 0]));
    assert!(r.is_err(), "{r:?}");
    let r = x.conv_transpose2d(
        &w,
        None,
        ConvOptions {
            stride: [usize::MAX / 2, 1],
            ..D
        },
        [0, 0],
    );
    assert!(matches!(r, Err(Error::Window { .. })), "{r:?}");
    let r = x.fold([usize::MAX / 2, 4], Window2d::new([2, 2]));
    assert!(r.is_err(), "{r:?}");

    // 2^42 elements (16 TB of f32) over one element of storage.
    let huge = Tensor::<f32>::ones(&[1, 1, 1, 1])
        .broadcast_to(&[1 << 22, 1, 1 << 10, 1 << 10])
        .unwrap();
    let one = Tensor::<f32>::ones(&[1, 1, 1, 1]);
    let msg = err(huge.conv2d(&one, None, D));
    assert!(
        msg.starts_with("conv2d: [4194304, 1, 1048576] elements (1.759e4 GB) cannot be allocated"),
        "{msg}"
    );
    assert!(
        msg.ends_with("[4194304, 1, 1024, 1024] * [1, 1, 1, 1]"),
        "{msg}"
    );
    let msg = err(huge.max_pool2d(Window2d::new([1, 1])));
    assert!(
        msg.starts_with("max_pool2d: [4194304, 1, 1024, 1024] elements"),
        "{msg}"
    );
    let msg = err(huge.avg_pool2d(Window2d::new([1, 1]), true));
    assert!(
        msg.starts_with("avg_pool2d: [4194304, 1, 1024, 1024] elements"),
        "{msg}"
    );
    let msg = err(huge.unfold(Window2d::new([1, 1])));
    assert!(
        msg.starts_with("unfold: [4194304, 1, 1, 1, 1024, 1024] elements"),
        "{msg}"
    );
    let msg = err(huge.conv_transpose2d(&one, None, D, [0, 0]));
    assert!(
        msg.starts_with("conv_transpose2d: [4194304, 1, 1024, 1024] elements"),
        "{msg}"
    );
    let msg = err(huge.adaptive_avg_pool2d([1024, 1024]));
    assert!(
        msg.starts_with("adaptive_avg_pool2d: [4194304, 1, 1024, 1024] elements"),
        "{msg}"
    );
    let big_kernel = Tensor::<f32>::ones(&[1, 1, 1, 1]).broadcast_to(&[1 << 20, 1 << 20, 1, 1]);
    let msg =
        err(x
            .broadcast_to(&[1, 1 << 20, 4, 4])
            .unwrap()
            .conv2d(&big_kernel.unwrap(), None, D));
    assert!(msg.starts_with("conv2d: "), "{msg}");
}

/// PyTorch's output length along one axis (`None` for zero or fewer positions).
fn torch_len(size: usize, k: usize, s: usize, p: usize, d: usize, ceil: bool) -> Option<usize> {
    let (size, k, s, p, d) = (size as i64, k as i64, s as i64, p as i64, d as i64);
    let extra = if ceil { s - 1 } else { 0 };
    let mut n = (size + 2 * p - d * (k - 1) - 1 + extra).div_euclid(s) + 1;
    if ceil && (n - 1) * s >= size + p {
        n -= 1;
    }
    (n >= 1).then_some(n as usize)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any small combination, zeros included: `Ok` with PyTorch's size, or `Err`.
    #[test]
    fn every_op_returns_ok_or_err(
        n in 0usize..3, c in 0usize..5, h in 0usize..6, w in 0usize..6,
        o in 0usize..5, k in (0usize..4, 0usize..4), stride in (0usize..3, 0usize..3),
        pad in (0usize..3, 0usize..3), dil in (0usize..3, 0usize..3), groups in 0usize..4,
        cg in 0usize..4, ceil in any::<bool>(), op in 0usize..4,
    ) {
        let x = Tensor::<f32>::ones(&[n, c, h, w]);
        let opts = ConvOptions {
            stride: [stride.0, stride.1],
            padding: [pad.0, pad.1],
            dilation: [dil.0, dil.1],
            groups,
        };
        let kernel = [k.0, k.1];
        let win = opts.window(kernel).ceil_mode(ceil);
        let want = |ceil: bool| -> Option<[usize; 2]> {
            if [stride.0, stride.1, dil.0, dil.1, k.0, k.1].contains(&0) {
                return None;
            }
            Some([
                torch_len(h, k.0, stride.0, pad.0, dil.0, ceil)?,
                torch_len(w, k.1, stride.1, pad.1, dil.1, ceil)?,
            ])
        };
        let wt = Tensor::<f32>::ones(&[o, cg, k.0, k.1]);
        match op {
            0 => {
                let r = x.conv2d(&wt, None, opts);
                let fits = groups > 0 && c == cg * groups && o % groups == 0;
                match (want(false).filter(|_| fits), &r) {
                    (Some([oh, ow]), Ok(y)) => prop_assert_eq!(y.shape(), [n, o, oh, ow]),
                    (None, Err(_)) => {}
                    (want, r) => prop_assert!(false, "conv2d: want {:?}, got {:?}", want, r),
                }
                if let Ok(y) = r {
                    let g = y.conv2d_weight_grad(&x, kernel, opts);
                    prop_assert_eq!(g.ok().map(|g| g.shape().to_vec()), Some(vec![o, cg, k.0, k.1]));
                }
            }
            1 => {
                let r = x.conv_transpose2d(&wt, None, opts, [pad.0 % 2, pad.1 % 2]);
                if let Ok(y) = r {
                    prop_assert_eq!(y.shape()[..2].to_vec(), vec![n, cg * groups]);
                }
            }
            2 => {
                let r = x.max_pool2d_with_indices(win);
                let pad_ok = pad.0 <= k.0 / 2 && pad.1 <= k.1 / 2;
                match (want(ceil).filter(|_| pad_ok), r) {
                    (Some([oh, ow]), Ok((y, _))) => prop_assert_eq!(y.shape(), [n, c, oh, ow]),
                    // A window may hold only padding (dilated, or over an empty plane): an
                    // error where PyTorch gives −∞.
                    (Some(_), Err(Error::Window { .. }))
                        if dil.0 > 1 || dil.1 > 1 || h == 0 || w == 0 => {}
                    (None, Err(_)) => {}
                    (want, r) => prop_assert!(false, "max_pool2d: want {:?}, got {:?}", want, r),
                }
            }
            _ => {
                let win = win.dilation([1, 1]);
                let r = x.avg_pool2d(win, ceil);
                let pad_ok = pad.0 <= k.0 / 2 && pad.1 <= k.1 / 2;
                let want = (stride.0 > 0 && stride.1 > 0 && k.0 > 0 && k.1 > 0 && pad_ok)
                    .then(|| Some([
                        torch_len(h, k.0, stride.0, pad.0, 1, ceil)?,
                        torch_len(w, k.1, stride.1, pad.1, 1, ceil)?,
                    ]))
                    .flatten();
                match (want, &r) {
                    (Some([oh, ow]), Ok(y)) => prop_assert_eq!(y.shape(), [n, c, oh, ow]),
                    (None, Err(_)) => {}
                    (want, r) => prop_assert!(false, "avg_pool2d: want {:?}, got {:?}", want, r),
                }
                if let Ok(y) = r {
                    let back = y.avg_pool2d_adjoint([h, w], win, ceil);
                    prop_assert_eq!(back.ok().map(|b| b.shape().to_vec()), Some(vec![n, c, h, w]));
                }
                let _ = x.unfold(win.ceil_mode(false));
                let _ = x.adaptive_avg_pool2d([k.0, k.1]);
            }
        }
    }
}
