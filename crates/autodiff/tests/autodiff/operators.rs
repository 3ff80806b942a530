//! The `+ - * /` and `-` operators on `Var`: the same graph as the methods (values and
//! gradients compared with the method forms and with hand-derived formulas), a panic that
//! names the method on a shape mismatch, and `?` mixing with `no_grad_guard`.

use descent_autodiff::{Error, Tape, Var};
use descent_tensor::Tensor;

fn t(v: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

#[test]
fn operators_record_the_methods_ops() -> Result<(), Error> {
    let (av, bv, cv) = ([0.5, -1.5, 2.0], [3.0, 0.25, -4.0], [1.0, 2.0, 3.0]);
    let tape = Tape::new();
    let (a, b, c) = (
        tape.var(t(&av, &[3])),
        tape.var(t(&bv, &[3])),
        tape.var(t(&cv, &[3])),
    );
    // f = Σ (a·b + c − a/b) · 2 − 1 + (3 − a) / 4 + 1/b, against its method form.
    let ops = ((a * b + c - a / b) * 2.0 - 1.0 + (3.0 - a) / 4.0 + 1.0 / b).sum_all()?;
    let methods = a
        .mul(b)?
        .add(c)?
        .sub(a.div(b)?)?
        .mul_scalar(2.0)?
        .add_scalar(-1.0)?
        .add(a.rsub_scalar(3.0)?.div_scalar(4.0)?)?
        .add(b.recip()?)?
        .sum_all()?;
    assert_eq!(ops.item()?, methods.item()?);
    let naive: f64 = (0..3)
        .map(|i| {
            (av[i] * bv[i] + cv[i] - av[i] / bv[i]) * 2.0 - 1.0 + (3.0 - av[i]) / 4.0 + 1.0 / bv[i]
        })
        .sum();
    assert!((ops.item()? - naive).abs() < 1e-12);
    let g = ops.backward()?;
    for i in 0..3 {
        // ∂f/∂a = 2(b − 1/b) − 1/4, ∂f/∂b = 2(a + a/b²) − 1/b², ∂f/∂c = 2.
        let da = 2.0 * (bv[i] - 1.0 / bv[i]) - 0.25;
        let db = 2.0 * (av[i] + av[i] / (bv[i] * bv[i])) - 1.0 / (bv[i] * bv[i]);
        assert!((g.wrt(a).unwrap().to_vec()[i] - da).abs() < 1e-12);
        assert!((g.wrt(b).unwrap().to_vec()[i] - db).abs() < 1e-12);
        assert_eq!(g.wrt(c).unwrap().to_vec()[i], 2.0);
    }
    // References work too (clippy prefers values for a `Copy` handle).
    #[allow(clippy::op_ref)]
    let by_ref = &a * &b + &c;
    assert_eq!(
        by_ref.value()?.to_vec(),
        a.mul(b)?.add(c)?.value()?.to_vec()
    );
    let neg = (-a).sum_all()?.backward()?;
    assert_eq!(neg.wrt(a).unwrap().to_vec(), vec![-1.0; 3]);
    Ok(())
}

#[test]
#[should_panic(
    expected = "mul: shapes [2] and [3] do not broadcast (the `*` operator panics; Var::mul returns the error)"
)]
fn a_shape_mismatch_panics_naming_the_method() {
    let tape = Tape::<f32>::new();
    let _: Var<'_, f32> = tape.var(Tensor::zeros(&[2])) * tape.var(Tensor::zeros(&[3]));
}

/// `?` inside the guard's scope returns the enclosing function's error, and recording
/// resumes on that early return.
#[test]
fn no_grad_guard_restores_recording_on_early_return() {
    fn fails(tape: &Tape<f64>) -> Result<(), Error> {
        let _paused = tape.no_grad_guard();
        tape.var(Tensor::zeros(&[2]))
            .add(tape.var(Tensor::zeros(&[3])))?;
        Ok(())
    }
    let tape = Tape::new();
    let err = fails(&tape).unwrap_err();
    assert_eq!(err.to_string(), "add: shapes [2] and [3] do not broadcast");
    assert!(tape.is_recording());
}
