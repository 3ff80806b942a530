//! # descent-distributed
//!
//! Data-parallel training across processes and machines over MPI. Gradients are sums over
//! examples, so shards of the data can compute them in parallel and add them up: every
//! step for the mini-batch methods, and over the whole data set for the batch methods
//! (CG, L-BFGS, BFGS, LM).
//!
//! - [`Comm`]: rank, size and the collectives, each with a deadline so that a dead or
//!   hung rank is named in an error instead of hanging the others ([`Error::RankLost`]).
//! - [`DataParallel`]: checks the replicas agree, broadcasts rank 0's parameters, and
//!   averages gradients after `backward` in a few allreduces: the large gradients in their
//!   own storage, the small ones in one buffer.
//! - [`ShardedSampler`]: PyTorch's `DistributedSampler` index lists over the
//!   `DataLoader`'s epoch order; [`shard_range`] for full-batch shards.
//! - [`Distributed`]: an `Objective` summed over ranks, for `descent_optim`'s batch
//!   methods unchanged.
//! - [`Comm::on_root`]: checkpoints written by rank 0 only, read by all after it.
//!
//! MPI comes in with the `mpi` cargo feature (rsmpi over the system's MPI, e.g. Open MPI);
//! without it, or outside `mpirun`, [`Comm::init`] is a world of one process and every
//! collective is the identity, so the same program runs on a laptop.
#![warn(missing_docs)]

mod comm;
mod error;
#[cfg(feature = "mpi")]
mod mpi_world;
mod objective;
mod reducer;
mod sampler;
#[cfg_attr(not(feature = "mpi"), allow(dead_code))]
mod watchdog;

pub use comm::{launched_by_mpi, Comm, Reduction, Scalar, DEFAULT_TIMEOUT};
pub use error::{Error, Result};
pub use objective::Distributed;
pub use reducer::{
    broadcast_params, check_replicas, DataParallel, DEFAULT_BUCKET_BYTES, OWN_MIN_BYTES,
};
pub use sampler::{local_batches, shard_range, ShardedSampler};

/// The address of the MPI library's `MPI_IN_PLACE`, if known (for the benchmark's raw
/// in-place allreduce, which rsmpi cannot express).
#[cfg(feature = "mpi")]
#[doc(hidden)]
pub fn mpi_in_place_address() -> Option<usize> {
    mpi_world::in_place()
}
