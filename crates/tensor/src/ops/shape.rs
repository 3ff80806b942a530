//! Shape and indexing ops under torch's names: `flip`, `roll`, `repeat`, `tile`, `pad`,
//! `split`, `chunk`, `unbind`, `masked_fill`, `masked_select`, `tril`, `triu`, `diagonal`,
//! `diag_embed`, `movedim`, `expand_as`, `take_along_dim`.
//!
//! Ops that move whole slices are `index_select`s at computed positions (so their adjoints
//! are `index_add`s); `diagonal`, `movedim`, `split` and `expand_as` are views.

use crate::error::{Error, Result};
use crate::layout::{broadcast_shapes, checked_numel, normalize_dim, normalize_dim_in};
use crate::{Float, Tensor};

/// How [`Tensor::pad`] fills the border: the modes of torch's `F.pad`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PadMode {
    /// A constant value.
    #[default]
    Constant,
    /// The input mirrored at its edge, the edge not repeated (`a b c` padded by 2 on both
    /// sides is `c b a b c b a`).
    Reflect,
    /// The edge element repeated.
    Replicate,
    /// The input wrapped around.
    Circular,
}

impl PadMode {
    /// For each of the `before + n + after` positions of an axis of length `n` padded by
    /// `before` and `after`, the input position it copies; `None` for [`PadMode::Constant`],
    /// whose border copies nothing.
    ///
    /// ```
    /// use descent_tensor::PadMode;
    /// assert_eq!(PadMode::Reflect.source_indices("pad", 3, 2, 1)?, Some(vec![2, 1, 0, 1, 2, 1]));
    /// assert_eq!(PadMode::Replicate.source_indices("pad", 3, 2, 0)?, Some(vec![0, 0, 0, 1, 2]));
    /// assert_eq!(PadMode::Circular.source_indices("pad", 3, 1, 1)?, Some(vec![2, 0, 1, 2, 0]));
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming `op` if the padding is wider than the mode
    /// allows, as torch: reflect needs `before, after < n`, circular `before, after ≤ n`,
    /// replicate `n > 0` (when it pads at all).
    pub fn source_indices(
        self,
        op: &'static str,
        n: usize,
        before: usize,
        after: usize,
    ) -> Result<Option<Vec<usize>>> {
        let widest = before.max(after);
        let (fits, why) = match self {
            PadMode::Constant => return Ok(None),
            PadMode::Reflect => (
                widest < n,
                "reflect padding must be less than the axis length",
            ),
            PadMode::Replicate => (widest == 0 || n > 0, "cannot replicate an empty axis"),
            PadMode::Circular => (
                widest <= n,
                "circular padding must not exceed the axis length",
            ),
        };
        if !fits {
            return Err(Error::InvalidArgument {
                op,
                arg: "pad",
                value: format!("({before}, {after}) for an axis of length {n}"),
                why,
            });
        }
        let last = n as isize - 1;
        let source = |p: usize| -> usize {
            let i = p as isize - before as isize;
            let j = match self {
                PadMode::Reflect if i < 0 => -i,
                PadMode::Reflect if i > last => 2 * last - i,
                PadMode::Replicate => i.clamp(0, last),
                PadMode::Circular => i.rem_euclid(n.max(1) as isize),
                _ => i,
            };
            j as usize
        };
        Ok(Some((0..before + n + after).map(source).collect()))
    }
}

/// Checks torch's `pad` list (pairs `(before, after)`, the last axis first) against `shape`
/// and returns the pairs by axis: `(axis, before, after)`.
///
/// # Errors
/// [`Error::InvalidArgument`] for an odd length or more pairs than axes.
pub fn pad_pairs(shape: &[usize], pad: &[usize]) -> Result<Vec<(usize, usize, usize)>> {
    if !pad.len().is_multiple_of(2) || pad.len() / 2 > shape.len() {
        return Err(Error::InvalidArgument {
            op: "pad",
            arg: "pad",
            value: format!("{pad:?} for shape {shape:?}"),
            why: "needs (before, after) pairs, the last axis first, at most one per axis",
        });
    }
    Ok(pad
        .chunks(2)
        .enumerate()
        .map(|(k, p)| (shape.len() - 1 - k, p[0], p[1]))
        .collect())
}

/// The shapes `take_along_dim` gathers with: the input broadcast against the index on every
/// axis but `dim` (returned as the input's target shape), and the index expanded the same
/// way (returned as the index's values and shape).
///
/// # Errors
/// [`Error::ShapeMismatch`] for another rank; [`Error::Length`] if `index`
/// does not have `index_shape`'s element count; [`Error::Broadcast`] if the other
/// axes do not broadcast; [`Error::DimOutOfRange`].
pub fn take_along_dim_shapes(
    shape: &[usize],
    index: &[usize],
    index_shape: &[usize],
    dim: isize,
) -> Result<(Vec<usize>, Vec<usize>, Vec<usize>)> {
    const OP: &str = "take_along_dim";
    let d = normalize_dim(OP, dim, shape)?;
    if index_shape.len() != shape.len() {
        return Err(Error::ShapeMismatch {
            op: OP,
            expected: shape.to_vec(),
            got: index_shape.to_vec(),
        });
    }
    let n = checked_numel(OP, index_shape, 1)?;
    if index.len() != n {
        return Err(Error::Length {
            op: OP,
            len: index.len(),
            shape: index_shape.to_vec(),
            numel: n,
        });
    }
    let (mut a, mut b) = (shape.to_vec(), index_shape.to_vec());
    (a[d], b[d]) = (1, 1);
    let common = broadcast_shapes(OP, &a, &b).map_err(|_| Error::Broadcast {
        op: OP,
        lhs: shape.to_vec(),
        rhs: index_shape.to_vec(),
    })?;
    let (mut input_to, mut index_to) = (common.to_vec(), common.to_vec());
    (input_to[d], index_to[d]) = (shape[d], index_shape[d]);
    let total = checked_numel(OP, &index_to, 1)?;
    // Row-major strides of the index, 0 on the axes it is broadcast along.
    let mut strides = vec![0; index_to.len()];
    let mut step = 1;
    for a in (0..index_to.len()).rev() {
        strides[a] = if index_shape[a] == index_to[a] {
            step
        } else {
            0
        };
        step *= index_shape[a];
    }
    let expanded = (0..total)
        .map(|mut i| {
            let mut at = 0;
            for a in (0..index_to.len()).rev() {
                at += (i % index_to[a]) * strides[a];
                i /= index_to[a];
            }
            index[at]
        })
        .collect();
    Ok((input_to, expanded, index_to))
}

/// `dims` as distinct axes of `shape`.
fn distinct_dims(op: &'static str, dims: &[isize], shape: &[usize]) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(dims.len());
    for &dim in dims {
        let d = normalize_dim(op, dim, shape)?;
        if out.contains(&d) {
            return Err(Error::InvalidArgument {
                op,
                arg: "dims",
                value: format!("{dims:?}"),
                why: "each axis may appear once",
            });
        }
        out.push(d);
    }
    Ok(out)
}

/// `movedim`'s permutation: axis `dst[i]` of the result is axis `src[i]`; the other axes
/// keep their order.
fn movedim_perm(src: &[isize], dst: &[isize], shape: &[usize]) -> Result<Vec<isize>> {
    let (s, t) = (
        distinct_dims("movedim", src, shape)?,
        distinct_dims("movedim", dst, shape)?,
    );
    if s.len() != t.len() {
        return Err(Error::InvalidArgument {
            op: "movedim",
            arg: "destination",
            value: format!("{dst:?} for source {src:?}"),
            why: "needs as many axes as the source",
        });
    }
    let mut perm = vec![None; shape.len()];
    for (&from, &to) in s.iter().zip(&t) {
        perm[to] = Some(from as isize);
    }
    let mut rest = (0..shape.len()).filter(|d| !s.contains(d));
    Ok(perm
        .into_iter()
        .map(|p| p.unwrap_or_else(|| rest.next().unwrap_or(0) as isize))
        .collect())
}

/// The two axes of a matrix op (`diagonal`, `diag_embed`), distinct, over `ndim` axes.
fn two_dims(
    op: &'static str,
    d1: isize,
    d2: isize,
    ndim: usize,
    shape: &[usize],
) -> Result<(usize, usize)> {
    let a = normalize_dim_in(op, d1, ndim, shape)?;
    let b = normalize_dim_in(op, d2, ndim, shape)?;
    if a == b {
        return Err(Error::InvalidArgument {
            op,
            arg: "dim2",
            value: format!("{d2} (dim1 {d1}) for shape {shape:?}"),
            why: "the two axes must differ",
        });
    }
    Ok((a, b))
}

/// The length of the diagonal at `offset` of an `r × c` matrix.
fn diagonal_len(r: usize, c: usize, offset: isize) -> usize {
    let k = offset.unsigned_abs();
    if offset >= 0 {
        r.min(c.saturating_sub(k))
    } else {
        r.saturating_sub(k).min(c)
    }
}

impl<F: Float> Tensor<F> {
    /// The elements in reverse order along each axis of `dims` (torch's `flip`).
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3])?;
    /// assert_eq!(x.flip(&[1])?.to_vec(), vec![3., 2., 1., 6., 5., 4.]);
    /// assert_eq!(x.flip(&[0, -1])?.to_vec(), vec![6., 5., 4., 3., 2., 1.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] for a repeated axis.
    pub fn flip(&self, dims: &[isize]) -> Result<Self> {
        let mut out = self.clone();
        for d in distinct_dims("flip", dims, &self.shape)? {
            let reversed: Vec<usize> = (0..self.shape[d]).rev().collect();
            out = out.index_select(d as isize, &reversed)?;
        }
        Ok(out)
    }

    /// The elements shifted by `shifts[i]` positions along `dims[i]`, those pushed past the
    /// end coming back at the start (torch's `roll`); with no `dims`, the flattened tensor
    /// shifted by the one shift, then given back its shape.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3])?;
    /// assert_eq!(x.roll(&[1], &[1])?.to_vec(), vec![3., 1., 2., 6., 4., 5.]);
    /// assert_eq!(x.roll(&[-2], &[])?.to_vec(), vec![3., 4., 5., 6., 1., 2.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `shifts` and `dims` have the same length
    /// (one shift without dims); [`Error::DimOutOfRange`].
    pub fn roll(&self, shifts: &[isize], dims: &[isize]) -> Result<Self> {
        if dims.is_empty() {
            let [shift] = *shifts else {
                return Err(roll_arity(shifts, dims));
            };
            let n = self.numel() as isize;
            let shape: Vec<isize> = self.shape.iter().map(|&s| s as isize).collect();
            return self.reshape(&[n])?.roll(&[shift], &[0])?.reshape(&shape);
        }
        if shifts.len() != dims.len() {
            return Err(roll_arity(shifts, dims));
        }
        let mut out = self.clone();
        for (&shift, &dim) in shifts.iter().zip(dims) {
            let d = normalize_dim("roll", dim, &self.shape)?;
            out = out.index_select(d as isize, &roll_indices(self.shape[d], shift))?;
        }
        Ok(out)
    }

    /// The tensor repeated `sizes[i]` times along axis `i` (torch's `repeat`): `sizes` may
    /// be longer than the rank, adding leading axes.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1., 2.], &[2])?;
    /// let r = x.repeat(&[2, 2])?;
    /// assert_eq!((r.shape(), r.to_vec()), (&[2, 4][..], vec![1., 2., 1., 2., 1., 2., 1., 2.]));
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `sizes` is shorter than the rank;
    /// [`Error::TooLarge`] if the result is too large.
    pub fn repeat(&self, sizes: &[usize]) -> Result<Self> {
        let (split, spread, joined) = repeat_shapes(&self.shape, sizes)?;
        checked_numel("repeat", &spread, size_of::<F>())?;
        self.reshape(&split)?
            .broadcast_to(&spread)?
            .reshape(&joined)
    }

    /// torch's `tile`: [`Tensor::repeat`], with `reps` padded by leading ones when it is
    /// shorter than the rank.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the result is too large.
    pub fn tile(&self, reps: &[usize]) -> Result<Self> {
        self.repeat(&tile_reps(self.ndim(), reps))
    }

    /// torch's `F.pad`: `pad` holds `(before, after)` pairs, the last axis first; the border
    /// is `value` for [`PadMode::Constant`] and copied from the input otherwise (`value`
    /// unused). Unlike torch, any axes may be padded in every mode.
    ///
    /// ```
    /// use descent_tensor::{PadMode, Tensor};
    /// let x = Tensor::<f64>::from_vec(vec![1., 2., 3.], &[1, 3])?;
    /// assert_eq!(x.pad(&[1, 2], PadMode::Constant, 0.)?.to_vec(), vec![0., 1., 2., 3., 0., 0.]);
    /// assert_eq!(x.pad(&[2, 1], PadMode::Reflect, 0.)?.to_vec(), vec![3., 2., 1., 2., 3., 2.]);
    /// assert_eq!(x.pad(&[0, 0, 1, 0], PadMode::Replicate, 0.)?.shape(), &[2, 3]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a malformed `pad` or one too wide for the mode
    /// (see [`PadMode::source_indices`]); [`Error::TooLarge`].
    pub fn pad(&self, pad: &[usize], mode: PadMode, value: F) -> Result<Self> {
        let mut out = self.clone();
        for (d, before, after) in pad_pairs(&self.shape, pad)? {
            let n = out.shape[d];
            out = match mode.source_indices("pad", n, before, after)? {
                Some(indices) => out.index_select(d as isize, &indices)?,
                None => {
                    let mut side = out.shape.to_vec();
                    side[d] = before;
                    let head = Tensor::try_full(&side, value)?;
                    side[d] = after;
                    let tail = Tensor::try_full(&side, value)?;
                    Tensor::concat(&[&head, &out, &tail], d as isize)?
                }
            };
        }
        Ok(out)
    }

    /// Views of consecutive pieces of `size` elements along `dim`, the last one shorter if
    /// `size` does not divide the axis (torch's `split` with an int).
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1., 2., 3., 4., 5.], &[5])?;
    /// let parts: Vec<_> = x.split(2, 0)?.iter().map(|p| p.to_vec()).collect();
    /// assert_eq!(parts, vec![vec![1., 2.], vec![3., 4.], vec![5.]]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] for `size == 0` on a
    /// non-empty axis.
    pub fn split(&self, size: usize, dim: isize) -> Result<Vec<Self>> {
        let d = normalize_dim("split", dim, &self.shape)?;
        self.split_sizes(&split_lengths(self.shape[d], size)?, dim)
    }

    /// Views of consecutive pieces of the given lengths along `dim` (torch's `split` with a
    /// list), which must add up to the axis length.
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] if the lengths do not
    /// add up to the axis.
    pub fn split_sizes(&self, sizes: &[usize], dim: isize) -> Result<Vec<Self>> {
        let d = normalize_dim("split", dim, &self.shape)?;
        check_split_sizes(self.shape[d], sizes)?;
        let mut start = 0;
        sizes
            .iter()
            .map(|&len| {
                start += len;
                self.narrow(dim, start - len, len)
            })
            .collect()
    }

    /// `chunks` views along `dim` of `⌈n / chunks⌉` elements each, the last shorter, or fewer
    /// views if the axis runs out (torch's `chunk`).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] for `chunks == 0`.
    pub fn chunk(&self, chunks: usize, dim: isize) -> Result<Vec<Self>> {
        let d = normalize_dim("chunk", dim, &self.shape)?;
        self.split_sizes(&chunk_lengths(self.shape[d], chunks)?, dim)
    }

    /// The slices along `dim`, each without that axis (torch's `unbind`).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`].
    pub fn unbind(&self, dim: isize) -> Result<Vec<Self>> {
        let d = normalize_dim("unbind", dim, &self.shape)?;
        (0..self.shape[d])
            .map(|i| self.narrow(dim, i, 1)?.squeeze(Some(dim)))
            .collect()
    }

    /// `value` where `mask` is non-zero, `self` elsewhere; `mask` broadcasts to `self`'s
    /// shape (torch's `masked_fill`, whose mask is boolean).
    ///
    /// # Errors
    /// [`Error::Broadcast`] unless `mask` broadcasts to `self`'s shape.
    pub fn masked_fill(&self, mask: &Self, value: F) -> Result<Self> {
        check_mask("masked_fill", &self.shape, &mask.shape)?;
        Tensor::where_cond(mask, &Tensor::scalar(value), self)
    }

    /// The elements where `mask` is non-zero, in row-major order, as one axis; `self` and
    /// `mask` broadcast together (torch's `masked_select`).
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1., 2., 3., 4.], &[2, 2])?;
    /// let m = Tensor::from_vec(vec![1., 0.], &[2])?;
    /// assert_eq!(x.masked_select(&m)?.to_vec(), vec![1., 3.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Broadcast`] if the shapes do not broadcast.
    pub fn masked_select(&self, mask: &Self) -> Result<Self> {
        let (flat, picked) = self.masked_positions(mask)?;
        flat.index_select(0, &picked)
    }

    /// `self` broadcast with `mask` and flattened, and the positions where the broadcast mask
    /// is non-zero: [`Tensor::masked_select`] is an `index_select` of these.
    ///
    /// # Errors
    /// [`Error::Broadcast`] if the shapes do not broadcast.
    pub fn masked_positions(&self, mask: &Self) -> Result<(Self, Vec<usize>)> {
        let shape = broadcast_shapes("masked_select", &self.shape, &mask.shape)?;
        checked_numel("masked_select", &shape, size_of::<F>())?;
        let flat = self.broadcast_to(&shape)?.flatten();
        let picked = mask
            .broadcast_to(&shape)?
            .to_vec()
            .iter()
            .enumerate()
            .filter(|&(_, &m)| m != F::zero())
            .map(|(i, _)| i)
            .collect();
        Ok((flat, picked))
    }

    /// The lower triangle of each matrix (last two axes): elements with `col − row ≤ k`
    /// kept, the others 0 (torch's `tril`).
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3])?;
    /// assert_eq!(x.tril(0)?.to_vec(), vec![1., 0., 0., 4., 5., 0.]);
    /// assert_eq!(x.triu(1)?.to_vec(), vec![0., 2., 3., 0., 0., 6.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Rank`] below two axes.
    pub fn tril(&self, k: isize) -> Result<Self> {
        self.triangle("tril", |row, col| col - row <= k)
    }

    /// The upper triangle of each matrix (last two axes): elements with `col − row ≥ k`
    /// kept, the others 0 (torch's `triu`).
    ///
    /// # Errors
    /// [`Error::Rank`] below two axes.
    pub fn triu(&self, k: isize) -> Result<Self> {
        self.triangle("triu", |row, col| col - row >= k)
    }

    fn triangle(
        &self,
        op: &'static str,
        keep: impl Fn(isize, isize) -> bool + Sync,
    ) -> Result<Self> {
        let nd = self.ndim();
        if nd < 2 {
            return Err(Error::Rank {
                op,
                expected: "at least 2 axes",
                shape: self.shape.to_vec(),
            });
        }
        let (r, c) = (self.shape[nd - 2], self.shape[nd - 1]);
        let src = self.contiguous();
        let s = src.as_slice().unwrap_or_default();
        Self::try_build(op, self.shape.clone(), |start, out| {
            for (i, y) in out.iter_mut().enumerate() {
                let at = start + i;
                let within = at % (r * c).max(1);
                let (row, col) = ((within / c.max(1)) as isize, (within % c.max(1)) as isize);
                y.write(if keep(row, col) { s[at] } else { F::zero() });
            }
        })
    }

    /// The diagonal at `offset` (above the main one if positive) of the matrices spanned by
    /// axes `d1` and `d2`, as a view whose last axis runs along it (torch's `diagonal`).
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3])?;
    /// assert_eq!(x.diagonal(0, 0, 1)?.to_vec(), vec![1., 5.]);
    /// assert_eq!(x.diagonal(1, 0, 1)?.to_vec(), vec![2., 6.]);
    /// assert_eq!(x.diagonal(-1, 0, 1)?.to_vec(), vec![4.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] if `d1 == d2`.
    pub fn diagonal(&self, offset: isize, d1: isize, d2: isize) -> Result<Self> {
        let (a, b) = two_dims("diagonal", d1, d2, self.ndim(), &self.shape)?;
        let len = diagonal_len(self.shape[a], self.shape[b], offset);
        let rest = |v: &[usize]| -> Vec<usize> {
            (0..v.len())
                .filter(|&i| i != a && i != b)
                .map(|i| v[i])
                .collect()
        };
        let (mut shape, mut strides) = (rest(&self.shape), rest(&self.strides));
        shape.push(len);
        strides.push(self.strides[a] + self.strides[b]);
        let start = match (len, offset >= 0) {
            (0, _) => self.offset,
            (_, true) => self.offset + offset.unsigned_abs() * self.strides[b],
            (_, false) => self.offset + offset.unsigned_abs() * self.strides[a],
        };
        Ok(Tensor {
            data: self.data.clone(),
            shape: shape.into(),
            strides: strides.into(),
            offset: start,
        })
    }

    /// Matrices along new axes `d1`, `d2` (of the result) with the last axis of `self` on
    /// their diagonal at `offset` and zeros elsewhere (torch's `diag_embed`); the adjoint of
    /// [`Tensor::diagonal`] on square matrices.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![1., 2.], &[2])?;
    /// assert_eq!(x.diag_embed(0, -2, -1)?.to_vec(), vec![1., 0., 0., 2.]);
    /// assert_eq!(x.diag_embed(1, 0, 1)?.to_vec(), vec![0., 1., 0., 0., 0., 2., 0., 0., 0.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Rank`] for a scalar; [`Error::DimOutOfRange`];
    /// [`Error::InvalidArgument`] if `d1 == d2`; [`Error::TooLarge`].
    pub fn diag_embed(&self, offset: isize, d1: isize, d2: isize) -> Result<Self> {
        const OP: &str = "diag_embed";
        let nd = self.ndim();
        if nd == 0 {
            return Err(Error::Rank {
                op: OP,
                expected: "at least 1 axis",
                shape: self.shape.to_vec(),
            });
        }
        let (a, b) = two_dims(OP, d1, d2, nd + 1, &self.shape)?;
        let n = self.shape[nd - 1];
        let k = offset.unsigned_abs();
        let m = n.checked_add(k).ok_or_else(|| Error::TooLarge {
            op: OP,
            shape: self.shape.to_vec(),
        })?;
        let (row0, col0) = if offset >= 0 { (0, k) } else { (k, 0) };
        let mut shape = self.shape[..nd - 1].to_vec();
        shape.extend([m, m]);
        let src = self.contiguous();
        let s = src.as_slice().unwrap_or_default();
        let out = Self::try_build(OP, shape, |start, out| {
            for (i, y) in out.iter_mut().enumerate() {
                let at = start + i;
                let (batch, within) = (at / (m * m), at % (m * m));
                let (row, col) = (within / m, within % m);
                let on = row >= row0 && col >= col0 && row - row0 == col - col0;
                y.write(if on {
                    s[batch * n + row - row0]
                } else {
                    F::zero()
                });
            }
        })?;
        out.movedim(&[-2, -1], &[a as isize, b as isize])
    }

    /// The axes `src` moved to positions `dst`, the others keeping their order (torch's
    /// `movedim`; a view).
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f64>::zeros(&[2, 3, 4]);
    /// assert_eq!(x.movedim(&[0], &[-1])?.shape(), &[3, 4, 2]);
    /// assert_eq!(x.movedim(&[2, 0], &[0, 1])?.shape(), &[4, 2, 3]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`]; [`Error::InvalidArgument`] for repeated axes or
    /// lists of different lengths.
    pub fn movedim(&self, src: &[isize], dst: &[isize]) -> Result<Self> {
        self.permute(&movedim_perm(src, dst, &self.shape)?)
    }

    /// `self` broadcast to `other`'s shape (torch's `expand_as`; a view).
    ///
    /// # Errors
    /// [`Error::Broadcast`] if it does not broadcast.
    pub fn expand_as(&self, other: &Self) -> Result<Self> {
        self.broadcast_to(&other.shape)
    }

    /// torch's `take_along_dim`: [`Tensor::gather`] along `dim` after broadcasting `self`
    /// and the index (row-major, shaped `index_shape`) against each other on the other axes;
    /// with `dim = None`, indices into the flattened tensor.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f64>::from_vec(vec![10., 30., 20., 60., 40., 50.], &[2, 3])?;
    /// let picked = x.take_along_dim(&[1, 0], &[2, 1], Some(1))?;
    /// assert_eq!(picked.to_vec(), vec![30., 60.]);
    /// assert_eq!(x.take_along_dim(&[5, 0], &[2], None)?.to_vec(), vec![50., 10.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`take_along_dim_shapes`] and [`Tensor::gather`].
    pub fn take_along_dim(
        &self,
        index: &[usize],
        index_shape: &[usize],
        dim: Option<isize>,
    ) -> Result<Self> {
        match dim {
            None => self
                .flatten()
                .take_along_dim(index, &[index.len()], Some(0)),
            Some(dim) => {
                let (to, index, index_shape) =
                    take_along_dim_shapes(&self.shape, index, index_shape, dim)?;
                self.broadcast_to(&to)?.gather(dim, &index, &index_shape)
            }
        }
    }
}

fn roll_arity(shifts: &[isize], dims: &[isize]) -> Error {
    Error::InvalidArgument {
        op: "roll",
        arg: "shifts",
        value: format!("{shifts:?} for dims {dims:?}"),
        why: "needs one shift per axis (or one shift and no axes)",
    }
}

/// Source positions of an axis of length `n` rolled by `shift`: `out[i] = x[(i − shift) mod n]`.
pub fn roll_indices(n: usize, shift: isize) -> Vec<usize> {
    let n = n as isize;
    (0..n)
        .map(|i| (i - shift).rem_euclid(n.max(1)) as usize)
        .collect()
}

/// The shapes [`Tensor::repeat`] goes through: `self` with a 1 before each axis, that 1
/// broadcast to the repeat count, and the pairs merged.
///
/// # Errors
/// [`Error::InvalidArgument`] if `sizes` is shorter than `shape`.
pub fn repeat_shapes(
    shape: &[usize],
    sizes: &[usize],
) -> Result<(Vec<isize>, Vec<usize>, Vec<isize>)> {
    if sizes.len() < shape.len() {
        return Err(Error::InvalidArgument {
            op: "repeat",
            arg: "sizes",
            value: format!("{sizes:?} for shape {shape:?}"),
            why: "needs at least one size per axis",
        });
    }
    let lead = sizes.len() - shape.len();
    let full: Vec<usize> = std::iter::repeat_n(1, lead)
        .chain(shape.iter().copied())
        .collect();
    let mut split = Vec::new();
    let mut spread = Vec::new();
    let mut joined = Vec::new();
    for (&s, &r) in full.iter().zip(sizes) {
        split.extend([1, s as isize]);
        spread.extend([r, s]);
        let n = r.checked_mul(s).ok_or_else(|| Error::TooLarge {
            op: "repeat",
            shape: sizes.to_vec(),
        })?;
        joined.push(n as isize);
    }
    checked_numel("repeat", &spread, 1)?;
    Ok((split, spread, joined))
}

/// `tile`'s repeat counts: `reps` with leading ones up to `ndim`.
pub fn tile_reps(ndim: usize, reps: &[usize]) -> Vec<usize> {
    let lead = ndim.saturating_sub(reps.len());
    std::iter::repeat_n(1, lead)
        .chain(reps.iter().copied())
        .collect()
}

/// Lengths of `split(size)` pieces of an axis of length `n`.
///
/// # Errors
/// [`Error::InvalidArgument`] for `size == 0` and `n > 0`.
pub fn split_lengths(n: usize, size: usize) -> Result<Vec<usize>> {
    if size == 0 {
        return match n {
            0 => Ok(vec![0]),
            _ => Err(Error::InvalidArgument {
                op: "split",
                arg: "size",
                value: "0".into(),
                why: "must be positive for a non-empty axis",
            }),
        };
    }
    let mut out = vec![size; n / size];
    if !n.is_multiple_of(size) || n == 0 {
        out.push(n % size);
    }
    Ok(out)
}

/// Lengths of `chunk(chunks)` pieces of an axis of length `n`.
///
/// # Errors
/// [`Error::InvalidArgument`] for `chunks == 0`.
pub fn chunk_lengths(n: usize, chunks: usize) -> Result<Vec<usize>> {
    if chunks == 0 {
        return Err(Error::InvalidArgument {
            op: "chunk",
            arg: "chunks",
            value: "0".into(),
            why: "must be positive",
        });
    }
    split_lengths(n, n.div_ceil(chunks))
}

/// Checks that split lengths add up to the axis length `n`.
///
/// # Errors
/// [`Error::InvalidArgument`] otherwise.
pub fn check_split_sizes(n: usize, sizes: &[usize]) -> Result<()> {
    let total = sizes.iter().try_fold(0usize, |a, &s| a.checked_add(s));
    if total != Some(n) {
        return Err(Error::InvalidArgument {
            op: "split",
            arg: "sizes",
            value: format!("{sizes:?}"),
            why: "must add up to the axis length",
        });
    }
    Ok(())
}

/// Checks that a mask of shape `mask` broadcasts to `shape` (not the other way round).
///
/// # Errors
/// [`Error::Broadcast`] naming `op` otherwise.
pub fn check_mask(op: &'static str, shape: &[usize], mask: &[usize]) -> Result<()> {
    match broadcast_shapes(op, shape, mask) {
        Ok(s) if s[..] == shape[..] => Ok(()),
        _ => Err(Error::Broadcast {
            op,
            lhs: shape.to_vec(),
            rhs: mask.to_vec(),
        }),
    }
}
