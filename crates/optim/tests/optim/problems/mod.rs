//! The test problems of gen_second_order.py, with analytic gradients, Hessians and
//! residuals, as `Objective`s.
#![allow(dead_code)]

use descent_optim::{
    batch::{HessianObjective, LeastSquares, Objective},
    Result,
};
use nalgebra::{DMatrix, DVector};

/// Which function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Problem {
    /// (1 − x)² + 100 (y − x²)², from (−1.2, 1); residuals (10(y − x²), 1 − x).
    Rosenbrock,
    /// Beale's function, from (1, 1); residuals its three terms.
    Beale,
    /// ½ xᵀAx − bᵀx + ½ bᵀA⁻¹b with κ(A) = 1000 (minimum value 0), from 0 (no residual form).
    Quadratic,
}

pub const ALL: [Problem; 3] = [Problem::Rosenbrock, Problem::Beale, Problem::Quadratic];

impl Problem {
    pub fn name(self) -> &'static str {
        match self {
            Problem::Rosenbrock => "rosenbrock",
            Problem::Beale => "beale",
            Problem::Quadratic => "quadratic",
        }
    }

    pub fn start(self) -> Vec<f64> {
        match self {
            Problem::Rosenbrock => vec![-1.2, 1.0],
            Problem::Beale => vec![1.0, 1.0],
            Problem::Quadratic => vec![0.0; 4],
        }
    }

    pub fn minimum(self) -> Vec<f64> {
        match self {
            Problem::Rosenbrock => vec![1.0, 1.0],
            Problem::Beale => vec![3.0, 0.5],
            Problem::Quadratic => quadratic_a()
                .lu()
                .solve(&DVector::from_element(4, 1.0))
                .unwrap()
                .as_slice()
                .to_vec(),
        }
    }
}

/// A = Q diag(1, 10, 100, 1000) Qᵀ, Q = I − 2vvᵀ, v = (1, 2, 3, 4)/‖·‖ (as in the script).
pub fn quadratic_a() -> DMatrix<f64> {
    let v = DVector::from_vec(vec![1.0, 2.0, 3.0, 4.0]).normalize();
    let q = DMatrix::identity(4, 4) - &v * v.transpose() * 2.0;
    &q * DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 10.0, 100.0, 1000.0])) * q.transpose()
}

/// The Beale terms cᵢ − x + x yⁱ, i = 1..3.
const BEALE_C: [f64; 3] = [1.5, 2.25, 2.625];

fn beale_residuals(p: &[f64]) -> (DVector<f64>, DMatrix<f64>) {
    let (x, y) = (p[0], p[1]);
    let mut r = DVector::zeros(3);
    let mut j = DMatrix::zeros(3, 2);
    for i in 0..3 {
        let k = (i + 1) as i32;
        r[i] = BEALE_C[i] - x + x * y.powi(k);
        j[(i, 0)] = -1.0 + y.powi(k);
        j[(i, 1)] = x * k as f64 * y.powi(k - 1);
    }
    (r, j)
}

fn rosenbrock_residuals(p: &[f64]) -> (DVector<f64>, DMatrix<f64>) {
    let (x, y) = (p[0], p[1]);
    (
        DVector::from_vec(vec![10.0 * (y - x * x), 1.0 - x]),
        DMatrix::from_row_slice(2, 2, &[-20.0 * x, 10.0, -1.0, 0.0]),
    )
}

impl Objective for Problem {
    fn value_grad(&mut self, p: &[f64]) -> Result<(f64, Vec<f64>)> {
        Ok(match self {
            Problem::Rosenbrock | Problem::Beale => {
                return self.sum_of_squares(p);
            }
            Problem::Quadratic => {
                // ½ xᵀAx − bᵀx + ½ bᵀA⁻¹b = ½ eᵀAe with e = x − x*: the same function, but
                // without the cancellation of O(0.1) terms that hides f below ~1e-17.
                let a = quadratic_a();
                let e =
                    DVector::from_column_slice(p) - DVector::from_vec(Problem::Quadratic.minimum());
                let ae = &a * &e;
                (0.5 * e.dot(&ae), ae.as_slice().to_vec())
            }
        })
    }

    fn as_hessian(&mut self) -> Option<&mut dyn HessianObjective> {
        Some(self)
    }

    fn as_least_squares(&mut self) -> Option<&mut dyn LeastSquares> {
        Some(self)
    }
}

impl HessianObjective for Problem {
    fn hessian(&mut self, p: &[f64]) -> Result<DMatrix<f64>> {
        Ok(match self {
            Problem::Rosenbrock => {
                let (x, y) = (p[0], p[1]);
                DMatrix::from_row_slice(
                    2,
                    2,
                    &[
                        2.0 - 400.0 * (y - x * x) + 800.0 * x * x,
                        -400.0 * x,
                        -400.0 * x,
                        200.0,
                    ],
                )
            }
            Problem::Beale => {
                // Σ 2(JᵢᵀJᵢ + rᵢ ∇²rᵢ)
                let (x, y) = (p[0], p[1]);
                let (r, j) = beale_residuals(p);
                let mut h = j.tr_mul(&j) * 2.0;
                for i in 0..3 {
                    let k = (i + 1) as f64;
                    let rxy = k * y.powi(i as i32);
                    let ryy = if i == 0 {
                        0.0
                    } else {
                        x * k * (k - 1.0) * y.powi(i as i32 - 1)
                    };
                    h[(0, 1)] += 2.0 * r[i] * rxy;
                    h[(1, 0)] += 2.0 * r[i] * rxy;
                    h[(1, 1)] += 2.0 * r[i] * ryy;
                }
                h
            }
            Problem::Quadratic => quadratic_a(),
        })
    }
}

impl LeastSquares for Problem {
    fn residuals(&mut self, p: &[f64]) -> Result<(DVector<f64>, DMatrix<f64>)> {
        match self {
            Problem::Rosenbrock => Ok(rosenbrock_residuals(p)),
            Problem::Beale => Ok(beale_residuals(p)),
            Problem::Quadratic => Err(descent_optim::Error::Unsupported {
                method: "lm",
                needs: "residuals",
                hint: "test quadratic",
            }),
        }
    }
}

/// The largest |aᵢ − bᵢ|.
pub fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}
