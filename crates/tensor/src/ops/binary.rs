//! Binary element-wise ops with NumPy broadcasting, their scalar forms, the in-place forms
//! optimizers use, and the operator impls (`&a + &b`), which panic where the methods err.

use crate::error::Result;
use crate::{Float, Tensor};

impl<F: Float> Tensor<F> {
    /// `self + rhs`, broadcasting.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn add(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("add", rhs, |a, b| a + b)
    }
    /// `self − rhs`, broadcasting.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn sub(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("sub", rhs, |a, b| a - b)
    }
    /// `self · rhs` element-wise, broadcasting.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn mul(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("mul", rhs, |a, b| a * b)
    }
    /// `self / rhs` element-wise, broadcasting.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn div(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("div", rhs, |a, b| a / b)
    }
    /// `self ^ rhs` element-wise, broadcasting.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn pow(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("pow", rhs, F::powf)
    }
    /// Element-wise maximum (the first operand at ties, NaN if either is NaN).
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn maximum(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("maximum", rhs, |a, b| {
            if a.is_nan() || b.is_nan() {
                F::nan()
            } else if b > a {
                b
            } else {
                a
            }
        })
    }
    /// Element-wise minimum (the first operand at ties, NaN if either is NaN).
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn minimum(&self, rhs: &Self) -> Result<Self> {
        self.zip_map("minimum", rhs, |a, b| {
            if a.is_nan() || b.is_nan() {
                F::nan()
            } else if b < a {
                b
            } else {
                a
            }
        })
    }
    /// `mask ? on_true : on_false` element-wise (a mask element is true when non-zero), all
    /// three broadcast together: PyTorch's `torch.where(mask, on_true, on_false)` (`where`
    /// is a Rust keyword, and a trailing `_` reads as in-place in PyTorch's naming).
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if the shapes do not broadcast.
    pub fn where_cond(mask: &Self, on_true: &Self, on_false: &Self) -> Result<Self> {
        Self::zip3_map("where_cond", mask, on_true, on_false, |m, t, f| {
            if m != F::zero() {
                t
            } else {
                f
            }
        })
    }

    /// `self + c`.
    pub fn add_scalar(&self, c: F) -> Self {
        self.map(|a| a + c)
    }
    /// `self · c`.
    pub fn mul_scalar(&self, c: F) -> Self {
        self.map(|a| a * c)
    }
    /// `self / c`.
    pub fn div_scalar(&self, c: F) -> Self {
        self.map(|a| a / c)
    }
    /// `c − self`.
    pub fn rsub_scalar(&self, c: F) -> Self {
        self.map(|a| c - a)
    }
    /// `max(self, c)`.
    pub fn maximum_scalar(&self, c: F) -> Self {
        self.map(|a| if a.is_nan() { a } else { a.max(c) })
    }

    /// `self += rhs` in place (`rhs` broadcast to `self`).
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if `rhs` does not broadcast to `self`'s shape.
    pub fn add_inplace(&mut self, rhs: &Self) -> Result<()> {
        self.zip_inplace("add_inplace", rhs, |a, b| a + b)
    }
    /// `self −= rhs` in place.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if `rhs` does not broadcast to `self`'s shape.
    pub fn sub_inplace(&mut self, rhs: &Self) -> Result<()> {
        self.zip_inplace("sub_inplace", rhs, |a, b| a - b)
    }
    /// `self ·= rhs` in place.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if `rhs` does not broadcast to `self`'s shape.
    pub fn mul_inplace(&mut self, rhs: &Self) -> Result<()> {
        self.zip_inplace("mul_inplace", rhs, |a, b| a * b)
    }
    /// `self /= rhs` in place.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if `rhs` does not broadcast to `self`'s shape.
    pub fn div_inplace(&mut self, rhs: &Self) -> Result<()> {
        self.zip_inplace("div_inplace", rhs, |a, b| a / b)
    }
    /// `self += α·x` in place (BLAS's axpy), the core of most optimizer updates.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if `x` does not broadcast to `self`'s shape.
    pub fn axpy_inplace(&mut self, alpha: F, x: &Self) -> Result<()> {
        self.zip_inplace("axpy_inplace", x, |a, b| a + alpha * b)
    }
    /// `self ·= c` in place.
    pub fn scale_inplace(&mut self, c: F) {
        self.map_inplace(|a| a * c)
    }
    /// Overwrites every element with `value`.
    pub fn fill_inplace(&mut self, value: F) {
        self.map_inplace(|_| value)
    }
    /// Copies `src` (broadcast to `self`'s shape) into `self`.
    ///
    /// # Errors
    /// [`crate::Error::Broadcast`] if `src` does not broadcast to `self`'s shape.
    pub fn copy_from(&mut self, src: &Self) -> Result<()> {
        self.zip_inplace("copy_from", src, |_, b| b)
    }
}
