//! Matrix products (2-D and batched with broadcast batch axes).

use crate::error::Result;
use crate::tape::Var;
use descent_tensor::Float;

impl<'t, F: Float> Var<'t, F> {
    /// `self @ rhs` over the last two axes, batch axes broadcast. Backward: `g·bᵀ` and
    /// `aᵀ·g`, summed over broadcast batch axes. The transposes are views: no copies.
    ///
    /// Each operand's gradient is computed in the operand's own memory layout: for an
    /// operand that is a transposed view (a `Linear` weight stored `[out, in]` and used as
    /// `wᵀ`), the product is formed transposed (`(bᵀ·gᵀ)ᵀ`, the same flops), so that after the
    /// view's own backward the parameter's gradient is contiguous and optimizers read it
    /// as one slice.
    ///
    /// A 1-D operand is a vector, as in `torch.matmul` (see `Tensor::matmul`): a row or a
    /// column for the product, its added axis dropped after.
    pub fn matmul(self, rhs: Var<'t, F>) -> Result<Self> {
        let (na, nb) = (self.dims().len(), rhs.dims().len());
        if na == 1 && nb >= 1 {
            let row = if nb == 1 { -1 } else { -2 };
            return self.unsqueeze(0)?.matmul(rhs)?.squeeze(Some(row));
        }
        if nb == 1 && na >= 1 {
            return self.matmul(rhs.unsqueeze(-1)?)?.squeeze(Some(-1));
        }
        let value = self.with_values(rhs, |a, b| a.matmul(b))??;
        self.tape.record("matmul", value, &[self, rhs], |c| {
            let (a, b, g) = (c.x(0), c.x(1), c.g);
            let da = c.need(0, || {
                if column_major(a)? {
                    b.matmul(g.t()?)?.t()?.sum_to(&a.shape())
                } else {
                    g.matmul(b.t()?)?.sum_to(&a.shape())
                }
            })?;
            let db = c.need(1, || {
                if column_major(b)? {
                    g.t()?.matmul(a)?.t()?.sum_to(&b.shape())
                } else {
                    a.t()?.matmul(g)?.sum_to(&b.shape())
                }
            })?;
            Ok(vec![da, db])
        })
    }
}

/// Whether the last two axes of `v`'s value are laid out column by column (a transposed view).
fn column_major<F: Float>(v: Var<'_, F>) -> Result<bool> {
    let value = v.value()?;
    let (shape, strides) = (value.shape(), value.strides());
    let nd = shape.len();
    Ok(nd >= 2
        && shape[nd - 2] > 1
        && shape[nd - 1] > 1
        && strides[nd - 2] == 1
        && strides[nd - 1] != 1)
}
