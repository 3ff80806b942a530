//! Activation functions, as functions of a [`Var`] and as parameter-free layers.
//!
//! Each is a tape op or a composite of them (so gradients of any order come for free),
//! written to stay finite everywhere and to match PyTorch at the kinks and at NaN: a NaN
//! input gives a NaN output, and the derivative at a kink is the one-sided value PyTorch
//! uses (LeakyReLU's slope and ELU's `α` at 0). ELU exponentiates only `min(x, 0)`. GELU is
//! the exact `x·Φ(x)` with `Φ` through [`erf`], a tape op added here on `libm`'s `erf`
//! because the tape has none.

use crate::error::Result;
use crate::module::{Mode, Module};
use descent_autodiff::{Tape, Var};
use descent_tensor::{Float, Tensor};

/// `max(x, 0)`; NaN stays NaN. The derivative is 0 at 0 and 1 at NaN, as PyTorch's.
pub fn relu<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    Ok(x.relu()?)
}

/// `x` for `x > 0`, `slope·x` otherwise. The derivative at 0 (and at NaN) is `slope`, as
/// PyTorch's `leaky_relu`.
pub fn leaky_relu<F: Float>(x: Var<'_, F>, slope: f64) -> Result<Var<'_, F>> {
    Ok(x.leaky_relu(F::of(slope))?)
}

/// `x` for `x > 0`, `α(eˣ − 1)` otherwise, never exponentiating a large positive number.
/// As PyTorch's `elu`: the derivative is `α·eˣ` for `x ≤ 0` (so `α` at 0) and 1 for
/// `x > 0` and at NaN; the second derivative at 0 is 0 (the `α·eˣ` branch is written as
/// `α·e^(−relu(−x))`, whose slope at 0 is relu's, 0).
pub fn elu<F: Float>(x: Var<'_, F>, alpha: f64) -> Result<Var<'_, F>> {
    let a = F::of(alpha);
    let value = x
        .value()?
        .map(|v| if v > F::zero() { v } else { a * v.exp_m1() });
    Ok(x.tape().record("elu", value, &[x], move |c| {
        let x = c.x(0);
        let xv = x.value()?;
        // PyTorch's rule takes the exponential branch only where `x <= 0`: NaN goes to 1.
        let linear = xv.map(|v| if v <= F::zero() { F::zero() } else { F::one() });
        // The branch not taken sees 0 instead of x, so that a NaN there does not reach the
        // second derivative as 0·NaN.
        let tape = c.g.tape();
        let (zero, one) = (F::zero(), F::one());
        let x_neg = Var::where_cond(&linear, tape.constant(Tensor::scalar(zero)), x)?;
        let exp_branch = x_neg.neg()?.relu()?.neg()?.exp()?.mul_scalar(a)?;
        let slope = Var::where_cond(&linear, tape.constant(Tensor::scalar(one)), exp_branch)?;
        Ok(vec![c.need(0, || c.g.mul(slope))?])
    })?)
}

/// The error function `erf x = 2/√π ∫₀ˣ e^(−t²) dt`, element-wise; derivative
/// `2/√π·e^(−x²)`, itself written with tape ops.
pub fn erf<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    let value = x.value()?.map(|v| F::of(libm::erf(v.as_f64())));
    let two_over_sqrt_pi = F::of(std::f64::consts::FRAC_2_SQRT_PI);
    Ok(x.tape().record("erf", value, &[x], move |c| {
        let slope = c
            .x(0)
            .square()?
            .neg()?
            .exp()?
            .mul_scalar(two_over_sqrt_pi)?;
        Ok(vec![c.need(0, || c.g.mul(slope))?])
    })?)
}

/// The exact GELU `x·Φ(x) = ½x(1 + erf(x/√2))` (PyTorch's default, not the tanh
/// approximation).
pub fn gelu<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    let cdf = erf(x.mul_scalar(F::of(std::f64::consts::FRAC_1_SQRT_2))?)?.add_scalar(F::one())?;
    Ok(x.mul(cdf)?.mul_scalar(F::of(0.5))?)
}

/// `x·sigmoid(x)` (SiLU, or swish).
pub fn silu<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    Ok(x.mul(x.sigmoid()?)?)
}

/// `1/(1 + e⁻ˣ)`.
pub fn sigmoid<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    Ok(x.sigmoid()?)
}

/// `tanh x`.
pub fn tanh<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    Ok(x.tanh()?)
}

/// `x/(1 + |x|)`.
pub fn softsign<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    Ok(x.div(x.abs()?.add_scalar(F::one())?)?)
}

/// `ln(1 + eˣ)`, without overflow.
pub fn softplus<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    Ok(x.softplus()?)
}

/// `eˣ/Σeˣ` along `dim` (stable).
pub fn softmax<F: Float>(x: Var<'_, F>, dim: isize) -> Result<Var<'_, F>> {
    Ok(x.softmax(dim)?)
}

/// `x − ln Σeˣ` along `dim` (stable; use with [`crate::loss::nll_loss`]).
pub fn log_softmax<F: Float>(x: Var<'_, F>, dim: isize) -> Result<Var<'_, F>> {
    Ok(x.log_softmax(dim)?)
}

/// Implements [`Module`] for a layer struct by applying an activation function, the same in
/// training and evaluation.
macro_rules! activation_layer {
    ($name:ident, |$s:pat_param, $x:ident| $body:expr) => {
        impl<F: Float> Module<F> for $name {
            fn forward<'t>(&self, _: &'t Tape<F>, $x: Var<'t, F>, _: Mode) -> Result<Var<'t, F>> {
                let $s = self;
                $body
            }
        }
    };
}

/// [`relu`] as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Relu;
activation_layer!(Relu, |_, x| relu(x));

/// [`leaky_relu`] as a layer (PyTorch's default slope is 0.01).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LeakyRelu {
    /// The slope for negative inputs.
    pub slope: f64,
}
activation_layer!(LeakyRelu, |s, x| leaky_relu(x, s.slope));

/// [`elu`] as a layer (PyTorch's default α is 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Elu {
    /// The value approached for large negative inputs is `−alpha`.
    pub alpha: f64,
}
activation_layer!(Elu, |s, x| elu(x, s.alpha));

/// [`gelu`] as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Gelu;
activation_layer!(Gelu, |_, x| gelu(x));

/// [`silu`] as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Silu;
activation_layer!(Silu, |_, x| silu(x));

/// [`sigmoid`] as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Sigmoid;
activation_layer!(Sigmoid, |_, x| sigmoid(x));

/// [`tanh`] as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Tanh;
activation_layer!(Tanh, |_, x| tanh(x));

/// [`softsign`] as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Softsign;
activation_layer!(Softsign, |_, x| softsign(x));

/// [`softplus`] as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Softplus;
activation_layer!(Softplus, |_, x| softplus(x));

/// [`softmax`] along `dim` as a layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Softmax {
    /// The axis normalized (−1: the last).
    pub dim: isize,
}
activation_layer!(Softmax, |s, x| softmax(x, s.dim));

/// [`log_softmax`] along `dim` as a layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogSoftmax {
    /// The axis normalized (−1: the last).
    pub dim: isize,
}
activation_layer!(LogSoftmax, |s, x| log_softmax(x, s.dim));
