//! `Distributed` in a world of one is the wrapped objective: L-BFGS takes the same steps,
//! and Levenberg–Marquardt through the compressed normal equations (`JᵀJ`, `Jᵀr`, `‖r‖²`
//! in place of the Jacobian) lands where it lands on the Jacobian itself.

use descent_distributed::{Comm, Distributed};
use descent_optim::batch::{
    BatchMethod, Lbfgs, LeastSquares, LeastSquaresMethod, LevenbergMarquardt, Objective,
};
use nalgebra::{DMatrix, DVector};

/// A small nonlinear regression: `rᵢ(w) = tanh(xᵢ·w) − yᵢ`, with data from a fixed LCG.
struct Tanh {
    x: Vec<[f64; 3]>,
    y: Vec<f64>,
}

impl Tanh {
    fn new(n: usize) -> Self {
        let mut s = 12345u64;
        let mut u = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let x: Vec<[f64; 3]> = (0..n).map(|_| [u(), u(), u()]).collect();
        let y = x
            .iter()
            .map(|x| (0.7 * x[0] - 1.2 * x[1] + 0.4 * x[2]).tanh() + 0.05 * u())
            .collect();
        Tanh { x, y }
    }
}

impl Objective for Tanh {
    fn value_grad(&mut self, w: &[f64]) -> descent_optim::Result<(f64, Vec<f64>)> {
        self.sum_of_squares(w)
    }
}

impl LeastSquares for Tanh {
    fn residuals(&mut self, w: &[f64]) -> descent_optim::Result<(DVector<f64>, DMatrix<f64>)> {
        let n = self.x.len();
        let mut r = DVector::zeros(n);
        let mut j = DMatrix::zeros(n, 3);
        for (i, (x, y)) in self.x.iter().zip(&self.y).enumerate() {
            let t = (x[0] * w[0] + x[1] * w[1] + x[2] * w[2]).tanh();
            r[i] = t - y;
            for k in 0..3 {
                j[(i, k)] = (1.0 - t * t) * x[k];
            }
        }
        Ok((r, j))
    }
}

#[test]
fn lbfgs_through_a_world_of_one_is_lbfgs() {
    let comm = Comm::local();
    let (mut a, mut b) = (vec![0.1, 0.1, 0.1], vec![0.1, 0.1, 0.1]);
    Lbfgs::default()
        .minimize(&mut a, &mut Tanh::new(40), 20)
        .unwrap();
    Lbfgs::default()
        .minimize(&mut b, &mut Distributed::new(&comm, Tanh::new(40)), 20)
        .unwrap();
    assert_eq!(a, b);
}

#[test]
fn lm_on_the_compressed_normal_equations_matches_lm_on_the_jacobian() {
    let comm = Comm::local();
    let (mut a, mut b) = (vec![0.0; 3], vec![0.0; 3]);
    LevenbergMarquardt::default()
        .minimize(&mut a, &mut Tanh::new(50), 30)
        .unwrap();
    LevenbergMarquardt::default()
        .minimize(&mut b, &mut Distributed::new(&comm, Tanh::new(50)), 30)
        .unwrap();
    // Same normal equations up to rounding (the eigendecomposition's, ~1e-15 relative);
    // the fit is well-conditioned, so the minimizers agree to near that.
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-10, "{a:?} vs {b:?}");
    }
    assert!(
        (a[0] - 0.7).abs() < 0.1 && (a[1] + 1.2).abs() < 0.1,
        "{a:?}"
    );
}

#[test]
fn compressed_residuals_keep_the_loss_gradient_and_gauss_newton_matrix() {
    let comm = Comm::local();
    let w = [0.3, -0.2, 0.5];
    let (r, j) = Tanh::new(30).residuals(&w).unwrap();
    let (r2, j2) = Distributed::new(&comm, Tanh::new(30))
        .residuals(&w)
        .unwrap();
    assert_eq!((r2.len(), j2.nrows(), j2.ncols()), (4, 4, 3));
    assert!((r.norm_squared() - r2.norm_squared()).abs() < 1e-12 * r.norm_squared());
    assert!((j.tr_mul(&r) - j2.tr_mul(&r2)).amax() < 1e-12);
    assert!((j.tr_mul(&j) - j2.tr_mul(&j2)).amax() < 1e-12);
}
