//! gradcheck must catch a silently wrong gradient: a custom op whose rule is off by a
//! factor, and one that forgets the chain rule, both fail with the worst element named.

use descent_autodiff::{gradcheck, Result, Tolerances, Var};
use descent_tensor::Tensor;

/// sin(x) with a backward rule of 1.01·g·cos(x): wrong by 1%.
fn sin_off_by_one_percent<'t>(x: Var<'t, f64>) -> Result<Var<'t, f64>> {
    let value = x.value()?.sin();
    x.tape().record("bad_sin", value, &[x], |c| {
        Ok(vec![Some(c.g.mul(c.x(0).cos()?)?.mul_scalar(1.01)?)])
    })
}

/// x² with a rule that ignores the upstream gradient.
fn square_without_chain_rule<'t>(x: Var<'t, f64>) -> Result<Var<'t, f64>> {
    let value = x.value()?.square();
    x.tape().record("bad_square", value, &[x], |c| {
        Ok(vec![Some(c.x(0).mul_scalar(2.0)?)])
    })
}

/// The correct x² as a custom op, to show the same check passes.
fn square<'t>(x: Var<'t, f64>) -> Result<Var<'t, f64>> {
    let value = x.value()?.square();
    x.tape().record("square", value, &[x], |c| {
        Ok(vec![Some(c.g.mul(c.x(0).mul_scalar(2.0)?)?)])
    })
}

fn input() -> Tensor<f64> {
    Tensor::from_vec(vec![0.4, -1.3, 0.9, 2.1, -0.2, 0.6], &[2, 3]).unwrap()
}

#[test]
fn a_one_percent_error_is_caught() {
    let report = gradcheck(
        |_, v| sin_off_by_one_percent(v[0]),
        &[input()],
        Tolerances::default(),
    )
    .unwrap();
    assert!(!report.passed);
    let worst = report.worst.clone().unwrap();
    assert!(
        (worst.analytic / worst.numeric - 1.01).abs() < 1e-6,
        "{report}"
    );
    assert!(report.ok().unwrap_err().to_string().contains("FAILED"));
}

#[test]
fn a_missing_chain_rule_is_caught_downstream() {
    let report = gradcheck(
        |_, v| square_without_chain_rule(v[0])?.mul_scalar(3.0),
        &[input()],
        Tolerances::default(),
    )
    .unwrap();
    assert!(!report.passed, "{report}");
}

#[test]
fn the_correct_custom_op_passes() {
    let report = gradcheck(
        |_, v| square(v[0])?.tanh(),
        &[input()],
        Tolerances::default(),
    )
    .unwrap();
    assert!(report.passed, "{report}");
    assert_eq!(report.checked, 6);
}
