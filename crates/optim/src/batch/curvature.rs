//! Hessian diagnostics from the lectures: the eigenvalues `λ₁ ≤ … ≤ λ_M` of the Hessian at a
//! point and its condition number `κ = λ_M / λ₁`, which sets gradient descent's best rate:
//! with step `2/(λ₁ + λ_M)` the error shrinks by `(κ − 1)/(κ + 1)` per step.
//!
//! * [`spectrum`]: all eigenvalues of a dense symmetric matrix (nalgebra's symmetric eigen
//!   solver), [`hessian_spectrum`] for an objective's Hessian — small models only;
//! * [`lanczos`]: the extreme eigenvalues from Hessian-vector products alone (Lanczos with
//!   full reorthogonalization, Ritz values of the tridiagonal `Tₖ`), for models whose
//!   Hessian would not fit in memory.

use crate::batch::newton::{check_dense_size, checked_hessian};
use crate::batch::objective::{axpy, dot, HessianObjective};
use crate::error::{Error, Result};
use nalgebra::{DMatrix, SymmetricEigen};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Eigenvalues of a symmetric matrix, ascending.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectrum {
    /// The eigenvalues, ascending.
    pub eigenvalues: Vec<f64>,
}

impl Spectrum {
    /// The smallest eigenvalue `λ₁`.
    pub fn smallest(&self) -> f64 {
        self.eigenvalues.first().copied().unwrap_or(f64::NAN)
    }

    /// The largest eigenvalue `λ_M`.
    pub fn largest(&self) -> f64 {
        self.eigenvalues.last().copied().unwrap_or(f64::NAN)
    }

    /// `κ = λ_M / λ₁` if the matrix is positive definite (`λ₁ > 0`), else `None`.
    pub fn condition_number(&self) -> Option<f64> {
        (self.smallest() > 0.0).then(|| self.largest() / self.smallest())
    }

    /// Gradient descent's optimal constant step `2/(λ₁ + λ_M)` and its rate
    /// `(κ − 1)/(κ + 1)` on the quadratic with this Hessian; `None` unless positive definite.
    pub fn gradient_descent_rate(&self) -> Option<(f64, f64)> {
        let k = self.condition_number()?;
        Some((
            2.0 / (self.smallest() + self.largest()),
            (k - 1.0) / (k + 1.0),
        ))
    }
}

/// All eigenvalues of the symmetric matrix `h`.
///
/// ```
/// use descent_optim::batch::curvature::spectrum;
/// use nalgebra::DMatrix;
/// let s = spectrum(&DMatrix::from_row_slice(2, 2, &[2.0, 1.0, 1.0, 2.0]))?;
/// assert!((s.smallest() - 1.0).abs() < 1e-12 && (s.largest() - 3.0).abs() < 1e-12);
/// assert!((s.condition_number().unwrap() - 3.0).abs() < 1e-12);
/// # Ok::<(), descent_optim::Error>(())
/// ```
///
/// # Errors
/// [`Error::Length`] if `h` is not square, [`Error::NonFinite`] for a non-finite entry.
pub fn spectrum(h: &DMatrix<f64>) -> Result<Spectrum> {
    if h.nrows() != h.ncols() {
        return Err(Error::Length {
            method: "spectrum",
            what: "matrix (not square: rows x cols)",
            expected: h.nrows() * h.nrows(),
            got: h.nrows() * h.ncols(),
        });
    }
    if let Some(&bad) = h.iter().find(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            method: "spectrum",
            what: "matrix entry",
            value: bad,
            iteration: 0,
        });
    }
    // Symmetrize: a Hessian from the tape is symmetric only up to rounding.
    let sym = (h + h.transpose()) * 0.5;
    let mut eigenvalues: Vec<f64> = SymmetricEigen::new(sym)
        .eigenvalues
        .iter()
        .copied()
        .collect();
    eigenvalues.sort_by(f64::total_cmp);
    Ok(Spectrum { eigenvalues })
}

/// The eigenvalues of `obj`'s Hessian at `x`, for at most `max_params` parameters.
///
/// # Errors
/// [`Error::TooLarge`] above `max_params` (saying to use [`lanczos`]), the objective's
/// errors.
pub fn hessian_spectrum(
    obj: &mut dyn HessianObjective,
    x: &[f64],
    max_params: usize,
) -> Result<Spectrum> {
    check_dense_size("hessian_spectrum", x.len(), max_params)?;
    spectrum(&checked_hessian("hessian_spectrum", obj, x)?)
}

/// What [`lanczos`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Extremes {
    /// The largest Ritz value (converges to `λ_M` from below).
    pub largest: f64,
    /// The smallest Ritz value (converges to `λ₁` from above).
    pub smallest: f64,
    /// All Ritz values of the last `Tₖ`, ascending.
    pub ritz: Vec<f64>,
    /// Lanczos steps taken (`k`; fewer than asked if an invariant subspace was found).
    pub steps: usize,
}

impl Extremes {
    /// `largest / smallest` if `smallest > 0`.
    pub fn condition_number(&self) -> Option<f64> {
        (self.smallest > 0.0).then(|| self.largest / self.smallest)
    }
}

/// The extreme eigenvalues of the symmetric `n x n` operator `hvp` (`v ↦ H v`) by `steps`
/// Lanczos iterations from a random unit vector (seeded), with full reorthogonalization
/// (so the Ritz values do not duplicate in floating point). Costs `steps` products and
/// `O(steps · n)` memory; stops early when the Krylov space becomes invariant.
///
/// ```
/// use descent_optim::batch::curvature::lanczos;
/// // H = diag(1, 2, …, 100): the extremes are 1 and 100.
/// let mut hvp = |v: &[f64]| Ok(v.iter().enumerate().map(|(i, x)| (i + 1) as f64 * x).collect());
/// let e = lanczos(100, &mut hvp, 60, 0)?;
/// assert!((e.largest - 100.0).abs() < 1e-6 && (e.smallest - 1.0).abs() < 1e-4);
/// # Ok::<(), descent_optim::Error>(())
/// ```
///
/// # Errors
/// [`Error::Hyperparameter`] for `n = 0` or `steps = 0`, [`Error::Length`] if `hvp`
/// returns a vector of the wrong length, [`Error::NonFinite`] for a non-finite product.
pub fn lanczos(
    n: usize,
    hvp: &mut dyn FnMut(&[f64]) -> Result<Vec<f64>>,
    steps: usize,
    seed: u64,
) -> Result<Extremes> {
    if n == 0 || steps == 0 {
        return Err(Error::hyper(
            "lanczos",
            "n/steps",
            format!("{n}/{steps}"),
            "both at least 1",
        ));
    }
    let k_max = steps.min(n);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut v: Vec<f64> = (0..n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let norm = dot(&v, &v).sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    let mut basis: Vec<Vec<f64>> = Vec::with_capacity(k_max);
    let (mut alpha, mut beta) = (Vec::with_capacity(k_max), Vec::with_capacity(k_max));
    for _ in 0..k_max {
        let mut w = hvp(&v)?;
        if w.len() != n {
            return Err(Error::Length {
                method: "lanczos",
                what: "Hessian-vector product",
                expected: n,
                got: w.len(),
            });
        }
        if let Some(&bad) = w.iter().find(|x| !x.is_finite()) {
            return Err(Error::NonFinite {
                method: "lanczos",
                what: "Hessian-vector product",
                value: bad,
                iteration: basis.len(),
            });
        }
        let a = dot(&w, &v);
        alpha.push(a);
        basis.push(v);
        // w ⟂ every basis vector (twice: classical Gram–Schmidt loses orthogonality once).
        for _ in 0..2 {
            for q in &basis {
                let c = dot(&w, q);
                axpy(&mut w, -c, q);
            }
        }
        let b = dot(&w, &w).sqrt();
        let scale = alpha
            .iter()
            .fold(0.0f64, |m, a| m.max(a.abs()))
            .max(f64::MIN_POSITIVE);
        if basis.len() == k_max || b <= 1e-12 * scale {
            break; // done, or the Krylov space is invariant: the Ritz values are exact
        }
        beta.push(b);
        v = w.iter().map(|x| x / b).collect();
    }
    let k = alpha.len();
    let t = DMatrix::from_fn(k, k, |i, j| match i.abs_diff(j) {
        0 => alpha[i],
        1 => beta[i.min(j)],
        _ => 0.0,
    });
    let ritz = spectrum(&t)?.eigenvalues;
    Ok(Extremes {
        largest: ritz[k - 1],
        smallest: ritz[0],
        ritz,
        steps: k,
    })
}
