//! Convolution and pooling against PyTorch: forward values and the gradients of
//! `sum(u * out)` for input, weight and bias, from reference/gen_conv.py (float64, seeded),
//! to 1e-12.

use crate::conv_reference::{Case, CASES};
use descent_autodiff::{Result, Tape, Var};
use descent_tensor::{ConvOptions, Tensor, Window2d};

#[track_caller]
fn assert_close(got: &Tensor<f64>, want: &[f64], what: &str) {
    let got = got.to_vec();
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-12 * (1.0 + w.abs()),
            "{what}: element {i}: descent {g}, PyTorch {w}"
        );
    }
}

fn forward<'t>(
    c: &Case,
    x: Var<'t, f64>,
    w: Option<Var<'t, f64>>,
    b: Option<Var<'t, f64>>,
) -> Result<Var<'t, f64>> {
    let opts = ConvOptions {
        stride: c.stride,
        padding: c.padding,
        dilation: c.dilation,
        groups: c.groups,
    };
    let window = Window2d::new(c.kernel)
        .stride(c.stride)
        .padding(c.padding)
        .dilation(c.dilation)
        .ceil_mode(c.ceil_mode);
    match c.op {
        "conv2d" => x.conv2d(w.expect("weight"), b, opts),
        "conv_transpose2d" => x.conv_transpose2d(w.expect("weight"), b, opts, c.output_padding),
        "max_pool2d" => x.max_pool2d(window),
        "avg_pool2d" => x.avg_pool2d(window, c.count_include_pad),
        "adaptive_avg_pool2d" => x.adaptive_avg_pool2d(c.output_size),
        other => panic!("unknown op {other}"),
    }
}

#[test]
fn conv_and_pool_match_pytorch() {
    let ops: std::collections::BTreeSet<_> = CASES.iter().map(|c| c.op).collect();
    assert_eq!(ops.len(), 5, "{ops:?}");
    assert!(CASES.iter().filter(|c| c.ceil_mode).count() >= 8);
    for c in CASES {
        let tape = Tape::<f64>::new();
        let x = tape.var(Tensor::from_slice(c.x, c.x_shape).unwrap());
        let w = (!c.w.is_empty()).then(|| tape.var(Tensor::from_slice(c.w, c.w_shape).unwrap()));
        let b = (!c.b.is_empty()).then(|| tape.var(Tensor::from_slice(c.b, &[c.b.len()]).unwrap()));
        let out = forward(c, x, w, b).unwrap();
        assert_eq!(out.shape(), c.out_shape, "{}", c.name);
        assert_close(&out.value().unwrap(), c.out, &format!("{} forward", c.name));
        let u = tape.constant(Tensor::from_slice(c.u, c.out_shape).unwrap());
        let grads = out
            .mul(u)
            .unwrap()
            .sum(&[], false)
            .unwrap()
            .backward()
            .unwrap();
        assert_close(grads.wrt(x).unwrap(), c.gx, &format!("{} ∂input", c.name));
        if let Some(w) = w {
            assert_close(grads.wrt(w).unwrap(), c.gw, &format!("{} ∂weight", c.name));
        }
        if let Some(b) = b {
            assert_close(grads.wrt(b).unwrap(), c.gb, &format!("{} ∂bias", c.name));
        }
    }
}
