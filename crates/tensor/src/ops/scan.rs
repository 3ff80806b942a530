//! Reductions beyond `reduce.rs` (`prod`, `std`, `any`, `all`, `count_nonzero`) and the
//! scans along one axis (`cumsum`, `cumprod`, `logcumsumexp`, and the reversed forms their
//! gradients need). A scan sees the tensor as `[outer, n, inner]` around its axis: blocks of
//! `n·inner` contiguous elements run in parallel, and inside a block each step combines a
//! whole row of `inner` accumulators with the next row (in order, vectorizable).

use super::elementwise_math::logaddexp;
use crate::error::Result;
use crate::layout::{normalize_dim, numel};
use crate::tensor::PAR_MIN;
use crate::{Float, Tensor};
use rayon::prelude::*;

impl<F: Float> Tensor<F> {
    /// `Π x` over `dims` (1 over an empty axis).
    ///
    /// # Errors
    /// [`crate::Error::DimOutOfRange`] for an axis outside the shape.
    pub fn prod(&self, dims: &[isize], keepdim: bool) -> Result<Self> {
        self.reduce("prod", dims, keepdim, F::one(), |a, x| a * x, |a, _| a)
    }

    /// Standard deviation over `dims` with `correction` (1 = Bessel's, PyTorch's default):
    /// the square root of [`Tensor::var`].
    ///
    /// # Errors
    /// [`crate::Error::DimOutOfRange`].
    pub fn std(&self, dims: &[isize], correction: usize, keepdim: bool) -> Result<Self> {
        Ok(self.var(dims, correction, keepdim)?.sqrt())
    }

    /// 1 where some element over `dims` is non-zero (NaN counts), else 0.
    ///
    /// # Errors
    /// [`crate::Error::DimOutOfRange`].
    pub fn any(&self, dims: &[isize], keepdim: bool) -> Result<Self> {
        let one = F::one();
        self.reduce(
            "any",
            dims,
            keepdim,
            F::zero(),
            move |a, x| if x != F::zero() { one } else { a },
            |a, _| a,
        )
    }

    /// 1 where every element over `dims` is non-zero (NaN counts; true over an empty axis),
    /// else 0.
    ///
    /// # Errors
    /// [`crate::Error::DimOutOfRange`].
    pub fn all(&self, dims: &[isize], keepdim: bool) -> Result<Self> {
        self.reduce(
            "all",
            dims,
            keepdim,
            F::one(),
            |a, x| if x == F::zero() { F::zero() } else { a },
            |a, _| a,
        )
    }

    /// How many elements over `dims` are non-zero (NaN counts), as a number.
    ///
    /// # Errors
    /// [`crate::Error::DimOutOfRange`].
    pub fn count_nonzero(&self, dims: &[isize]) -> Result<Self> {
        self.reduce(
            "count_nonzero",
            dims,
            false,
            F::zero(),
            |a, x| if x != F::zero() { a + F::one() } else { a },
            |a, _| a,
        )
    }

    /// Running sum along `dim`: `y[i] = x[0] + … + x[i]`.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1., 2., 3., 4.], &[2, 2])?;
    /// assert_eq!(x.cumsum(0)?.to_vec(), vec![1., 2., 4., 6.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`crate::Error::DimOutOfRange`].
    pub fn cumsum(&self, dim: isize) -> Result<Self> {
        self.scan("cumsum", dim, false, |a, x| a + x)
    }

    /// Running sum from the end: `y[i] = x[i] + … + x[n−1]`, the adjoint of
    /// [`Tensor::cumsum`] (torch: `x.flip(d).cumsum(d).flip(d)`).
    ///
    /// # Errors
    /// [`crate::Error::DimOutOfRange`].
    pub fn cumsum_reverse(&self, dim: isize) -> Result<Self> {
        self.scan("cumsum_reverse", dim, true, |a, x| a + x)
    }

    /// Running product along `dim`.
    ///
    /// # Errors
    /// [`crate::Error::DimOutOfRange`].
    pub fn cumprod(&self, dim: isize) -> Result<Self> {
        self.scan("cumprod", dim, false, |a, x| a * x)
    }

    /// `y[i] = ln Σ_{j ≤ i} e^x[j]` along `dim`, accumulated with `logaddexp` so it never
    /// overflows; NaN propagates forward, equal infinities stay (as PyTorch).
    ///
    /// # Errors
    /// [`crate::Error::DimOutOfRange`].
    pub fn logcumsumexp(&self, dim: isize) -> Result<Self> {
        self.scan("logcumsumexp", dim, false, logaddexp)
    }

    /// [`Tensor::logcumsumexp`] from the end: `y[i] = ln Σ_{j ≥ i} e^x[j]`
    /// (torch: `x.flip(d).logcumsumexp(d).flip(d)`).
    ///
    /// # Errors
    /// [`crate::Error::DimOutOfRange`].
    pub fn logcumsumexp_reverse(&self, dim: isize) -> Result<Self> {
        self.scan("logcumsumexp_reverse", dim, true, logaddexp)
    }

    /// `y[i] = step(y[i−1], x[i])` along `dim` with `y[0] = x[0]` (from the end if
    /// `reverse`).
    fn scan(
        &self,
        op: &'static str,
        dim: isize,
        reverse: bool,
        step: impl Fn(F, F) -> F + Sync,
    ) -> Result<Self> {
        let d = normalize_dim(op, dim, &self.shape)?;
        let (n, inner) = (self.shape[d], numel(&self.shape[d + 1..]));
        let block = n * inner;
        let src = self.contiguous();
        let s = src.as_slice().unwrap_or_default();
        let mut out = F::pool().take(s.len());
        out.extend_from_slice(s);
        if block == 0 {
            return Ok(Self::from_parts(out, self.shape.clone()));
        }
        let run = |b: &mut [F]| {
            for t in 1..n {
                let (k, prev) = if reverse {
                    (n - 1 - t, n - t)
                } else {
                    (t, t - 1)
                };
                let (lo, hi) = b.split_at_mut(k.max(prev) * inner);
                let (dst, acc) = if reverse {
                    (&mut lo[k * inner..], &hi[..inner])
                } else {
                    (&mut hi[..inner], &lo[prev * inner..])
                };
                for (y, &a) in dst.iter_mut().zip(acc) {
                    *y = step(a, *y);
                }
            }
        };
        if out.len() >= PAR_MIN && out.len() > block {
            out.par_chunks_mut(block)
                .with_min_len(PAR_MIN.div_ceil(block))
                .for_each(run);
        } else {
            out.chunks_mut(block).for_each(run);
        }
        Ok(Self::from_parts(out, self.shape.clone()))
    }
}
