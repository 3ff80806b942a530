//! Fused, numerically stable `softmax` and `log_softmax` along one axis: each row is read
//! twice (max, then Σ e^(x−max)) and written once, whatever the axis.

use crate::error::Result;
use crate::layout::normalize_dim;
use crate::tensor::PAR_MIN;
use crate::{Float, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;

impl<F: Float> Tensor<F> {
    /// `e^(x−max) / Σ e^(x−max)` along `dim`; a NaN in a row makes the row NaN (as PyTorch).
    ///
    /// # Errors
    /// [`crate::Error::DimOutOfRange`].
    pub fn softmax(&self, dim: isize) -> Result<Self> {
        self.along_rows("softmax", dim, |row, out| {
            let m = row_max(row);
            let mut s = F::zero();
            for (o, &x) in out.iter_mut().zip(row) {
                let e = (x - m).exp();
                s += e;
                o.write(e);
            }
            let inv = s.recip();
            // SAFETY: every element of `out` was written in the loop above.
            out.iter_mut()
                .for_each(|o| unsafe { *o.assume_init_mut() *= inv });
        })
    }

    /// `(x − max) − ln Σ e^(x−max)` along `dim`: finite even where `softmax` underflows to
    /// 0. Subtracting the max first keeps the leading entry exact: `x − (max + ln s)` would
    /// round `max + ln s` and lose everything below its last bit (`[35, 1, 0]` gave 0.0 for
    /// the first entry instead of −2.44e−15). A NaN in a row makes the row NaN (as PyTorch).
    ///
    /// # Errors
    /// [`crate::Error::DimOutOfRange`].
    pub fn log_softmax(&self, dim: isize) -> Result<Self> {
        self.along_rows("log_softmax", dim, |row, out| {
            let m = row_max(row);
            let log_s = row.iter().map(|&x| (x - m).exp()).sum::<F>().ln();
            for (o, &x) in out.iter_mut().zip(row) {
                o.write((x - m) - log_s);
            }
        })
    }

    /// Applies `f(row, out_row)` to every line along `dim` (moved last and made contiguous),
    /// in parallel over rows for large inputs, and moves the axis back.
    fn along_rows(
        &self,
        op: &'static str,
        dim: isize,
        f: impl Fn(&[F], &mut [MaybeUninit<F>]) + Sync,
    ) -> Result<Self> {
        let d = normalize_dim(op, dim, &self.shape)?;
        let last = self.ndim() - 1;
        let moved = self.transpose(d as isize, last as isize)?.contiguous();
        let n = self.shape[d].max(1);
        let src = moved.as_slice().unwrap_or_default();
        let total = moved.numel();
        let mut v = F::pool().take(total);
        let spare = &mut v.spare_capacity_mut()[..total];
        let rows_per_task = (PAR_MIN / n).max(1);
        let run = |(chunk, out): (usize, &mut [MaybeUninit<F>])| {
            let base = chunk * rows_per_task * n;
            for (r, o) in out.chunks_mut(n).enumerate() {
                f(&src[base + r * n..base + (r + 1) * n], o);
            }
        };
        if total >= PAR_MIN && rayon::current_num_threads() > 1 {
            spare
                .par_chunks_mut(rows_per_task * n)
                .enumerate()
                .for_each(run);
        } else {
            spare
                .chunks_mut(rows_per_task * n)
                .enumerate()
                .for_each(run);
        }
        // SAFETY: `f` writes each row of `spare` completely.
        unsafe { v.set_len(total) };
        let out = Tensor::from_parts(v, moved.shape.clone());
        out.transpose(d as isize, last as isize)
    }
}

fn row_max<F: Float>(row: &[F]) -> F {
    let m = row.iter().fold(
        F::neg_infinity(),
        |a, &x| if x > a || x.is_nan() { x } else { a },
    );
    if m.is_finite() {
        m
    } else {
        F::zero()
    }
}

#[cfg(test)]
mod tests {
    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;
    use super::*;

    #[test]
    fn softmax_is_stable_and_normalised_on_any_axis() -> TestResult {
        let x = Tensor::<f32>::from_vec(vec![1e4, 0.0, -1e4, 1.0, 2.0, 3.0], &[2, 3])?;
        let s = x.softmax(-1)?.to_vec();
        assert_eq!(&s[..3], &[1.0, 0.0, 0.0]);
        let l = x.log_softmax(1)?.to_vec();
        assert_eq!(l[2], -2e4);
        let c = x.softmax(0)?.sum(&[0], false)?.to_vec();
        assert!(c.iter().all(|&v| (v - 1.0).abs() < 1e-6));
        Ok(())
    }
}
