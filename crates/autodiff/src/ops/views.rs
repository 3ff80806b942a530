//! Views: reshape, transpose, permute, broadcast, slicing, squeeze. Forward copies nothing
//! (the tensor views share storage); backward maps the gradient back to the input's layout.

use super::signed;
use crate::error::Result;
use crate::tape::Var;
use descent_tensor::{Float, Tensor};

impl<'t, F: Float> Var<'t, F> {
    /// Records a view whose gradient is the upstream gradient reshaped to the input's shape.
    fn reshaping(self, label: &'static str, value: Tensor<F>) -> Result<Var<'t, F>> {
        self.unary_op(label, value, |c| {
            Ok(vec![Some(c.g.reshape(&signed(&c.x(0).shape()))?)])
        })
    }

    /// The same elements in a new shape (one axis may be −1).
    pub fn reshape(self, shape: &[isize]) -> Result<Self> {
        self.reshaping("reshape", self.with_value(|x| x.reshape(shape))??)
    }

    /// The elements as one axis.
    pub fn flatten(self) -> Result<Self> {
        self.reshaping("flatten", self.with_value(|x| x.flatten())?)
    }

    /// Removes axis `dim` (or every length-1 axis for `None`).
    pub fn squeeze(self, dim: Option<isize>) -> Result<Self> {
        self.reshaping("squeeze", self.with_value(|x| x.squeeze(dim))??)
    }

    /// Inserts a length-1 axis at `dim`.
    pub fn unsqueeze(self, dim: isize) -> Result<Self> {
        self.reshaping("unsqueeze", self.with_value(|x| x.unsqueeze(dim))??)
    }

    /// Swaps axes `a` and `b`.
    pub fn transpose(self, a: isize, b: isize) -> Result<Self> {
        self.unary_op(
            "transpose",
            self.with_value(|x| x.transpose(a, b))??,
            move |c| Ok(vec![Some(c.g.transpose(a, b)?)]),
        )
    }

    /// The transpose of a matrix, or of the last two axes of a batch of matrices.
    pub fn t(self) -> Result<Self> {
        self.unary_op("t", self.with_value(|x| x.t())??, |c| {
            Ok(vec![Some(c.g.t()?)])
        })
    }

    /// Reorders the axes: axis `i` of the result is axis `perm[i]` of `self`.
    pub fn permute(self, perm: &[isize]) -> Result<Self> {
        let value = self.with_value(|x| x.permute(perm))??;
        let nd = perm.len() as isize;
        let mut inverse = vec![0isize; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p.rem_euclid(nd) as usize] = i as isize; // `permute` validated `perm`
        }
        self.unary_op("permute", value, move |c| {
            Ok(vec![Some(c.g.permute(&inverse)?)])
        })
    }

    /// Broadcasts to `shape` (NumPy rules); the gradient is summed back ([`Var::sum_to`]).
    pub fn broadcast_to(self, shape: &[usize]) -> Result<Self> {
        if self.shape() == shape {
            return Ok(self);
        }
        self.unary_op(
            "broadcast_to",
            self.with_value(|x| x.broadcast_to(shape))??,
            |c| Ok(vec![Some(c.g.sum_to(&c.x(0).shape())?)]),
        )
    }

    /// `len` elements of axis `dim` starting at `start`.
    pub fn narrow(self, dim: isize, start: usize, len: usize) -> Result<Self> {
        let value = self.with_value(|x| x.narrow(dim, start, len))??;
        self.sliced("narrow", value, dim, (start..start + len).collect())
    }

    /// Elements `start, start+step, ..` below `end` of axis `dim`.
    pub fn slice(self, dim: isize, start: usize, end: usize, step: usize) -> Result<Self> {
        let value = self.with_value(|x| x.slice(dim, start, end, step))??;
        let kept = value.dim(dim)?;
        self.sliced(
            "slice",
            value,
            dim,
            (0..kept).map(|k| start + k * step).collect(),
        )
    }

    /// Records a slice that kept positions `picked` of axis `dim`: the gradient is scattered
    /// back into zeros at those positions.
    fn sliced(
        self,
        label: &'static str,
        value: Tensor<F>,
        dim: isize,
        picked: Vec<usize>,
    ) -> Result<Self> {
        self.unary_op(label, value, move |c| {
            Ok(vec![Some(Var::index_add(
                &c.x(0).shape(),
                dim,
                &picked,
                c.g,
            )?)])
        })
    }
}
