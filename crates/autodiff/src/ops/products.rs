//! Products beyond the matrix product: `dot`, `outer` and `einsum`, composed of
//! differentiable views, sums and [`Var::matmul`] (the lowering is
//! [`descent_tensor::einsum`]'s, shared with tensors), so their gradients, first and second
//! order, are those ops' own: a contraction's gradient is again a contraction.

use crate::error::{Error, Result};
use crate::tape::Var;
use descent_tensor::{EinsumOperand, Error as TensorError, Float, Tensor};

impl<'t, F: Float> EinsumOperand<F> for Var<'t, F> {
    type Error = Error;
    fn shape_vec(&self) -> Vec<usize> {
        self.shape()
    }
    fn permute_axes(&self, perm: &[isize]) -> Result<Self> {
        self.permute(perm)
    }
    fn reshape_to(&self, shape: &[isize]) -> Result<Self> {
        self.reshape(shape)
    }
    fn unsqueeze_at(&self, dim: isize) -> Result<Self> {
        self.unsqueeze(dim)
    }
    fn sum_over(&self, dims: &[isize]) -> Result<Self> {
        self.sum(dims, false)
    }
    fn mul_const(&self, mask: Tensor<F>) -> Result<Self> {
        self.mul(self.constant(mask))
    }
    fn matmul_with(&self, rhs: &Self) -> Result<Self> {
        self.matmul(*rhs)
    }
}

impl<'t, F: Float> Var<'t, F> {
    /// The inner product of two vectors, a 0-d value (`torch.dot`).
    ///
    /// # Errors
    /// [`TensorError::Rank`] unless both are 1-D; [`TensorError::MatmulInner`] for
    /// different lengths.
    pub fn dot(self, rhs: Var<'t, F>) -> Result<Self> {
        vectors("dot", self, rhs)?;
        self.matmul(rhs)
    }

    /// The outer product `[n] × [m] → [n, m]` (`torch.outer`).
    ///
    /// # Errors
    /// [`TensorError::Rank`] unless both are 1-D.
    pub fn outer(self, rhs: Var<'t, F>) -> Result<Self> {
        vectors("outer", self, rhs)?;
        self.unsqueeze(-1)?.mul(rhs.unsqueeze(0)?)
    }

    /// Einstein summation over one or two operands (`torch.einsum`), as
    /// [`Tensor::einsum`].
    ///
    /// ```
    /// use descent_autodiff::{Tape, Var};
    /// use descent_tensor::Tensor;
    /// let tape = Tape::<f64>::new();
    /// let a = tape.var(Tensor::from_vec(vec![1., 2., 3., 4.], &[2, 2])?);
    /// let b = tape.var(Tensor::from_vec(vec![5., 6., 7., 8.], &[2, 2])?);
    /// let c = Var::einsum("ij,kj->ik", &[a, b])?; // a·bᵀ
    /// assert_eq!(c.value()?.to_vec(), vec![17., 23., 39., 53.]);
    /// let trace = Var::einsum("ii", &[a])?;
    /// assert_eq!(trace.item()?, 5.0);
    /// # Ok::<(), descent_autodiff::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::einsum`].
    pub fn einsum(spec: &str, operands: &[Var<'t, F>]) -> Result<Self> {
        descent_tensor::einsum(spec, operands)
    }
}

fn vectors<F: Float>(op: &'static str, a: Var<'_, F>, b: Var<'_, F>) -> Result<()> {
    for v in [a, b] {
        if v.dims().len() != 1 {
            return Err(TensorError::Rank {
                op,
                expected: "a 1-D tensor",
                shape: v.shape(),
            }
            .into());
        }
    }
    Ok(())
}
