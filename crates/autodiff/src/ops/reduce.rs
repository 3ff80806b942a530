//! Reductions over an axis list (empty = all axes) with `keepdim`. Backward rules reshape
//! the upstream gradient to the kept shape and broadcast it back over the reduced axes.

use super::{keepdim_shape, signed};
use crate::error::Result;
use crate::tape::{Ctx, Var};
use descent_tensor::{Float, Tensor};

/// The upstream gradient with the reduced axes restored as length-1 axes.
fn kept<'a, F: Float>(c: &Ctx<'a, F>, op: &'static str, dims: &[isize]) -> Result<Var<'a, F>> {
    c.g.reshape(&signed(&keepdim_shape(op, &c.x(0).shape(), dims)?))
}

impl<'t, F: Float> Var<'t, F> {
    /// Sum over `dims`.
    pub fn sum(self, dims: &[isize], keepdim: bool) -> Result<Self> {
        let dims = dims.to_vec();
        self.unary_op(
            "sum",
            self.with_value(|x| x.sum(&dims, keepdim))??,
            move |c| {
                Ok(vec![Some(
                    kept(c, "sum", &dims)?.broadcast_to(&c.x(0).shape())?,
                )])
            },
        )
    }

    /// The sum of every element, a 0-d scalar: `sum(&[], false)`, the usual last step of a
    /// loss.
    pub fn sum_all(self) -> Result<Self> {
        self.sum(&[], false)
    }

    /// Mean over `dims`.
    pub fn mean(self, dims: &[isize], keepdim: bool) -> Result<Self> {
        let n = reduced_count("mean", &self.shape(), dims)?;
        self.sum(dims, keepdim)?.div_scalar(F::of_usize(n))
    }

    /// Maximum over `dims`; tied maxima share the gradient equally, as PyTorch's `amax`
    /// (not `max(dim)`, which gives it all to one index); a NaN maximum has NaN gradients.
    pub fn max(self, dims: &[isize], keepdim: bool) -> Result<Self> {
        self.extremum("max", dims, keepdim)
    }

    /// Minimum over `dims`; tied minima share the gradient equally, as PyTorch's `amin`; a
    /// NaN minimum has NaN gradients.
    pub fn min(self, dims: &[isize], keepdim: bool) -> Result<Self> {
        self.extremum("min", dims, keepdim)
    }

    fn extremum(self, op: &'static str, dims: &[isize], keepdim: bool) -> Result<Self> {
        let x = self.value()?;
        let value = if op == "max" {
            x.max(dims, keepdim)?
        } else {
            x.min(dims, keepdim)?
        };
        let dims = dims.to_vec();
        self.unary_op(op, value, move |c| {
            let x = c.x(0).value()?;
            let keep = signed(&keepdim_shape(op, x.shape(), &dims)?);
            let hits = x.eq(&c.out.value()?.reshape(&keep)?)?;
            let share = hits.div(&hits.sum(&dims, true)?)?;
            Ok(vec![Some(kept(c, op, &dims)?.mul(c.g.constant(share))?)])
        })
    }

    /// Variance over `dims` with `correction` (0: biased, 1: Bessel's), as a composite of
    /// differentiable ops.
    pub fn var(self, dims: &[isize], correction: usize, keepdim: bool) -> Result<Self> {
        let n = reduced_count("var", &self.shape(), dims)?;
        let centered = self.sub(self.mean(dims, true)?)?;
        let dof = F::of_usize(n) - F::of_usize(correction);
        centered.square()?.sum(dims, keepdim)?.div_scalar(dof)
    }

    /// `ln Σ eˣ` over `dims`, computed stably; its gradient is the softmax `e^(x − y)`.
    pub fn logsumexp(self, dims: &[isize], keepdim: bool) -> Result<Self> {
        let dims = dims.to_vec();
        self.unary_op(
            "logsumexp",
            self.with_value(|x| x.logsumexp(&dims, keepdim))??,
            move |c| {
                let keep = signed(&keepdim_shape("logsumexp", &c.x(0).shape(), &dims)?);
                let softmax = c.x(0).sub(c.out.reshape(&keep)?)?.exp()?;
                Ok(vec![Some(kept(c, "logsumexp", &dims)?.mul(softmax)?)])
            },
        )
    }

    /// The `p`-norm over `dims` (`p = ∞` is the largest magnitude). For `1 < p < ∞` it is
    /// one op whose gradient `sign(x)·|x|^(p−1)·g / ‖x‖^(p−1)` is 0 where the norm is 0, as
    /// PyTorch's `norm_backward` (a composite through `sqrt` or `powf(1/p)` would give NaN
    /// there); the gradient is written in tape ops, so it differentiates again (at a zero
    /// norm, where there is no second derivative, the 2-norm's is the identity and PyTorch's
    /// NaN).
    pub fn norm(self, p: f64, dims: &[isize], keepdim: bool) -> Result<Self> {
        if p == f64::INFINITY {
            return self.abs()?.max(dims, keepdim);
        } else if p == 1.0 {
            return self.abs()?.sum(dims, keepdim);
        }
        let value = self.with_value(|x| x.norm(p, dims, keepdim))??;
        let dims = dims.to_vec();
        self.unary_op("norm", value, move |c| {
            let x = c.x(0);
            let keep = signed(&keepdim_shape("norm", &x.shape(), &dims)?);
            let n = c.out.reshape(&keep)?;
            let zero = n.value()?.eq(&Tensor::scalar(F::zero()))?;
            let one = c.g.constant(Tensor::scalar(F::one()));
            let n_safe = Var::where_cond(&zero, one, n)?;
            let g = kept(c, "norm", &dims)?;
            let grad = if p == 2.0 {
                x.mul(g.div(n_safe)?)?
            } else {
                let pm1 = F::of(p - 1.0);
                let xp = x.sign()?.mul(x.abs()?.powf(pm1)?)?;
                xp.mul(g.div(n_safe.powf(pm1)?)?)?
            };
            Ok(vec![Some(grad)])
        })
    }

    /// Sums over broadcast axes down to `shape`: the adjoint of [`Var::broadcast_to`].
    pub fn sum_to(self, shape: &[usize]) -> Result<Self> {
        if self.dims()[..] == shape[..] {
            return Ok(self);
        }
        self.unary_op("sum_to", self.with_value(|x| x.sum_to(shape))??, |c| {
            Ok(vec![Some(c.g.broadcast_to(&c.x(0).shape())?)])
        })
    }
}

/// How many elements a reduction of `shape` over `dims` folds into each output element.
fn reduced_count(op: &'static str, shape: &[usize], dims: &[isize]) -> Result<usize> {
    let mask = descent_tensor::layout::normalize_dims(op, dims, shape)?;
    Ok(shape
        .iter()
        .zip(mask)
        .filter(|(_, reduced)| *reduced)
        .map(|(n, _)| n)
        .product())
}
