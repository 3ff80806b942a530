//! Seeded random tensors. The generator is always passed in, so the same seed gives the
//! same tensor on every machine and thread count (values are drawn sequentially).

use crate::error::{Error, Result};
use crate::{Float, Tensor};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

impl<F: Float> Tensor<F> {
    /// Uniform samples from `[low, high)`.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let a = Tensor::<f32>::rand(&[2, 3], -1.0, 1.0, &mut rng)?;
    /// let b = Tensor::<f32>::rand(&[2, 3], -1.0, 1.0, &mut rand::rngs::StdRng::seed_from_u64(0))?;
    /// assert_eq!(a.to_vec(), b.to_vec());
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `low < high`, both finite;
    /// [`Error::TooLarge`] if `shape` is too large to allocate.
    pub fn rand(shape: &[usize], low: F, high: F, rng: &mut impl Rng) -> Result<Self> {
        if low >= high || !low.is_finite() || !high.is_finite() {
            return Err(Error::InvalidArgument {
                op: "rand",
                arg: "low..high",
                value: format!("{low}..{high}"),
                why: "need finite low < high",
            });
        }
        let (lo, width) = (low.as_f64(), (high - low).as_f64());
        Self::sample("rand", shape, || {
            F::of(lo + width * rng.random::<f64>()).min(high.prev_below())
        })
    }

    /// Normal samples with the given mean and standard deviation.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a negative or non-finite `std`;
    /// [`Error::TooLarge`] if `shape` is too large to allocate.
    pub fn randn(shape: &[usize], mean: F, std: F, rng: &mut impl Rng) -> Result<Self> {
        check_std("randn", std)?;
        Self::sample("randn", shape, || {
            mean + std * F::of(StandardNormal.sample(rng))
        })
    }

    /// Normal samples re-drawn until they fall within `mean ± 2·std` (truncated normal).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a negative or non-finite `std`;
    /// [`Error::TooLarge`] if `shape` is too large to allocate.
    pub fn trunc_normal(shape: &[usize], mean: F, std: F, rng: &mut impl Rng) -> Result<Self> {
        check_std("trunc_normal", std)?;
        Self::sample("trunc_normal", shape, || loop {
            let z: f64 = StandardNormal.sample(rng);
            if z.abs() <= 2.0 {
                break mean + std * F::of(z);
            }
        })
    }

    fn sample(op: &'static str, shape: &[usize], mut draw: impl FnMut() -> F) -> Result<Self> {
        let n = crate::layout::checked_numel(op, shape, size_of::<F>())?;
        let mut v = F::pool().take(n);
        v.extend((0..n).map(|_| draw()));
        Ok(Self::from_parts(v, shape.to_vec()))
    }
}

fn check_std<F: Float>(op: &'static str, std: F) -> Result<()> {
    if std < F::zero() || !std.is_finite() {
        return Err(Error::InvalidArgument {
            op,
            arg: "std",
            value: std.to_string(),
            why: "must be finite and non-negative",
        });
    }
    Ok(())
}

/// The largest value below `x`, so `rand` never returns `high` after rounding to `f32`.
trait PrevBelow {
    fn prev_below(self) -> Self;
}
impl<F: Float> PrevBelow for F {
    fn prev_below(self) -> Self {
        let d = self.abs().max(F::min_positive_value()) * F::epsilon() / F::of(2.0);
        self - d
    }
}

#[cfg(test)]
mod tests {
    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn truncated_normal_stays_within_two_sigma() -> TestResult {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let t = Tensor::<f64>::trunc_normal(&[10_000], 1.0, 0.5, &mut rng)?;
        let v = t.to_vec();
        assert!(v.iter().all(|&x| (x - 1.0).abs() <= 1.0));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean - 1.0).abs() < 0.02, "{mean}");
        Ok(())
    }

    #[test]
    fn rand_is_within_bounds_and_bad_bounds_err() -> TestResult {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let t = Tensor::<f32>::rand(&[1000], 2.0, 3.0, &mut rng)?;
        assert!(t.to_vec().iter().all(|&x| (2.0..3.0).contains(&x)));
        assert!(Tensor::<f32>::rand(&[1], 1.0, 1.0, &mut rng).is_err());
        assert!(Tensor::<f32>::randn(&[1], 0.0, -1.0, &mut rng).is_err());
        Ok(())
    }
}
