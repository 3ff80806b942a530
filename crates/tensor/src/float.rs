//! The element types a tensor can hold: `f32` and `f64`, behind one sealed trait so every
//! kernel is written once and gradient checks run in `f64` for free.

use crate::pool::Pool;
use std::fmt::{Debug, Display, LowerExp};
use std::iter::Sum;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point element type (`f32` or `f64`).
pub trait Float:
    num_traits::Float
    + num_traits::FromPrimitive
    + num_traits::NumAssign
    + Default
    + Debug
    + Display
    + LowerExp
    + Sum
    + Send
    + Sync
    + 'static
    + sealed::Sealed
{
    /// PyTorch's name for the type, used by `Display` and in file formats.
    const DTYPE: &'static str;

    /// Converts from `f64`, rounding to nearest for `f32`.
    fn of(x: f64) -> Self;
    /// Widens to `f64` (exact).
    fn as_f64(self) -> f64;
    /// Converts an index or count.
    fn of_usize(n: usize) -> Self {
        Self::of(n as f64)
    }

    /// The buffer pool for this type (see [`crate::pool`]).
    fn pool() -> &'static Pool<Self>;

    /// `tanh`, as the tensor kernels compute it: the platform's for `f64`, a vectorizable
    /// kernel within 2 ulp for `f32` (see `math.rs`).
    fn tanh_kernel(self) -> Self;

    /// `C ← α·A·B + β·C` for row/column strides given in elements.
    ///
    /// # Safety
    /// The pointers and strides must describe valid `m×k`, `k×n` and `m×n` matrices, and
    /// `c` must not alias `a` or `b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    );
}

static POOL_F32: Pool<f32> = Pool::new();
static POOL_F64: Pool<f64> = Pool::new();

impl Float for f32 {
    const DTYPE: &'static str = "float32";
    fn of(x: f64) -> Self {
        x as f32
    }
    fn as_f64(self) -> f64 {
        self as f64
    }
    fn pool() -> &'static Pool<Self> {
        &POOL_F32
    }
    #[inline(always)]
    fn tanh_kernel(self) -> Self {
        crate::math::tanh_f32(self)
    }
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
    }
}

impl Float for f64 {
    const DTYPE: &'static str = "float64";
    fn of(x: f64) -> Self {
        x
    }
    fn as_f64(self) -> f64 {
        self
    }
    fn pool() -> &'static Pool<Self> {
        &POOL_F64
    }
    #[inline(always)]
    fn tanh_kernel(self) -> Self {
        self.tanh()
    }
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        matrixmultiply::dgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
    }
}
