//! The tensor crate's integration tests, one module per family, linked into one binary.

mod common;
mod own_process;
mod shape;

mod awake;
mod conv;
mod conv_bad_input;
mod huge_shapes;
mod index_ops;
mod linalg;
mod math;
mod nan;
mod ops_vs_naive;
mod pool_kernels;
mod products;
mod scan;
mod threads;
