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

    /// `eˣ`, as the tensor kernels compute it: the platform's for `f64`, a vectorizable
    /// kernel within 2 ulp for `f32` (see `math.rs`).
    fn exp_kernel(self) -> Self;

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

/// Implements [`Float`] for a primitive type: its dtype name, pool, tanh and exp kernels
/// and GEMM (for `f32` descent's own on AVX2 CPUs, with matrixmultiply's bits; else
/// matrixmultiply's).
macro_rules! impl_float {
    ($t:ty, $dtype:literal, $pool:ident, $gemm:path, $tanh:expr, $exp:expr) => {
        static $pool: Pool<$t> = Pool::new();

        impl Float for $t {
            const DTYPE: &'static str = $dtype;
            fn of(x: f64) -> Self {
                x as $t
            }
            fn as_f64(self) -> f64 {
                self as f64
            }
            fn pool() -> &'static Pool<Self> {
                &$pool
            }
            #[inline(always)]
            fn tanh_kernel(self) -> Self {
                $tanh(self)
            }
            #[inline(always)]
            fn exp_kernel(self) -> Self {
                $exp(self)
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
                $gemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc)
            }
        }
    };
}

impl_float!(
    f32,
    "float32",
    POOL_F32,
    crate::ops::sgemm::sgemm,
    crate::math::tanh_f32,
    crate::math::exp_f32
);
impl_float!(
    f64,
    "float64",
    POOL_F64,
    matrixmultiply::dgemm,
    f64::tanh,
    f64::exp
);
