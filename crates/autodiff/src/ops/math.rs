//! Element-wise math beyond the basic unary family: `log1p`, `expm1`, `log2`, `log10`, the
//! trigonometric and hyperbolic functions and their inverses, `rsqrt`, rounding (zero
//! gradient, as PyTorch), and the binary `atan2`, `hypot`, `logaddexp`, `xlogy` and `lerp`.
//! Each derivative is PyTorch's formula (`derivatives.yaml`) written in `Var` ops, so it
//! differentiates again.

use crate::error::Result;
use crate::tape::Var;
use descent_tensor::{Float, Tensor};

impl<'t, F: Float> Var<'t, F> {
    /// `ln(1 + x)`; derivative `1/(x + 1)`.
    pub fn log1p(self) -> Result<Self> {
        self.elementwise("log1p", self.with_value(|x| x.log1p())?, |x, _| {
            x.add_scalar(F::one())?.recip()
        })
    }

    /// `eˣ − 1`; derivative `y + 1`.
    pub fn expm1(self) -> Result<Self> {
        self.elementwise("expm1", self.with_value(|x| x.expm1())?, |_, y| {
            y.add_scalar(F::one())
        })
    }

    /// Base-2 logarithm; derivative `1/(x ln 2)`.
    pub fn log2(self) -> Result<Self> {
        self.elementwise("log2", self.with_value(|x| x.log2())?, |x, _| {
            x.mul_scalar(F::of(std::f64::consts::LN_2))?.recip()
        })
    }

    /// Base-10 logarithm; derivative `1/(x ln 10)`.
    pub fn log10(self) -> Result<Self> {
        self.elementwise("log10", self.with_value(|x| x.log10())?, |x, _| {
            x.mul_scalar(F::of(std::f64::consts::LN_10))?.recip()
        })
    }

    /// `tan x`; derivative `1 + y²`.
    pub fn tan(self) -> Result<Self> {
        self.elementwise("tan", self.with_value(|x| x.tan())?, |_, y| {
            y.square()?.add_scalar(F::one())
        })
    }

    /// `arcsin x`; derivative `1/√(1 − x²)`.
    pub fn asin(self) -> Result<Self> {
        self.elementwise("asin", self.with_value(|x| x.asin())?, |x, _| {
            x.square()?.rsub_scalar(F::one())?.rsqrt()
        })
    }

    /// `arccos x`; derivative `−1/√(1 − x²)`.
    pub fn acos(self) -> Result<Self> {
        self.elementwise("acos", self.with_value(|x| x.acos())?, |x, _| {
            x.square()?.rsub_scalar(F::one())?.rsqrt()?.neg()
        })
    }

    /// `arctan x`; derivative `1/(1 + x²)`.
    pub fn atan(self) -> Result<Self> {
        self.elementwise("atan", self.with_value(|x| x.atan())?, |x, _| {
            x.square()?.add_scalar(F::one())?.recip()
        })
    }

    /// `sinh x`; derivative `cosh x`.
    pub fn sinh(self) -> Result<Self> {
        self.elementwise("sinh", self.with_value(|x| x.sinh())?, |x, _| x.cosh())
    }

    /// `cosh x`; derivative `sinh x`.
    pub fn cosh(self) -> Result<Self> {
        self.elementwise("cosh", self.with_value(|x| x.cosh())?, |x, _| x.sinh())
    }

    /// `arsinh x`; derivative `1/√(x² + 1)`.
    pub fn asinh(self) -> Result<Self> {
        self.elementwise("asinh", self.with_value(|x| x.asinh())?, |x, _| {
            x.square()?.add_scalar(F::one())?.rsqrt()
        })
    }

    /// `arcosh x`; derivative `1/√(x² − 1)`.
    pub fn acosh(self) -> Result<Self> {
        self.elementwise("acosh", self.with_value(|x| x.acosh())?, |x, _| {
            x.square()?.add_scalar(-F::one())?.rsqrt()
        })
    }

    /// `artanh x`; derivative `1/(1 − x²)`.
    pub fn atanh(self) -> Result<Self> {
        self.elementwise("atanh", self.with_value(|x| x.atanh())?, |x, _| {
            x.square()?.rsub_scalar(F::one())?.recip()
        })
    }

    /// `1/√x`; derivative `−y³/2`.
    pub fn rsqrt(self) -> Result<Self> {
        self.elementwise("rsqrt", self.with_value(|x| x.rsqrt())?, |_, y| {
            y.powf(F::of(3.0))?.mul_scalar(F::of(-0.5))
        })
    }

    /// The largest integer `≤ x`; zero gradient everywhere (PyTorch's choice at the jumps).
    pub fn floor(self) -> Result<Self> {
        self.flat("floor", self.with_value(|x| x.floor())?)
    }

    /// The smallest integer `≥ x`; zero gradient everywhere.
    pub fn ceil(self) -> Result<Self> {
        self.flat("ceil", self.with_value(|x| x.ceil())?)
    }

    /// The nearest integer, halves to even (`torch.round`); zero gradient everywhere.
    pub fn round(self) -> Result<Self> {
        self.flat("round", self.with_value(|x| x.round())?)
    }

    /// `x` without its fraction; zero gradient everywhere.
    pub fn trunc(self) -> Result<Self> {
        self.flat("trunc", self.with_value(|x| x.trunc())?)
    }

    /// `x − trunc(x)`; gradient 1 everywhere (as PyTorch, the jumps ignored).
    pub fn frac(self) -> Result<Self> {
        self.unary_op("frac", self.with_value(|x| x.frac())?, |c| {
            Ok(vec![Some(c.g)])
        })
    }

    /// Records a piecewise-constant `value` of `self`: its gradient is zeros (not `0·g`,
    /// which would be NaN for an infinite `g`), as PyTorch's `zeros_like(grad)`.
    fn flat(self, label: &'static str, value: Tensor<F>) -> Result<Self> {
        self.unary_op(label, value, |c| {
            Ok(vec![Some(c.g.constant(Tensor::zeros(&c.g.shape())))])
        })
    }

    /// `atan2(self, rhs)`, broadcasting; derivatives `rhs/(self² + rhs²)` and
    /// `−self/(self² + rhs²)`, both 0 at the origin (as PyTorch, not `0/0`).
    pub fn atan2(self, rhs: Var<'t, F>) -> Result<Self> {
        let v = self.with_values(rhs, |a, b| a.atan2(b))??;
        self.binary("atan2", v, rhs, |c, i| {
            let (a, b) = (c.x(0), c.x(1));
            let zero = Tensor::scalar(F::zero());
            let origin = a.value()?.eq(&zero)?.mul(&b.value()?.eq(&zero)?)?;
            let r2 = a.square()?.add(b.square()?)?;
            let num = if i == 0 { b } else { a.neg()? };
            Var::where_cond(&origin, c.g.constant(zero), c.g.mul(num)?.div(r2)?)
        })
    }

    /// `√(self² + rhs²)`, broadcasting; derivatives `self/y` and `rhs/y` (NaN at the
    /// origin, as PyTorch).
    pub fn hypot(self, rhs: Var<'t, F>) -> Result<Self> {
        let v = self.with_values(rhs, |a, b| a.hypot(b))??;
        self.binary("hypot", v, rhs, |c, i| c.g.mul(c.x(i))?.div(c.out))
    }

    /// `ln(eˢᵉˡᶠ + eʳʰˢ)`, broadcasting; derivatives `1/(1 + e^(rhs − self))` and
    /// `1/(1 + e^(self − rhs))`.
    pub fn logaddexp(self, rhs: Var<'t, F>) -> Result<Self> {
        let v = self.with_values(rhs, |a, b| a.logaddexp(b))??;
        self.binary("logaddexp", v, rhs, |c, i| {
            let d = c.x(1 - i).sub(c.x(i))?.exp()?.add_scalar(F::one())?;
            c.g.div(d)
        })
    }

    /// `self · ln(rhs)`, 0 where `self = 0` (unless `rhs` is NaN), broadcasting
    /// (`torch.xlogy`). The gradient for `self` is `xlogy(g, rhs)`, 0 where `self = 0` and
    /// `rhs ≤ 0`; for `rhs` it is `g·self/rhs`, as PyTorch's.
    pub fn xlogy(self, rhs: Var<'t, F>) -> Result<Self> {
        let v = self.with_values(rhs, |a, b| a.xlogy(b))??;
        self.binary("xlogy", v, rhs, |c, i| {
            let (x, y) = (c.x(0), c.x(1));
            if i == 1 {
                return c.g.mul(x)?.div(y);
            }
            let zero = Tensor::scalar(F::zero());
            let masked = x.value()?.eq(&zero)?.mul(&y.value()?.le(&zero)?)?;
            Var::where_cond(&masked, c.g.constant(zero), c.g.xlogy(y)?)
        })
    }

    /// `self + weight·(end − self)`, all three broadcast together (`torch.lerp`);
    /// gradients `g·(1 − weight)`, `g·weight` and `g·(end − self)`.
    pub fn lerp(self, end: Var<'t, F>, weight: Var<'t, F>) -> Result<Self> {
        let v = weight.with_value(|w| self.with_values(end, |a, b| a.lerp(b, w)))???;
        self.tape.record("lerp", v, &[self, end, weight], |c| {
            let (a, b, w) = (c.x(0), c.x(1), c.x(2));
            Ok(vec![
                c.need(0, || c.g.mul(w.rsub_scalar(F::one())?)?.sum_to(&a.dims()))?,
                c.need(1, || c.g.mul(w)?.sum_to(&b.dims()))?,
                c.need(2, || c.g.mul(b.sub(a)?)?.sum_to(&w.dims()))?,
            ])
        })
    }

    /// [`Var::lerp`] with a constant scalar weight.
    pub fn lerp_scalar(self, end: Var<'t, F>, weight: F) -> Result<Self> {
        let v = self.with_values(end, |a, b| a.lerp_scalar(b, weight))??;
        self.binary("lerp", v, end, move |c, i| {
            c.g.mul_scalar(if i == 0 { F::one() - weight } else { weight })
        })
    }
}
