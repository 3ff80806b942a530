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
    fn elementwise(
        self,
        label: &'static str,
        value: Tensor<F>,
        derivative: impl for<'a> Fn(Var<'a, F>, Var<'a, F>) -> Result<Var<'a, F>> + 'static,
    ) -> Result<Var<'t, F>> {
        self.unary_op(label, value, move |c| {
            Ok(vec![Some(c.g.mul(derivative(c.x(0), c.out)?)?)])
        })
    }

    /// Records `y = f(x)` whose derivative is a tensor that is constant for higher orders
    /// (a mask or a sign): piecewise-linear functions.
    fn piecewise(
        self,
        label: &'static str,
        value: Tensor<F>,
        slope: impl Fn(&Tensor<F>) -> Tensor<F> + 'static,
    ) -> Result<Var<'t, F>> {
        self.unary_op(label, value, move |c| {
            let s = c.g.constant(slope(&c.x(0).value()?));
            Ok(vec![Some(c.g.mul(s)?)])
        })
    }

    /// `−x`.
    pub fn neg(self) -> Result<Self> {
        self.unary_op("neg", self.value()?.neg(), |c| Ok(vec![Some(c.g.neg()?)]))
    }

    /// `|x|`; the subgradient at 0 is 0 (as PyTorch).
    pub fn abs(self) -> Result<Self> {
        self.piecewise("abs", self.value()?.abs(), Tensor::sign)
    }

    /// The sign of `x` (−1, 0 or 1): a constant, its gradient is zero almost everywhere.
    pub fn sign(self) -> Result<Self> {
        Ok(self.constant(self.value()?.sign()))
    }

    /// `eˣ`.
    pub fn exp(self) -> Result<Self> {
        self.elementwise("exp", self.value()?.exp(), |_, y| Ok(y))
    }

    /// Natural logarithm.
    pub fn ln(self) -> Result<Self> {
        self.elementwise("ln", self.value()?.ln(), |x, _| x.recip())
    }

    /// `√x`.
    pub fn sqrt(self) -> Result<Self> {
        self.elementwise("sqrt", self.value()?.sqrt(), |_, y| {
            y.mul_scalar(F::of(2.0))?.recip()
        })
    }

    /// `x²`.
    pub fn square(self) -> Result<Self> {
        self.elementwise("square", self.value()?.square(), |x, _| {
            x.mul_scalar(F::of(2.0))
        })
    }

    /// `xᵖ` for a constant exponent.
    pub fn powf(self, p: F) -> Result<Self> {
        self.elementwise("powf", self.value()?.powf(p), move |x, _| {
            if p == F::of(2.0) {
                x.mul_scalar(p) // avoids x¹ for the common case and keeps x = 0 exact
            } else {
                x.powf(p - F::one())?.mul_scalar(p)
            }
        })
    }

    /// `1/x`.
    pub fn recip(self) -> Result<Self> {
        self.elementwise("recip", self.value()?.recip(), |_, y| y.square()?.neg())
    }

    /// `sin x`.
    pub fn sin(self) -> Result<Self> {
        self.elementwise("sin", self.value()?.sin(), |x, _| x.cos())
    }

    /// `cos x`.
    pub fn cos(self) -> Result<Self> {
        self.elementwise("cos", self.value()?.cos(), |x, _| x.sin()?.neg())
    }

    /// `tanh x`; derivative `1 − y²`.
    pub fn tanh(self) -> Result<Self> {
        self.elementwise("tanh", self.value()?.tanh(), |_, y| {
            y.square()?.rsub_scalar(F::one())
        })
    }

    /// The logistic function `1/(1+e⁻ˣ)`; derivative `y(1 − y)`.
    pub fn sigmoid(self) -> Result<Self> {
        self.elementwise("sigmoid", self.value()?.sigmoid(), |_, y| {
            y.mul(y.rsub_scalar(F::one())?)
        })
    }

    /// `max(x, 0)`; the subgradient at 0 is 0 (as PyTorch).
    pub fn relu(self) -> Result<Self> {
        self.piecewise("relu", self.value()?.relu(), Tensor::step)
    }

    /// `x` limited to `[lo, hi]`; the gradient is 1 inside the closed interval (boundaries
    /// included, as PyTorch) and 0 outside.
    pub fn clamp(self, lo: F, hi: F) -> Result<Self> {
        self.piecewise("clamp", self.value()?.clamp(lo, hi), move |x| {
            x.map(|v| {
                if v >= lo && v <= hi {
                    F::one()
                } else {
                    F::zero()
                }
            })
        })
    }

    /// `ln(1 + eˣ)`, computed without overflow; derivative `sigmoid(x)`.
    pub fn softplus(self) -> Result<Self> {
        self.elementwise("softplus", self.value()?.softplus(), |x, _| x.sigmoid())
    }
}
