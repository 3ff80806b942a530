//! Criterion benchmarks of the tensor kernels (filled in by the foundation work).
fn main() {}
