//! Binary elementwise ops with NumPy broadcasting, and their scalar variants. A gradient
//! flows back to an operand summed over the axes broadcasting stretched (`sum_to`).

use crate::error::Result;
use crate::tape::{Ctx, Var};
use descent_tensor::{Float, Tensor};

/// `g`-shaped contribution reduced to input `i`'s shape.
fn to_input<'a, F: Float>(c: &Ctx<'a, F>, i: usize, grad: Var<'a, F>) -> Result<Var<'a, F>> {
    grad.sum_to(&c.x(i).dims())
}

// The std::ops traits cannot return a Result: these are fallible methods of the same names.
#[allow(clippy::should_implement_trait)]
impl<'t, F: Float> Var<'t, F> {
    /// Records a broadcasting binary op whose rule gives, for each operand, the gradient at
    /// the output's shape (reduced to the operand's shape here).
    pub(super) fn binary(
        self,
        label: &'static str,
        value: Tensor<F>,
        rhs: Var<'t, F>,
        partials: impl for<'a> Fn(&Ctx<'a, F>, usize) -> Result<Var<'a, F>> + 'static,
    ) -> Result<Var<'t, F>> {
        self.tape.record(label, value, &[self, rhs], move |c| {
            let a = c.need(0, || to_input(c, 0, partials(c, 0)?))?;
            let b = c.need(1, || to_input(c, 1, partials(c, 1)?))?;
            Ok(vec![a, b])
        })
    }

    /// `self + rhs`.
    pub fn add(self, rhs: Var<'t, F>) -> Result<Self> {
        let v = self.with_values(rhs, |a, b| a.add(b))??;
        self.binary("add", v, rhs, |c, _| Ok(c.g))
    }

    /// `self − rhs`.
    pub fn sub(self, rhs: Var<'t, F>) -> Result<Self> {
        let v = self.with_values(rhs, |a, b| a.sub(b))??;
        self.binary(
            "sub",
            v,
            rhs,
            |c, i| if i == 0 { Ok(c.g) } else { c.g.neg() },
        )
    }

    /// `self · rhs`.
    pub fn mul(self, rhs: Var<'t, F>) -> Result<Self> {
        let v = self.with_values(rhs, |a, b| a.mul(b))??;
        self.binary("mul", v, rhs, |c, i| c.g.mul(c.x(1 - i)))
    }

    /// `self / rhs`.
    pub fn div(self, rhs: Var<'t, F>) -> Result<Self> {
        let v = self.with_values(rhs, |a, b| a.div(b))??;
        self.binary("div", v, rhs, |c, i| {
            let g_over_b = c.g.div(c.x(1))?;
            if i == 0 {
                Ok(g_over_b)
            } else {
                g_over_b.mul(c.out)?.neg() // −g·a/b²
            }
        })
    }

    /// `selfʳʰˢ`. As PyTorch's `pow_backward`: the base's gradient `g·b·aᵇ⁻¹` is 0 where
    /// `b = 0` (not `0·0⁻¹ = NaN` at `a = 0`), and the exponent's, `g·aᵇ·ln a`, is 0 where
    /// `a = 0` and `b ≥ 0` (not `0·(−∞)`); for a negative base it is NaN.
    pub fn pow(self, rhs: Var<'t, F>) -> Result<Self> {
        let v = self.with_values(rhs, |a, b| a.pow(b))??;
        self.binary("pow", v, rhs, |c, i| {
            let (a, b) = (c.x(0), c.x(1));
            let zero = Tensor::scalar(F::zero());
            if i == 0 {
                let grad = c.g.mul(b)?.mul(a.pow(b.add_scalar(-F::one())?)?)?;
                let b_zero = b.value()?.eq(&zero)?;
                Var::where_cond(&b_zero, c.g.constant(zero), grad)
            } else {
                // ln 1 = 0 where the gradient is 0; the base there is replaced, not masked
                // after the logarithm, so that the second derivative is not 0·∞ either.
                let (av, bv) = (a.value()?, b.value()?);
                let masked = av.eq(&zero)?.mul(&bv.ge(&zero)?)?;
                let one = c.g.constant(Tensor::scalar(F::one()));
                let a_safe = Var::where_cond(&masked, one, a)?;
                c.g.mul(c.out)?.mul(a_safe.ln()?)
            }
        })
    }

    /// Elementwise maximum; at ties each operand gets half the gradient, and where either
    /// is NaN each gets all of it (as PyTorch).
    pub fn maximum(self, rhs: Var<'t, F>) -> Result<Self> {
        let v = self.with_values(rhs, |a, b| a.maximum(b))??;
        self.binary("maximum", v, rhs, |c, i| {
            c.g.mul(c.g.constant(winner_share(c, i, Tensor::lt)?))
        })
    }

    /// Elementwise minimum; at ties each operand gets half the gradient, and where either
    /// is NaN each gets all of it (as PyTorch).
    pub fn minimum(self, rhs: Var<'t, F>) -> Result<Self> {
        let v = self.with_values(rhs, |a, b| a.minimum(b))??;
        self.binary("minimum", v, rhs, |c, i| {
            c.g.mul(c.g.constant(winner_share(c, i, Tensor::gt)?))
        })
    }

    /// `mask ? on_true : on_false` elementwise (non-zero mask elements are true); the
    /// gradient goes to the branch that was taken. The mask is a constant. PyTorch's
    /// `torch.where`.
    pub fn where_cond(mask: &Tensor<F>, on_true: Var<'t, F>, on_false: Var<'t, F>) -> Result<Self> {
        let v = Tensor::where_cond(mask, &on_true.value()?, &on_false.value()?)?;
        let taken = mask.map(|m| if m != F::zero() { F::one() } else { F::zero() });
        on_true.binary("where_cond", v, on_false, move |c, i| {
            let share = if i == 0 {
                taken.clone()
            } else {
                taken.rsub_scalar(F::one())
            };
            c.g.mul(c.g.constant(share))
        })
    }

    /// `self + c`.
    pub fn add_scalar(self, c: F) -> Result<Self> {
        self.unary_op("add_scalar", self.with_value(|x| x.add_scalar(c))?, |c| {
            Ok(vec![Some(c.g)])
        })
    }

    /// `self · k`.
    pub fn mul_scalar(self, k: F) -> Result<Self> {
        self.unary_op(
            "mul_scalar",
            self.with_value(|x| x.mul_scalar(k))?,
            move |c| Ok(vec![Some(c.g.mul_scalar(k)?)]),
        )
    }

    /// `self / k`.
    pub fn div_scalar(self, k: F) -> Result<Self> {
        self.unary_op(
            "div_scalar",
            self.with_value(|x| x.div_scalar(k))?,
            move |c| Ok(vec![Some(c.g.div_scalar(k)?)]),
        )
    }

    /// `k − self`.
    pub fn rsub_scalar(self, k: F) -> Result<Self> {
        self.unary_op("rsub_scalar", self.with_value(|x| x.rsub_scalar(k))?, |c| {
            Ok(vec![Some(c.g.neg()?)])
        })
    }
}

/// Operand `i`'s share of the gradient of `maximum` (`loses = lt`) or `minimum`
/// (`loses = gt`): 0 where it loses, ½ at ties, 1 otherwise, NaN included (PyTorch's rule
/// masks only the losing and tied positions), at the output's shape.
fn winner_share<F: Float>(
    c: &Ctx<'_, F>,
    i: usize,
    loses: fn(&Tensor<F>, &Tensor<F>) -> descent_tensor::Result<Tensor<F>>,
) -> Result<Tensor<F>> {
    let (mine, other) = (c.x(i).value()?, c.x(1 - i).value()?);
    let half = F::of(0.5);
    let lost = loses(&mine, &other)?;
    let tied = mine.eq(&other)?;
    Ok(lost.add(&tied.mul_scalar(half))?.rsub_scalar(F::one()))
}
