//! Element-wise math beyond the basic unary family: logarithms and exponentials near 0,
//! the trigonometric and hyperbolic functions and their inverses, rounding, and the binary
//! `atan2`, `hypot`, `logaddexp`, `xlogy` and `lerp`. Each is a one-liner over `map` or
//! `zip_map`, with PyTorch's special-value behaviour where it differs from the plain formula.

use crate::error::Result;
use crate::{Float, Tensor};

impl<F: Float> Tensor<F> {
    /// `ln(1 + x)`, accurate for small `x`.
    pub fn log1p(&self) -> Self {
        self.map(F::ln_1p)
    }
    /// `eˣ − 1`, accurate for small `x`.
    pub fn expm1(&self) -> Self {
        self.map(F::exp_m1)
    }
    /// Base-2 logarithm.
    pub fn log2(&self) -> Self {
        self.map(F::log2)
    }
    /// Base-10 logarithm.
    pub fn log10(&self) -> Self {
        self.map(F::log10)
    }
    /// `tan x`.
    pub fn tan(&self) -> Self {
        self.map(F::tan)
    }
    /// `arcsin x` (NaN outside `[−1, 1]`).
    pub fn asin(&self) -> Self {
        self.map(F::asin)
    }
    /// `arccos x` (NaN outside `[−1, 1]`).
    pub fn acos(&self) -> Self {
        self.map(F::acos)
    }
    /// `arctan x`.
    pub fn atan(&self) -> Self {
        self.map(F::atan)
    }
    /// `sinh x`.
    pub fn sinh(&self) -> Self {
        self.map(F::sinh)
    }
    /// `cosh x`.
    pub fn cosh(&self) -> Self {
        self.map(F::cosh)
    }
    /// `arsinh x`.
    pub fn asinh(&self) -> Self {
        self.map(F::asinh)
    }
    /// `arcosh x` (NaN below 1).
    pub fn acosh(&self) -> Self {
        self.map(F::acosh)
    }
    /// `artanh x` (±∞ at ±1, NaN outside `[−1, 1]`).
    pub fn atanh(&self) -> Self {
        self.map(F::atanh)
    }
    /// `1/√x`.
    pub fn rsqrt(&self) -> Self {
        self.map(|x| x.sqrt().recip())
    }
    /// The largest integer `≤ x`.
    pub fn floor(&self) -> Self {
        self.map(F::floor)
    }
    /// The smallest integer `≥ x`.
    pub fn ceil(&self) -> Self {
        self.map(F::ceil)
    }
    /// The nearest integer, halves to even (`torch.round`: `2.5 → 2`, `−0.5 → −0`).
    pub fn round(&self) -> Self {
        self.map(round_half_even)
    }
    /// `x` with its fraction dropped (towards 0).
    pub fn trunc(&self) -> Self {
        self.map(F::trunc)
    }
    /// `x − trunc(x)`, with the sign of `x` (NaN at ±∞, as `torch.frac`).
    pub fn frac(&self) -> Self {
        self.map(|x| x - x.trunc())
    }

    /// `atan2(self, rhs)`: the angle of the point `(rhs, self)`, broadcasting.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn atan2(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("atan2", rhs, F::atan2)
    }
    /// `√(self² + rhs²)` without overflow, broadcasting.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn hypot(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("hypot", rhs, F::hypot)
    }
    /// `ln(eˢᵉˡᶠ + eʳʰˢ)` without overflow, broadcasting; equal infinities give themselves.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn logaddexp(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("logaddexp", rhs, logaddexp)
    }
    /// `self · ln(rhs)`, 0 where `self = 0` unless `rhs` is NaN (`torch.xlogy`).
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn xlogy(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("xlogy", rhs, |x, y| {
            if y.is_nan() {
                y
            } else if x == F::zero() {
                F::zero()
            } else {
                x * y.ln()
            }
        })
    }
    /// `self + weight·(end − self)`, all three broadcast together, evaluated as
    /// `torch.lerp` does: from `end` when `|weight| ≥ ½`, so that weight 1 gives `end`
    /// exactly.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn lerp(&self, end: &Self, weight: &Self) -> Result<Self> {
        Self::zip3_map("lerp", self, end, weight, lerp)
    }
    /// [`Tensor::lerp`] with a scalar weight.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn lerp_scalar(&self, end: &Self, weight: F) -> Result<Self> {
        self.zip_map("lerp", end, |a, b| lerp(a, b, weight))
    }
}

/// Rounds to the nearest integer, a tie to the even one.
fn round_half_even<F: Float>(x: F) -> F {
    let half = F::of(0.5);
    if (x - x.trunc()).abs() == half {
        (x * half).round() * F::of(2.0)
    } else {
        x.round()
    }
}

/// `ln(eᵃ + eᵇ) = max + ln(1 + e^−|a−b|)`, and `a` when both are the same infinity (where
/// `a − b` would be NaN), as PyTorch's kernel.
pub(crate) fn logaddexp<F: Float>(a: F, b: F) -> F {
    if a.is_infinite() && a == b {
        a
    } else {
        let m = if a.is_nan() || b.is_nan() {
            F::nan()
        } else {
            a.max(b)
        };
        m + (-(a - b).abs()).exp().ln_1p()
    }
}

/// PyTorch's `lerp` for one element.
fn lerp<F: Float>(a: F, b: F, w: F) -> F {
    if w.abs() < F::of(0.5) {
        a + w * (b - a)
    } else {
        b - (b - a) * (F::one() - w)
    }
}
