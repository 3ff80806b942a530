//! Levenberg–Marquardt from `tau = 0` (a pure Gauss–Newton start) and Gauss–Newton by name,
//! on small residual problems written out by hand.

use descent_optim::{BatchMethod, Method, Objective, Result};
use nalgebra::{DMatrix, DVector};

/// Residuals and Jacobian from a function, recording every point evaluated.
struct Recorded<F> {
    f: F,
    points: Vec<Vec<f64>>,
}

impl<F: FnMut(&[f64]) -> (Vec<f64>, Vec<f64>)> Objective for Recorded<F> {
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        let (r, j) = self.residuals(x)?;
        Ok((r.norm_squared(), (j.tr_mul(&r) * 2.0).as_slice().to_vec()))
    }

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
