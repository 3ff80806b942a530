//! Differentiable ops: each file holds one op family, each op's forward computation and its
//! backward rule side by side. Rules are written in `Var` ops, so they differentiate again.

mod binary;
mod conv;
mod index;
mod linalg;
mod math;
mod matmul;
mod operators;
mod products;
mod reduce;
mod scan;
mod shape;
mod softmax;
mod unary;
mod views;

pub use linalg::MatrixNorm;

use descent_tensor::{layout, Result as TensorResult};

/// The shape a reduction over `dims` keeps when `keepdim` is set (reduced axes become 1).
pub(crate) fn keepdim_shape(
    op: &'static str,
    shape: &[usize],
    dims: &[isize],
) -> TensorResult<Vec<usize>> {
    let mask = layout::normalize_dims(op, dims, shape)?;
    Ok(shape
        .iter()
        .zip(mask)
        .map(|(&n, reduced)| if reduced { 1 } else { n })
        .collect())
}

/// `shape` as the signed axis lengths `reshape` takes.
pub(crate) fn signed(shape: &[usize]) -> Vec<isize> {
    shape.iter().map(|&n| n as isize).collect()
}
