//! Element-wise unary maps `y[i] = f(x[i])`, and comparisons that return 0/1 masks.

use crate::error::Result;
use crate::{Float, Tensor};

impl<F: Float> Tensor<F> {
    /// `−x`.
    pub fn neg(&self) -> Self {
        self.map(|x| -x)
    }
    /// `|x|`.
    pub fn abs(&self) -> Self {
        self.map(F::abs)
    }
    /// `−1`, `0` or `1` by the sign of `x`: 0 at ±0 and at NaN, as `torch.sign` (NumPy's
    /// gives NaN).
    pub fn sign(&self) -> Self {
        self.map(|x| {
            if x > F::zero() {
                F::one()
            } else if x < F::zero() {
                -F::one()
            } else {
                F::zero()
            }
        })
    }
    /// `eˣ`.
    pub fn exp(&self) -> Self {
        self.map(F::exp_kernel)
    }
    /// Natural logarithm.
    pub fn ln(&self) -> Self {
        self.map(F::ln)
    }
    /// `√x`.
    pub fn sqrt(&self) -> Self {
        self.map(F::sqrt)
    }
    /// `x²`.
    pub fn square(&self) -> Self {
        self.map(|x| x * x)
    }
    /// `xᵖ`.
    pub fn powf(&self, p: F) -> Self {
        self.map(|x| x.powf(p))
    }
    /// `1/x`.
    pub fn recip(&self) -> Self {
        self.map(F::recip)
    }
    /// `sin x`.
    pub fn sin(&self) -> Self {
        self.map(F::sin)
    }
    /// `cos x`.
    pub fn cos(&self) -> Self {
        self.map(F::cos)
    }
    /// `tanh x`.
    pub fn tanh(&self) -> Self {
        self.map(F::tanh_kernel)
    }
    /// `1/(1 + e⁻ˣ)`, computed without overflow for large `|x|`.
    pub fn sigmoid(&self) -> Self {
        self.map(sigmoid)
    }
    /// `max(x, 0)`; NaN stays NaN (as PyTorch, and as `maximum_scalar(0)`).
    pub fn relu(&self) -> Self {
        self.map(relu_of)
    }
    /// `x` limited to `[lo, hi]` (NaN stays NaN).
    pub fn clamp(&self, lo: F, hi: F) -> Self {
        self.map(|x| {
            if x < lo {
                lo
            } else if x > hi {
                hi
            } else {
                x
            }
        })
    }
    /// `ln(1 + eˣ)`, stable for large `|x|`.
    pub fn softplus(&self) -> Self {
        self.map(softplus)
    }
    /// The Heaviside step with value 0 at 0: `1` where `x > 0`, else `0` (NaN gives 0), as
    /// PyTorch's `torch.heaviside(x, 0)`. (Formerly `step`, a name that read as an
    /// optimizer's step.)
    pub fn heaviside(&self) -> Self {
        self.map(|x| if x > F::zero() { F::one() } else { F::zero() })
    }
    /// Whether any element is NaN or infinite. Reads the elements in place (optimizers and
    /// anomaly mode call it every step): no copy, even of a strided view.
    pub fn has_non_finite(&self) -> bool {
        if let Some(s) = self.as_slice() {
            return s.iter().any(|x| !x.is_finite());
        }
        let data = &self.data.0;
        let mut found = false;
        crate::layout::walk(
            &self.shape,
            [&self.strides],
            [self.offset],
            0,
            self.numel(),
            |_, [o]| {
                found |= !data[o].is_finite();
            },
        );
        found
    }

    /// `1` where `self == rhs` (broadcasting), else `0`.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`].
    pub fn eq(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("eq", rhs, |a, b| mask(a == b))
    }
    /// `1` where `self != rhs`, else `0`.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`].
    pub fn ne(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("ne", rhs, |a, b| mask(a != b))
    }
    /// `1` where `self < rhs`, else `0`.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`].
    pub fn lt(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("lt", rhs, |a, b| mask(a < b))
    }
    /// `1` where `self <= rhs`, else `0`.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`].
    pub fn le(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("le", rhs, |a, b| mask(a <= b))
    }
    /// `1` where `self > rhs`, else `0`.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`].
    pub fn gt(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("gt", rhs, |a, b| mask(a > b))
    }
    /// `1` where `self >= rhs`, else `0`.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`].
    pub fn ge(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("ge", rhs, |a, b| mask(a >= b))
    }
    /// `1` where `self > c`, else `0`.
    pub fn gt_scalar(&self, c: F) -> Self {
        self.map(|a| mask(a > c))
    }
    /// `1` where `self < c`, else `0`.
    pub fn lt_scalar(&self, c: F) -> Self {
        self.map(|a| mask(a < c))
    }
}

fn mask<F: Float>(b: bool) -> F {
    if b {
        F::one()
    } else {
        F::zero()
    }
}

/// `max(v, 0)` of one value: 0 for `v ≤ 0` (−0 included), `v` otherwise (NaN stays NaN);
/// [`Tensor::relu`] and the fused ReLU of the max pool.
#[inline(always)]
pub(crate) fn relu_of<F: Float>(v: F) -> F {
    if v <= F::zero() {
        F::zero()
    } else {
        v
    }
}

/// Logistic function, evaluated so that `e^x` never overflows.
pub(crate) fn sigmoid<F: Float>(x: F) -> F {
    if x >= F::zero() {
        F::one() / (F::one() + (-x).exp())
    } else {
        let e = x.exp();
        e / (F::one() + e)
    }
}

/// `ln(1 + eˣ) = max(x, 0) + ln(1 + e^−|x|)`.
pub(crate) fn softplus<F: Float>(x: F) -> F {
    x.max(F::zero()) + (-x.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;
    use super::*;

    #[test]
    fn non_finite_is_found_in_strided_views_too() -> TestResult {
        let mut x = Tensor::<f32>::zeros(&[3, 4]);
        assert!(!x.has_non_finite() && !x.t()?.has_non_finite());
        x.data_mut()[7] = f32::NAN;
        assert!(x.has_non_finite() && x.t()?.has_non_finite());
        assert!(
            !x.narrow(1, 0, 3)?.has_non_finite(),
            "the NaN is outside the view"
        );
        Ok(())
    }

    #[test]
    fn stable_functions_survive_extremes() -> TestResult {
        let x = Tensor::<f32>::from_vec(vec![-1e4, -1.0, 0.0, 1.0, 1e4], &[5])?;
        let s = x.sigmoid().to_vec();
        assert_eq!((s[0], s[2], s[4]), (0.0, 0.5, 1.0));
        let p = x.softplus().to_vec();
        assert_eq!((p[0], p[4]), (0.0, 1e4));
        assert!((p[2] - std::f32::consts::LN_2).abs() < 1e-7);
        Ok(())
    }

    #[test]
    fn comparisons_broadcast() -> TestResult {
        let a = Tensor::<f64>::from_vec(vec![1., 2., 3.], &[3, 1])?;
        let b = Tensor::<f64>::from_vec(vec![2., 2.], &[2])?;
        assert_eq!(a.lt(&b)?.to_vec(), vec![1., 1., 0., 0., 0., 0.]);
        assert_eq!(a.ge(&b)?.shape(), &[3, 2]);
        Ok(())
    }
}
