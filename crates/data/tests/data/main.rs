//! The data crate's integration tests, one module per topic, linked into one binary.

mod bytes;
mod idx;
mod loader;
mod mnist;
mod transforms;
