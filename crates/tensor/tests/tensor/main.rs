//! The tensor crate's integration tests, one module per family, linked into one binary.

mod common;
mod own_process;

mod awake;
mod huge_shapes;
mod conv;
mod index_ops;
mod nan;
mod ops_vs_naive;
mod threads;
