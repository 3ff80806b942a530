//! Reductions and scans beyond `reduce.rs`: `prod` and `std` (PyTorch's gradients at zeros),
//! `cumsum`, `cumprod`, `logcumsumexp`, and the ops that select elements by order (`sort`,
//! `topk`, `kthvalue`, `median`, `max_dim`, `min_dim`). The selecting ops compute positions
//! on the tensor and `gather` the values, so their gradient is `gather`'s: the upstream
//! gradient scattered back to the chosen positions, as PyTorch's.

use super::{keepdim_shape, signed};
use crate::error::Result;
use crate::tape::Var;
use descent_tensor::{layout::normalize_dim, Float, Tensor};

/// Values and their positions along the axis (row-major in the values' shape).
type Indexed<'t, F> = (Var<'t, F>, Vec<usize>);

impl<'t, F: Float> Var<'t, F> {
    /// `Π x` over `dims`. The gradient is `g·y/x` where no factor is 0, as PyTorch's; with
    /// one zero in a product, the product of the others at the zero and 0 elsewhere; with
    /// several, 0.
    pub fn prod(self, dims: &[isize], keepdim: bool) -> Result<Self> {
        let value = self.with_value(|x| x.prod(dims, keepdim))??;
        let dims = dims.to_vec();
        self.unary_op("prod", value, move |c| {
            let (x, xv) = (c.x(0), c.x(0).value()?);
            let keep = signed(&keepdim_shape("prod", xv.shape(), &dims)?);
            let (g, y) = (c.g.reshape(&keep)?, c.out.reshape(&keep)?);
            let zero = Tensor::scalar(F::zero());
            let is_zero = xv.eq(&zero)?;
            let zeros = is_zero.sum(&dims, true)?;
            if zeros.sum_all() == F::zero() {
                return Ok(vec![Some(g.mul(y.div(x)?)?)]);
            }
            let one = Tensor::scalar(F::one());
            let x_safe = Var::where_cond(&is_zero, c.g.constant(one.clone()), x)?;
            let none = zeros.eq(&zero)?;
            let lone = is_zero.mul(&zeros.eq(&one)?)?;
            let at_lone = g.mul(x_safe.prod(&dims, true)?)?;
            let elsewhere = Var::where_cond(&lone, at_lone, c.g.constant(zero))?;
            Ok(vec![Some(Var::where_cond(
                &none,
                g.mul(y.div(x_safe)?)?,
                elsewhere,
            )?)])
        })
    }

    /// Standard deviation over `dims` with `correction` (1 = Bessel's): `√var`. Where it
    /// is 0 the gradient is 0, as PyTorch's (not `g/0`).
    pub fn std(self, dims: &[isize], correction: usize, keepdim: bool) -> Result<Self> {
        let var = self.var(dims, correction, keepdim)?;
        var.unary_op("std", var.with_value(|v| v.sqrt())?, |c| {
            let zero = c.out.value()?.eq(&Tensor::scalar(F::zero()))?;
            let grad = c.g.div(c.out.mul_scalar(F::of(2.0))?)?;
            Ok(vec![Some(Var::where_cond(
                &zero,
                c.g.constant(Tensor::scalar(F::zero())),
                grad,
            )?)])
        })
    }

    /// Running sum along `dim`; its gradient is the running sum of `g` from the end.
    pub fn cumsum(self, dim: isize) -> Result<Self> {
        self.cumsum_from(dim, false)
    }

    /// [`Var::cumsum`] from the start, or from the end (its adjoint) if `reverse`.
    fn cumsum_from(self, dim: isize, reverse: bool) -> Result<Self> {
        let value = self.with_value(|x| {
            if reverse {
                x.cumsum_reverse(dim)
            } else {
                x.cumsum(dim)
            }
        })??;
        self.unary_op("cumsum", value, move |c| {
            Ok(vec![Some(c.g.cumsum_from(dim, !reverse)?)])
        })
    }

    /// Running product along `dim`. The gradient is PyTorch's: `Σ_{j≥i} g_j y_j / x_i`
    /// before a line's first zero; at it, the same sum with that factor taken as 1; after
    /// it, 0.
    pub fn cumprod(self, dim: isize) -> Result<Self> {
        let value = self.with_value(|x| x.cumprod(dim))??;
        self.unary_op("cumprod", value, move |c| {
            let (x, xv) = (c.x(0), c.x(0).value()?);
            let through = |y| -> Result<_> { c.g.mul(y)?.cumsum_from(dim, true) };
            let zero = Tensor::scalar(F::zero());
            let is_zero = xv.eq(&zero)?;
            if is_zero.sum_all() == F::zero() {
                return Ok(vec![Some(through(c.out)?.div(x)?)]);
            }
            let seen = is_zero.cumsum(dim)?;
            let before = seen.eq(&zero)?;
            let first = is_zero.mul(&seen.eq(&Tensor::scalar(F::one()))?)?;
            let one = c.g.constant(Tensor::scalar(F::one()));
            let x_safe = Var::where_cond(&is_zero, one, x)?;
            let x_first = Var::where_cond(&first, one, x)?;
            let at_first = through(x_first.cumprod(dim)?)?;
            let elsewhere = Var::where_cond(&first, at_first, c.g.constant(zero))?;
            let grad = Var::where_cond(&before, through(c.out)?.div(x_safe)?, elsewhere)?;
            Ok(vec![Some(grad)])
        })
    }

    /// `y_i = ln Σ_{j≤i} e^{x_j}` along `dim`. The gradient is PyTorch's, computed in log
    /// space with the positive and negative parts of `g` apart, so it never overflows.
    pub fn logcumsumexp(self, dim: isize) -> Result<Self> {
        self.logcumsumexp_from(dim, false)
    }

    /// [`Var::logcumsumexp`] from the start, or from the end if `reverse`.
    fn logcumsumexp_from(self, dim: isize, reverse: bool) -> Result<Self> {
        let value = self.with_value(|x| {
            if reverse {
                x.logcumsumexp_reverse(dim)
            } else {
                x.logcumsumexp(dim)
            }
        })??;
        self.unary_op("logcumsumexp", value, move |c| {
            let gv = c.g.value()?;
            let log_abs = c.g.abs()?.ln()?;
            let lowest = c.g.constant(Tensor::scalar(F::min_value()));
            let part = |mask: Tensor<F>| -> Result<Var<'_, F>> {
                Var::where_cond(&mask, log_abs, lowest)?
                    .sub(c.out)?
                    .logcumsumexp_from(dim, !reverse)?
                    .add(c.x(0))?
                    .exp()
            };
            let grad = part(gv.gt_scalar(F::zero()))?.sub(part(gv.lt_scalar(F::zero()))?)?;
            Ok(vec![Some(grad)])
        })
    }

    /// The elements along `dim` in ascending (or `descending`) order with their positions
    /// (see [`Tensor::sort`]: NaN largest; `stable` keeps ties in order).
    pub fn sort(self, dim: isize, descending: bool, stable: bool) -> Result<Indexed<'t, F>> {
        let (v, index) = self.with_value(|x| x.sort(dim, descending, stable))??;
        Ok((self.gather(dim, &index, v.shape())?, index))
    }

    /// The `k` largest (or smallest) elements along `dim`, sorted, with their positions
    /// (see [`Tensor::topk`]).
    pub fn topk(self, k: usize, dim: isize, largest: bool) -> Result<Indexed<'t, F>> {
        let (v, index) = self.with_value(|x| x.topk(k, dim, largest))??;
        Ok((self.gather(dim, &index, v.shape())?, index))
    }

    /// The `k`-th smallest element along `dim` (`k` from 1) and its position (see
    /// [`Tensor::kthvalue`]).
    pub fn kthvalue(self, k: usize, dim: isize, keepdim: bool) -> Result<Indexed<'t, F>> {
        let (_, index) = self.with_value(|x| x.kthvalue(k, dim, true))??;
        self.pick(dim, index, keepdim)
    }

    /// The median along `dim` (the lower middle for an even count, NaN if there is one) and
    /// its position (see [`Tensor::median`]).
    pub fn median(self, dim: isize, keepdim: bool) -> Result<Indexed<'t, F>> {
        let (_, index) = self.with_value(|x| x.median(dim, true))??;
        self.pick(dim, index, keepdim)
    }

    /// The maximum along `dim` and its position (`torch.max(x, dim)`); the gradient goes
    /// to that one position (unlike [`Var::max`], which splits it among ties).
    pub fn max_dim(self, dim: isize, keepdim: bool) -> Result<Indexed<'t, F>> {
        let (_, index) = self.with_value(|x| x.max_dim(dim, true))??;
        self.pick(dim, index, keepdim)
    }

    /// The minimum along `dim` and its position (`torch.min(x, dim)`); the gradient goes
    /// to that one position.
    pub fn min_dim(self, dim: isize, keepdim: bool) -> Result<Indexed<'t, F>> {
        let (_, index) = self.with_value(|x| x.min_dim(dim, true))??;
        self.pick(dim, index, keepdim)
    }

    /// The elements at `index` (one per line along `dim`), the axis kept or dropped.
    fn pick(self, dim: isize, index: Vec<usize>, keepdim: bool) -> Result<Indexed<'t, F>> {
        let mut shape = self.shape();
        let d = normalize_dim("pick", dim, &shape)?;
        shape[d] = 1;
        let v = self.gather(dim, &index, &shape)?;
        if keepdim {
            return Ok((v, index));
        }
        shape.remove(d);
        Ok((v.reshape(&signed(&shape))?, index))
    }
}
