//! The curvature along the gradient against the exact value on a quadratic, with the
//! parameters split over two tensors.

use descent_autodiff::{Param, Tape, Var};
use descent_tensor::Tensor;
use descent_train::diagnostics::{curvature_along_gradient, CurvatureMonitor};

/// Gives a closure the higher-ranked type the monitor asks for (a `let` closure infers one
/// lifetime).
fn loss_fn<L>(f: L) -> L
where
    L: for<'t> Fn(&'t Tape<f64>) -> descent_train::Result<Var<'t, f64>>,
{
    f
}

/// f(z) = ½ zᵀAz with z = [x; y], x ∈ ℝ², y ∈ ℝ, written by blocks:
/// ½ xᵀA₁₁x + xᵀA₁₂y + ½ A₂₂y². Its Hessian is A, so gᵀHg / gᵀg = gᵀAg / gᵀg with g = Az,
/// computed here by plain loops.
#[test]
fn curvature_matches_the_hessian_on_a_quadratic() {
    let a = [[4.0, 1.0, 0.5], [1.0, 3.0, -1.0], [0.5, -1.0, 2.0]];
    let z = [1.0, -2.0, 0.5];
    let g: Vec<f64> = (0..3)
        .map(|i| (0..3).map(|j| a[i][j] * z[j]).sum())
        .collect();
    let ag: Vec<f64> = (0..3)
        .map(|i| (0..3).map(|j| a[i][j] * g[j]).sum())
        .collect();
    let gg: f64 = g.iter().map(|v| v * v).sum();
    let gag: f64 = g.iter().zip(&ag).map(|(x, y)| x * y).sum();
    let exact = gag / gg;

    let x = Param::new(Tensor::from_vec(vec![z[0], z[1]], &[2, 1]).unwrap());
    let y = Param::new(Tensor::from_vec(vec![z[2]], &[1, 1]).unwrap());
    let a11 = Tensor::from_vec(vec![a[0][0], a[0][1], a[1][0], a[1][1]], &[2, 2]).unwrap();
    let a12 = Tensor::from_vec(vec![a[0][2], a[1][2]], &[2, 1]).unwrap();
    let a22 = a[2][2];
    let loss = loss_fn(|tape| {
        let (xv, yv) = (tape.param(&x), tape.param(&y));
        let quad = xv
            .mul(tape.constant(a11.clone()).matmul(xv)?)?
            .sum(&[], false)?;
        let cross = xv
            .mul(tape.constant(a12.clone()).matmul(yv)?)?
            .sum(&[], false)?;
        let last = yv.square()?.sum(&[], false)?.mul_scalar(a22)?;
        Ok(quad.add(last)?.mul_scalar(0.5)?.add(cross)?)
    });
    let c = curvature_along_gradient(&[&x, &y], loss).unwrap();
    assert!((c.grad_sq - gg).abs() < 1e-12 * gg, "{} vs {gg}", c.grad_sq);
    assert!(
        (c.ghg - gag).abs() < 1e-12 * gag.abs(),
        "{} vs {gag}",
        c.ghg
    );
    let got = c.along_gradient().unwrap();
    assert!((got - exact).abs() < 1e-12 * exact, "{got} vs {exact}");

    // Against the rate's limit 2/η: just below and just above the curvature.
    let mut monitor = CurvatureMonitor::new(5).unwrap();
    let stable = monitor
        .observe(0, 0.99 * 2.0 / exact, &[&x, &y], loss)
        .unwrap();
    assert!(!stable.unwrap().unstable());
    assert!(monitor.observe(3, 1.0, &[&x, &y], loss).unwrap().is_none());
    let unstable = monitor
        .observe(5, 1.01 * 2.0 / exact, &[&x, &y], loss)
        .unwrap();
    assert!(unstable.unwrap().unstable());
    assert_eq!(monitor.to_csv().lines().count(), 3);
}

/// At a minimum the gradient is zero and there is no direction to measure along.
#[test]
fn zero_gradient_has_no_curvature() {
    let x = Param::new(Tensor::<f64>::zeros(&[3]));
    let c = curvature_along_gradient(&[&x], |tape: &Tape<f64>| {
        Ok(tape.param(&x).square()?.sum(&[], false)?)
    })
    .unwrap();
    assert_eq!(c.along_gradient(), None);
    assert!(CurvatureMonitor::new(0).is_err());
}
