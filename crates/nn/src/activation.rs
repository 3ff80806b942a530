//! Activation functions, as functions of a [`Var`] and as parameter-free layers.
//!
//! Each is a composite of differentiable tape ops (so gradients of any order come for free),
//! written to stay finite everywhere: ELU exponentiates only `min(x, 0)`, LeakyReLU is a
//! difference of ReLUs. GELU is the exact `x·Φ(x)` with `Φ` through [`erf`], a tape op added
//! here on `libm`'s `erf` because the tape has none.

use crate::error::Result;
use crate::module::{Mode, Module};
use descent_autodiff::{Tape, Var};
use descent_tensor::Float;

/// `max(x, 0)`.
pub fn relu<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    Ok(x.relu()?)
}

/// `x` for `x > 0`, `slope·x` otherwise: `relu(x) − slope·relu(−x)`.
pub fn leaky_relu<F: Float>(x: Var<'_, F>, slope: f64) -> Result<Var<'_, F>> {
    let negative = x.neg()?.relu()?.mul_scalar(F::of(slope))?;
    Ok(x.relu()?.sub(negative)?)
}

/// `x` for `x > 0`, `α(eˣ − 1)` otherwise: `relu(x) + α(e^min(x,0) − 1)`, never
/// exponentiating a large positive number.
pub fn elu<F: Float>(x: Var<'_, F>, alpha: f64) -> Result<Var<'_, F>> {
    let min0 = x.neg()?.relu()?.neg()?;
    let negative = min0
        .exp()?
        .add_scalar(-F::one())?
        .mul_scalar(F::of(alpha))?;
    Ok(x.relu()?.add(negative)?)
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
