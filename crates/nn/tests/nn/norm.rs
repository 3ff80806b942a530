//! BatchNorm2d and LayerNorm against PyTorch (numbers from reference/gen_norm.py, float64),
//! and their module gradchecks.

use crate::common::{check_module, randn};
use crate::norm_reference::*;
use descent_autodiff::Tape;
use descent_nn::{BatchNorm2d, LayerNorm, Mode, Module};
use descent_tensor::Tensor;

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

fn t(v: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_slice(v, shape).unwrap()
}

#[test]
fn batchnorm2d_matches_pytorch_in_train_and_eval() {
    let mut bn = BatchNorm2d::<f64>::new(3).unwrap();
    bn.norm.weight.as_mut().unwrap().value = t(&BN2_WEIGHT, &[3]);
    bn.norm.bias.as_mut().unwrap().value = t(&BN2_BIAS, &[3]);
    // (input, output, running mean, running variance) after each batch.
    let batches: [[&[f64]; 4]; 3] = [
        [&BN2_X0, &BN2_Y0, &BN2_RUNNING_MEAN0, &BN2_RUNNING_VAR0],
        [&BN2_X1, &BN2_Y1, &BN2_RUNNING_MEAN1, &BN2_RUNNING_VAR1],
        [&BN2_X2, &BN2_Y2, &BN2_RUNNING_MEAN2, &BN2_RUNNING_VAR2],
    ];
    let shape = [4, 3, 3, 2];
    for (i, [x, y, mean, var]) in batches.into_iter().enumerate() {
        let tape = Tape::new();
        let xv = tape.var(t(x, &shape));
        let out = bn.forward(&tape, xv, Mode::Train).unwrap();
        assert_close(&out.value().unwrap(), y, &format!("batch {i} output"));
        assert_close(
            &bn.norm.running_mean(),
            mean,
            &format!("batch {i} running_mean"),
        );
        assert_close(
            &bn.norm.running_var(),
            var,
            &format!("batch {i} running_var"),
        );
        if i == 2 {
            let u = tape.constant(t(&BN2_U, &shape));
            let grads = out
                .mul(u)
                .unwrap()
                .sum(&[], false)
                .unwrap()
                .backward()
                .unwrap();
            assert_close(grads.wrt(xv).unwrap(), &BN2_GX, "∂x (train)");
            let params = bn.params();
            assert_close(grads.get(params[0]).unwrap(), &BN2_GW, "∂weight");
            assert_close(grads.get(params[1]).unwrap(), &BN2_GB, "∂bias");
        }
    }
    assert_eq!(bn.norm.num_batches_tracked(), 3);
    let tape = Tape::new();
    let xv = tape.var(t(&BN2_EVAL_X, &[2, 3, 3, 2]));
    let out = bn.forward(&tape, xv, Mode::Eval).unwrap();
    assert_close(&out.value().unwrap(), &BN2_EVAL_Y, "eval output");
    let u = tape.constant(t(&BN2_EVAL_U, &[2, 3, 3, 2]));
    let grads = out
        .mul(u)
        .unwrap()
        .sum(&[], false)
        .unwrap()
        .backward()
        .unwrap();
    assert_close(grads.wrt(xv).unwrap(), &BN2_EVAL_GX, "∂x (eval)");
    let names: Vec<String> = bn.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "weight",
            "bias",
            "running_mean",
            "running_var",
            "num_batches_tracked"
        ]
    );
}

#[test]
fn layernorm_matches_pytorch() {
    let mut ln = LayerNorm::<f64>::new(&[3, 4]).unwrap();
    ln.weight.as_mut().unwrap().value = t(&LN_WEIGHT, &[3, 4]);
    ln.bias.as_mut().unwrap().value = t(&LN_BIAS, &[3, 4]);
    let shape = [2, 5, 3, 4];
    let tape = Tape::new();
    let xv = tape.var(t(&LN_X, &shape));
    let out = ln.forward(&tape, xv, Mode::Train).unwrap();
    assert_close(&out.value().unwrap(), &LN_Y, "output");
    let u = tape.constant(t(&LN_U, &shape));
    let grads = out
        .mul(u)
        .unwrap()
        .sum(&[], false)
        .unwrap()
        .backward()
        .unwrap();
    assert_close(grads.wrt(xv).unwrap(), &LN_GX, "∂x");
    let params = ln.params();
    assert_close(grads.get(params[0]).unwrap(), &LN_GW, "∂weight");
    assert_close(grads.get(params[1]).unwrap(), &LN_GB, "∂bias");
}

#[test]
fn norm_layers_gradcheck_and_errors() {
    let mut bn = BatchNorm2d::<f64>::new(2).unwrap();
    check_module(&mut bn, &randn(&[3, 2, 2, 3], 4), Mode::Train);
    check_module(&mut bn, &randn(&[1, 2, 2, 2], 5), Mode::Eval);
    let mut ln = LayerNorm::<f64>::new(&[2, 3]).unwrap();
    check_module(&mut ln, &randn(&[4, 2, 3], 6), Mode::Train);
    let tape = Tape::new();
    let err = bn
        .forward(
            &tape,
            tape.constant(Tensor::ones(&[2, 3, 4, 4])),
            Mode::Train,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "BatchNorm2d(num_features=2): expected input [N, 2, H, W], got shape [2, 3, 4, 4]"
    );
    let err = bn
        .forward(
            &tape,
            tape.constant(Tensor::ones(&[1, 2, 1, 1])),
            Mode::Train,
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "BatchNorm2d(num_features=2): expected input more than 1 value per feature for batch statistics, got shape [1, 2, 1, 1]"
    );
    let err = ln
        .forward(&tape, tape.constant(Tensor::ones(&[4, 3, 2])), Mode::Train)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "LayerNorm([2, 3]): expected input [..., 2, 3], got shape [4, 3, 2]"
    );
}
