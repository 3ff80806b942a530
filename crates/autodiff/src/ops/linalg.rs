//! Linear algebra on the last two axes, batched over the leading ones, with PyTorch's
//! gradients (`torch/csrc/autograd/FunctionsManual.cpp`), each written in `Var` ops so it
//! differentiates again. Ops with several outputs (`qr`, `eigh`, `svd`) record one node whose
//! value packs the outputs side by side along a last axis, and return views of it: each
//! output is differentiable, and the rule sees all their gradients at once.

use crate::error::Result;
use crate::tape::{Ctx, Var};
use descent_tensor::{Error as TensorError, Float, Tensor};

/// Which matrix norm [`Var::matrix_norm`] computes (`ord` of `torch.linalg.matrix_norm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatrixNorm {
    /// Frobenius: `√Σ aᵢⱼ²` (`'fro'`).
    Fro,
    /// Nuclear: the sum of the singular values (`'nuc'`).
    Nuc,
    /// The largest singular value (`2`).
    Two,
    /// The smallest singular value (`-2`).
    NegTwo,
    /// The largest column sum of `|aᵢⱼ|` (`1`).
    One,
    /// The smallest column sum of `|aᵢⱼ|` (`-1`).
    NegOne,
    /// The largest row sum of `|aᵢⱼ|` (`inf`).
    Inf,
    /// The smallest row sum of `|aᵢⱼ|` (`-inf`).
    NegInf,
}

impl<'t, F: Float> Var<'t, F> {
    /// The transpose of the last two axes (PyTorch's `mT`).
    fn mt(self) -> Result<Self> {
        self.transpose(-2, -1)
    }

    /// The inverse of each square matrix (`torch.linalg.inv`). Backward: `−A⁻ᵀ·g·A⁻ᵀ`.
    ///
    /// # Errors
    /// [`TensorError::Singular`] for a singular matrix (as PyTorch raises); shape errors.
    pub fn inverse(self) -> Result<Self> {
        let value = self.with_value(|a| a.inverse())??;
        self.unary_op("inverse", value, |c| {
            let inv_t = c.out.mt()?;
            Ok(vec![c.need(0, || inv_t.matmul(c.g)?.matmul(inv_t)?.neg())?])
        })
    }

    /// `X` with `A·X = B` (`torch.linalg.solve(A, B)`), `B` a batch of matrices `[..., n, k]`
    /// or of vectors `[..., n]` (as [`Tensor::solve`] decides); batch axes broadcast.
    /// Backward: `∂B = A⁻ᵀ·g` (one more solve), `∂A = −∂B·Xᵀ`.
    ///
    /// # Errors
    /// [`TensorError::Singular`] for a singular `A`; shape errors.
    pub fn solve(self, rhs: Var<'t, F>) -> Result<Self> {
        let (a_shape, b_shape) = (self.shape(), rhs.shape());
        let nd = a_shape.len();
        if b_shape.len() == 1 || (nd >= 2 && b_shape[..] == a_shape[..nd - 1]) {
            return self.solve(rhs.unsqueeze(-1)?)?.squeeze(Some(-1));
        }
        let value = self.with_values(rhs, |a, b| a.solve(b))??;
        self.tape.record("solve", value, &[self, rhs], move |c| {
            let gb = c.x(0).mt()?.solve(c.g)?;
            let da = c.need(0, || gb.matmul(c.out.mt()?)?.neg()?.sum_to(&a_shape))?;
            let db = c.need(1, || gb.sum_to(&b_shape))?;
            Ok(vec![da, db])
        })
    }

    /// The determinant of each square matrix, `[..., n, n] → [...]` (`torch.linalg.det`).
    /// Backward: `g·det(A)·A⁻ᵀ`. At a singular matrix, where PyTorch falls back to an SVD,
    /// the backward returns [`TensorError::Singular`] instead.
    ///
    /// # Errors
    /// Shape errors.
    pub fn det(self) -> Result<Self> {
        let value = self.with_value(|a| a.det())??;
        self.unary_op("det", value, |c| {
            c.need(0, || {
                let s = c.g.mul(c.out)?.unsqueeze(-1)?.unsqueeze(-1)?;
                s.mul(c.x(0).inverse()?.mt()?)
            })
            .map(|g| vec![g])
        })
    }

    /// `(sign, ln|det|)` of each square matrix (`torch.linalg.slogdet`); the sign is a
    /// constant tensor. Backward of `ln|det A|`: `g·A⁻ᵀ` (singular `A`: as [`Var::det`]).
    ///
    /// # Errors
    /// Shape errors.
    pub fn slogdet(self) -> Result<(Tensor<F>, Self)> {
        let (sign, logabs) = self.with_value(|a| a.slogdet())??;
        let logabs = self.unary_op("slogdet", logabs, |c| {
            c.need(0, || {
                let g = c.g.unsqueeze(-1)?.unsqueeze(-1)?;
                g.mul(c.x(0).inverse()?.mt()?)
            })
            .map(|g| vec![g])
        })?;
        Ok((sign, logabs))
    }

    /// The lower Cholesky factor `L` of each symmetric positive-definite matrix, reading the
    /// lower triangle (`torch.linalg.cholesky`). Backward as PyTorch's: with
    /// `Φ(X) = tril(X)` with its diagonal halved, `S = L⁻ᵀ·Φ(Lᵀ·tril(g))·L⁻¹`, the gradient
    /// is the symmetric `(S + Sᵀ)/2`.
    ///
    /// # Errors
    /// [`TensorError::Singular`] for a matrix that is not positive-definite; shape errors.
    pub fn cholesky(self) -> Result<Self> {
        let value = self.with_value(|a| a.cholesky())??;
        let n = value.shape().last().copied().unwrap_or(0);
        self.unary_op("cholesky", value, move |c| {
            c.need(0, || {
                let l = c.out;
                let tril = c.g.constant(tril_mask(n, F::one())?);
                let phi = c.g.constant(tril_mask(n, F::of(0.5))?);
                let p = l.mt()?.matmul(c.g.mul(tril)?)?.mul(phi)?;
                let l_inv = l.inverse()?;
                let s = l_inv.mt()?.matmul(p)?.matmul(l_inv)?;
                s.add(s.mt()?)?.mul_scalar(F::of(0.5))
            })
            .map(|g| vec![g])
        })
    }

    /// The reduced QR factorization `(Q, R)` (`torch.linalg.qr`, see [`Tensor::qr`]).
    /// Backward for `m ≥ n`: with `M = R·gRᵀ − gQᵀ·Q`, `∂A = (gQ + Q·copyltu(M))·R⁻ᵀ`, where
    /// `copyltu` mirrors the lower triangle onto the upper; it needs `R` invertible.
    ///
    /// # Errors
    /// Shape errors; in backward, [`TensorError::InvalidArgument`] for a wide matrix
    /// (`m < n`, which PyTorch differentiates and this does not yet) and
    /// [`TensorError::Singular`] for a rank-deficient one.
    pub fn qr(self) -> Result<(Self, Self)> {
        let (q, r) = self.with_value(|a| a.qr())??;
        let shape = self.shape();
        let nd = shape.len();
        let (m, n) = (shape[nd - 2], shape[nd - 1]);
        let parts = self.multi("qr", vec![q, r], move |c, [gq, gr], [q, r]| {
            if m < n {
                return Err(TensorError::InvalidArgument {
                    op: "qr backward",
                    arg: "shape",
                    value: format!("{shape:?}"),
                    why: "the QR gradient is implemented for m >= n only",
                }
                .into());
            }
            let k = n;
            let mm = r.matmul(gr.mt()?)?.sub(gq.mt()?.matmul(q)?)?;
            let lower = mm.mul(c.g.constant(tril_mask(k, F::one())?))?;
            let strict = mm.mul(c.g.constant(tril_mask(k, F::zero())?))?;
            let copyltu = lower.add(strict.mt()?)?;
            let b = gq.add(q.matmul(copyltu)?)?;
            // B·R⁻ᵀ = (R⁻¹·Bᵀ)ᵀ.
            r.solve(b.mt()?)?.mt()
        })?;
        Ok((parts[0], parts[1]))
    }

    /// Eigenvalues (ascending) and eigenvectors (columns) of each symmetric matrix, reading
    /// the lower triangle (`torch.linalg.eigh`). Backward as PyTorch's:
    /// `∂A = V·(diag(gλ) + ½(Vᵀ·gV − gVᵀ·V) ⊘ E)·Vᵀ` with `Eᵢⱼ = λⱼ − λᵢ`. The eigenvector
    /// gradient is undefined at repeated eigenvalues (`Eᵢⱼ = 0`): there it is inf or NaN, as
    /// PyTorch's; a loss that depends on the eigenvectors only through their span, and on
    /// eigenvalues alone, is well defined. Eigenvector signs are arbitrary (see
    /// [`Tensor::eigh`]).
    ///
    /// # Errors
    /// Shape errors.
    pub fn eigh(self) -> Result<(Self, Self)> {
        let (l, v) = self.with_value(|a| a.eigh())??;
        let n = l.shape().last().copied().unwrap_or(0);
        let parts = self.multi("eigh", vec![l, v], move |c, [gl, gv], [l, v]| {
            let vt = v.mt()?;
            let vtgv = vt.matmul(gv)?;
            let skew = vtgv.sub(vtgv.mt()?)?.mul_scalar(F::of(0.5))?;
            let eye = c.g.constant(Tensor::eye(n));
            // E with ones on the diagonal, where `skew` is 0: 0/1 instead of 0/0.
            let e = l.unsqueeze(-2)?.sub(l.unsqueeze(-1)?)?.add(eye)?;
            let inner = skew.div(e)?.add(gl.unsqueeze(-2)?.mul(eye)?)?;
            v.matmul(inner)?.matmul(vt)
        })?;
        Ok((parts[0], parts[1]))
    }

    /// The reduced SVD `(U, S, Vh)` (`torch.linalg.svd(full_matrices=False)`, see
    /// [`Tensor::svd`]). Backward as PyTorch's `svd_backward`: with `Eᵢⱼ = sⱼ² − sᵢ²` and
    /// `skew(X) = X − Xᵀ`, the core `(skew(UᵀgU) ⊘ E)·S + S·(skew(VᵀgV) ⊘ E) + diag(gS)` is
    /// mapped back by `U·…·Vh`, plus the terms that leave the column spaces for non-square
    /// inputs. Undefined (inf or NaN, as in PyTorch) where singular values repeat or, for
    /// non-square inputs, vanish, unless the loss depends on `S` alone: use
    /// [`Var::svdvals`] then.
    ///
    /// # Errors
    /// Shape errors.
    pub fn svd(self) -> Result<(Self, Self, Self)> {
        let (u, s, vh) = self.with_value(|a| a.svd())??;
        let shape = self.shape();
        let nd = shape.len();
        let (m, n) = (shape[nd - 2], shape[nd - 1]);
        let k = m.min(n);
        let parts = self.multi(
            "svd",
            vec![u, s, vh],
            move |c, [gu, gs, gvh], [u, s, vh]| {
                let eye = c.g.constant(Tensor::eye(k));
                let (v, gv) = (vh.mt()?, gvh.mt()?);
                let s2 = s.square()?;
                let e = s2.unsqueeze(-2)?.sub(s2.unsqueeze(-1)?)?.add(eye)?;
                let su = skew(u.mt()?.matmul(gu)?)?.div(e)?.mul(s.unsqueeze(-2)?)?;
                let sv = s.unsqueeze(-1)?.mul(skew(v.mt()?.matmul(gv)?)?.div(e)?)?;
                let core = su.add(sv)?.add(gs.unsqueeze(-2)?.mul(eye)?)?;
                if m > n {
                    let gu_sinv = gu.div(s.unsqueeze(-2)?)?;
                    let proj = gu_sinv.sub(u.matmul(u.mt()?.matmul(gu_sinv)?)?)?;
                    u.matmul(core)?.add(proj)?.matmul(vh)
                } else if m < n {
                    let sinv_gvh = gvh.div(s.unsqueeze(-1)?)?;
                    let proj = sinv_gvh.sub(sinv_gvh.matmul(v)?.matmul(vh)?)?;
                    u.matmul(core.matmul(vh)?.add(proj)?)
                } else {
                    u.matmul(core)?.matmul(vh)
                }
            },
        )?;
        Ok((parts[0], parts[1], parts[2]))
    }

    /// The singular values, descending (`torch.linalg.svdvals`). Backward: `U·diag(g)·Vh`,
    /// defined wherever the SVD is (also at repeated singular values); its own derivative
    /// goes through [`Var::svd`].
    ///
    /// # Errors
    /// Shape errors.
    pub fn svdvals(self) -> Result<Self> {
        let (_, s, _) = self.with_value(|a| a.svd())??;
        self.unary_op("svdvals", s, |c| {
            c.need(0, || {
                let (u, _, vh) = c.x(0).svd()?;
                u.mul(c.g.unsqueeze(-2)?)?.matmul(vh)
            })
            .map(|g| vec![g])
        })
    }

    /// A matrix norm over the last two axes (`torch.linalg.matrix_norm`), composed of
    /// differentiable ops: the Frobenius norm as [`Var::norm`], the nuclear and spectral
    /// norms from [`Var::svdvals`], the 1 and ∞ norms as max/min of absolute column/row sums.
    ///
    /// # Errors
    /// [`TensorError::Rank`] for fewer than 2 axes.
    pub fn matrix_norm(self, ord: MatrixNorm, keepdim: bool) -> Result<Self> {
        if self.shape().len() < 2 {
            return Err(TensorError::Rank {
                op: "matrix_norm",
                expected: "at least 2 dims",
                shape: self.shape(),
            }
            .into());
        }
        let keep = |x: Var<'t, F>| {
            if keepdim {
                x.unsqueeze(-1)?.unsqueeze(-1)
            } else {
                Ok(x)
            }
        };
        let rows = if keepdim { -2 } else { -1 };
        match ord {
            MatrixNorm::Fro => self.norm(2.0, &[-2, -1], keepdim),
            MatrixNorm::Nuc => keep(self.svdvals()?.sum(&[-1], false)?),
            MatrixNorm::Two => keep(self.svdvals()?.max(&[-1], false)?),
            MatrixNorm::NegTwo => keep(self.svdvals()?.min(&[-1], false)?),
            MatrixNorm::One => self.abs()?.sum(&[-2], keepdim)?.max(&[-1], keepdim),
            MatrixNorm::NegOne => self.abs()?.sum(&[-2], keepdim)?.min(&[-1], keepdim),
            // Row sums: the rows' axis is -1 once the columns' is summed away.
            MatrixNorm::Inf => self.abs()?.sum(&[-1], keepdim)?.max(&[rows], keepdim),
            MatrixNorm::NegInf => self.abs()?.sum(&[-1], keepdim)?.min(&[rows], keepdim),
        }
    }

    /// A vector norm over `dims` (`torch.linalg.vector_norm`): `ord > 0` as [`Var::norm`]
    /// (`∞` the largest magnitude), `−∞` the smallest magnitude, `0` the number of non-zero
    /// elements (a constant, as PyTorch's gradient there is 0).
    ///
    /// # Errors
    /// [`TensorError::InvalidArgument`] for a negative finite or NaN `ord`; axis errors.
    pub fn vector_norm(self, ord: f64, dims: &[isize], keepdim: bool) -> Result<Self> {
        if ord == f64::NEG_INFINITY {
            self.abs()?.min(dims, keepdim)
        } else if ord == 0.0 {
            let nonzero = self.with_value(|x| x.ne(&Tensor::scalar(F::zero())))??;
            Ok(self.constant(nonzero.sum(dims, keepdim)?))
        } else {
            self.norm(ord, dims, keepdim)
        }
    }

    /// Records an op with `N` outputs sharing `self`'s batch axes: one node whose value is
    /// the outputs, each flattened past the batch axes, concatenated along a last axis.
    /// `rule(c, gradients, outputs)` sees each output's gradient and value in its own shape
    /// and returns the input's gradient.
    fn multi<const N: usize>(
        self,
        label: &'static str,
        outs: Vec<Tensor<F>>,
        rule: impl for<'a> Fn(&Ctx<'a, F>, [Var<'a, F>; N], [Var<'a, F>; N]) -> Result<Var<'a, F>>
            + 'static,
    ) -> Result<[Self; N]> {
        let nb = self.shape().len() - 2;
        let batch: Vec<usize> = self.shape()[..nb].to_vec();
        let tails: Vec<Vec<usize>> = outs.iter().map(|t| t.shape()[nb..].to_vec()).collect();
        let flat = outs
            .iter()
            .zip(&tails)
            .map(|(t, tail)| {
                let mut s: Vec<isize> = batch.iter().map(|&b| b as isize).collect();
                s.push(tail.iter().product::<usize>() as isize);
                t.reshape(&s)
            })
            .collect::<descent_tensor::Result<Vec<_>>>()?;
        let packed = Tensor::concat(&flat.iter().collect::<Vec<_>>(), -1)?;
        let (batch2, tails2) = (batch.clone(), tails.clone());
        let node = self.unary_op(label, packed, move |c| {
            c.need(0, || {
                let gs = split_packed(c.g, &batch, &tails)?;
                let os = split_packed(c.out, &batch, &tails)?;
                rule(
                    c,
                    std::array::from_fn(|i| gs[i]),
                    std::array::from_fn(|i| os[i]),
                )
            })
            .map(|g| vec![g])
        })?;
        let parts = split_packed(node, &batch2, &tails2)?;
        Ok(std::array::from_fn(|i| parts[i]))
    }
}

/// The outputs packed by [`Var::multi`], as views in their own shapes.
fn split_packed<'a, F: Float>(
    p: Var<'a, F>,
    batch: &[usize],
    tails: &[Vec<usize>],
) -> Result<Vec<Var<'a, F>>> {
    let mut off = 0;
    tails
        .iter()
        .map(|tail| {
            let len = tail.iter().product::<usize>();
            let shape: Vec<isize> = batch.iter().chain(tail).map(|&d| d as isize).collect();
            let part = p.narrow(-1, off, len)?.reshape(&shape);
            off += len;
            part
        })
        .collect()
}

/// `X − Xᵀ` over the last two axes.
fn skew<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    x.sub(x.mt()?)
}

/// `[n, n]` with ones strictly below the diagonal and `diag` on it.
fn tril_mask<F: Float>(n: usize, diag: F) -> descent_tensor::Result<Tensor<F>> {
    let v = (0..n * n)
        .map(|k| match (k / n).cmp(&(k % n)) {
            std::cmp::Ordering::Greater => F::one(),
            std::cmp::Ordering::Equal => diag,
            std::cmp::Ordering::Less => F::zero(),
        })
        .collect();
    Tensor::from_vec(v, &[n, n])
}
