//! Shape and indexing ops under torch's names: `flip`, `roll`, `repeat`, `tile`, `pad`,
//! `split`, `chunk`, `unbind`, `masked_fill`, `masked_select`, `tril`, `triu`, `diagonal`,
//! `diag_embed`, `movedim`, `expand_as`, `take_along_dim`.
//!
//! The self-adjoint ones (`flip`, `roll`, `tril`, `triu`, `movedim`) and `diag_embed` are
//! one op each whose rule applies the partner op to the gradient; the others are written
//! with existing ops (`index_select`, `narrow`, `concat`, `gather`, `where_`, views), so their
//! gradients of every order come from those.

use crate::error::Result;
use crate::tape::Var;
use descent_tensor::{layout, shape, Float, PadMode, Tensor};

impl<'t, F: Float> Var<'t, F> {
    /// The elements in reverse order along each axis of `dims` (torch's `flip`).
    pub fn flip(self, dims: &[isize]) -> Result<Self> {
        let dims = dims.to_vec();
        let value = self.with_value(|x| x.flip(&dims))??;
        self.unary_op("flip", value, move |c| Ok(vec![Some(c.g.flip(&dims)?)]))
    }

    /// The elements shifted by `shifts[i]` along `dims[i]`, wrapping around (torch's
    /// `roll`; no `dims`: the flattened tensor by one shift).
    pub fn roll(self, shifts: &[isize], dims: &[isize]) -> Result<Self> {
        let value = self.with_value(|x| x.roll(shifts, dims))??;
        let back: Vec<isize> = shifts.iter().map(|&s| -s).collect();
        let dims = dims.to_vec();
        self.unary_op("roll", value, move |c| {
            Ok(vec![Some(c.g.roll(&back, &dims)?)])
        })
    }

    /// The variable repeated `sizes[i]` times along axis `i` (torch's `repeat`).
    pub fn repeat(self, sizes: &[usize]) -> Result<Self> {
        let (split, spread, joined) = shape::repeat_shapes(&self.shape(), sizes)?;
        self.reshape(&split)?
            .broadcast_to(&spread)?
            .reshape(&joined)
    }

    /// torch's `tile`: [`Var::repeat`] with `reps` padded by leading ones.
    pub fn tile(self, reps: &[usize]) -> Result<Self> {
        self.repeat(&shape::tile_reps(self.shape().len(), reps))
    }

    /// torch's `F.pad` (see [`Tensor::pad`]): `(before, after)` pairs, the last axis first.
    pub fn pad(self, pad: &[usize], mode: PadMode, value: F) -> Result<Self> {
        let mut out = self;
        for (d, before, after) in shape::pad_pairs(&self.shape(), pad)? {
            let mut side = out.shape();
            let n = side[d];
            out = match mode.source_indices("pad", n, before, after)? {
                Some(indices) => out.index_select(d as isize, &indices)?,
                None => {
                    side[d] = before;
                    let head = self.constant(Tensor::try_full(&side, value)?);
                    side[d] = after;
                    let tail = self.constant(Tensor::try_full(&side, value)?);
                    Var::concat(&[head, out, tail], d as isize)?
                }
            };
        }
        Ok(out)
    }

    /// Consecutive pieces of `size` along `dim`, the last shorter (torch's `split`).
    pub fn split(self, size: usize, dim: isize) -> Result<Vec<Self>> {
        let n = self.shape()[layout::normalize_dim("split", dim, &self.shape())?];
        self.split_sizes(&shape::split_lengths(n, size)?, dim)
    }

    /// Consecutive pieces of the given lengths along `dim` (torch's `split` with a list).
    pub fn split_sizes(self, sizes: &[usize], dim: isize) -> Result<Vec<Self>> {
        let n = self.shape()[layout::normalize_dim("split", dim, &self.shape())?];
        shape::check_split_sizes(n, sizes)?;
        let mut start = 0;
        sizes
            .iter()
            .map(|&len| {
                start += len;
                self.narrow(dim, start - len, len)
            })
            .collect()
    }

    /// `chunks` pieces along `dim` of `⌈n / chunks⌉` each, the last shorter (torch's `chunk`).
    pub fn chunk(self, chunks: usize, dim: isize) -> Result<Vec<Self>> {
        let n = self.shape()[layout::normalize_dim("chunk", dim, &self.shape())?];
        self.split_sizes(&shape::chunk_lengths(n, chunks)?, dim)
    }

    /// The slices along `dim`, each without that axis (torch's `unbind`).
    pub fn unbind(self, dim: isize) -> Result<Vec<Self>> {
        let n = self.shape()[layout::normalize_dim("unbind", dim, &self.shape())?];
        (0..n)
            .map(|i| self.narrow(dim, i, 1)?.squeeze(Some(dim)))
            .collect()
    }

    /// `value` where `mask` (a constant, broadcast to `self`) is non-zero, `self` elsewhere
    /// (torch's `masked_fill`); no gradient flows through the filled elements.
    pub fn masked_fill(self, mask: &Tensor<F>, value: F) -> Result<Self> {
        shape::check_mask("masked_fill", &self.shape(), mask.shape())?;
        Var::where_cond(mask, self.constant(Tensor::scalar(value)), self)
    }

    /// The elements where `mask` is non-zero, as one axis (torch's `masked_select`).
    pub fn masked_select(self, mask: &Tensor<F>) -> Result<Self> {
        let (flat, picked) = self.with_value(|x| x.masked_positions(mask))??;
        let full = layout::broadcast_shapes("masked_select", &self.shape(), mask.shape())?;
        debug_assert_eq!(flat.numel(), full.iter().product::<usize>());
        self.broadcast_to(&full)?
            .flatten()?
            .index_select(0, &picked)
    }

    /// The lower triangle (`col − row ≤ k`) of each matrix, zeros above (torch's `tril`).
    pub fn tril(self, k: isize) -> Result<Self> {
        let value = self.with_value(|x| x.tril(k))??;
        self.unary_op("tril", value, move |c| Ok(vec![Some(c.g.tril(k)?)]))
    }

    /// The upper triangle (`col − row ≥ k`) of each matrix, zeros below (torch's `triu`).
    pub fn triu(self, k: isize) -> Result<Self> {
        let value = self.with_value(|x| x.triu(k))??;
        self.unary_op("triu", value, move |c| Ok(vec![Some(c.g.triu(k)?)]))
    }

    /// The diagonal at `offset` of the matrices on axes `d1`, `d2`, as the last axis (torch's
    /// `diagonal`); its gradient puts the upstream gradient back on that diagonal.
    pub fn diagonal(self, offset: isize, d1: isize, d2: isize) -> Result<Self> {
        let diag = self.with_value(|x| x.diagonal(offset, d1, d2))??;
        let len = diag.shape().last().copied().unwrap_or(0);
        let moved = self.movedim(&[d1, d2], &[-2, -1])?;
        let s = moved.shape();
        let (r, c) = (s[s.len() - 2], s[s.len() - 1]);
        let k = offset.unsigned_abs();
        let (row0, col0) = if offset >= 0 { (0, k) } else { (k, 0) };
        let positions: Vec<usize> = (0..len).map(|i| (row0 + i) * c + col0 + i).collect();
        let mut flat: Vec<isize> = s[..s.len() - 2].iter().map(|&n| n as isize).collect();
        flat.push((r * c) as isize);
        moved.reshape(&flat)?.index_select(-1, &positions)
    }

    /// Matrices on new axes `d1`, `d2` with the last axis of `self` on their diagonal at
    /// `offset` (torch's `diag_embed`); the gradient is the gradient's diagonal.
    pub fn diag_embed(self, offset: isize, d1: isize, d2: isize) -> Result<Self> {
        let value = self.with_value(|x| x.diag_embed(offset, d1, d2))??;
        self.unary_op("diag_embed", value, move |c| {
            Ok(vec![Some(c.g.diagonal(offset, d1, d2)?)])
        })
    }

    /// The axes `src` moved to positions `dst` (torch's `movedim`).
    pub fn movedim(self, src: &[isize], dst: &[isize]) -> Result<Self> {
        let value = self.with_value(|x| x.movedim(src, dst))??;
        let (src, dst) = (src.to_vec(), dst.to_vec());
        self.unary_op("movedim", value, move |c| {
            Ok(vec![Some(c.g.movedim(&dst, &src)?)])
        })
    }

    /// `self` broadcast to `other`'s shape (torch's `expand_as`).
    pub fn expand_as(self, other: Var<'_, F>) -> Result<Self> {
        self.broadcast_to(&other.shape())
    }

    /// torch's `take_along_dim` (see [`Tensor::take_along_dim`]): a `gather` after
    /// broadcasting `self` and the index on the other axes; `None` indexes the flattened
    /// variable.
    pub fn take_along_dim(
        self,
        index: &[usize],
        index_shape: &[usize],
        dim: Option<isize>,
    ) -> Result<Self> {
        match dim {
            None => self
                .flatten()?
                .take_along_dim(index, &[index.len()], Some(0)),
            Some(dim) => {
                let (to, index, index_shape) =
                    shape::take_along_dim_shapes(&self.shape(), index, index_shape, dim)?;
                self.broadcast_to(&to)?.gather(dim, &index, &index_shape)
            }
        }
    }
}
