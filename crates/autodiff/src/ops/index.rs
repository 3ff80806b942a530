//! Joining and indexing: concat, stack, index_select ↔ index_add, gather ↔ scatter_add.
//! Each pair is adjoint, so each op's backward rule is its partner.

use crate::error::Result;
use crate::tape::Var;
use descent_tensor::{Error as TensorError, Float, Tensor};

impl<'t, F: Float> Var<'t, F> {
    /// Joins variables along axis `dim` (every other axis must agree).
    ///
    /// # Errors
    /// A tensor error for an empty list or mismatched shapes.
    pub fn concat(vars: &[Var<'t, F>], dim: isize) -> Result<Self> {
        let Some(first) = vars.first() else {
            return Err(empty_list("concat").into());
        };
        let values = vars.iter().map(|v| v.value()).collect::<Result<Vec<_>>>()?;
        let value = Tensor::concat(&values.iter().collect::<Vec<_>>(), dim)?;
        let lengths = values
            .iter()
            .map(|v| v.dim(dim))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        first.tape.record("concat", value, vars, move |c| {
            let mut start = 0;
            lengths
                .iter()
                .enumerate()
                .map(|(i, &len)| {
                    let part = c.need(i, || c.g.narrow(dim, start, len));
                    start += len;
                    part
                })
                .collect()
        })
    }

    /// Stacks equally shaped variables along a new axis `dim`.
    ///
    /// # Errors
    /// A tensor error for an empty list or mismatched shapes.
    pub fn stack(vars: &[Var<'t, F>], dim: isize) -> Result<Self> {
        if vars.is_empty() {
            return Err(empty_list("stack").into());
        }
        let expanded = vars
            .iter()
            .map(|v| v.unsqueeze(dim))
            .collect::<Result<Vec<_>>>()?;
        Var::concat(&expanded, dim)
    }

    /// The slices at `indices` along `dim` (repeats allowed).
    pub fn index_select(self, dim: isize, indices: &[usize]) -> Result<Self> {
        let value = self.with_value(|x| x.index_select(dim, indices))??;
        let indices = indices.to_vec();
        self.unary_op("index_select", value, move |c| {
            Ok(vec![Some(Var::index_add(
                &c.x(0).shape(),
                dim,
                &indices,
                c.g,
            )?)])
        })
    }

    /// Zeros of `shape` with slice `k` of `src` along `dim` added at `indices[k]`: the
    /// adjoint of [`Var::index_select`].
    pub fn index_add(
        shape: &[usize],
        dim: isize,
        indices: &[usize],
        src: Var<'t, F>,
    ) -> Result<Self> {
        let value = Tensor::index_add(shape, dim, indices, &src.value()?)?;
        let indices = indices.to_vec();
        src.unary_op("index_add", value, move |c| {
            Ok(vec![Some(c.g.index_select(dim, &indices)?)])
        })
    }

    /// `torch.gather`: picks along `dim` the elements at `index` (row-major, shaped
    /// `index_shape`, same rank as `self`).
    pub fn gather(self, dim: isize, index: &[usize], index_shape: &[usize]) -> Result<Self> {
        let value = self.with_value(|x| x.gather(dim, index, index_shape))??;
        let (index, index_shape) = (index.to_vec(), index_shape.to_vec());
        self.unary_op("gather", value, move |c| {
            Ok(vec![Some(Var::scatter_add(
                &c.x(0).shape(),
                dim,
                &index,
                &index_shape,
                c.g,
            )?)])
        })
    }

    /// Zeros of `shape` with `src` added at the positions `index` names along `dim`: the
    /// adjoint of [`Var::gather`]. `src` may be larger than the index, as in torch.
    pub fn scatter_add(
        shape: &[usize],
        dim: isize,
        index: &[usize],
        index_shape: &[usize],
        src: Var<'t, F>,
    ) -> Result<Self> {
        // A source larger than the index (torch allows it) contributes its leading corner.
        let mut src = src;
        for (a, &n) in index_shape.iter().enumerate() {
            if src.shape().get(a).is_some_and(|&s| s > n) {
                src = src.narrow(a as isize, 0, n)?;
            }
        }
        let value = Tensor::scatter_add(shape, dim, index, index_shape, &src.value()?)?;
        let (index, index_shape) = (index.to_vec(), index_shape.to_vec());
        src.unary_op("scatter_add", value, move |c| {
            Ok(vec![Some(c.g.gather(dim, &index, &index_shape)?)])
        })
    }
}

fn empty_list(op: &'static str) -> TensorError {
    TensorError::InvalidArgument {
        op,
        arg: "tensors",
        value: "[]".into(),
        why: "need at least one tensor",
    }
}
