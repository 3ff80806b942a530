//! Input normalization for `[N, d]` data: scaling, per-feature standardization, and PCA /
//! ZCA whitening. Statistics are fitted on the training set (accumulated in `f64`) and then
//! applied unchanged to validation and test data, as they must be to avoid leaking test
//! information into training.
//!
//! Whitening: with the training covariance `C = U Λ Uᵀ` (eigen decomposition),
//! PCA whitening is `W = (Λ + ε)^{-1/2} Uᵀ` (rows are the principal directions, largest
//! variance first) and ZCA whitening is `W = U (Λ + ε)^{-1/2} Uᵀ`, the one symmetric whitening
//! matrix, which keeps whitened images closest to the originals. Both map `x` to
//! `W (x − μ)`, whose covariance is the identity when `ε = 0` (and `Λ / (Λ + ε)` otherwise;
//! `ε` keeps the near-zero variances of, e.g., MNIST's blank border pixels from exploding).

use descent_tensor::{Float, Tensor};
use nalgebra::{DMatrix, SymmetricEigen};

use crate::error::{Error, Result};

/// Rows per chunk when accumulating statistics in `f64` (bounds the temporary memory).
const CHUNK_ROWS: usize = 4096;

/// `x / max`: pixels from `0..=255` to `[0, 1]` with `max = 255`.
pub fn scale<F: Float>(x: &Tensor<F>, max: f64) -> Tensor<F> {
    let max = F::of(max);
    x.map(|v| v / max)
}

/// Data `[N, ...]` read a chunk of rows at a time: what statistics are fitted on. A tensor
/// is one, and so is a [`Dataset`](crate::Dataset), whose items kept as bytes are then
/// decoded one chunk at a time instead of all at once.
pub trait Rows<F: Float> {
    /// The shape, `[N, ...]`.
    fn shape(&self) -> &[usize];

    /// Rows `start..start + n` (within `N`).
    ///
    /// # Errors
    /// A tensor op's error.
    fn rows(&self, start: usize, n: usize) -> Result<Tensor<F>>;
}

impl<F: Float> Rows<F> for Tensor<F> {
    fn shape(&self) -> &[usize] {
        Tensor::shape(self)
    }
    fn rows(&self, start: usize, n: usize) -> Result<Tensor<F>> {
        Ok(self.narrow(0, start, n)?)
    }
}

/// The `(rows, features)` of 2-D data, or an error naming the op.
fn rows_features<F: Float>(
    op: &'static str,
    x: &(impl Rows<F> + ?Sized),
) -> Result<(usize, usize)> {
    match *x.shape() {
        [n, d] if n >= 2 => Ok((n, d)),
        _ => Err(Error::InvalidArgument {
            op,
            arg: "x",
            value: format!("shape {:?}", x.shape()),
            why: "expected [N, d] with N ≥ 2 rows".into(),
        }),
    }
}

/// Calls `f` with successive `[rows, d]` chunks of `x` converted to `f64`.
fn for_chunks<F: Float>(
    x: &(impl Rows<F> + ?Sized),
    mut f: impl FnMut(&Tensor<f64>) -> Result<()>,
) -> Result<()> {
    let n = x.shape()[0];
    for start in (0..n).step_by(CHUNK_ROWS) {
        let rows = CHUNK_ROWS.min(n - start);
        f(&x.rows(start, rows)?.cast::<f64>())?;
    }
    Ok(())
}

/// Per-feature mean of `[N, d]` data, in `f64`.
fn feature_mean<F: Float>(x: &(impl Rows<F> + ?Sized), n: usize) -> Result<Tensor<f64>> {
    let mut sum = Tensor::<f64>::zeros(&[x.shape()[1]]);
    for_chunks(x, |c| {
        sum = sum.add(&c.sum(&[0], false)?)?;
        Ok(())
    })?;
    Ok(sum.div_scalar(n as f64))
}

/// Per-feature standardization `(x − mean) / std`, fitted on training data. Features with
/// zero variance (constant pixels) keep a scale of 1, as scikit-learn's `StandardScaler`
/// does, rather than dividing by zero.
///
/// ```
/// use descent_data::transforms::Standardize;
/// use descent_tensor::Tensor;
/// let train = Tensor::<f64>::from_vec(vec![1., 5., 3., 5.], &[2, 2])?;
/// let s = Standardize::fit(&train)?;
/// assert_eq!(s.apply(&train)?.to_vec(), vec![-1., 0., 1., 0.]);
/// # Ok::<(), descent_data::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Standardize<F: Float> {
    /// Per-feature mean, `[d]`.
    pub mean: Tensor<F>,
    /// Per-feature standard deviation (population, `N` in the denominator), `[d]`.
    pub std: Tensor<F>,
}

impl<F: Float> Standardize<F> {
    /// Fits mean and standard deviation on `x` (`[N, d]`: a tensor or a dataset's items).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `x` is not 2-D with at least 2 rows.
    pub fn fit(x: &(impl Rows<F> + ?Sized)) -> Result<Self> {
        let (n, d) = rows_features("Standardize::fit", x)?;
        let mean = feature_mean(x, n)?;
        let mut sq = Tensor::<f64>::zeros(&[d]);
        for_chunks(x, |c| {
            sq = sq.add(&c.sub(&mean)?.square().sum(&[0], false)?)?;
            Ok(())
        })?;
        let std = sq.map(|s| {
            let sd = (s / n as f64).sqrt();
            if sd > 0.0 {
                sd
            } else {
                1.0
            }
        });
        Ok(Standardize {
            mean: mean.cast(),
            std: std.cast(),
        })
    }

    /// `(x − mean) / std` for `x` of shape `[M, d]`.
    ///
    /// # Errors
    /// A broadcast error if `x`'s features differ from the fitted ones.
    pub fn apply(&self, x: &Tensor<F>) -> Result<Tensor<F>> {
        Ok(x.sub(&self.mean)?.div(&self.std)?)
    }
}

/// Which whitening matrix [`Whitening::fit`] builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Whiten {
    /// `(Λ + ε)^{-1/2} Uᵀ`: decorrelated coordinates along the principal axes.
    Pca,
    /// `U (Λ + ε)^{-1/2} Uᵀ`: the symmetric whitening, closest to the input.
    Zca,
}

/// A fitted whitening transform `x ↦ W (x − μ)`.
///
/// ```
/// use descent_data::transforms::{Whiten, Whitening};
/// use descent_tensor::Tensor;
/// let x = Tensor::<f64>::from_vec(vec![0., 0., 2., 1., 1., 2., 3., 3.], &[4, 2])?;
/// let zca = Whitening::fit(&x, Whiten::Zca, 0.0)?;
/// let w = &zca.matrix;
/// assert!(w.allclose(&w.t()?.contiguous(), 1e-12, 1e-12)); // ZCA is symmetric
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Whitening<F: Float> {
    /// PCA or ZCA.
    pub kind: Whiten,
    /// The training mean μ, `[d]`.
    pub mean: Tensor<F>,
    /// The whitening matrix W, `[d, d]`.
    pub matrix: Tensor<F>,
    /// The covariance's eigenvalues, largest first.
    pub eigenvalues: Vec<f64>,
    /// The regularization ε added to each eigenvalue.
    pub eps: f64,
}

impl<F: Float> Whitening<F> {
    /// Fits on `x` (`[N, d]`: a tensor or a dataset's items): the sample covariance (`N − 1` in the denominator) and its
    /// eigen decomposition (nalgebra's `SymmetricEigen`, in `f64`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `x` is not 2-D with at least 2 rows, if `eps` is
    /// negative or not finite, or if an eigenvalue plus `eps` is not positive (a singular
    /// covariance needs `eps > 0`).
    pub fn fit(x: &(impl Rows<F> + ?Sized), kind: Whiten, eps: f64) -> Result<Self> {
        let (n, d) = rows_features("Whitening::fit", x)?;
        if !(eps >= 0.0 && eps.is_finite()) {
            return Err(Error::InvalidArgument {
                op: "Whitening::fit",
                arg: "eps",
                value: eps.to_string(),
                why: "must be finite and ≥ 0".into(),
            });
        }
        if d == 0 {
            // nalgebra's eigendecomposition panics on a 0×0 matrix.
            return Err(Error::InvalidArgument {
                op: "Whitening::fit",
                arg: "x",
                value: format!("shape {:?}", x.shape()),
                why: "expected [N, d] with d ≥ 1 features".into(),
            });
        }
        let mean = feature_mean(x, n)?;
        let mut cov = Tensor::<f64>::zeros(&[d, d]);
        for_chunks(x, |c| {
            let centered = c.sub(&mean)?;
            cov = cov.add(&centered.t()?.matmul(&centered)?)?;
            Ok(())
        })?;
        let cov = cov.div_scalar((n - 1) as f64);
        if cov.has_non_finite() {
            // NaN would reach the eigendecomposition, which gives no meaningful answer.
            return Err(Error::InvalidArgument {
                op: "Whitening::fit",
                arg: "x",
                value: format!("shape {:?}", x.shape()),
                why: "holds NaN or infinity (or values whose covariance overflows)".into(),
            });
        }
        let eig = SymmetricEigen::new(DMatrix::from_row_slice(d, d, &cov.to_vec()));
        // Largest variance first; round-off can make zero eigenvalues slightly negative.
        let mut order: Vec<usize> = (0..d).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let eigenvalues: Vec<f64> = order.iter().map(|&i| eig.eigenvalues[i].max(0.0)).collect();
        let smallest = eigenvalues.last().copied().unwrap_or(0.0);
        if smallest + eps <= 0.0 {
            return Err(Error::InvalidArgument {
                op: "Whitening::fit",
                arg: "eps",
                value: eps.to_string(),
                why: format!(
                    "the covariance is singular (smallest eigenvalue {smallest:e}); use eps > 0"
                ),
            });
        }
        // Rows of `ut` are the unit eigenvectors, largest eigenvalue first.
        let mut ut = vec![0.0; d * d];
        for (r, &i) in order.iter().enumerate() {
            for c in 0..d {
                ut[r * d + c] = eig.eigenvectors[(c, i)];
            }
        }
        let ut = Tensor::from_vec(ut, &[d, d])?;
        let inv_sqrt: Vec<f64> = eigenvalues.iter().map(|l| 1.0 / (l + eps).sqrt()).collect();
        let pca = ut.mul(&Tensor::from_vec(inv_sqrt, &[d, 1])?)?; // scales row r by (λ_r + ε)^{-1/2}
        let matrix = match kind {
            Whiten::Pca => pca,
            Whiten::Zca => ut.t()?.matmul(&pca)?,
        };
        Ok(Whitening {
            kind,
            mean: mean.cast(),
            matrix: matrix.cast(),
            eigenvalues,
            eps,
        })
    }

    /// `(x − μ) Wᵀ` for rows `x` of shape `[M, d]`.
    ///
    /// # Errors
    /// A shape error if `x`'s features differ from the fitted ones.
    pub fn apply(&self, x: &Tensor<F>) -> Result<Tensor<F>> {
        Ok(x.sub(&self.mean)?.matmul(&self.matrix.t()?)?)
    }
}
