//! Values, gradients and second derivatives at kinks, bounds, zeros and NaNs against
//! PyTorch, in f64: the numbers are from `reference/gen_kinks.py` (in `reference/kinks.rs`).
//! Each case is `y = f(x)`, `grad = ∂Σy/∂x`, `hess = ∂Σgrad/∂x`, all through `Var::grad`.

use crate::kinks_check::{check, Expected};
use crate::reference::CASES;
use descent_autodiff::{Error, Result, Tape, Var};
use descent_tensor::Tensor;

/// The op of each case, as the script writes it in PyTorch.
fn op<'t>(name: &str, x: Var<'t, f64>) -> Result<Var<'t, f64>> {
    let tape = x.tape();
    let c = |v: Vec<f64>| -> Result<Var<'t, f64>> {
        let n = v.len();
        Ok(tape.constant(Tensor::from_vec(v, &[n])?))
    };
    let w3 = || c(vec![1.0, 2.0, 3.0]);
    let nan = f64::NAN;
    match name {
        "relu" => x.relu(),
        "leaky_relu" => x.leaky_relu(0.2),
        "clamp" => x.clamp(-0.5, 0.5),
        "abs" => x.abs(),
        "sigmoid" => x.sigmoid(),
        "tanh" => x.tanh(),
        "softplus" => x.softplus(),
        "maximum" => x.maximum(c(vec![1.0, nan, nan, 2.0, 1.0])?),
        "minimum" => x.minimum(c(vec![1.0, nan, nan, 2.0, 1.0])?),
        "amax_tie" | "amax_nan" => x.max(&[0], true),
        "amin_nan" => x.min(&[0], true),
        "log_softmax" | "log_softmax_nan" => x.log_softmax(0)?.mul(w3()?),
        "softmax_nan" => x.softmax(0)?.mul(w3()?),
        "logsumexp_nan" => x.logsumexp(&[0], true),
        "norm2_zero" | "norm2" => x.norm(2.0, &[], false)?.reshape(&[1]),
        "norm3_zero" | "norm3" => x.norm(3.0, &[], false)?.reshape(&[1]),
        "pow" => {
            let n = x.shape()[0] / 2;
            x.narrow(0, 0, n)?.pow(x.narrow(0, n, n)?)
        }
        "powf0" => x.powf(0.0),
        other => panic!("no op for case {other}"),
    }
}

#[test]
fn every_case_matches_torch() -> Result<()> {
    assert_eq!(
        CASES.len(),
        22,
        "a case was added without an op here, or lost"
    );
    for case in CASES {
        let expected = Expected {
            name: case.name,
            x: case.x,
            shape: &[case.x.len()],
            y: case.y,
            grad: case.grad,
            hess: case.hess,
        };
        check(expected, op)?;
    }
    Ok(())
}

#[test]
fn log_softmax_keeps_the_digits_below_the_max() -> Result<()> {
    // (x − max) − ln s: the first entry is −2.44e−15, not the 0.0 of x − (max + ln s).
    let x = Tensor::<f64>::from_vec(vec![35.0, 1.0, 0.0], &[3])?;
    let first = x.log_softmax(0)?.to_vec()[0];
    let want = CASES
        .iter()
        .find(|c| c.name == "log_softmax")
        .map(|c| c.y[0]);
    assert_eq!(Some(first), want);
    assert!(first < 0.0);
    Ok(())
}

#[test]
fn variables_of_another_tape_are_refused() -> Result<()> {
    let (a, b) = (Tape::<f64>::new(), Tape::<f64>::new());
    let x = a.var(Tensor::from_vec(vec![1.0, 2.0], &[2])?);
    let y = x.square()?.sum(&[], false)?;
    // `z` has the same node index on `b` as `x` on `a`: an index-only lookup would answer.
    let z = b.var(Tensor::from_vec(vec![5.0, 6.0], &[2])?);
    for r in [
        y.grad(&[z], None).map(|_| ()),
        y.grad(&[x], Some(b.constant(Tensor::scalar(1.0))))
            .map(|_| ()),
    ] {
        match r {
            Err(Error::ForeignTape { op: "grad" }) => {}
            other => panic!("expected ForeignTape, got {other:?}"),
        }
    }
    assert!(matches!(x.add(z), Err(Error::ForeignTape { .. })));
    assert!(matches!(
        Var::where_cond(&Tensor::ones(&[2]), x, z),
        Err(Error::ForeignTape { .. })
    ));
    assert!(matches!(
        Var::concat(&[x, z], 0),
        Err(Error::ForeignTape { .. })
    ));
    assert!(matches!(
        x.reshape(&[1, 2])?.matmul(z.reshape(&[2, 1])?),
        Err(Error::ForeignTape { .. })
    ));
    let e = y.grad(&[z], None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "grad: the operands were recorded on different tapes"
    );
    // On its own tape the same call works.
    assert_eq!(y.grad(&[x], None)?[0].value()?.to_vec(), vec![2.0, 4.0]);
    Ok(())
}
