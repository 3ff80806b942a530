//! Softmax and log-softmax along one axis: fused, stable forward kernels from the tensor
//! crate; backward rules in terms of the output.

use crate::error::Result;
use crate::tape::Var;
use descent_tensor::Float;

impl<'t, F: Float> Var<'t, F> {
    /// `eˣ / Σ eˣ` along `dim`. Backward: `y ⊙ (g − Σ g⊙y)`.
    pub fn softmax(self, dim: isize) -> Result<Self> {
        self.unary_op("softmax", self.with_value(|x| x.softmax(dim))??, move |c| {
            let y = c.out;
            let dot = c.g.mul(y)?.sum(&[dim], true)?;
            Ok(vec![Some(y.mul(c.g.sub(dot)?)?)])
        })
    }

    /// `x − ln Σ eˣ` along `dim`. Backward: `g − eʸ ⊙ Σ g`.
    pub fn log_softmax(self, dim: isize) -> Result<Self> {
        self.unary_op(
            "log_softmax",
            self.with_value(|x| x.log_softmax(dim))??,
            move |c| {
                let total = c.g.sum(&[dim], true)?;
                Ok(vec![Some(c.g.sub(c.out.exp()?.mul(total)?)?)])
            },
        )
    }
}
