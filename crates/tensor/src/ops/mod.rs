//! Tensor ops, one file per family.

mod binary;
mod index;
mod matmul;
mod random;
mod reduce;
mod softmax;
mod transpose;
mod unary;
