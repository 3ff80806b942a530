//! Views: new shapes and strides over the same storage, copying nothing (`reshape` copies
//! only a non-contiguous input, as `torch.reshape` does).

use crate::error::{Error, Result};
use crate::layout::Dims;
use crate::layout::{
    broadcast_strides, checked_numel, contiguous_strides, normalize_dim, normalize_dim_in,
};
use crate::{Float, Tensor};

impl<F: Float> Tensor<F> {
    fn view(&self, shape: impl Into<Dims>, strides: impl Into<Dims>, offset: usize) -> Self {
        Tensor {
            data: self.data.clone(),
            shape: shape.into(),
            strides: strides.into(),
            offset,
        }
    }

    /// The same elements in a new shape; one axis may be `-1` (inferred). Copies only if
    /// `self` is not contiguous.
    ///
    /// # Errors
    /// [`Error::Length`] if the element counts differ, [`Error::InvalidArgument`]
    /// for more than one `-1` or a negative size, [`Error::TooLarge`] if the product of
    /// the sizes overflows.
    pub fn reshape(&self, shape: &[isize]) -> Result<Self> {
        let shape = self.infer_shape(shape)?;
        let src = self.contiguous();
        let strides = contiguous_strides(&shape);
        Ok(src.view(shape, strides, src.offset))
    }

    fn infer_shape(&self, shape: &[isize]) -> Result<Dims> {
        let bad = |why| Error::InvalidArgument {
            op: "reshape",
            arg: "shape",
            value: format!("{shape:?}"),
            why,
        };
        let mut inferred = None;
        for (i, &d) in shape.iter().enumerate() {
            match d {
                -1 if inferred.is_none() => inferred = Some(i),
                -1 => return Err(bad("at most one size may be -1")),
                d if d < 0 => return Err(bad("sizes must be non-negative or -1")),
                _ => {}
            }
        }
        let n = self.numel();
        let mut out: Dims = shape.iter().map(|&d| d.max(0) as usize).collect();
        if let Some(i) = inferred {
            // The other sizes' product, `None` past `usize::MAX` (where a wrapped product
            // could divide the element count by accident): only 0 elements fit it.
            out[i] = 1;
            let known = match out.contains(&0) {
                true => Some(0),
                false => out.iter().try_fold(1usize, |a, &d| a.checked_mul(d)),
            };
            out[i] = match known {
                Some(k) if k != 0 && n.is_multiple_of(k) => n / k,
                None if n == 0 => 0,
                _ => {
                    out[i] = 0;
                    return Err(Error::Length {
                        op: "reshape",
                        len: n,
                        shape: out.to_vec(),
                        numel: known.unwrap_or(usize::MAX),
                    });
                }
            };
        }
        let total = checked_numel("reshape", &out, 1)?;
        if total != n {
            return Err(Error::Length {
                op: "reshape",
                len: n,
                shape: out.to_vec(),
                numel: total,
            });
        }
        Ok(out)
    }

    /// Flattens to one dimension.
    pub fn flatten(&self) -> Self {
        let n = self.numel() as isize;
        self.reshape(&[n]).unwrap_or_else(|_| self.clone())
    }

    /// Swaps two axes (a view).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`].
    pub fn transpose(&self, a: isize, b: isize) -> Result<Self> {
        let (a, b) = (
            normalize_dim("transpose", a, &self.shape)?,
            normalize_dim("transpose", b, &self.shape)?,
        );
        let (mut shape, mut strides) = (self.shape.clone(), self.strides.clone());
        shape.swap(a, b);
        strides.swap(a, b);
        Ok(self.view(shape, strides, self.offset))
    }

    /// The transpose of a matrix, or of the last two axes of a batch of matrices.
    ///
    /// # Errors
    /// [`Error::Rank`] for fewer than 2 axes.
    pub fn t(&self) -> Result<Self> {
        if self.ndim() < 2 {
            return Err(Error::Rank {
                op: "t",
                expected: "at least 2 dims",
                shape: self.shape.to_vec(),
            });
        }
        self.transpose(-2, -1)
    }

    /// Reorders the axes: axis `i` of the result is axis `perm[i]` of `self` (a view).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `perm` is a permutation of the axes.
    pub fn permute(&self, perm: &[isize]) -> Result<Self> {
        let mut seen = vec![false; self.ndim()];
        let mut shape = Vec::with_capacity(perm.len());
        let mut strides = Vec::with_capacity(perm.len());
        for &p in perm {
            let d = normalize_dim("permute", p, &self.shape)?;
            if seen[d] {
                break;
            }
            seen[d] = true;
            shape.push(self.shape[d]);
            strides.push(self.strides[d]);
        }
        if perm.len() != self.ndim() || seen.contains(&false) {
            return Err(Error::InvalidArgument {
                op: "permute",
                arg: "perm",
                value: format!("{perm:?}"),
                why: "must name every axis once",
            });
        }
        Ok(self.view(shape, strides, self.offset))
    }

    /// Repeats size-1 axes (and adds leading axes) to reach `shape`, with stride 0: no copy.
    ///
    /// # Errors
    /// [`Error::Broadcast`] if `self` does not broadcast to `shape`;
    /// [`Error::TooLarge`] if the product of `shape` overflows, or its elements would
    /// not fit in `isize::MAX` bytes were the view copied.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        checked_numel("broadcast_to", shape, size_of::<F>())?;
        let strides = broadcast_strides("broadcast_to", &self.shape, &self.strides, shape)?;
        Ok(self.view(Dims::from_slice(shape), strides, self.offset))
    }

    /// Elements `start .. start + len` along `dim` (a view).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`], or [`Error::IndexOutOfRange`] if the range
    /// passes the end of the axis.
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Result<Self> {
        let d = normalize_dim("narrow", dim, &self.shape)?;
        let end = start.checked_add(len).filter(|&e| e <= self.shape[d]);
        if end.is_none() {
            // The first position past the axis that the range would cover.
            let past = i64::try_from(start.saturating_add(len)).unwrap_or(i64::MAX);
            let (index, size, shape) = (past, self.shape[d], self.shape.clone());
            return Err(Error::IndexOutOfRange {
                op: "narrow",
                index,
                size,
                dim: d,
                shape: shape.to_vec(),
            });
        }
        self.slice(dim, start, start + len, 1)
    }

    /// Elements `start, start + step, …` before `end` along `dim` (a view), like
    /// Python's `x[..., start:end:step]`. `end` is clamped to the axis size.
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::IndexOutOfRange`] if `start` is past
    /// the end; [`Error::InvalidArgument`] for a zero step.
    pub fn slice(&self, dim: isize, start: usize, end: usize, step: usize) -> Result<Self> {
        let d = normalize_dim("slice", dim, &self.shape)?;
        let size = self.shape[d];
        if step == 0 {
            return Err(Error::InvalidArgument {
                op: "slice",
                arg: "step",
                value: "0".into(),
                why: "must be positive",
            });
        }
        if start > size {
            return Err(Error::IndexOutOfRange {
                op: "slice",
                index: i64::try_from(start).unwrap_or(i64::MAX),
                size,
                dim: d,
                shape: self.shape.to_vec(),
            });
        }
        let end = end.clamp(start, size);
        let (mut shape, mut strides) = (self.shape.clone(), self.strides.clone());
        shape[d] = (end - start).div_ceil(step);
        let offset = if shape.contains(&0) {
            self.offset
        } else {
            self.offset + start * self.strides[d]
        };
        // With two or more elements `step < size`, so the product stays inside the storage;
        // with fewer the stride is never used, and a huge step must not wrap it.
        if shape[d] > 1 {
            strides[d] *= step;
        }
        Ok(self.view(shape, strides, offset))
    }

    /// Removes axis `dim` if its size is 1 (a view); `None` removes every size-1 axis.
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] if the axis is not 1.
    pub fn squeeze(&self, dim: Option<isize>) -> Result<Self> {
        let keep: Vec<bool> = match dim {
            None => self.shape.iter().map(|&n| n != 1).collect(),
            Some(dim) => {
                let d = normalize_dim("squeeze", dim, &self.shape)?;
                if self.shape[d] != 1 {
                    return Err(Error::InvalidArgument {
                        op: "squeeze",
                        arg: "dim",
                        value: dim.to_string(),
                        why: "the axis must have size 1",
                    });
                }
                (0..self.ndim()).map(|i| i != d).collect()
            }
        };
        let pick = |v: &[usize]| -> Dims {
            v.iter()
                .zip(&keep)
                .filter(|(_, &k)| k)
                .map(|(&x, _)| x)
                .collect()
        };
        Ok(self.view(pick(&self.shape), pick(&self.strides), self.offset))
    }

    /// Inserts a size-1 axis at `dim` (a view); `dim` ranges over `-(ndim+1) ..= ndim`.
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`].
    pub fn unsqueeze(&self, dim: isize) -> Result<Self> {
        let d = normalize_dim_in("unsqueeze", dim, self.ndim() + 1, &self.shape)?;
        let (mut shape, mut strides) = (self.shape.clone(), self.strides.clone());
        // Any stride suits a size-1 axis; saturate rather than wrap past an empty axis.
        let stride = if d < self.ndim() {
            self.strides[d].saturating_mul(self.shape[d])
        } else {
            1
        };
        shape.insert(d, 1);
        strides.insert(d, stride);
        Ok(self.view(shape, strides, self.offset))
    }
}

#[cfg(test)]
mod tests {
    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;
    use super::*;

    fn t(shape: &[usize]) -> Result<Tensor<f64>> {
        let n = crate::layout::numel(shape);
        Tensor::from_vec((0..n).map(|i| i as f64).collect(), shape)
    }

    #[test]
    fn views_share_storage() -> TestResult {
        let a = t(&[2, 3, 4])?;
        for v in [
            a.transpose(0, 2)?,
            a.permute(&[1, 2, 0])?,
            a.narrow(1, 1, 2)?,
            a.unsqueeze(0)?,
            a.reshape(&[6, -1])?,
        ] {
            assert!(v.shares_storage(&a));
        }
        Ok(())
    }

    #[test]
    fn slice_with_step_matches_python() -> TestResult {
        let a = t(&[10])?;
        assert_eq!(a.slice(0, 1, 8, 3)?.to_vec(), vec![1., 4., 7.]);
        assert_eq!(a.slice(0, 4, 4, 1)?.shape(), &[0]);
        assert!(a.slice(0, 11, 12, 1).is_err());
        Ok(())
    }

    #[test]
    fn reshape_infers_and_rejects() -> TestResult {
        let a = t(&[2, 6])?;
        assert_eq!(a.reshape(&[-1, 4])?.shape(), &[3, 4]);
        let e = a.reshape(&[5, -1]).unwrap_err();
        assert!(e.to_string().starts_with("reshape:"), "{e}");
        assert!(a.reshape(&[-1, -1]).is_err());
        // non-contiguous input is copied, in row-major order of the view
        let b = a.t()?.reshape(&[12])?;
        assert_eq!(b.to_vec()[..3], [0., 6., 1.]);
        Ok(())
    }

    #[test]
    fn squeeze_and_unsqueeze_round_trip() -> TestResult {
        let a = t(&[3, 1, 2])?;
        assert_eq!(a.squeeze(None)?.shape(), &[3, 2]);
        assert!(a.squeeze(Some(0)).is_err());
        assert_eq!(a.unsqueeze(-1)?.shape(), &[3, 1, 2, 1]);
        assert_eq!(a.unsqueeze(3)?.squeeze(Some(3))?.to_vec(), a.to_vec());
        Ok(())
    }
}
