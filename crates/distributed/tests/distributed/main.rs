//! descent-distributed's tests that need no MPI: the sampler against PyTorch's index
//! lists, bucketing, a world of one, and the batch methods through `Distributed`. The
//! multi-process tests are `examples/mpi_checks.rs`, run under mpirun by `run_mpi.sh`.

mod launch;
mod objective;
mod reducer;
mod sampler;
