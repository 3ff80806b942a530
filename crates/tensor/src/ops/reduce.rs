//! Reductions over an axis list (empty = all axes) with `keepdim`, and `sum_to`, which
//! undoes broadcasting (the backward rule of every broadcasting op needs it).

use crate::error::{Error, Result};
use crate::layout::normalize_dims;
use crate::{Float, Tensor};

impl<F: Float> Tensor<F> {
    /// `Σ x` over `dims`.
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`] for an axis outside the shape.
    pub fn sum(&self, dims: &[isize], keepdim: bool) -> Result<Self> {
        self.reduce("sum", dims, keepdim, F::zero(), |a, x| a + x, |a, _| a)
    }

    /// Sum of every element, as a number.
    pub fn sum_all(&self) -> F {
        self.sum(&[], false)
            .and_then(|t| t.item())
            .unwrap_or_else(|_| F::zero())
    }

    /// Mean over `dims` (NaN over an empty axis, as PyTorch).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`].
    pub fn mean(&self, dims: &[isize], keepdim: bool) -> Result<Self> {
        self.reduce(
            "mean",
            dims,
            keepdim,
            F::zero(),
            |a, x| a + x,
            |a, n| a / F::of_usize(n),
        )
    }

    /// Maximum over `dims` (NaN if any element is NaN).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] over an empty axis.
    pub fn max(&self, dims: &[isize], keepdim: bool) -> Result<Self> {
        self.non_empty("max", dims)?;
        self.reduce(
            "max",
            dims,
            keepdim,
            F::neg_infinity(),
            |a, x| if x > a || x.is_nan() { x } else { a },
            |a, _| a,
        )
    }

    /// Minimum over `dims` (NaN if any element is NaN).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] over an empty axis.
    pub fn min(&self, dims: &[isize], keepdim: bool) -> Result<Self> {
        self.non_empty("min", dims)?;
        self.reduce(
            "min",
            dims,
            keepdim,
            F::infinity(),
            |a, x| if x < a || x.is_nan() { x } else { a },
            |a, _| a,
        )
    }

    fn non_empty(&self, op: &'static str, dims: &[isize]) -> Result<()> {
        let mask = normalize_dims(op, dims, &self.shape)?;
        if self.shape.iter().zip(&mask).any(|(&n, &m)| m && n == 0) {
            return Err(Error::InvalidArgument {
                op,
                arg: "dims",
                value: format!("{dims:?}"),
                why: "cannot reduce an empty axis (there is no identity)",
            });
        }
        Ok(())
    }

    /// Variance over `dims` with `correction` (1 = unbiased, PyTorch's default; 0 = biased).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`].
    pub fn var(&self, dims: &[isize], correction: usize, keepdim: bool) -> Result<Self> {
        let mean = self.mean(dims, true)?;
        let dev2 = self.zip_map("var", &mean, |x, m| (x - m) * (x - m))?;
        dev2.reduce(
            "var",
            dims,
            keepdim,
            F::zero(),
            |a, x| a + x,
            |a, n| a / F::of_usize(n.saturating_sub(correction)),
        )
    }

    /// `ln Σ eˣ` over `dims`, computed as `m + ln Σ e^(x−m)` with `m = max x` so it neither
    /// overflows nor underflows.
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] over an empty axis.
    pub fn logsumexp(&self, dims: &[isize], keepdim: bool) -> Result<Self> {
        let m = self
            .max(dims, true)?
            .map(|m| if m.is_finite() { m } else { F::zero() });
        let e = self.zip_map("logsumexp", &m, |x, m| (x - m).exp())?;
        let s = e
            .sum(dims, true)?
            .zip_map("logsumexp", &m, |s, m| s.ln() + m)?;
        if keepdim {
            return Ok(s);
        }
        let mask = normalize_dims("logsumexp", dims, &self.shape)?;
        let shape: Vec<isize> = self
            .shape
            .iter()
            .zip(&mask)
            .filter(|(_, &m)| !m)
            .map(|(&d, _)| d as isize)
            .collect();
        s.reshape(&shape)
    }

    /// The `p`-norm `(Σ |x|ᵖ)^(1/p)` over `dims`; `p = ∞` gives the largest `|x|`. A NaN
    /// element makes the norm NaN (as PyTorch).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] for `p ≤ 0` or NaN.
    pub fn norm(&self, p: f64, dims: &[isize], keepdim: bool) -> Result<Self> {
        if p.is_nan() || p <= 0.0 {
            return Err(Error::InvalidArgument {
                op: "norm",
                arg: "p",
                value: p.to_string(),
                why: "must be positive (or infinity)",
            });
        }
        if p.is_infinite() {
            return self.reduce(
                "norm",
                dims,
                keepdim,
                F::zero(),
                // Not `F::max`, which drops a NaN: the norm of a NaN is NaN, as PyTorch's.
                |a, x| {
                    if x.abs() > a || x.is_nan() {
                        x.abs()
                    } else {
                        a
                    }
                },
                |a, _| a,
            );
        }
        let pf = F::of(p);
        if p == 2.0 {
            return self.reduce(
                "norm",
                dims,
                keepdim,
                F::zero(),
                |a, x| a + x * x,
                |a, _| a.sqrt(),
            );
        }
        self.reduce(
            "norm",
            dims,
            keepdim,
            F::zero(),
            |a, x| a + x.abs().powf(pf),
            |a, _| a.powf(pf.recip()),
        )
    }

    /// Sums over the axes that broadcasting added or stretched, so that the result has
    /// `shape`: the adjoint of `broadcast_to`.
    ///
    /// # Errors
    /// [`Error::Broadcast`] if `shape` does not broadcast to `self`'s shape.
    pub fn sum_to(&self, shape: &[usize]) -> Result<Self> {
        if self.shape[..] == shape[..] {
            return Ok(self.clone());
        }
        let nd = self.ndim();
        if shape.len() > nd {
            return Err(Error::Broadcast {
                op: "sum_to",
                lhs: self.shape.to_vec(),
                rhs: shape.to_vec(),
            });
        }
        let lead = nd - shape.len();
        let mut dims = Vec::new();
        for d in 0..nd {
            let target = if d < lead { 1 } else { shape[d - lead] };
            if d < lead || (target == 1 && self.shape[d] != 1) {
                dims.push(d as isize);
            } else if target != self.shape[d] {
                return Err(Error::Broadcast {
                    op: "sum_to",
                    lhs: self.shape.to_vec(),
                    rhs: shape.to_vec(),
                });
            }
        }
        if dims.is_empty() {
            return Ok(self.clone());
        }
        let s = self.sum(&dims, true)?;
        let shape: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
        s.reshape(&shape)
    }
}

#[cfg(test)]
mod tests {
    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;
    use super::*;

    #[test]
    fn var_and_logsumexp_agree_with_definitions() -> TestResult {
        let x = Tensor::<f64>::from_vec(vec![1., 2., 4., 8.], &[2, 2])?;
        assert_eq!(x.var(&[1], 1, false)?.to_vec(), vec![0.5, 8.0]);
        assert_eq!(x.var(&[], 0, false)?.item()?, 7.1875); // mean 3.75, Σ(x−m)² = 28.75
        let big = Tensor::<f32>::from_vec(vec![1e4, 1e4], &[2])?;
        let l = big.logsumexp(&[0], false)?.item()?;
        assert!((l - (1e4 + std::f32::consts::LN_2)).abs() < 1e-2);
        Ok(())
    }

    #[test]
    fn sum_to_undoes_broadcasting() -> TestResult {
        let g = Tensor::<f64>::ones(&[4, 2, 3]);
        assert_eq!(g.sum_to(&[2, 1])?.to_vec(), vec![12., 12.]);
        assert_eq!(g.sum_to(&[3])?.to_vec(), vec![8.; 3]);
        assert_eq!(g.sum_to(&[])?.item()?, 24.0);
        assert!(g.sum_to(&[4]).is_err());
        Ok(())
    }

    #[test]
    fn max_of_an_empty_axis_is_an_error() -> TestResult {
        let e = Tensor::<f32>::zeros(&[0, 3]).max(&[0], false).unwrap_err();
        assert!(e.to_string().starts_with("max: invalid dims"), "{e}");
        Ok(())
    }
}
