//! Index ops: joining (`concat`, `stack`), selecting (`index_select`, `gather`) and their
//! adjoints, which add slices back into zeros (`index_add`, `scatter_add`); `one_hot`, and
//! `argmax` / `argmin`. Every index is checked before any element is read, so a bad index
//! is an error naming the op, never a panic.
//!
//! Most of these ops see a tensor around one axis `d` as `[outer, size, inner]` (the
//! products of the axes before and after `d`): a slice along `d` is then `outer` contiguous
//! runs of `inner` elements.

use crate::error::{Error, Result};
use crate::layout::{
    checked_numel, contiguous_strides, normalize_dim, normalize_dim_in, numel, walk,
};
use crate::{Float, Tensor};

/// `(outer, size, inner)` of `shape` around axis `d`.
fn around(shape: &[usize], d: usize) -> (usize, usize, usize) {
    (numel(&shape[..d]), shape[d], numel(&shape[d + 1..]))
}

/// Zeros for `shape` in a buffer from the pool (a training loop's backward pass calls the
/// adjoints every step; fresh large buffers would cost page faults each time).
///
/// # Errors
/// [`Error::TooLarge`] naming `op` if `shape` is too large to allocate.
fn zeros<F: Float>(op: &'static str, shape: &[usize]) -> Result<Vec<F>> {
    let n = checked_numel(op, shape, size_of::<F>())?;
    let mut v = F::pool().take(n);
    v.resize(n, F::zero());
    Ok(v)
}

/// Checks that every index is below `size`, the length of axis `dim` of `shape`.
fn check_indices(
    op: &'static str,
    indices: &[usize],
    size: usize,
    dim: usize,
    shape: &[usize],
) -> Result<()> {
    match indices.iter().find(|&&i| i >= size) {
        Some(&i) => Err(Error::IndexOutOfRange {
            op,
            index: i64::try_from(i).unwrap_or(i64::MAX),
            size,
            dim,
            shape: shape.to_vec(),
        }),
        None => Ok(()),
    }
}

/// Checks `gather`/`scatter_add`'s index: `index_shape` has `shape`'s rank, holds
/// `index.len()` elements, and is no larger than `shape` outside `dim`.
fn check_index_shape(
    op: &'static str,
    shape: &[usize],
    dim: usize,
    index: &[usize],
    index_shape: &[usize],
) -> Result<()> {
    if index_shape.len() != shape.len() {
        return Err(Error::ShapeMismatch {
            op,
            expected: shape.to_vec(),
            got: index_shape.to_vec(),
        });
    }
    let n = checked_numel(op, index_shape, 1)?;
    if index.len() != n {
        return Err(Error::Length {
            op,
            len: index.len(),
            shape: index_shape.to_vec(),
            numel: n,
        });
    }
    let too_big = (0..shape.len()).any(|d| d != dim && index_shape[d] > shape[d]);
    if too_big {
        return Err(Error::InvalidArgument {
            op,
            arg: "index_shape",
            value: format!("{index_shape:?} for input shape {shape:?}"),
            why: "must not exceed the input's size on any axis but dim",
        });
    }
    check_indices(op, index, shape[dim], dim, shape)
}

impl<F: Float> Tensor<F> {
    /// Joins tensors along an existing axis `dim`; all other axes must be equal.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let a = Tensor::<f32>::from_vec(vec![1., 2.], &[1, 2])?;
    /// let b = Tensor::<f32>::from_vec(vec![3., 4., 5., 6.], &[2, 2])?;
    /// let c = Tensor::concat(&[&a, &b], 0)?;
    /// assert_eq!((c.shape(), c.to_vec()), (&[3, 2][..], vec![1., 2., 3., 4., 5., 6.]));
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty list, [`Error::DimOutOfRange`],
    /// [`Error::ShapeMismatch`] if the other axes differ.
    pub fn concat(tensors: &[&Self], dim: isize) -> Result<Self> {
        Self::concat_as("concat", tensors, dim)
    }

    fn concat_as(op: &'static str, tensors: &[&Self], dim: isize) -> Result<Self> {
        let Some(first) = tensors.first() else {
            return Err(Error::InvalidArgument {
                op,
                arg: "tensors",
                value: "[]".into(),
                why: "need at least one tensor",
            });
        };
        let d = normalize_dim(op, dim, &first.shape)?;
        let mut shape = first.shape.clone();
        shape[d] = 0;
        for t in tensors {
            let mut expected = first.shape.clone();
            if t.ndim() == expected.len() {
                expected[d] = t.shape[d];
            }
            if t.shape != expected {
                return Err(Error::ShapeMismatch {
                    op,
                    expected: expected.to_vec(),
                    got: t.shape.to_vec(),
                });
            }
            shape[d] = shape[d].saturating_add(t.shape[d]);
        }
        let total = checked_numel(op, &shape, size_of::<F>())?;
        let parts: Vec<Tensor<F>> = tensors.iter().map(|t| t.contiguous()).collect();
        let (outer, _, inner) = around(&shape, d);
        let mut v = F::pool().take(total);
        for o in 0..outer {
            for p in &parts {
                let run = p.shape[d] * inner;
                let src = p.as_slice().unwrap_or_default();
                v.extend_from_slice(&src[o * run..(o + 1) * run]);
            }
        }
        Ok(Self::from_parts(v, shape))
    }

    /// Joins equally shaped tensors along a new axis `dim` (`-(ndim+1) ..= ndim`).
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let a = Tensor::<f32>::from_vec(vec![1., 2.], &[2])?;
    /// let b = Tensor::<f32>::from_vec(vec![3., 4.], &[2])?;
    /// let s = Tensor::stack(&[&a, &b], 1)?;
    /// assert_eq!((s.shape(), s.to_vec()), (&[2, 2][..], vec![1., 3., 2., 4.]));
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty list, [`Error::DimOutOfRange`],
    /// [`Error::ShapeMismatch`] if the shapes differ.
    pub fn stack(tensors: &[&Self], dim: isize) -> Result<Self> {
        if let Some(first) = tensors.first() {
            normalize_dim_in("stack", dim, first.ndim() + 1, &first.shape)?;
            if let Some(t) = tensors.iter().find(|t| t.shape != first.shape) {
                return Err(Error::ShapeMismatch {
                    op: "stack",
                    expected: first.shape.to_vec(),
                    got: t.shape.to_vec(),
                });
            }
        }
        let lifted = tensors
            .iter()
            .map(|t| t.unsqueeze(dim))
            .collect::<Result<Vec<_>>>()?;
        let refs: Vec<&Self> = lifted.iter().collect();
        Self::concat_as("stack", &refs, dim)
    }

    /// The slices `indices[0], indices[1], …` along `dim` (repeats allowed): the result's
    /// axis `dim` has `indices.len()` elements.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[3, 2])?;
    /// assert_eq!(x.index_select(0, &[2, 0, 2])?.to_vec(), vec![5., 6., 1., 2., 5., 6.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`], [`Error::IndexOutOfRange`].
    pub fn index_select(&self, dim: isize, indices: &[usize]) -> Result<Self> {
        let d = normalize_dim("index_select", dim, &self.shape)?;
        let (_, size, inner) = around(&self.shape, d);
        check_indices("index_select", indices, size, d, &self.shape)?;
        let mut shape = self.shape.clone();
        shape[d] = indices.len();
        checked_numel("index_select", &shape, size_of::<F>())?;
        let src = self.contiguous();
        let s = src.as_slice().unwrap_or_default();
        // Row copies, split across threads when large: a data loader's random rows miss
        // the caches, and two threads keep twice the misses in flight.
        Self::try_build("index_select", shape, |start, mut out| {
            let mut at = start;
            while !out.is_empty() {
                let (row, r) = (at / inner, at % inner);
                let (o, k) = (row / indices.len(), row % indices.len());
                let from = (o * size + indices[k]) * inner + r;
                let n = (inner - r).min(out.len());
                for (y, &x) in out[..n].iter_mut().zip(&s[from..from + n]) {
                    y.write(x);
                }
                out = &mut out[n..];
                at += n;
            }
        })
    }

    /// Zeros of `shape` with slice `k` of `src` along `dim` added at position `indices[k]`
    /// (duplicates accumulate): the adjoint of [`Tensor::index_select`].
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let g = Tensor::<f32>::from_vec(vec![1., 2., 3.], &[3])?;
    /// let x = Tensor::index_add(&[2], 0, &[1, 0, 1], &g)?;
    /// assert_eq!(x.to_vec(), vec![2., 4.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::ShapeMismatch`] unless `src` has
    /// `shape` with axis `dim` of length `indices.len()`; [`Error::IndexOutOfRange`].
    pub fn index_add(shape: &[usize], dim: isize, indices: &[usize], src: &Self) -> Result<Self> {
        let d = normalize_dim("index_add", dim, shape)?;
        let mut expected = shape.to_vec();
        expected[d] = indices.len();
        if src.shape[..] != expected[..] {
            return Err(Error::ShapeMismatch {
                op: "index_add",
                expected,
                got: src.shape.to_vec(),
            });
        }
        checked_numel("index_add", shape, size_of::<F>())?;
        let (outer, size, inner) = around(shape, d);
        check_indices("index_add", indices, size, d, shape)?;
        let src = src.contiguous();
        let s = src.as_slice().unwrap_or_default();
        let mut out = zeros("index_add", shape)?;
        for o in 0..outer {
            for (k, &i) in indices.iter().enumerate() {
                let from = (o * indices.len() + k) * inner;
                let to = (o * size + i) * inner;
                for (y, &x) in out[to..to + inner].iter_mut().zip(&s[from..from + inner]) {
                    *y += x;
                }
            }
        }
        Ok(Self::from_parts(out, shape.to_vec()))
    }

    /// PyTorch's `gather`: `out[i] = self[i with i[dim] replaced by index[i]]`, where `index`
    /// is row-major with shape `index_shape` (same rank as `self`, no larger outside `dim`);
    /// the result has `index_shape`. Picking each row's target class is `gather(1, …)`.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3])?;
    /// let picked = x.gather(1, &[2, 0], &[2, 1])?;
    /// assert_eq!((picked.shape(), picked.to_vec()), (&[2, 1][..], vec![3., 4.]));
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::ShapeMismatch`] for another rank;
    /// [`Error::Length`] if `index` does not have `index_shape`'s element count;
    /// [`Error::InvalidArgument`] if `index_shape` exceeds `self` outside `dim`;
    /// [`Error::IndexOutOfRange`].
    pub fn gather(&self, dim: isize, index: &[usize], index_shape: &[usize]) -> Result<Self> {
        let d = normalize_dim("gather", dim, &self.shape)?;
        check_index_shape("gather", &self.shape, d, index, index_shape)?;
        // Walk the index's shape with self's strides, except along `dim`, which the index
        // value supplies.
        let mut strides = self.strides.clone();
        strides[d] = 0;
        let step = self.strides[d];
        let data = &self.data.0;
        Self::try_build("gather", index_shape.to_vec(), |start, out| {
            walk(
                index_shape,
                [&strides],
                [self.offset],
                start,
                out.len(),
                |i, [base]| {
                    out[i].write(data[base + index[start + i] * step]);
                },
            )
        })
    }

    /// Zeros of `shape` with `out[i with i[dim] replaced by index[i]] += src[i]` for every
    /// position `i` of `index_shape` (which `src` has): the adjoint of [`Tensor::gather`].
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let g = Tensor::<f32>::from_vec(vec![1., 2.], &[2, 1])?;
    /// let x = Tensor::scatter_add(&[2, 3], 1, &[2, 0], &[2, 1], &g)?;
    /// assert_eq!(x.to_vec(), vec![0., 0., 1., 2., 0., 0.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// `src` may be larger than `index_shape` on any axis (only its leading corner is read),
    /// as torch's `scatter_add`.
    ///
    /// # Errors
    /// As [`Tensor::gather`], and [`Error::ShapeMismatch`] unless `src` has
    /// `index_shape`'s rank and is no smaller on any axis.
    pub fn scatter_add(
        shape: &[usize],
        dim: isize,
        index: &[usize],
        index_shape: &[usize],
        src: &Self,
    ) -> Result<Self> {
        let d = normalize_dim("scatter_add", dim, shape)?;
        checked_numel("scatter_add", shape, size_of::<F>())?;
        check_index_shape("scatter_add", shape, d, index, index_shape)?;
        // As torch, `src` may be larger than the index: only its leading corner is read.
        let fits = src.ndim() == index_shape.len()
            && src.shape.iter().zip(index_shape).all(|(&s, &i)| s >= i);
        if !fits {
            return Err(Error::ShapeMismatch {
                op: "scatter_add",
                expected: index_shape.to_vec(),
                got: src.shape.to_vec(),
            });
        }
        let mut src = src.clone();
        for (a, &n) in index_shape.iter().enumerate() {
            src = src.narrow(a as isize, 0, n)?;
        }
        let mut out_strides = contiguous_strides(shape);
        let step = out_strides[d];
        out_strides[d] = 0;
        let mut out = zeros("scatter_add", shape)?;
        let s = &src.data.0;
        walk(
            index_shape,
            [&out_strides, &src.strides],
            [0, src.offset],
            0,
            index.len(),
            |i, [o, x]| out[o + index[i] * step] += s[x],
        );
        Ok(Self::from_parts(out, shape.to_vec()))
    }

    /// `[n, classes]` rows of zeros with a one at each label.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let y = Tensor::<f32>::one_hot(&[2, 0], 3)?;
    /// assert_eq!(y.to_vec(), vec![0., 0., 1., 1., 0., 0.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Label`] naming the first label `>= classes` and its position;
    /// [`Error::TooLarge`] if `[labels.len(), classes]` is too large to allocate.
    pub fn one_hot(labels: &[usize], classes: usize) -> Result<Self> {
        if let Some((position, &label)) = labels.iter().enumerate().find(|(_, &l)| l >= classes) {
            return Err(Error::Label {
                op: "one_hot",
                position,
                label,
                classes,
            });
        }
        let mut out = zeros("one_hot", &[labels.len(), classes])?;
        for (r, &l) in labels.iter().enumerate() {
            out[r * classes + l] = F::one();
        }
        Ok(Self::from_parts(out, vec![labels.len(), classes]))
    }

    /// The position of the largest element along `dim`, for each position of the other axes
    /// in row-major order. Ties go to the first; a NaN counts as larger than any number (as
    /// in PyTorch), so the first NaN wins.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1., 5., 5., 7., 0., 2.], &[2, 3])?;
    /// assert_eq!(x.argmax(1)?, vec![1, 0]);
    /// assert_eq!(x.argmax(0)?, vec![1, 0, 0]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] for an empty axis.
    pub fn argmax(&self, dim: isize) -> Result<Vec<usize>> {
        self.arg_best("argmax", dim, |x, best| x > best)
    }

    /// The position of the smallest element along `dim` (as [`Tensor::argmax`]: the first on
    /// ties, and the first NaN wins, as PyTorch's `argmin`, so that `min` and `argmin` agree).
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![3., 1., 1., f32::NAN], &[4])?;
    /// assert_eq!(x.narrow(0, 0, 3)?.argmin(0)?, vec![1]);
    /// assert_eq!(x.argmin(-1)?, vec![3]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] for an empty axis.
    pub fn argmin(&self, dim: isize) -> Result<Vec<usize>> {
        self.arg_best("argmin", dim, |x, best| x < best)
    }

    /// The first position along `dim` that no later element beats, a NaN beating all.
    fn arg_best(
        &self,
        op: &'static str,
        dim: isize,
        beats: impl Fn(F, F) -> bool,
    ) -> Result<Vec<usize>> {
        let d = normalize_dim(op, dim, &self.shape)?;
        let n = self.shape[d];
        if n == 0 {
            return Err(Error::InvalidArgument {
                op,
                arg: "dim",
                value: format!("{dim} of shape {:?}", self.shape),
                why: "the axis is empty",
            });
        }
        let pick = |v: &[usize]| -> Vec<usize> {
            v.iter()
                .enumerate()
                .filter(|&(i, _)| i != d)
                .map(|(_, &x)| x)
                .collect()
        };
        let (outer_shape, outer_strides) = (pick(&self.shape), pick(&self.strides));
        let step = self.strides[d];
        let data = &self.data.0;
        let count = numel(&outer_shape);
        let mut out = Vec::with_capacity(count);
        walk(
            &outer_shape,
            [&outer_strides],
            [self.offset],
            0,
            count,
            |_, [base]| {
                let (mut at, mut best) = (0, data[base]);
                for j in 1..n {
                    let x = data[base + j * step];
                    if !best.is_nan() && (x.is_nan() || beats(x, best)) {
                        (at, best) = (j, x);
                    }
                }
                out.push(at);
            },
        );
        Ok(out)
    }
}
