//! The autodiff crate's integration tests, one module per topic, linked into one binary.

#[path = "../../../tensor/tests/tensor/own_process.rs"]
mod own_process;

mod broken_op;
mod higher;
mod memory;
mod ops_gradcheck;
mod tape;
