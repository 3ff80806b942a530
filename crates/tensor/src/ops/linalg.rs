//! Dense linear algebra on the last two axes, batched over the leading ones: `inverse`,
//! `solve`, `det`, `slogdet`, `cholesky`, `qr`, `eigh`, `svd` (PyTorch's `torch.linalg`).
//! The factorizations are nalgebra's, run in `f64` (an `f32` input is widened, factored and
//! rounded back), one matrix per task across threads.

use crate::error::{Error, Result};
use crate::layout::broadcast_shapes;
use crate::{Float, Tensor};
use nalgebra::DMatrix;
use rayon::prelude::*;

/// A batch of matrices read out of a tensor: batch shape, rows, columns, and the matrices.
struct Batch {
    batch: Vec<usize>,
    m: usize,
    n: usize,
    mats: Vec<DMatrix<f64>>,
}

/// Splits `t` (`[..., m, n]`) into its matrices in `f64`; with `square`, `m == n` is required.
fn batch<F: Float>(op: &'static str, t: &Tensor<F>, square: bool) -> Result<Batch> {
    let nd = t.ndim();
    if nd < 2 || (square && t.shape()[nd - 1] != t.shape()[nd - 2]) {
        return Err(Error::Rank {
            op,
            expected: if square {
                "a batch of square matrices [..., n, n]"
            } else {
                "a batch of matrices [..., m, n]"
            },
            shape: t.shape().to_vec(),
        });
    }
    let (m, n) = (t.shape()[nd - 2], t.shape()[nd - 1]);
    let data = t.to_vec();
    let mats = if m * n == 0 {
        vec![DMatrix::zeros(m, n); crate::layout::numel(&t.shape()[..nd - 2])]
    } else {
        data.chunks(m * n)
            .map(|c| DMatrix::from_row_iterator(m, n, c.iter().map(|x| x.as_f64())))
            .collect()
    };
    Ok(Batch {
        batch: t.shape()[..nd - 2].to_vec(),
        m,
        n,
        mats,
    })
}

/// Stacks `[r, c]` matrices into a tensor of shape `batch + [r, c]`.
fn stack_mats<F: Float>(batch: &[usize], r: usize, c: usize, mats: &[DMatrix<f64>]) -> Tensor<F> {
    let mut out = Vec::with_capacity(mats.len() * r * c);
    for a in mats {
        for i in 0..r {
            out.extend((0..c).map(|j| F::of(a[(i, j)])));
        }
    }
    let mut shape = batch.to_vec();
    shape.extend([r, c]);
    Tensor::from_parts(out, shape)
}

/// Stacks vectors of length `k` into a tensor of shape `batch + [k]` (or `batch` for `k`
/// = `None`, one scalar per matrix).
fn stack_vecs<F: Float>(batch: &[usize], k: Option<usize>, vecs: &[Vec<f64>]) -> Tensor<F> {
    let out = vecs.iter().flatten().map(|&x| F::of(x)).collect();
    let mut shape = batch.to_vec();
    shape.extend(k);
    Tensor::from_parts(out, shape)
}

/// Runs `f` on every matrix of the batch, in parallel, stopping at the first error.
fn each<T: Send>(
    mats: &[DMatrix<f64>],
    f: impl Fn(&DMatrix<f64>) -> Option<T> + Sync + Send,
) -> Option<Vec<T>> {
    mats.par_iter().map(f).collect()
}

/// Whether every entry is finite: the iterative eigen and singular value solvers are not
/// run on NaN or ±inf (they need not converge there), whose results are NaN instead.
fn finite(a: &DMatrix<f64>) -> bool {
    a.iter().all(|x| x.is_finite())
}

fn singular<F: Float>(op: &'static str, t: &Tensor<F>, what: &'static str) -> Error {
    Error::Singular {
        op,
        shape: t.shape().to_vec(),
        what,
    }
}

impl<F: Float> Tensor<F> {
    /// The inverse of each square matrix `[..., n, n]` (`torch.linalg.inv`).
    ///
    /// # Errors
    /// [`Error::Rank`] for a non-square input; [`Error::Singular`] if a matrix
    /// has an exactly zero pivot in its LU factorization (PyTorch raises there too).
    pub fn inverse(&self) -> Result<Self> {
        let b = batch("inverse", self, true)?;
        let inv = each(&b.mats, |a| a.clone().lu().try_inverse())
            .ok_or_else(|| singular("inverse", self, "singular"))?;
        Ok(stack_mats(&b.batch, b.n, b.n, &inv))
    }

    /// `X` with `A·X = B` for `A = self` (`[..., n, n]`) and `B` either `[..., n, k]` or a
    /// vector `[..., n]` (when `B` is 1-D, or has `A`'s shape without its last axis, as
    /// `torch.linalg.solve` decides); batch axes broadcast.
    ///
    /// # Errors
    /// [`Error::Rank`], [`Error::ShapeMismatch`] or [`Error::Broadcast`]
    /// for shapes that do not fit; [`Error::Singular`] for a singular `A`.
    pub fn solve(&self, rhs: &Self) -> Result<Self> {
        let nd = self.ndim();
        let vector = rhs.ndim() == 1 || (nd >= 2 && rhs.shape() == &self.shape()[..nd - 1]);
        if vector {
            return self.solve(&rhs.unsqueeze(-1)?)?.squeeze(Some(-1));
        }
        let a = batch("solve", self, true)?;
        if rhs.ndim() < 2 || rhs.shape()[rhs.ndim() - 2] != a.n {
            return Err(Error::ShapeMismatch {
                op: "solve",
                expected: vec![a.n, rhs.shape().last().copied().unwrap_or(1)],
                got: rhs.shape().to_vec(),
            });
        }
        let k = rhs.shape()[rhs.ndim() - 1];
        let batch_shape = broadcast_shapes("solve", &a.batch, &rhs.shape()[..rhs.ndim() - 2])?;
        let full = |t: &Self, r: usize, c: usize| {
            let mut s = batch_shape.to_vec();
            s.extend([r, c]);
            t.broadcast_to(&s)
        };
        let (a_full, b_full) = (full(self, a.n, a.n)?, full(rhs, a.n, k)?);
        let (am, bm) = (
            batch("solve", &a_full, true)?,
            batch("solve", &b_full, false)?,
        );
        let pairs: Vec<_> = am.mats.iter().zip(&bm.mats).collect();
        let x: Option<Vec<DMatrix<f64>>> = pairs
            .par_iter()
            .map(|(a, b)| (*a).clone().lu().solve(*b))
            .collect();
        let x = x.ok_or_else(|| singular("solve", self, "singular"))?;
        Ok(stack_mats(&batch_shape, a.n, k, &x))
    }

    /// The determinant of each square matrix `[..., n, n]` → `[...]` (`torch.linalg.det`);
    /// 0 for a singular matrix.
    ///
    /// # Errors
    /// [`Error::Rank`] for a non-square input.
    pub fn det(&self) -> Result<Self> {
        let b = batch("det", self, true)?;
        let d: Vec<Vec<f64>> = b.mats.par_iter().map(|a| vec![a.determinant()]).collect();
        Ok(stack_vecs(&b.batch, None, &d))
    }

    /// `(sign, ln|det|)` of each square matrix, each `[...]` (`torch.linalg.slogdet`): the
    /// log-determinant without overflow; `(0, -inf)` for a singular matrix, as PyTorch.
    ///
    /// # Errors
    /// [`Error::Rank`] for a non-square input.
    pub fn slogdet(&self) -> Result<(Self, Self)> {
        let b = batch("slogdet", self, true)?;
        let sl: Vec<(f64, f64)> = b
            .mats
            .par_iter()
            .map(|a| {
                let lu = a.clone().lu();
                let u = lu.u();
                let mut sign = lu.p().determinant::<f64>();
                let mut log = 0.0;
                for i in 0..b.n {
                    let d = u[(i, i)];
                    sign *= d.signum();
                    log += d.abs().ln();
                    if d == 0.0 {
                        sign = 0.0;
                    }
                }
                (sign, log)
            })
            .collect();
        let signs: Vec<_> = sl.iter().map(|p| vec![p.0]).collect();
        let logs: Vec<_> = sl.iter().map(|p| vec![p.1]).collect();
        Ok((
            stack_vecs(&b.batch, None, &signs),
            stack_vecs(&b.batch, None, &logs),
        ))
    }

    /// The lower Cholesky factor `L` (`A = L·Lᵀ`) of each symmetric positive-definite
    /// matrix, reading only the lower triangle (`torch.linalg.cholesky`).
    ///
    /// # Errors
    /// [`Error::Rank`] for a non-square input; [`Error::Singular`] if a matrix
    /// is not positive-definite.
    pub fn cholesky(&self) -> Result<Self> {
        let b = batch("cholesky", self, true)?;
        let l = each(&b.mats, |a| a.clone().cholesky().map(|c| c.l()))
            .ok_or_else(|| singular("cholesky", self, "not positive-definite"))?;
        Ok(stack_mats(&b.batch, b.n, b.n, &l))
    }

    /// The reduced QR factorization `A = Q·R` of each `[..., m, n]` matrix: `Q` is
    /// `[..., m, k]` with orthonormal columns, `R` is `[..., k, n]` upper-triangular,
    /// `k = min(m, n)` (`torch.linalg.qr`, mode `'reduced'`). `R`'s diagonal is
    /// non-negative, which makes the factorization of a full-rank matrix unique; PyTorch
    /// (LAPACK) leaves some of those signs negative, returning `Q·D, D·R` for a diagonal
    /// `D` of ±1.
    ///
    /// # Errors
    /// [`Error::Rank`] for fewer than 2 axes.
    pub fn qr(&self) -> Result<(Self, Self)> {
        let b = batch("qr", self, false)?;
        let k = b.m.min(b.n);
        let qr: Vec<(DMatrix<f64>, DMatrix<f64>)> = b
            .mats
            .par_iter()
            .map(|a| {
                let f = a.clone().qr();
                (f.q(), f.r())
            })
            .collect();
        let (q, r): (Vec<_>, Vec<_>) = qr.into_iter().unzip();
        Ok((
            stack_mats(&b.batch, b.m, k, &q),
            stack_mats(&b.batch, k, b.n, &r),
        ))
    }

    /// Eigenvalues (ascending, `[..., n]`) and eigenvectors (the columns of `[..., n, n]`) of
    /// each symmetric matrix, reading only the lower triangle (`torch.linalg.eigh`). Each
    /// eigenvector's sign is arbitrary (as in PyTorch, whose signs may differ). A matrix
    /// with a NaN or infinite entry gives NaN values and vectors (PyTorch's LAPACK may
    /// raise instead).
    ///
    /// # Errors
    /// [`Error::Rank`] for a non-square input.
    pub fn eigh(&self) -> Result<(Self, Self)> {
        let b = batch("eigh", self, true)?;
        let n = b.n;
        let ev: Vec<(Vec<f64>, DMatrix<f64>)> = b
            .mats
            .par_iter()
            .map(|a| {
                if !finite(a) {
                    return (vec![f64::NAN; n], DMatrix::from_element(n, n, f64::NAN));
                }
                let e = a.clone().symmetric_eigen();
                let mut order: Vec<usize> = (0..n).collect();
                order.sort_by(|&i, &j| e.eigenvalues[i].total_cmp(&e.eigenvalues[j]));
                let values = order.iter().map(|&i| e.eigenvalues[i]).collect();
                let vectors = DMatrix::from_fn(n, n, |r, c| e.eigenvectors[(r, order[c])]);
                (values, vectors)
            })
            .collect();
        let (values, vectors): (Vec<_>, Vec<_>) = ev.into_iter().unzip();
        Ok((
            stack_vecs(&b.batch, Some(n), &values),
            stack_mats(&b.batch, n, n, &vectors),
        ))
    }

    /// The reduced SVD `A = U·diag(S)·Vh` of each `[..., m, n]` matrix: `U` `[..., m, k]`,
    /// `S` `[..., k]` descending, `Vh` `[..., k, n]`, `k = min(m, n)`
    /// (`torch.linalg.svd(full_matrices=False)`). Singular vectors are unique only up to
    /// sign (a pair `uᵢ, vᵢ` flips together), so they may differ from PyTorch's by sign. A
    /// matrix with a NaN or infinite entry gives NaN factors.
    ///
    /// # Errors
    /// [`Error::Rank`] for fewer than 2 axes.
    pub fn svd(&self) -> Result<(Self, Self, Self)> {
        let b = batch("svd", self, false)?;
        let k = b.m.min(b.n);
        let usv: Vec<(DMatrix<f64>, Vec<f64>, DMatrix<f64>)> = b
            .mats
            .par_iter()
            .map(|a| {
                if k == 0 {
                    return (DMatrix::zeros(b.m, 0), vec![], DMatrix::zeros(0, b.n));
                }
                if !finite(a) {
                    let nan = f64::NAN;
                    return (
                        DMatrix::from_element(b.m, k, nan),
                        vec![nan; k],
                        DMatrix::from_element(k, b.n, nan),
                    );
                }
                let s = a.clone().svd(true, true);
                let (u, vt) = (
                    s.u.unwrap_or_else(|| DMatrix::zeros(b.m, k)),
                    s.v_t.unwrap_or_else(|| DMatrix::zeros(k, b.n)),
                );
                (u, s.singular_values.iter().copied().collect(), vt)
            })
            .collect();
        let mut us = Vec::with_capacity(usv.len());
        let mut ss = Vec::with_capacity(usv.len());
        let mut vts = Vec::with_capacity(usv.len());
        for (u, s, vt) in usv {
            us.push(u);
            ss.push(s);
            vts.push(vt);
        }
        Ok((
            stack_mats(&b.batch, b.m, k, &us),
            stack_vecs(&b.batch, Some(k), &ss),
            stack_mats(&b.batch, k, b.n, &vts),
        ))
    }
}
