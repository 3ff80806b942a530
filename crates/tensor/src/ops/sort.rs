//! Order along one axis: `sort`, `argsort`, `topk`, `kthvalue`, `median`, and `max_dim` /
//! `min_dim` (values with their indices). NaN orders above `+∞`, as in PyTorch. Each line
//! along the axis is handled on its own, lines in parallel; indices come back row-major in
//! the output's shape, ready for `gather` (which is how the tape differentiates these).

use crate::error::{Error, Result};
use crate::layout::{normalize_dim, numel};
use crate::{Float, Tensor};
use rayon::prelude::*;
use std::cmp::Ordering;

/// Values and their positions along the axis, both row-major in the result's shape.
type Indexed<F> = (Tensor<F>, Vec<usize>);

/// Ascending order with NaN above everything (equal NaNs tie).
fn nan_last<F: Float>(a: F, b: F) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
    }
}

impl<F: Float> Tensor<F> {
    /// The elements along `dim` in ascending (or `descending`) order, NaN counted largest,
    /// with the position each came from. `stable` keeps equal elements in their original
    /// order (torch's `stable=True`); otherwise their order is unspecified, as torch's.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![2., f64::NAN, 1., 2.], &[4])?;
    /// let (v, i) = x.sort(0, true, true)?;
    /// assert_eq!((v.to_vec()[1..].to_vec(), i), (vec![2., 2., 1.], vec![1, 0, 3, 2]));
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`].
    pub fn sort(&self, dim: isize, descending: bool, stable: bool) -> Result<Indexed<F>> {
        let d = normalize_dim("sort", dim, &self.shape)?;
        let n = self.shape[d];
        Ok(self.per_line(d, n, move |line, v, ix| {
            ix.iter_mut().enumerate().for_each(|(j, i)| *i = j);
            let cmp = |&a: &usize, &b: &usize| {
                let o = nan_last(line[a], line[b]);
                if descending {
                    o.reverse()
                } else {
                    o
                }
            };
            if stable {
                ix.sort_by(cmp);
            } else {
                ix.sort_unstable_by(cmp);
            }
            v.iter_mut().zip(ix.iter()).for_each(|(v, &i)| *v = line[i]);
        }))
    }

    /// The positions that sort `dim` (see [`Tensor::sort`]), row-major in `self`'s shape.
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`].
    pub fn argsort(&self, dim: isize, descending: bool, stable: bool) -> Result<Vec<usize>> {
        Ok(self.sort(dim, descending, stable)?.1)
    }

    /// The `k` largest (or smallest) elements along `dim`, in order, with their positions;
    /// ties go to the lower position (torch leaves them unspecified), NaN counts largest.
    /// The result is always sorted (torch's `sorted=True`).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] if `k` exceeds the
    /// axis.
    pub fn topk(&self, k: usize, dim: isize, largest: bool) -> Result<Indexed<F>> {
        let d = normalize_dim("topk", dim, &self.shape)?;
        let n = self.shape[d];
        if k > n {
            return Err(self.bad_k("topk", k, d, "must not exceed the size of dim"));
        }
        Ok(self.per_line(d, k, move |line, v, ix| {
            let mut order: Vec<usize> = (0..n).collect();
            let cmp = |&a: &usize, &b: &usize| {
                let o = nan_last(line[a], line[b]);
                (if largest { o.reverse() } else { o }).then(a.cmp(&b))
            };
            if k < n {
                order.select_nth_unstable_by(k, cmp);
            }
            order.truncate(k);
            order.sort_unstable_by(cmp);
            for ((v, i), j) in v.iter_mut().zip(ix.iter_mut()).zip(order) {
                (*v, *i) = (line[j], j);
            }
        }))
    }

    /// The `k`-th smallest element along `dim` (`k` from 1) and its position; among equal
    /// elements the lower position (torch leaves ties unspecified); NaN counts largest.
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] unless
    /// `1 ≤ k ≤ size of dim`.
    pub fn kthvalue(&self, k: usize, dim: isize, keepdim: bool) -> Result<Indexed<F>> {
        let d = normalize_dim("kthvalue", dim, &self.shape)?;
        if k == 0 || k > self.shape[d] {
            return Err(self.bad_k("kthvalue", k, d, "must be in 1..=size of dim"));
        }
        self.select_one(d, keepdim, move |line| kth(line, k - 1))
    }

    /// The median along `dim`, the lower of the two middle elements for an even count (as
    /// torch), and its position; NaN if the line holds a NaN (at the first NaN's position).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] for an empty axis.
    pub fn median(&self, dim: isize, keepdim: bool) -> Result<Indexed<F>> {
        let d = normalize_dim("median", dim, &self.shape)?;
        if self.shape[d] == 0 {
            return Err(Error::InvalidArgument {
                op: "median",
                arg: "dim",
                value: format!("{dim} of shape {:?}", self.shape),
                why: "the axis is empty",
            });
        }
        self.select_one(d, keepdim, |line| {
            match line.iter().position(|x| x.is_nan()) {
                Some(i) => i,
                None => kth(line, (line.len() - 1) / 2),
            }
        })
    }

    /// The maximum along `dim` and its position (`torch.max(x, dim)`): the first maximum,
    /// or the first NaN.
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] for an empty axis.
    pub fn max_dim(&self, dim: isize, keepdim: bool) -> Result<Indexed<F>> {
        let index = self.argmax(dim)?;
        self.pick(dim, index, keepdim)
    }

    /// The minimum along `dim` and its position (`torch.min(x, dim)`): the first minimum,
    /// or the first NaN.
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] for an empty axis.
    pub fn min_dim(&self, dim: isize, keepdim: bool) -> Result<Indexed<F>> {
        let index = self.argmin(dim)?;
        self.pick(dim, index, keepdim)
    }

    /// The element at `index` (one per line, row-major over the other axes) on each line
    /// along `dim`, with the axis kept as length 1 or dropped.
    fn pick(&self, dim: isize, index: Vec<usize>, keepdim: bool) -> Result<Indexed<F>> {
        let d = normalize_dim("pick", dim, &self.shape)?;
        let mut shape = self.shape.to_vec();
        shape[d] = 1;
        let values = self.gather(dim, &index, &shape)?;
        if keepdim {
            return Ok((values, index));
        }
        shape.remove(d);
        let signed: Vec<isize> = shape.iter().map(|&n| n as isize).collect();
        Ok((values.reshape(&signed)?, index))
    }

    /// [`Tensor::pick`] at the position `choose(line)` of each line along axis `d`.
    fn select_one(
        &self,
        d: usize,
        keepdim: bool,
        choose: impl Fn(&[F]) -> usize + Sync,
    ) -> Result<Indexed<F>> {
        let (_, index) = self.per_line(d, 1, |line, v, ix| {
            ix[0] = choose(line);
            v[0] = line[ix[0]];
        });
        self.pick(d as isize, index, keepdim)
    }

    /// Runs `f(line, values, indices)` on every line along axis `d`, in parallel; each call
    /// writes `k` values and positions. Returns them shaped as `self` with axis `d` of
    /// length `k`, positions row-major in that shape.
    fn per_line(
        &self,
        d: usize,
        k: usize,
        f: impl Fn(&[F], &mut [F], &mut [usize]) + Sync,
    ) -> Indexed<F> {
        let (outer, n, inner) = (
            numel(&self.shape[..d]),
            self.shape[d],
            numel(&self.shape[d + 1..]),
        );
        let mut shape = self.shape.clone();
        shape[d] = k;
        let lines = outer * inner;
        if lines * k == 0 {
            return (Self::from_parts(Vec::new(), shape), Vec::new());
        }
        let src = self.contiguous();
        let s = src.as_slice().unwrap_or_default();
        let mut vals = vec![F::zero(); lines * k];
        let mut idx = vec![0; lines * k];
        vals.par_chunks_mut(k)
            .zip(idx.par_chunks_mut(k))
            .enumerate()
            .with_min_len((4096 / n.max(1)).max(1))
            .for_each_init(Vec::new, |line, (l, (v, ix))| {
                let (o, i) = (l / inner, l % inner);
                if inner == 1 {
                    f(&s[o * n..(o + 1) * n], v, ix);
                } else {
                    line.clear();
                    line.extend((0..n).map(|j| s[(o * n + j) * inner + i]));
                    f(line, v, ix);
                }
            });
        if inner > 1 {
            // From one run of k per line to the axis' place in the shape.
            let (mut v2, mut i2) = (vec![F::zero(); vals.len()], vec![0; idx.len()]);
            for o in 0..outer {
                for i in 0..inner {
                    for j in 0..k {
                        let (from, to) = ((o * inner + i) * k + j, (o * k + j) * inner + i);
                        (v2[to], i2[to]) = (vals[from], idx[from]);
                    }
                }
            }
            (vals, idx) = (v2, i2);
        }
        (Self::from_parts(vals, shape), idx)
    }

    fn bad_k(&self, op: &'static str, k: usize, d: usize, why: &'static str) -> Error {
        Error::InvalidArgument {
            op,
            arg: "k",
            value: format!("{k} for dim {d} of shape {:?}", self.shape),
            why,
        }
    }
}

/// The position of the `k`-th smallest (from 0) of `line`, NaN largest, ties to the lower
/// position.
fn kth<F: Float>(line: &[F], k: usize) -> usize {
    let mut order: Vec<usize> = (0..line.len()).collect();
    let (_, &mut at, _) =
        order.select_nth_unstable_by(k, |&a, &b| nan_last(line[a], line[b]).then(a.cmp(&b)));
    at
}
