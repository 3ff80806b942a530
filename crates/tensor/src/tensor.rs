//! `Tensor<F>`: a shape, strides and an offset over shared, pooled storage, and the three
//! traversal helpers (`map`, `zip_map`, `reduce`) that are the only code touching strides,
//! chunking and threads. Every element-wise op elsewhere is a one-liner over them.

use crate::error::{Error, Result};
use crate::layout::{
    broadcast_shapes, broadcast_strides, checked_numel, contiguous_strides, normalize_dims, numel,
    walk, Dims,
};
use crate::pool::Buffer;
use crate::Float;
use rayon::prelude::*;
use std::mem::MaybeUninit;
use std::sync::Arc;

/// Below this many elements a kernel runs on the calling thread: forking costs more.
pub(crate) const PAR_MIN: usize = 1 << 15;

/// An N-dimensional array of `f32` or `f64`.
///
/// Cloning is cheap (the storage is shared); views such as [`Tensor::transpose`] or
/// [`Tensor::broadcast_to`] copy nothing. In-place methods copy the storage first only if
/// another tensor shares it.
///
/// ```
/// use descent_tensor::Tensor;
/// let a = Tensor::<f32>::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3])?;
/// let b = a.transpose(0, 1)?;              // a view: [3, 2]
/// assert_eq!(b.to_vec(), vec![1., 4., 2., 5., 3., 6.]);
/// assert_eq!(a.sum(&[1], false)?.to_vec(), vec![6., 15.]);
/// # Ok::<(), descent_tensor::Error>(())
/// ```
pub struct Tensor<F: Float> {
    pub(crate) data: Arc<Buffer<F>>,
    pub(crate) shape: Dims,
    pub(crate) strides: Dims,
    pub(crate) offset: usize,
}

impl<F: Float> Clone for Tensor<F> {
    /// Shares the storage; the shape and strides are copied inline (`from_slice` is a
    /// `memcpy`, where the derived clone went element by element).
    fn clone(&self) -> Self {
        Tensor {
            data: Arc::clone(&self.data),
            shape: Dims::from_slice(&self.shape),
            strides: Dims::from_slice(&self.strides),
            offset: self.offset,
        }
    }
}

impl<F: Float> Tensor<F> {
    // ----- construction ------------------------------------------------------------------

    /// A tensor owning `data`, laid out row-major as `shape`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the product of `shape` overflows;
    /// [`Error::Length`] if `data.len()` is not the product of `shape`.
    pub fn from_vec(data: Vec<F>, shape: &[usize]) -> Result<Self> {
        let n = checked_numel("from_vec", shape, size_of::<F>())?;
        if data.len() != n {
            return Err(Error::Length {
                op: "from_vec",
                len: data.len(),
                shape: shape.to_vec(),
                numel: n,
            });
        }
        Ok(Self::from_parts(data, Dims::from_slice(shape)))
    }

    /// A tensor holding a copy of `data`, laid out row-major as `shape`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the product of `shape` overflows;
    /// [`Error::Length`] if `data.len()` is not the product of `shape`.
    pub fn from_slice(data: &[F], shape: &[usize]) -> Result<Self> {
        let n = checked_numel("from_slice", shape, size_of::<F>())?;
        if data.len() != n {
            return Err(Error::Length {
                op: "from_slice",
                len: data.len(),
                shape: shape.to_vec(),
                numel: n,
            });
        }
        let mut v = F::pool().take(n);
        v.extend_from_slice(data);
        Ok(Self::from_parts(v, Dims::from_slice(shape)))
    }

    pub(crate) fn from_parts(data: Vec<F>, shape: impl Into<Dims>) -> Self {
        let shape = shape.into();
        debug_assert_eq!(data.len(), numel(&shape));
        Tensor {
            data: Arc::new(Buffer(data)),
            strides: contiguous_strides(&shape),
            shape,
            offset: 0,
        }
    }

    /// A 0-dimensional tensor holding `x`.
    pub fn scalar(x: F) -> Self {
        Self::from_parts(vec![x], vec![])
    }

    /// A tensor of `shape` filled with `value`.
    ///
    /// # Panics
    /// If the product of `shape` overflows or its bytes exceed `isize::MAX`, as
    /// `Vec::with_capacity` does: no allocation could hold it. [`Tensor::try_full`] returns
    /// the error instead.
    pub fn full(shape: &[usize], value: F) -> Self {
        Self::try_full(shape, value).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Tensor::full`] for a shape that may be too large.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the product of `shape` overflows or its bytes exceed
    /// `isize::MAX`.
    pub fn try_full(shape: &[usize], value: F) -> Result<Self> {
        Self::try_build("full", Dims::from_slice(shape), |_, out| {
            out.iter_mut().for_each(|o| _ = o.write(value))
        })
    }

    /// A tensor of zeros.
    ///
    /// # Panics
    /// As [`Tensor::full`].
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, F::zero())
    }

    /// A tensor of ones.
    ///
    /// # Panics
    /// As [`Tensor::full`].
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, F::one())
    }

    /// Zeros with `other`'s shape.
    pub fn zeros_like(other: &Self) -> Self {
        Self::zeros(other.shape())
    }

    /// `[start, start + step, …]` up to but excluding `end`, as NumPy's `arange`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `step` is zero or not finite, or `start` or
    /// `end` is not finite (as PyTorch); [`Error::TooLarge`] if the count does not fit.
    pub fn arange(start: F, end: F, step: F) -> Result<Self> {
        let bad = |arg, value: F, why| Error::InvalidArgument {
            op: "arange",
            arg,
            value: value.to_string(),
            why,
        };
        if step == F::zero() || !step.is_finite() {
            return Err(bad("step", step, "must be finite and non-zero"));
        }
        for (arg, v) in [("start", start), ("end", end)] {
            if !v.is_finite() {
                return Err(bad(arg, v, "must be finite"));
            }
        }
        // `as usize` saturates; a count at or past 2⁶⁴ (or an infinite quotient of finite
        // bounds) is refused by the size check below.
        let count = ((end - start) / step).ceil().as_f64().max(0.0);
        let n = if count < usize::MAX as f64 {
            count as usize
        } else {
            usize::MAX
        };
        Self::try_build("arange", vec![n], |s, out| {
            for (i, o) in out.iter_mut().enumerate() {
                o.write(start + step * F::of_usize(s + i));
            }
        })
    }

    /// `n` evenly spaced points from `start` to `end` inclusive.
    ///
    /// # Panics
    /// As [`Tensor::full`], if `n` elements cannot be allocated.
    pub fn linspace(start: F, end: F, n: usize) -> Self {
        let step = if n > 1 {
            (end - start) / F::of_usize(n - 1)
        } else {
            F::zero()
        };
        Self::build(vec![n], |s, out| {
            for (i, o) in out.iter_mut().enumerate() {
                let k = s + i;
                o.write(if k + 1 == n && n > 1 {
                    end
                } else {
                    start + step * F::of_usize(k)
                });
            }
        })
    }

    /// The `n × n` identity matrix.
    ///
    /// # Panics
    /// As [`Tensor::full`], if `n²` overflows or cannot be allocated.
    pub fn eye(n: usize) -> Self {
        Self::build(vec![n, n], |s, out| {
            for (i, o) in out.iter_mut().enumerate() {
                let k = s + i;
                o.write(if k / n == k % n { F::one() } else { F::zero() });
            }
        })
    }

    /// A contiguous tensor of `shape` whose element `i` is written by `fill(start, chunk)`
    /// for chunks of the flat output, in parallel for large outputs. `fill` must write every
    /// element of its chunk.
    ///
    /// # Panics
    /// If `shape` is too large (see [`Tensor::try_build`]): for shapes derived from an
    /// existing tensor's, which cannot be.
    pub(crate) fn build(
        shape: impl Into<Dims>,
        fill: impl Fn(usize, &mut [MaybeUninit<F>]) + Sync,
    ) -> Self {
        Self::build_with_cost(shape, 1, fill)
    }

    /// [`Tensor::build`] for a shape that may be too large, with the error naming `op`.
    ///
    /// # Errors
    /// [`Error::TooLarge`] if the product of `shape` overflows or its bytes exceed
    /// `isize::MAX`.
    pub(crate) fn try_build(
        op: &'static str,
        shape: impl Into<Dims>,
        fill: impl Fn(usize, &mut [MaybeUninit<F>]) + Sync,
    ) -> Result<Self> {
        let shape = shape.into();
        checked_numel(op, &shape, size_of::<F>())?;
        Ok(Self::build_with_cost(shape, 1, fill))
    }

    /// [`Tensor::build`] where each output element costs about `cost` input elements (a
    /// reduction's count), so that a small output of a large reduction is split too.
    pub(crate) fn build_with_cost(
        shape: impl Into<Dims>,
        cost: usize,
        fill: impl Fn(usize, &mut [MaybeUninit<F>]) + Sync,
    ) -> Self {
        let shape = shape.into();
        let n = checked_numel("build", &shape, size_of::<F>()).unwrap_or_else(|e| panic!("{e}"));
        let cost = cost.max(1);
        let mut v = F::pool().take(n);
        let spare = &mut v.spare_capacity_mut()[..n];
        if n.saturating_mul(cost) >= PAR_MIN && n > 1 && rayon::current_num_threads() > 1 {
            let chunk = n
                .div_ceil(rayon::current_num_threads() * 2)
                .max((PAR_MIN / 2).div_ceil(cost));
            spare
                .par_chunks_mut(chunk)
                .enumerate()
                .for_each(|(c, out)| fill(c * chunk, out));
        } else {
            fill(0, spare);
        }
        // SAFETY: `fill` wrote every element of `spare[..n]` (the contract above).
        unsafe { v.set_len(n) };
        Self::from_parts(v, shape)
    }

    // ----- accessors ---------------------------------------------------------------------

    /// The size of each axis.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The step, in elements, between neighbours along each axis (0 on broadcast axes).
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        numel(&self.shape)
    }

    /// Size of axis `dim` (negative counts from the end).
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`].
    pub fn dim(&self, dim: isize) -> Result<usize> {
        Ok(self.shape[crate::layout::normalize_dim("dim", dim, &self.shape)?])
    }

    /// Whether the elements are laid out row-major with no gaps.
    pub fn is_contiguous(&self) -> bool {
        let mut expect = 1;
        for (&d, &s) in self.shape.iter().zip(&self.strides).rev() {
            if d != 1 && s != expect {
                return false;
            }
            // As `contiguous_strides`, saturating past an empty tensor's huge axes.
            expect = expect.saturating_mul(d);
        }
        true
    }

    /// The contiguous block this tensor repeats along its leading axes, if it is one: the
    /// shape after those axes (stride 0 or size 1) and the block's elements. A contiguous
    /// tensor is its own block.
    fn repeated_block(&self) -> Option<(&[usize], &[F])> {
        let lead = (self.shape.iter().zip(&self.strides))
            .take_while(|&(&n, &s)| s == 0 || n == 1)
            .count();
        let (shape, strides) = (&self.shape[lead..], &self.strides[lead..]);
        let mut expect = 1;
        for (&d, &s) in shape.iter().zip(strides).rev() {
            if d != 1 && s != expect {
                return None;
            }
            expect = expect.saturating_mul(d);
        }
        let len = numel(shape);
        Some((shape, self.elements(len)))
    }

    /// The elements in row-major order, if the tensor is contiguous.
    pub fn as_slice(&self) -> Option<&[F]> {
        self.is_contiguous().then(|| self.elements(self.numel()))
    }

    /// The `len` stored elements from the offset on. An empty view may sit past the end of
    /// its storage (a slice of an empty tensor), so it gets an empty slice, not that range.
    fn elements(&self, len: usize) -> &[F] {
        if len == 0 {
            return &[];
        }
        &self.data.0[self.offset..self.offset + len]
    }

    /// Whether `self` and `other` view the same storage.
    pub fn shares_storage(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.data, &other.data)
    }

    /// The elements in row-major order.
    pub fn to_vec(&self) -> Vec<F> {
        match self.as_slice() {
            Some(s) => s.to_vec(),
            None => self
                .contiguous()
                .as_slice()
                .map(<[F]>::to_vec)
                .unwrap_or_default(),
        }
    }

    /// The single element of a one-element tensor.
    ///
    /// # Errors
    /// [`Error::Length`] if the tensor does not hold exactly one element.
    pub fn item(&self) -> Result<F> {
        if self.numel() != 1 {
            return Err(Error::Length {
                op: "item",
                len: self.numel(),
                shape: self.shape.to_vec(),
                numel: 1,
            });
        }
        Ok(self.data.0[self.offset])
    }

    /// The element at a multi-index.
    ///
    /// # Errors
    /// [`Error::Rank`] or [`Error::IndexOutOfRange`].
    pub fn get(&self, index: &[usize]) -> Result<F> {
        if index.len() != self.ndim() {
            return Err(Error::Rank {
                op: "get",
                expected: "one index per axis",
                shape: self.shape.to_vec(),
            });
        }
        let mut off = self.offset;
        for (d, (&i, (&n, &s))) in index
            .iter()
            .zip(self.shape.iter().zip(&self.strides))
            .enumerate()
        {
            if i >= n {
                return Err(Error::IndexOutOfRange {
                    op: "get",
                    index: i64::try_from(i).unwrap_or(i64::MAX),
                    size: n,
                    dim: d,
                    shape: self.shape.to_vec(),
                });
            }
            off += i * s;
        }
        Ok(self.data.0[off])
    }

    /// A contiguous tensor with the same elements: `self` itself (no copy) if it already is.
    pub fn contiguous(&self) -> Self {
        if self.is_contiguous() {
            return self.clone();
        }
        self.contiguous_transposed()
            .unwrap_or_else(|| self.map(|x| x))
    }

    /// Converts to another element type.
    pub fn cast<G: Float>(&self) -> Tensor<G> {
        let src = self.contiguous();
        let s = src.as_slice().unwrap_or_default();
        Tensor::build(self.shape.clone(), |start, out| {
            for (o, &x) in out.iter_mut().zip(&s[start..]) {
                o.write(G::of(x.as_f64()));
            }
        })
    }

    // ----- traversal helpers -------------------------------------------------------------

    /// `y[i] = f(x[i])` into a new contiguous tensor.
    pub fn map(&self, f: impl Fn(F) -> F + Sync) -> Self {
        let data = &self.data.0;
        match self.as_slice() {
            Some(src) => Self::build(self.shape.clone(), |start, out| {
                unary_simd(out, &src[start..], &f)
            }),
            None => Self::build(self.shape.clone(), |start, out| {
                walk(
                    &self.shape,
                    [&self.strides],
                    [self.offset],
                    start,
                    out.len(),
                    |i, [o]| {
                        out[i].write(f(data[o]));
                    },
                )
            }),
        }
    }

    /// `z[i] = f(x[i], y[i])` with NumPy broadcasting, into a new contiguous tensor.
    ///
    /// # Errors
    /// [`Error::Broadcast`] naming `op` if the shapes do not broadcast.
    pub fn zip_map(
        &self,
        op: &'static str,
        rhs: &Self,
        f: impl Fn(F, F) -> F + Sync,
    ) -> Result<Self> {
        if self.shape == rhs.shape {
            if let (Some(a), Some(b)) = (self.as_slice(), rhs.as_slice()) {
                return Ok(Self::build(self.shape.clone(), |start, out| {
                    binary_simd(out, &a[start..], &b[start..], &f)
                }));
            }
        }
        // An operand that repeats a contiguous block whole along leading axes (a bias row
        // added to a batch, a broadcast scalar) against one that covers the output: one
        // pass with a wrapping index instead of the general walk.
        let shape = broadcast_shapes(op, &self.shape, &rhs.shape)?;
        checked_numel(op, &shape, size_of::<F>())?;
        if let (Some((ca, a)), Some((cb, b))) = (self.repeated_block(), rhs.repeated_block()) {
            let n = numel(&shape);
            if a.len() == n && repeats_as_suffix(cb, &shape) {
                return Ok(Self::build(shape, |start, out| {
                    cycle_zip(out, &a[start..], b, start, &f)
                }));
            }
            if b.len() == n && repeats_as_suffix(ca, &shape) {
                return Ok(Self::build(shape, |start, out| {
                    cycle_zip(out, &b[start..], a, start, |y, x| f(x, y))
                }));
            }
        }
        let sa = broadcast_strides(op, &self.shape, &self.strides, &shape)?;
        let sb = broadcast_strides(op, &rhs.shape, &rhs.strides, &shape)?;
        let (da, db) = (&self.data.0, &rhs.data.0);
        Ok(Self::build(shape.clone(), |start, out| {
            walk(
                &shape,
                [&sa, &sb],
                [self.offset, rhs.offset],
                start,
                out.len(),
                |i, [oa, ob]| {
                    out[i].write(f(da[oa], db[ob]));
                },
            )
        }))
    }

    /// `w[i] = f(x[i], y[i], z[i])` with the three operands broadcast together.
    pub(crate) fn zip3_map(
        op: &'static str,
        x: &Self,
        y: &Self,
        z: &Self,
        f: impl Fn(F, F, F) -> F + Sync,
    ) -> Result<Self> {
        let shape = broadcast_shapes(op, &broadcast_shapes(op, &x.shape, &y.shape)?, &z.shape)?;
        checked_numel(op, &shape, size_of::<F>())?;
        let sx = broadcast_strides(op, &x.shape, &x.strides, &shape)?;
        let sy = broadcast_strides(op, &y.shape, &y.strides, &shape)?;
        let sz = broadcast_strides(op, &z.shape, &z.strides, &shape)?;
        let (dx, dy, dz) = (&x.data.0, &y.data.0, &z.data.0);
        Ok(Self::build(shape.clone(), |start, out| {
            walk(
                &shape,
                [&sx, &sy, &sz],
                [x.offset, y.offset, z.offset],
                start,
                out.len(),
                |i, [a, b, c]| {
                    out[i].write(f(dx[a], dy[b], dz[c]));
                },
            )
        }))
    }

    /// Folds the axes `dims` (all axes if empty) with `fold`, starting each output element
    /// at `init` and finishing it with `finish(acc, count)`.
    ///
    /// # Errors
    /// [`Error::DimOutOfRange`] naming `op`; [`Error::TooLarge`] if reducing
    /// an empty axis away leaves too many elements.
    pub fn reduce(
        &self,
        op: &'static str,
        dims: &[isize],
        keepdim: bool,
        init: F,
        fold: impl Fn(F, F) -> F + Sync,
        finish: impl Fn(F, usize) -> F + Sync,
    ) -> Result<Self> {
        let mask = normalize_dims(op, dims, &self.shape)?;
        let split = |keep: bool| -> (Dims, Dims) {
            (0..self.ndim())
                .filter(|&d| mask[d] != keep)
                .map(|d| (self.shape[d], self.strides[d]))
                .unzip()
        };
        let (outer_shape, outer_strides) = split(true);
        let (inner_shape, inner_strides) = split(false);
        let count = numel(&inner_shape);
        let out_shape: Dims = if keepdim {
            self.shape
                .iter()
                .zip(&mask)
                .map(|(&d, &m)| if m { 1 } else { d })
                .collect()
        } else {
            outer_shape.clone()
        };
        // Reducing an empty axis away can leave more elements than the input had.
        checked_numel(op, &out_shape, size_of::<F>())?;
        let data = &self.data.0;
        if let Some(rows) = self.reduced_rows(&mask) {
            return Ok(rows.fold(out_shape, data, init, fold, finish));
        }
        let inner_contiguous = inner_strides[..] == contiguous_strides(&inner_shape)[..];
        Ok(Self::build_with_cost(out_shape, count, |start, out| {
            walk(
                &outer_shape,
                [&outer_strides],
                [self.offset],
                start,
                out.len(),
                |i, [base]| {
                    let acc = if inner_contiguous {
                        data[base..base + count]
                            .iter()
                            .fold(init, |a, &x| fold(a, x))
                    } else {
                        let mut acc = init;
                        walk(
                            &inner_shape,
                            [&inner_strides],
                            [base],
                            0,
                            count,
                            |_, [o]| acc = fold(acc, data[o]),
                        );
                        acc
                    };
                    out[i].write(finish(acc, count));
                },
            )
        }))
    }

    /// For a contiguous tensor whose reduced axes are one run with kept axes after it (a
    /// bias gradient's sum over the batch), the `[outer, reduced, inner]` sizes: such a
    /// reduction folds whole rows into a row of accumulators, in order and vectorizable,
    /// instead of walking each output's column with a stride.
    fn reduced_rows(&self, mask: &[bool]) -> Option<RowFold> {
        let first = mask.iter().position(|&m| m)?;
        let end = first + mask[first..].iter().take_while(|&&m| m).count();
        let ok = end < mask.len() && !mask[end..].contains(&true) && self.is_contiguous();
        ok.then(|| RowFold {
            offset: self.offset,
            reduced: numel(&self.shape[first..end]),
            inner: numel(&self.shape[end..]),
        })
    }

    // ----- in place ------------------------------------------------------------------------

    /// The elements as a mutable row-major slice, copying the storage first if it is shared
    /// or not contiguous (copy-on-write).
    pub fn data_mut(&mut self) -> &mut [F] {
        let n = self.numel();
        let whole = self.offset == 0
            && self.data.0.len() == n
            && self.is_contiguous()
            && !self.strides.contains(&0);
        if !whole || Arc::get_mut(&mut self.data).is_none() {
            *self = self.map(|x| x);
        }
        let buf = Arc::get_mut(&mut self.data).map(|b| &mut b.0[..]);
        buf.unwrap_or_default()
    }

    /// `x[i] = f(x[i])` in place.
    pub fn map_inplace(&mut self, f: impl Fn(F) -> F + Sync) {
        let data = self.data_mut();
        if data.len() >= PAR_MIN {
            data.par_chunks_mut(PAR_MIN / 2)
                .for_each(|c| c.iter_mut().for_each(|x| *x = f(*x)));
        } else {
            data.iter_mut().for_each(|x| *x = f(*x));
        }
    }

    /// `x[i] = f(x[i], y[i])` in place, `rhs` broadcast to `self`'s shape.
    ///
    /// # Errors
    /// [`Error::Broadcast`] naming `op` if `rhs` does not broadcast to `self`.
    pub fn zip_inplace(
        &mut self,
        op: &'static str,
        rhs: &Self,
        f: impl Fn(F, F) -> F + Sync,
    ) -> Result<()> {
        let rhs = rhs
            .broadcast_to(&self.shape)
            .map_err(|_| Error::Broadcast {
                op,
                lhs: self.shape.to_vec(),
                rhs: rhs.shape.to_vec(),
            })?;
        let rhs = rhs.contiguous();
        let src = rhs.as_slice().unwrap_or_default();
        let dst = self.data_mut();
        if dst.len() >= PAR_MIN {
            dst.par_chunks_mut(PAR_MIN / 2)
                .zip(src.par_chunks(PAR_MIN / 2))
                .for_each(|(d, s)| d.iter_mut().zip(s).for_each(|(x, &y)| *x = f(*x, y)));
        } else {
            dst.iter_mut().zip(src).for_each(|(x, &y)| *x = f(*x, y));
        }
        Ok(())
    }

    /// Whether every pair of elements satisfies `|a − b| ≤ atol + rtol·|b|` (NumPy's rule;
    /// NaNs never match). Shapes must be equal.
    pub fn allclose(&self, other: &Self, rtol: f64, atol: f64) -> bool {
        self.shape == other.shape
            && self.to_vec().iter().zip(other.to_vec()).all(|(&a, b)| {
                let (a, b) = (a.as_f64(), b.as_f64());
                (a - b).abs() <= atol + rtol * b.abs() || (a == b)
            })
    }
}

/// A reduction over the middle of `[outer, reduced, inner]` contiguous elements (`outer`
/// is implied by the output's size).
#[derive(Clone, Copy)]
struct RowFold {
    offset: usize,
    reduced: usize,
    inner: usize,
}

impl RowFold {
    /// `out[o, c] = finish(fold(… fold(init, x[o, 0, c]) …, x[o, reduced − 1, c]))`, with
    /// chunks of the output's columns in parallel for large inputs. A chunk of columns
    /// reads a strip of every row, half of which the other thread wrote when the input came
    /// from a kernel split by rows (a bias gradient from ReLU's backward), so an element
    /// counts a quarter of an element-wise one: the batch sums of a layer's few hundred
    /// biases stay on one thread.
    fn fold<F: Float>(
        &self,
        out_shape: Dims,
        data: &[F],
        init: F,
        fold: impl Fn(F, F) -> F + Sync,
        finish: impl Fn(F, usize) -> F + Sync,
    ) -> Tensor<F> {
        let RowFold {
            offset,
            reduced,
            inner,
        } = *self;
        Tensor::build_with_cost(out_shape, reduced.div_ceil(4), |start, out| {
            // A chunk of the flat output may span several `o`; take it one `o` at a time.
            let mut done = 0;
            while done < out.len() {
                let (o, c) = ((start + done) / inner, (start + done) % inner);
                let len = (inner - c).min(out.len() - done);
                let acc = &mut out[done..done + len];
                acc.iter_mut().for_each(|a| _ = a.write(init));
                // SAFETY: every element of `acc` was written just above.
                let acc = unsafe { &mut *(acc as *mut [MaybeUninit<F>] as *mut [F]) };
                if reduced > 0 {
                    let first = offset + o * reduced * inner + c;
                    let rows = &data[first..first + (reduced - 1) * inner + len];
                    fold_rows_simd(acc, rows, inner, &fold);
                }
                acc.iter_mut().for_each(|a| *a = finish(*a, reduced));
                done += len;
            }
        })
    }
}

/// Whether `small` broadcasts to `big` by repeating its elements whole, in order: without its
/// leading length-1 axes it equals `big`'s trailing axes, and it adds no axes to `big`.
fn repeats_as_suffix(small: &[usize], big: &[usize]) -> bool {
    let core = &small[small.iter().take_while(|&&n| n == 1).count()..];
    small.len() <= big.len() && core.iter().product::<usize>() != 0 && big.ends_with(core)
}

/// `out[k] = f(full[k], cycled[(start + k) mod len])`: the cycled operand wraps around.
/// A one-element operand is a constant; a longer one goes a whole repetition at a time
/// through the vectorized loop (a bias row added to a batch).
fn cycle_zip<F: Copy>(
    out: &mut [MaybeUninit<F>],
    full: &[F],
    cycled: &[F],
    start: usize,
    f: impl Fn(F, F) -> F,
) {
    let len = cycled.len();
    if let [c] = *cycled {
        return unary_simd(out, full, &|x| f(x, c));
    }
    let (mut j, mut k) = (start % len, 0);
    while k < out.len() {
        let n = (len - j).min(out.len() - k);
        binary_simd(&mut out[k..k + n], &full[k..k + n], &cycled[j..j + n], &f);
        (j, k) = (0, k + n);
    }
}

/// The widest vector unit the element loops are compiled for and the CPU has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum SimdLevel {
    /// The portable build's baseline (SSE2 on x86-64: 4 f32 lanes).
    Baseline,
    /// AVX2 + FMA: 8 f32 lanes.
    Avx2,
    /// AVX-512 (F + VL): 16 f32 lanes.
    Avx512,
}

/// The detected [`SimdLevel`] as a `u8`, or `u8::MAX` before the first call.
static SIMD_LEVEL: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(u8::MAX);

/// Runs the element loops with at most `level` (tests only: every tier gives the same bits).
#[cfg(test)]
pub(crate) fn cap_simd(level: SimdLevel) {
    let level = level.min(cpu_simd());
    SIMD_LEVEL.store(level as u8, std::sync::atomic::Ordering::Relaxed);
}

/// The tier the element loops use: detected once, then one atomic load per call.
pub(crate) fn simd_level() -> SimdLevel {
    match SIMD_LEVEL.load(std::sync::atomic::Ordering::Relaxed) {
        0 => SimdLevel::Baseline,
        1 => SimdLevel::Avx2,
        2 => SimdLevel::Avx512,
        _ => {
            let level = detect_simd();
            SIMD_LEVEL.store(level as u8, std::sync::atomic::Ordering::Relaxed);
            level
        }
    }
}

/// The widest tier this CPU supports, capped by `DESCENT_SIMD` (`baseline`, `avx2` or
/// `avx512`) if set, as PyTorch's `ATEN_CPU_CAPABILITY`: for comparing tiers.
fn detect_simd() -> SimdLevel {
    let cap = match std::env::var("DESCENT_SIMD").as_deref() {
        Ok("baseline") => SimdLevel::Baseline,
        Ok("avx2") => SimdLevel::Avx2,
        _ => SimdLevel::Avx512,
    };
    cpu_simd().min(cap)
}

/// The widest tier this CPU supports.
fn cpu_simd() -> SimdLevel {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512vl")
        && std::is_x86_feature_detected!("fma")
    {
        return SimdLevel::Avx512;
    } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        return SimdLevel::Avx2;
    }
    SimdLevel::Baseline
}

/// Calls `$kernel` (an `#[inline(always)]` function) compiled for the widest [`SimdLevel`]
/// the CPU has, or at most AVX2 if `$avx512` is false. The tier wrappers take the kernel's
/// own parameters: slices that reach the loop as function parameters keep the compiler's
/// knowledge that they do not alias (read from a struct, they lose it and a loop such as
/// `out[k] = x[k]·c` stays scalar).
macro_rules! simd_dispatch {
    ($kernel:ident::<$G:ident: $bound:path>($($arg:ident: $ty:ty),*) -> $ret:ty, $avx512:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
            fn avx512<$G: $bound>($($arg: $ty),*) -> $ret {
                $kernel($($arg),*)
            }
            #[target_feature(enable = "avx2,fma")]
            fn avx2<$G: $bound>($($arg: $ty),*) -> $ret {
                $kernel($($arg),*)
            }
            match simd_level() {
                // SAFETY: `simd_level` found these features on this CPU.
                SimdLevel::Avx512 if $avx512 => return unsafe { avx512($($arg),*) },
                // SAFETY: as above (AVX-512 implies AVX2 and FMA).
                SimdLevel::Avx512 | SimdLevel::Avx2 => return unsafe { avx2($($arg),*) },
                SimdLevel::Baseline => {}
            }
        }
        $kernel($($arg),*)
    }};
}

/// Work for [`vectorized`]: a loop that is compiled once for each SIMD tier. Implement
/// `run` with `#[inline(always)]` and keep the loop in `#[inline(always)]` functions, not
/// closures, which may be left uninlined and so compiled for the baseline only. The slices
/// reach the loop through `self`, so the compiler may have to check them for overlap at run
/// time (this crate's own element loops take theirs as parameters, see `simd_dispatch!`).
pub trait Vectorize {
    /// What the loop returns.
    type Output;
    /// Whether to use AVX-512 where the CPU has it (else AVX2 at most): a loop can run
    /// slower on it, as the optimizers' updates do on AMD Zen 4 (`benches/README.md`).
    const AVX512: bool = true;
    /// Runs the loop.
    fn run(self) -> Self::Output;
}

/// Runs `work` compiled for the widest SIMD tier this CPU has (AVX-512, AVX2 + FMA, or the
/// build's baseline, SSE2 on x86-64), chosen at run time, so a portable build still uses
/// the wide registers: for loops outside this crate, such as the optimizers' update rules.
/// Rust never contracts `a*b + c` into an FMA by itself, so every tier gives the same bits.
///
/// ```
/// use descent_tensor::{vectorized, Vectorize};
///
/// struct Scale<'a>(&'a mut [f32], f32);
/// impl Vectorize for Scale<'_> {
///     type Output = ();
///     #[inline(always)]
///     fn run(self) {
///         scale(self.0, self.1)
///     }
/// }
/// #[inline(always)]
/// fn scale(v: &mut [f32], c: f32) {
///     v.iter_mut().for_each(|x| *x = x.sqrt() / c);
/// }
/// let mut v = vec![2.0f32; 1000];
/// vectorized(Scale(&mut v, 3.0));
/// assert_eq!(v[999], 2.0f32.sqrt() / 3.0);
/// ```
#[inline(always)]
pub fn vectorized<W: Vectorize>(work: W) -> W::Output {
    simd_dispatch!(run_work::<W: Vectorize>(work: W) -> W::Output, W::AVX512)
}

/// `work.run()`, for [`simd_dispatch!`].
#[inline(always)]
fn run_work<W: Vectorize>(work: W) -> W::Output {
    work.run()
}

/// `out[k] = f(src[k])` at the widest [`SimdLevel`].
#[inline(always)]
fn unary_simd<F: Copy>(out: &mut [MaybeUninit<F>], src: &[F], f: &impl Fn(F) -> F) {
    simd_dispatch!(unary_loop::<F: Copy>(
        out: &mut [MaybeUninit<F>],
        src: &[F],
        f: &impl Fn(F) -> F
    ) -> (), true)
}

/// `out[k] = f(a[k], b[k])` at the widest [`SimdLevel`].
#[inline(always)]
fn binary_simd<F: Copy>(out: &mut [MaybeUninit<F>], a: &[F], b: &[F], f: &impl Fn(F, F) -> F) {
    simd_dispatch!(binary_loop::<F: Copy>(
        out: &mut [MaybeUninit<F>],
        a: &[F],
        b: &[F],
        f: &impl Fn(F, F) -> F
    ) -> (), true)
}

/// `acc[c] = f(… f(acc[c], rows[c]) …, rows[(n − 1)·stride + c])` over the `n` rows of
/// `rows` that start `stride` apart, at the widest [`SimdLevel`].
#[inline(always)]
fn fold_rows_simd<F: Copy>(acc: &mut [F], rows: &[F], stride: usize, f: &impl Fn(F, F) -> F) {
    simd_dispatch!(fold_rows_loop::<F: Copy>(
        acc: &mut [F],
        rows: &[F],
        stride: usize,
        f: &impl Fn(F, F) -> F
    ) -> (), true)
}

/// The loop of [`unary_simd`].
#[inline(always)]
fn unary_loop<F: Copy>(out: &mut [MaybeUninit<F>], src: &[F], f: &impl Fn(F) -> F) {
    for (o, &x) in out.iter_mut().zip(src) {
        o.write(f(x));
    }
}

/// The loop of [`binary_simd`].
#[inline(always)]
fn binary_loop<F: Copy>(out: &mut [MaybeUninit<F>], a: &[F], b: &[F], f: &impl Fn(F, F) -> F) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        o.write(f(x, y));
    }
}

/// The loop of [`fold_rows_simd`].
#[inline(always)]
fn fold_rows_loop<F: Copy>(acc: &mut [F], rows: &[F], stride: usize, f: &impl Fn(F, F) -> F) {
    let mut start = 0;
    while start + acc.len() <= rows.len() {
        let row = &rows[start..start + acc.len()];
        for (a, &x) in acc.iter_mut().zip(row) {
            *a = f(*a, x);
        }
        start += stride;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    /// Every compiled tier gives the same bits as the portable loop, for a transcendental
    /// kernel, a broadcasting-free binary op and a ragged length (a vector tail).
    #[test]
    fn every_simd_tier_gives_the_same_bits() -> Result<()> {
        let mut rng = StdRng::seed_from_u64(7);
        let x = Tensor::<f32>::randn(&[1037], 0.0, 3.0, &mut rng)?;
        let y = Tensor::<f32>::randn(&[1037], 0.0, 3.0, &mut rng)?;
        let run = |level| -> Result<Vec<Vec<u32>>> {
            cap_simd(level);
            let outs = [x.tanh(), x.exp(), x.mul(&y)?, x.sigmoid()];
            Ok(outs
                .iter()
                .map(|t| t.to_vec().iter().map(|v| v.to_bits()).collect())
                .collect())
        };
        let baseline = run(SimdLevel::Baseline)?;
        for level in [SimdLevel::Avx2, SimdLevel::Avx512] {
            assert!(
                run(level)? == baseline,
                "{level:?} differs from the baseline"
            );
        }
        cap_simd(SimdLevel::Avx512);
        Ok(())
    }
}
