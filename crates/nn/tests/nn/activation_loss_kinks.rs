//! Activations and losses at their kinks, at 0 and 1, and at NaN against PyTorch, in f64:
//! the numbers are from `reference/gen_kinks.py` (in `reference/kinks.rs`). Each case is
//! `y = f(x)`, `grad = ∂Σy/∂x`, `hess = ∂Σgrad/∂x`, all through `Var::grad`.

#[path = "reference/kinks.rs"]
#[rustfmt::skip]
mod kinks;

use descent_autodiff::{Tape, Var};
use descent_nn::{activation as act, loss, Reduction, Result};
use descent_tensor::Tensor;
use kinks::CASES;

#[path = "../../../autodiff/tests/autodiff/kinks_check.rs"]
mod kinks_check;
use kinks_check::{check, Expected};

const LABELS: [usize; 3] = [0, 1, 1];

/// The function of each case, as the script writes it in PyTorch.
fn op<'t>(name: &str, x: Var<'t, f64>) -> Result<Var<'t, f64>> {
    let tape = x.tape();
    let c = |v: Vec<f64>| -> Result<Var<'t, f64>> {
        let n = v.len();
        Ok(tape.constant(Tensor::from_vec(v, &[n])?))
    };
    let w3 = || c(vec![1.0, 2.0, 3.0]);
    let weighted = |per_sample: Var<'t, f64>| -> Result<Var<'t, f64>> {
        assert_eq!(
            per_sample.shape(),
            vec![3],
            "{name}: per-sample losses are [N]"
        );
        Ok(per_sample
            .mul(c(vec![0.5, 2.0, -1.0])?)?
            .sum(&[], false)?
            .reshape(&[1])?)
    };
    Ok(match name {
        "relu" => act::relu(x)?,
        "leaky_relu" => act::leaky_relu(x, 0.2)?,
        "elu" => act::elu(x, 1.5)?,
        "gelu" => act::gelu(x)?,
        "silu" => act::silu(x)?,
        "softplus" => act::softplus(x)?,
        "sigmoid" => act::sigmoid(x)?,
        "tanh" => act::tanh(x)?,
        "softsign" => act::softsign(x)?,
        "softmax" => act::softmax(x, 0)?.mul(w3()?)?,
        "log_softmax" | "log_softmax_nan" => act::log_softmax(x, 0)?.mul(w3()?)?,
        "cross_entropy_none" => weighted(loss::cross_entropy(x, &LABELS, Reduction::None)?)?,
        "nll_loss_none" => {
            let log_probs = act::log_softmax(x, 1)?;
            weighted(loss::nll_loss(log_probs, &LABELS, Reduction::None)?)?
        }
        "huber" => {
            let zeros = tape.constant(Tensor::zeros(&[5]));
            loss::huber_loss(x, zeros, 1.0, Reduction::None)?
        }
        "bce" => {
            let n = x.shape()[0] / 2;
            loss::bce_loss(x.narrow(0, 0, n)?, x.narrow(0, n, n)?, Reduction::None)?
        }
        "gelu_tanh" => act::gelu_tanh(x)?,
        "mish" => act::mish(x)?,
        "selu" => act::selu(x)?,
        "hardtanh" => act::hardtanh(x, -0.5, 1.5)?,
        "relu6" => act::relu6(x)?,
        "hardsigmoid" => act::hardsigmoid(x)?,
        "hardswish" => act::hardswish(x)?,
        "logsigmoid" => act::logsigmoid(x)?,
        "softsign_far" => act::softsign(x)?,
        "prelu" => act::prelu(x, tape.constant(Tensor::from_vec(vec![0.25], &[1])?))?,
        "prelu_channels" => act::prelu(
            x,
            tape.constant(Tensor::from_vec(vec![0.1, -0.2, 0.3], &[3])?),
        )?,
        other => panic!("no op for case {other}"),
    })
}

#[test]
fn every_case_matches_torch() -> Result<()> {
    assert_eq!(
        CASES.len(),
        27,
        "a case was added without an op here, or lost"
    );
    for case in CASES {
        let expected = Expected {
            name: case.name,
            x: case.x,
            shape: case.shape,
            y: case.y,
            grad: case.grad,
            hess: case.hess,
        };
        check(expected, op)?;
    }
    Ok(())
}

#[test]
fn per_sample_losses_have_one_axis() -> Result<()> {
    let tape = Tape::<f64>::new();
    let logits = tape.var(Tensor::from_vec(
        vec![1.0, 2.0, 0.5, -1.0, 0.0, 3.0],
        &[3, 2],
    )?);
    let ce = loss::cross_entropy(logits, &LABELS, Reduction::None)?;
    let nll = loss::nll_loss(logits, &LABELS, Reduction::None)?;
    assert_eq!((ce.shape(), nll.shape()), (vec![3], vec![3]));
    // A [3] weight keeps it [3]; before, [3, 1] · [3] broadcast to [3, 3].
    let w = tape.constant(Tensor::from_vec(vec![0.5, 2.0, -1.0], &[3])?);
    assert_eq!(ce.mul(w)?.shape(), vec![3]);
    Ok(())
}
