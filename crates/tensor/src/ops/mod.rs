//! Tensor ops, one file per family.

mod binary;
mod conv;
mod conv_direct;
mod dropout;
mod elementwise_math;
mod index;
mod linalg;
mod matmul;
mod operators;
mod pool;
mod products;
mod random;
mod reduce;
mod scan;
pub(crate) mod sgemm;
pub mod shape;
mod softmax;
mod sort;
mod transpose;
mod unary;

pub use conv::{ConvOptions, Window2d};
pub use products::{einsum, EinsumOperand};

/// A raw pointer shared by parallel tasks that only read through it (operands) or write
/// disjoint elements (blocks of a matrix product's output, rows of a transpose's).
#[derive(Clone, Copy)]
struct OutPtr<F>(*mut F);
// SAFETY: tasks read, or write disjoint elements, of storage that outlives them (scoped
// joins).
unsafe impl<F> Send for OutPtr<F> {}
unsafe impl<F> Sync for OutPtr<F> {}

impl<F> OutPtr<F> {
    /// The pointer (a method, so closures capture the `Send` wrapper, not the field).
    fn get(self) -> *mut F {
        self.0
    }
}
