//! Activation functions, as functions of a [`Var`] and as layers (parameter-free, and
//! [`Prelu`] with its learned slopes), under torch's names.
//!
//! Each is a tape op or a composite of them (so gradients of any order come for free),
//! written to stay finite everywhere and to match PyTorch at the kinks and at NaN: a NaN
//! input gives a NaN output, and the derivative at a kink is the one-sided value PyTorch
//! uses (LeakyReLU's slope and ELU's `α` at 0, 0 at hardtanh's bounds). Where torch's
//! derivative at NaN differs between its vectorized and scalar loops, the function says
//! which one it follows. ELU exponentiates only `min(x, 0)`. GELU is the exact `x·Φ(x)`
//! with `Φ` through [`erf`], a tape op added here on `libm`'s `erf` because the tape has
//! none; [`gelu_tanh`] is torch's `approximate="tanh"`.

use crate::error::{Error, Result};
use crate::module::{Mode, Module};
use descent_autodiff::{Param, Tape, Var};
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

/// GELU with torch's `approximate="tanh"`: `½x(1 + tanh(√(2/π)(x + 0.044715x³)))`.
pub fn gelu_tanh<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    let k = F::of((2.0 / std::f64::consts::PI).sqrt());
    let inner = x.add(x.powf(F::of(3.0))?.mul_scalar(F::of(0.044715))?)?;
    let t = inner.mul_scalar(k)?.tanh()?.add_scalar(F::one())?;
    Ok(x.mul(t)?.mul_scalar(F::of(0.5))?)
}

/// `x·tanh(softplus(x))` (Mish).
pub fn mish<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    Ok(x.mul(x.softplus()?.tanh()?)?)
}

/// SELU's `α`, as torch.
pub const SELU_ALPHA: f64 = 1.6732632423543772848170429916717;
/// SELU's scale, as torch.
pub const SELU_SCALE: f64 = 1.0507009873554804934193349852946;

/// `scale·elu(x, α)` with torch's constants; the derivative at 0 is `scale·α`, as torch's.
/// At NaN it is `scale`, as torch's scalar loop (its vectorized loop gives NaN).
pub fn selu<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    Ok(elu(x, SELU_ALPHA)?.mul_scalar(F::of(SELU_SCALE))?)
}

/// `x` limited to `[lo, hi]` (torch's `hardtanh`): [`Var::clamp`], whose derivative is 1
/// strictly inside the bounds and 0 at and beyond them, as torch's. At NaN it is 0, as
/// torch's vectorized loop gives (its scalar loop, used for the last few elements of a
/// tensor, gives 1).
///
/// # Errors
/// [`Error::InvalidArgument`] unless `lo <= hi`.
pub fn hardtanh<F: Float>(x: Var<'_, F>, lo: f64, hi: f64) -> Result<Var<'_, F>> {
    if lo.is_nan() || hi.is_nan() || lo > hi {
        return Err(Error::InvalidArgument {
            op: "hardtanh",
            arg: "max_val",
            value: format!("{hi} (min_val {lo})"),
            why: "must not be below min_val",
        });
    }
    Ok(x.clamp(F::of(lo), F::of(hi))?)
}

/// `min(max(x, 0), 6)`: torch's `relu6`, which is `hardtanh(x, 0, 6)` (derivative 0 at 0,
/// at 6 and at NaN).
pub fn relu6<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    hardtanh(x, 0.0, 6.0)
}

/// `relu6(x + 3)/6`. The derivative is `1/6` strictly inside `(−3, 3)` and 0 elsewhere and
/// at NaN; as torch, whose kernel multiplies by the `f32` constant `1/6`, that slope is
/// `f64::from(1f32 / 6.0)`, and there is no second derivative but 0.
pub fn hardsigmoid<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    let (three, six) = (F::of(3.0), F::of(6.0));
    let value = x.value()?.map(|v| (v + three).clamp(F::zero(), six) / six);
    let slope = F::of(f64::from(1f32 / 6.0));
    masked_slope(
        "hardsigmoid",
        x,
        value,
        move |v| v > -three && v < three,
        slope,
    )
}

/// `x·relu6(x + 3)/6`. As torch's `hardswish`: the derivative is 0 for `x ≤ −3`,
/// `x/3 + ½` for `−3 < x < 3`, and 1 for `x ≥ 3`; the second derivative is `1/3` strictly
/// inside `(−3, 3)` and 0 elsewhere. At NaN the derivative is NaN, as torch's vectorized
/// loop gives (its scalar loop, for the last few elements of a tensor, gives 1).
pub fn hardswish<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    let (three, six) = (F::of(3.0), F::of(6.0));
    let value = x
        .value()?
        .map(|v| v * (v + three).clamp(F::zero(), six) / six);
    Ok(x.tape().record("hardswish", value, &[x], move |c| {
        let x = c.x(0);
        let xv = x.value()?;
        let inside =
            xv.map(|v| F::of(f64::from(u8::from(v.is_nan() || (v > -three && v < three)))));
        let outer = xv.map(|v| F::of(f64::from(u8::from(v >= three))));
        // The clamp keeps the middle branch's slope 0 at ±3, where torch's is.
        let middle = x
            .clamp(-three, three)?
            .div_scalar(three)?
            .add_scalar(F::of(0.5))?;
        let slope = Var::where_cond(&inside, middle, c.g.tape().constant(outer))?;
        Ok(vec![c.need(0, || c.g.mul(slope))?])
    })?)
}

/// `ln sigmoid(x) = −softplus(−x)`, finite for any `x`.
pub fn logsigmoid<F: Float>(x: Var<'_, F>) -> Result<Var<'_, F>> {
    Ok(x.neg()?.softplus()?.neg()?)
}

/// `x` for `x > 0`, `w·x` otherwise, with `weight` one learned slope, or one per channel
/// (axis 1) of `x`: torch's `prelu`. The derivative in `x` at 0 and at NaN is `w`, as
/// torch's.
///
/// # Errors
/// [`Error::InvalidArgument`] unless `weight` has one element or one per channel.
pub fn prelu<'t, F: Float>(x: Var<'t, F>, weight: Var<'t, F>) -> Result<Var<'t, F>> {
    let shape = x.shape();
    let n = weight.shape().iter().product::<usize>();
    let w = if n == 1 {
        weight.reshape(&[])?
    } else if shape.len() >= 2 && shape[1] == n {
        let mut to = vec![1isize; shape.len() - 1];
        to[0] = n as isize;
        weight.reshape(&to)?
    } else {
        return Err(Error::InvalidArgument {
            op: "prelu",
            arg: "weight",
            value: format!("{:?} for input {shape:?}", weight.shape()),
            why: "needs one slope, or one per channel (axis 1)",
        });
    };
    let positive = x.value()?.gt_scalar(F::zero());
    Ok(Var::where_cond(&positive, x, x.mul(w)?)?)
}

/// Records `y = value` whose derivative is `slope` where `inside(x)` and 0 elsewhere: a
/// piecewise-linear activation (so its second derivative is 0).
fn masked_slope<'t, F: Float>(
    label: &'static str,
    x: Var<'t, F>,
    value: Tensor<F>,
    inside: impl Fn(F) -> bool + Sync + 'static,
    slope: F,
) -> Result<Var<'t, F>> {
    Ok(x.tape().record(label, value, &[x], move |c| {
        let m = c
            .x(0)
            .value()?
            .map(|v| if inside(v) { slope } else { F::zero() });
        let zero = c.g.tape().constant(Tensor::scalar(F::zero()));
        let taken = m.map(|v| F::of(f64::from(u8::from(v != F::zero()))));
        let scaled = if slope == F::one() {
            c.g
        } else {
            c.g.mul_scalar(slope)?
        };
        Ok(vec![c.need(0, || Var::where_cond(&taken, scaled, zero))?])
    })?)
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

/// [`gelu_tanh`] as a layer (torch's `nn.GELU(approximate="tanh")`).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GeluTanh;
activation_layer!(GeluTanh, |_, x| gelu_tanh(x));

/// [`mish`] as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Mish;
activation_layer!(Mish, |_, x| mish(x));

/// [`selu`] as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Selu;
activation_layer!(Selu, |_, x| selu(x));

/// [`hardtanh`] as a layer (torch's defaults are −1 and 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hardtanh {
    /// The lower bound.
    pub min_val: f64,
    /// The upper bound.
    pub max_val: f64,
}
impl Default for Hardtanh {
    fn default() -> Self {
        Hardtanh {
            min_val: -1.0,
            max_val: 1.0,
        }
    }
}
activation_layer!(Hardtanh, |s, x| hardtanh(x, s.min_val, s.max_val));

/// [`relu6`] as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Relu6;
activation_layer!(Relu6, |_, x| relu6(x));

/// [`hardsigmoid`] as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Hardsigmoid;
activation_layer!(Hardsigmoid, |_, x| hardsigmoid(x));

/// [`hardswish`] as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Hardswish;
activation_layer!(Hardswish, |_, x| hardswish(x));

/// [`logsigmoid`] as a layer.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LogSigmoid;
activation_layer!(LogSigmoid, |_, x| logsigmoid(x));

/// [`prelu`] with a learned `weight` (torch's `nn.PReLU`): one slope, or one per channel.
#[derive(Debug, Clone)]
pub struct Prelu<F: Float> {
    /// `[num_parameters]`, initialized to `init` (torch's default 0.25).
    pub weight: Param<F>,
}

impl<F: Float> Prelu<F> {
    /// `num_parameters` slopes (1, or the input's channel count), all `init`, as
    /// `nn.PReLU(num_parameters, init)`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `num_parameters` is 0.
    pub fn new(num_parameters: usize, init: f64) -> Result<Self> {
        if num_parameters == 0 {
            return Err(Error::InvalidArgument {
                op: "PReLU",
                arg: "num_parameters",
                value: "0".into(),
                why: "must be at least 1",
            });
        }
        Ok(Prelu {
            weight: Param::new(Tensor::full(&[num_parameters], F::of(init))),
        })
    }
}

impl<F: Float> Module<F> for Prelu<F> {
    fn forward<'t>(&self, tape: &'t Tape<F>, x: Var<'t, F>, _: Mode) -> Result<Var<'t, F>> {
        prelu(x, tape.param(&self.weight))
    }

    crate::params!(F; weight);
}
