//! Matrix products (2-D and batched with broadcast batch axes).

use crate::error::Result;
use crate::tape::Var;
use descent_tensor::Float;

impl<'t, F: Float> Var<'t, F> {
    /// `self @ rhs` over the last two axes, batch axes broadcast. Backward: `g·bᵀ` and
    /// `aᵀ·g`, summed over broadcast batch axes. The transposes are views: no copies.
    pub fn matmul(self, rhs: Var<'t, F>) -> Result<Self> {
        let value = self.value()?.matmul(&rhs.value()?)?;
        self.tape.record("matmul", value, &[self, rhs], |c| {
            let (a, b) = (c.x(0), c.x(1));
            let da = c.need(0, || c.g.matmul(b.t()?)?.sum_to(&a.shape()))?;
            let db = c.need(1, || a.t()?.matmul(c.g)?.sum_to(&b.shape()))?;
            Ok(vec![da, db])
        })
    }
}
