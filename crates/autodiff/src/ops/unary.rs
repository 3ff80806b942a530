//! Elementwise functions of one variable. Each backward rule multiplies the upstream
//! gradient by the derivative, written with `Var` ops of the input `x` and output `y`.

use crate::error::Result;
use crate::tape::Var;
use descent_tensor::{Float, Tensor};

// `neg` is fallible (the value may be freed), so it cannot be `std::ops::Neg`.
#[allow(clippy::should_implement_trait)]
impl<'t, F: Float> Var<'t, F> {
    /// Records `y = f(x)` whose backward rule is `g · f'(x)`, with `f'` given in terms of
    /// `x` and `y` as variables (so the rule is itself differentiable).
    pub(super) fn elementwise(
        self,
        label: &'static str,
        value: Tensor<F>,
        derivative: impl for<'a> Fn(Var<'a, F>, Var<'a, F>) -> Result<Var<'a, F>> + 'static,
    ) -> Result<Var<'t, F>> {
        self.unary_op(label, value, move |c| {
            Ok(vec![Some(c.g.mul(derivative(c.x(0), c.out)?)?)])
        })
    }

    /// Records `y = f(x)` for a piecewise-linear `f` whose slope is a step function of `x`
    /// (a mask or a sign), constant for higher orders.
    fn piecewise(
        self,
        label: &'static str,
        value: Tensor<F>,
        slope: impl Fn(F) -> F + Copy + Sync + 'static,
    ) -> Result<Var<'t, F>> {
        self.unary_op(label, value, move |c| {
            Ok(vec![Some(c.g.times_slope(c.x(0), slope)?)])
        })
    }

    /// `g · slope(x)` in one pass over memory, `self` being the upstream gradient `g`. Its
    /// own gradient with respect to `g` is the same product; none flows to `x`, on which
    /// the slope is piecewise constant.
    fn times_slope(
        self,
        x: Var<'t, F>,
        slope: impl Fn(F) -> F + Copy + Sync + 'static,
    ) -> Result<Var<'t, F>> {
        let v = self.with_values(x, |g, x| g.zip_map("times_slope", x, |g, x| g * slope(x)))??;
        self.tape.record("times_slope", v, &[self, x], move |c| {
            Ok(vec![c.need(0, || c.g.times_slope(c.x(1), slope))?, None])
        })
    }

    /// `0` where `y <= 0`, else `g` (`self`): ReLU's backward at output `y` as one select,
    /// like PyTorch's `threshold_backward` (so a NaN or infinite `g` is zeroed where the
    /// unit is off, not multiplied by 0). Linear in `g`, so its own gradient with respect
    /// to `g` is the same select; none flows to `y`, on which it is piecewise constant.
    pub(crate) fn relu_backward(self, y: Var<'t, F>) -> Result<Var<'t, F>> {
        let zero = F::zero();
        let v = self.with_values(y, |g, y| {
            g.zip_map("relu_backward", y, |g, y| if y <= zero { zero } else { g })
        })??;
        self.tape.record("relu_backward", v, &[self, y], move |c| {
            Ok(vec![c.need(0, || c.g.relu_backward(c.x(1)))?, None])
        })
    }

    /// `g·(1 − y²)`, tanh's derivative at output `y` applied to the upstream gradient `g`
    /// (`self`) as one op, like PyTorch's `tanh_backward`: one pass instead of three.
    fn tanh_backward(self, y: Var<'t, F>) -> Result<Var<'t, F>> {
        let one = F::one();
        let v = self.with_values(y, |g, y| {
            g.zip_map("tanh_backward", y, |g, y| g * (one - y * y))
        })??;
        self.tape.record("tanh_backward", v, &[self, y], |c| {
            let (g, y) = (c.x(0), c.x(1));
            Ok(vec![
                c.need(0, || c.g.tanh_backward(y))?,
                c.need(1, || c.g.mul(g)?.mul(y)?.mul_scalar(F::of(-2.0)))?,
            ])
        })
    }

    /// `g·y(1 − y)`, the sigmoid's derivative at output `y` applied to `g` (`self`) as one op.
    fn sigmoid_backward(self, y: Var<'t, F>) -> Result<Var<'t, F>> {
        let one = F::one();
        let v = self.with_values(y, |g, y| {
            g.zip_map("sigmoid_backward", y, |g, y| g * (y * (one - y)))
        })??;
        self.tape.record("sigmoid_backward", v, &[self, y], |c| {
            let (g, y) = (c.x(0), c.x(1));
            Ok(vec![
                c.need(0, || c.g.sigmoid_backward(y))?,
                c.need(1, || {
                    c.g.mul(g)?
                        .mul(y.mul_scalar(F::of(-2.0))?.add_scalar(F::one())?)
                })?,
            ])
        })
    }

    /// `−x`.
    pub fn neg(self) -> Result<Self> {
        self.unary_op("neg", self.with_value(|x| x.neg())?, |c| {
            Ok(vec![Some(c.g.neg()?)])
        })
    }

    /// `|x|`; the subgradient at 0 is 0, and at NaN too (PyTorch's `sgn`).
    pub fn abs(self) -> Result<Self> {
        self.piecewise("abs", self.with_value(|x| x.abs())?, |x| {
            if x > F::zero() {
                F::one()
            } else if x < F::zero() {
                -F::one()
            } else {
                F::zero()
            }
        })
    }

    /// The sign of `x` (−1, 0 or 1): a constant, its gradient is zero almost everywhere.
    pub fn sign(self) -> Result<Self> {
        Ok(self.constant(self.with_value(|x| x.sign())?))
    }

    /// `eˣ`.
    pub fn exp(self) -> Result<Self> {
        self.elementwise("exp", self.with_value(|x| x.exp())?, |_, y| Ok(y))
    }

    /// Natural logarithm.
    pub fn ln(self) -> Result<Self> {
        self.elementwise("ln", self.with_value(|x| x.ln())?, |x, _| x.recip())
    }

    /// `√x`.
    pub fn sqrt(self) -> Result<Self> {
        self.elementwise("sqrt", self.with_value(|x| x.sqrt())?, |_, y| {
            y.mul_scalar(F::of(2.0))?.recip()
        })
    }

    /// `x²`.
    pub fn square(self) -> Result<Self> {
        self.elementwise("square", self.with_value(|x| x.square())?, |x, _| {
            x.mul_scalar(F::of(2.0))
        })
    }

    /// `xᵖ` for a constant exponent. For `p = 0` the derivative is 0 everywhere, `x = 0`
    /// included (as PyTorch, where `0·0⁻¹` would be NaN).
    pub fn powf(self, p: F) -> Result<Self> {
        self.elementwise("powf", self.with_value(|x| x.powf(p))?, move |x, _| {
            if p == F::zero() {
                Ok(x.constant(Tensor::zeros(&x.shape())))
            } else if p == F::of(2.0) {
                x.mul_scalar(p) // avoids x¹ for the common case and keeps x = 0 exact
            } else {
                x.powf(p - F::one())?.mul_scalar(p)
            }
        })
    }

    /// `1/x`.
    pub fn recip(self) -> Result<Self> {
        self.elementwise("recip", self.with_value(|x| x.recip())?, |_, y| {
            y.square()?.neg()
        })
    }

    /// `sin x`.
    pub fn sin(self) -> Result<Self> {
        self.elementwise("sin", self.with_value(|x| x.sin())?, |x, _| x.cos())
    }

    /// `cos x`.
    pub fn cos(self) -> Result<Self> {
        self.elementwise("cos", self.with_value(|x| x.cos())?, |x, _| x.sin()?.neg())
    }

    /// `tanh x`; derivative `1 − y²`.
    pub fn tanh(self) -> Result<Self> {
        self.unary_op("tanh", self.with_value(|x| x.tanh())?, |c| {
            Ok(vec![Some(c.g.tanh_backward(c.out)?)])
        })
    }

    /// The logistic function `1/(1+e⁻ˣ)`; derivative `y(1 − y)`.
    pub fn sigmoid(self) -> Result<Self> {
        self.unary_op("sigmoid", self.with_value(|x| x.sigmoid())?, |c| {
            Ok(vec![Some(c.g.sigmoid_backward(c.out)?)])
        })
    }

    /// `max(x, 0)`, NaN for NaN; the subgradient at 0 is 0, and 1 at NaN (as PyTorch,
    /// whose rule zeroes the gradient only where `x <= 0`).
    ///
    /// The rule is one select on the output, as PyTorch's `threshold_backward` on the
    /// result (`y > 0` exactly where `x > 0`, and `y` is NaN where `x` is).
    pub fn relu(self) -> Result<Self> {
        self.unary_op("relu", self.with_value(|x| x.relu())?, |c| {
            Ok(vec![Some(c.g.relu_backward(c.out)?)])
        })
    }

    /// `x` for `x > 0`, `slope·x` otherwise (NaN for NaN). The gradient at 0 and at NaN is
    /// `slope`, as PyTorch's `leaky_relu`, whose rule passes the gradient only where `x > 0`.
    pub fn leaky_relu(self, slope: F) -> Result<Self> {
        let value = self.with_value(|x| x.map(|v| if v > F::zero() { v } else { v * slope }))?;
        self.piecewise("leaky_relu", value, move |x| {
            if x > F::zero() {
                F::one()
            } else {
                slope
            }
        })
    }

    /// `x` limited to `[lo, hi]` (NaN stays NaN). The gradient is 1 strictly inside the
    /// interval and 0 at the bounds, outside and at NaN, as PyTorch 2.15's `clamp`
    /// (`clamp(x, −0.5, 0.5)` at `[−0.5, 0.5, 0, 1]` has gradient `[0, 0, 1, 0]`); the second
    /// derivative is 0.
    pub fn clamp(self, lo: F, hi: F) -> Result<Self> {
        self.piecewise("clamp", self.with_value(|x| x.clamp(lo, hi))?, move |x| {
            if x > lo && x < hi {
                F::one()
            } else {
                F::zero()
            }
        })
    }

    /// `ln(1 + eˣ)`, computed without overflow; derivative `sigmoid(x)`.
    pub fn softplus(self) -> Result<Self> {
        self.elementwise("softplus", self.with_value(|x| x.softplus())?, |x, _| {
            x.sigmoid()
        })
    }
}
