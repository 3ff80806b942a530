//! Levenberg–Marquardt from `tau = 0` (a pure Gauss–Newton start) and Gauss–Newton by name,
//! on small residual problems written out by hand.

use descent_optim::{
    batch::{BatchMethod, LeastSquares, Method, Objective},
    Result,
};
use nalgebra::{DMatrix, DVector};

/// Residuals and Jacobian from a function, recording every point evaluated.
struct Recorded<F> {
    f: F,
    points: Vec<Vec<f64>>,
}

impl<F: FnMut(&[f64]) -> (Vec<f64>, Vec<f64>)> Objective for Recorded<F> {
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        self.sum_of_squares(x)
    }

    fn as_least_squares(&mut self) -> Option<&mut dyn LeastSquares> {
        Some(self)
    }
}

impl<F: FnMut(&[f64]) -> (Vec<f64>, Vec<f64>)> LeastSquares for Recorded<F> {
    fn residuals(&mut self, x: &[f64]) -> Result<(DVector<f64>, DMatrix<f64>)> {
        self.points.push(x.to_vec());
        let (r, j) = (self.f)(x);
        let m = r.len();
        Ok((
            DVector::from_vec(r),
            DMatrix::from_row_slice(m, x.len(), &j),
        ))
    }
}

fn recorded<F: FnMut(&[f64]) -> (Vec<f64>, Vec<f64>)>(f: F) -> Recorded<F> {
    Recorded {
        f,
        points: Vec::new(),
    }
}

/// Rosenbrock as least squares, r = (10(y − x²), 1 − x), row-major Jacobian.
fn rosenbrock(p: &[f64]) -> (Vec<f64>, Vec<f64>) {
    (
        vec![10.0 * (p[1] - p[0] * p[0]), 1.0 - p[0]],
        vec![-20.0 * p[0], 10.0, -1.0, 0.0],
    )
}

/// r = atan(x): from x = 2 the Gauss–Newton step `−atan(x)(1 + x²)` overshoots to −3.5,
/// where |r| is larger, so the first step is rejected.
fn atan(p: &[f64]) -> (Vec<f64>, Vec<f64>) {
    (vec![p[0].atan()], vec![1.0 / (1.0 + p[0] * p[0])])
}

#[test]
fn lm_from_tau_zero_converges_and_never_retries_a_step() {
    type Case = (
        &'static str,
        fn(&[f64]) -> (Vec<f64>, Vec<f64>),
        Vec<f64>,
        Vec<f64>,
    );
    let cases: [Case; 2] = [
        ("rosenbrock", rosenbrock, vec![-1.2, 1.0], vec![1.0, 1.0]),
        ("atan", atan, vec![2.0], vec![0.0]),
    ];
    for (name, f, start, minimum) in cases {
        let mut obj = recorded(f);
        let mut lm = Method::from_spec("lm:tau=0").unwrap();
        let mut x = start.clone();
        let mut points_per_step = Vec::new();
        for _ in 0..200 {
            let before = obj.points.len();
            let r = lm.step(&mut x, &mut obj).unwrap();
            points_per_step.push(obj.points[before..].to_vec());
            if r.reason.is_terminal() {
                break;
            }
        }
        let err = x
            .iter()
            .zip(&minimum)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(err < 1e-8, "lm:tau=0 on {name}: {x:?}");
        // The first Gauss–Newton step is rejected on both: μ must have moved off 0.
        assert!(points_per_step[0].len() > 2, "{name}: {points_per_step:?}");
        // Every trial point within a step differs: a different μ each time.
        for (k, pts) in points_per_step.iter().enumerate() {
            for i in 0..pts.len() {
                for j in i + 1..pts.len() {
                    assert_ne!(pts[i], pts[j], "{name} step {k}: a trial point repeated");
                }
            }
        }
    }
}

#[test]
fn gauss_newton_converges_quadratically_on_a_zero_residual_problem() {
    // r = (x² − 4, x·y − 2), zero at (2, 1); Rosenbrock's residuals are too easy here (one
    // is linear, and Gauss–Newton lands on the solution in one full step).
    let mut obj = recorded(|p: &[f64]| {
        (
            vec![p[0] * p[0] - 4.0, p[0] * p[1] - 2.0],
            vec![2.0 * p[0], 0.0, p[1], p[0]],
        )
    });
    let mut gn = Method::from_spec("gauss_newton:tolerance_grad=0,tolerance_change=0").unwrap();
    assert!(gn.needs_residuals());
    let mut x = vec![10.0, -5.0];
    let mut norms = Vec::new();
    for _ in 0..100 {
        let report = gn.step(&mut x, &mut obj).unwrap();
        norms.push(report.loss.sqrt());
        if report.loss < 1e-28 || report.reason.is_terminal() {
            break;
        }
    }
    assert!(
        (x[0] - 2.0).abs() < 1e-12 && (x[1] - 1.0).abs() < 1e-12,
        "{x:?} {norms:?}"
    );
    // Near the solution ‖r‖ roughly squares per iteration: ‖rₖ₊₁‖ ≤ C‖rₖ‖², and at least
    // two such iterations are seen once ‖r‖ < 0.1 (the next lands on 0 exactly).
    let close: Vec<_> = norms
        .windows(2)
        .filter(|w| w[0] < 0.1 && w[1] > 0.0)
        .collect();
    assert!(close.len() >= 2, "{norms:?}");
    for w in &close {
        assert!(w[1] <= 10.0 * w[0] * w[0], "not quadratic: {norms:?}");
    }
}

#[test]
fn gauss_newton_names_a_rank_deficient_jacobian() {
    // r = (x + y − 1, 2x + 2y − 2): J has rank 1.
    let mut dependent = recorded(|p: &[f64]| {
        let s = p[0] + p[1] - 1.0;
        (vec![s, 2.0 * s], vec![1.0, 1.0, 2.0, 2.0])
    });
    // One residual, two parameters: JᵀJ is 2x2 of rank 1.
    let mut short = recorded(|p: &[f64]| (vec![p[0] * p[1] - 1.0], vec![p[1], p[0]]));
    for obj in [&mut dependent as &mut dyn Objective, &mut short] {
        let err = Method::from_spec("gauss_newton")
            .unwrap()
            .step(&mut [0.5, 3.0], obj)
            .unwrap_err();
        assert!(
            matches!(err, descent_optim::Error::Singular { .. }),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.starts_with("gauss_newton: the 2x2 system (J^T J) delta = -J^T r is singular")
                && msg.contains("rank-deficient")
                && msg.contains("use lm"),
            "{msg}"
        );
    }
    // An objective without residuals is refused under this method's name.
    let mut plain = |x: &[f64]| Ok((x[0] * x[0], vec![2.0 * x[0]]));
    let err = Method::from_spec("gauss_newton")
        .unwrap()
        .step(&mut [1.0], &mut plain)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("gauss_newton: "), "{err}");
}
