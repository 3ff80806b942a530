//! Summary statistics of one tensor — mean, standard deviation, the fraction of zeros and
//! of dead units — and histograms: the numbers behind the lectures' variance-propagation
//! picture (Glorot & Bengio, 2010; He et al., 2015), where each layer's activations should
//! keep a standard deviation of order one, forward and backward.

use crate::error::{Error, Result};
use descent_tensor::{Float, Tensor};

/// Mean, spread and sparsity of one tensor (an activation, its gradient, a parameter's
/// gradient), accumulated in `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TensorStats {
    /// The number of elements.
    pub count: usize,
    /// The mean of the elements.
    pub mean: f64,
    /// The standard deviation with Bessel's correction, as PyTorch's `tensor.std()` (its
    /// default `correction=1`); 0 for a single element.
    pub std: f64,
    /// The smallest element.
    pub min: f64,
    /// The largest element.
    pub max: f64,
    /// The fraction of elements that are exactly zero (after a ReLU: the inactive ones).
    pub zero_fraction: f64,
    /// The fraction of units — positions along axis 1, the features or channels — that are
    /// zero for every sample of the batch and every spatial position: ReLUs that pass no
    /// gradient on this batch (Lu et al., 2019, "dying ReLU"). For a tensor of fewer than two
    /// axes, every element is its own unit.
    pub dead_fraction: f64,
}

impl TensorStats {
    /// The statistics of `t`.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// use descent_train::diagnostics::TensorStats;
    /// // Two samples, three units; unit 1 is zero for both samples.
    /// let t = Tensor::from_vec(vec![1.0, 0.0, 3.0, 0.0, 0.0, 2.0], &[2, 3])?;
    /// let s = TensorStats::of(&t)?;
    /// assert_eq!((s.mean, s.zero_fraction, s.dead_fraction), (1.0, 0.5, 1.0 / 3.0));
    /// # Ok::<(), descent_train::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty tensor (its mean is undefined).
    pub fn of<F: Float>(t: &Tensor<F>) -> Result<TensorStats> {
        let values: Vec<f64> = t.to_vec().into_iter().map(F::as_f64).collect();
        let n = values.len();
        if n == 0 {
            return Err(Error::InvalidArgument {
                op: "TensorStats::of",
                arg: "tensor",
                value: format!("shape {:?}", t.shape()),
                why: "has no elements".into(),
            });
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
        let std = if n > 1 {
            (squares / (n - 1) as f64).sqrt()
        } else {
            0.0
        };
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let zeros = values.iter().filter(|&&v| v == 0.0).count();
        Ok(TensorStats {
            count: n,
            mean,
            std,
            min,
            max,
            zero_fraction: zeros as f64 / n as f64,
            dead_fraction: dead_fraction(&values, t.shape()),
        })
    }
}

/// The fraction of positions along axis 1 whose every element (over axis 0 and the axes
/// after 1) is zero; element-wise for tensors of fewer than two axes.
fn dead_fraction(values: &[f64], shape: &[usize]) -> f64 {
    if shape.len() < 2 {
        let zeros = values.iter().filter(|&&v| v == 0.0).count();
        return zeros as f64 / values.len() as f64;
    }
    let units = shape[1];
    let inner: usize = shape[2..].iter().product();
    let mut alive = vec![false; units];
    for (i, v) in values.iter().enumerate() {
        if *v != 0.0 {
            alive[(i / inner) % units] = true;
        }
    }
    alive.iter().filter(|a| !**a).count() as f64 / units as f64
}

/// Counts of a tensor's elements in equal-width bins (`numpy.histogram`'s convention: each
/// bin is half-open `[lo, hi)` except the last, which includes its upper edge).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// `bins + 1` increasing bin edges.
    pub edges: Vec<f64>,
    /// The number of elements in each bin.
    pub counts: Vec<usize>,
}

impl Histogram {
    /// The histogram of `t` over `bins` equal bins spanning its smallest to its largest
    /// element (a constant tensor gets the range `[v − 0.5, v + 0.5]`, as NumPy).
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// use descent_train::diagnostics::Histogram;
    /// let h = Histogram::of(&Tensor::from_vec(vec![0.0, 1.0, 1.0, 4.0], &[4])?, 4)?;
    /// assert_eq!(h.edges, [0.0, 1.0, 2.0, 3.0, 4.0]);
    /// assert_eq!(h.counts, [1, 2, 0, 1]);
    /// # Ok::<(), descent_train::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for zero bins, an empty tensor, or a tensor holding NaN
    /// or infinity (whose range has no finite bins).
    pub fn of<F: Float>(t: &Tensor<F>, bins: usize) -> Result<Histogram> {
        let values: Vec<f64> = t.to_vec().into_iter().map(F::as_f64).collect();
        let invalid = |why: &str| Error::InvalidArgument {
            op: "Histogram::of",
            arg: "tensor",
            value: format!("shape {:?}", t.shape()),
            why: why.into(),
        };
        if bins == 0 {
            return Err(Error::InvalidArgument {
                op: "Histogram::of",
                arg: "bins",
                value: "0".into(),
                why: "must be at least 1".into(),
            });
        }
        if values.is_empty() {
            return Err(invalid("has no elements"));
        }
        if values.iter().any(|v| !v.is_finite()) {
            return Err(invalid("holds NaN or infinity"));
        }
        let mut lo = values.iter().copied().fold(f64::INFINITY, f64::min);
        let mut hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        if lo == hi {
            (lo, hi) = (lo - 0.5, hi + 0.5);
        }
        let width = (hi - lo) / bins as f64;
        let edges: Vec<f64> = (0..=bins).map(|i| lo + width * i as f64).collect();
        let mut counts = vec![0; bins];
        for v in values {
            let i = (((v - lo) / width) as usize).min(bins - 1);
            counts[i] += 1;
        }
        Ok(Histogram { edges, counts })
    }
}
