//! The distributed crate's error type: every message names the collective, the ranks and
//! the sizes involved, and says how to launch when the launch is what is wrong.

use thiserror::Error;

/// Everything that can go wrong between processes.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// `--distributed` asked for, but this build or this launch cannot give it.
    #[error("distributed run requested, but {why}; {how}")]
    Launch {
        /// What is missing (the cargo feature, or `mpirun`).
        why: &'static str,
        /// How to launch instead.
        how: &'static str,
    },
    /// Peers did not reach a collective within the timeout: they died or hang.
    #[error("{op}: rank{} {ranks:?} did not arrive within {seconds} s (died or hangs); this rank ({rank}) stops", if .ranks.len() == 1 { "" } else { "s" })]
    RankLost {
        /// The collective waited on.
        op: &'static str,
        /// The ranks that did not arrive.
        ranks: Vec<usize>,
        /// This process's rank.
        rank: usize,
        /// The timeout.
        seconds: f64,
    },
    /// Every peer arrived, but the collective itself did not finish within the timeout.
    #[error("{op}: did not complete within {seconds} s on rank {rank} (a peer died during it)")]
    Stalled {
        /// The collective.
        op: &'static str,
        /// This process's rank.
        rank: usize,
        /// The timeout.
        seconds: f64,
    },
    /// A collective after an earlier failure: the communicator is unusable.
    #[error("{op}: the communicator failed earlier ({first}); no collective can run after that")]
    Broken {
        /// The collective attempted.
        op: &'static str,
        /// The first failure.
        first: String,
    },
    /// The replicas do not hold the same model (checked before training starts).
    #[error("rank {rank}'s model differs from rank 0's: {what}: rank 0 has {root}, rank {rank} has {theirs}")]
    Mismatch {
        /// The first rank that differs.
        rank: usize,
        /// What differs (`"parameter count"`, `"shapes checksum"`, `"initial values checksum"`).
        what: &'static str,
        /// Rank 0's value.
        root: String,
        /// The other rank's value.
        theirs: String,
    },
    /// A buffer of the wrong length, or a size MPI cannot address.
    #[error("{op}: {what}: expected {expected}, got {got}")]
    Length {
        /// The operation.
        op: &'static str,
        /// What was measured.
        what: &'static str,
        /// The length expected.
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// An argument out of range (a rank ≥ size, zero replicas, a zero bucket size).
    #[error("{op}: {arg} = {value} is invalid: {why}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// The argument.
        arg: &'static str,
        /// Its value.
        value: String,
        /// Why it is invalid.
        why: &'static str,
    },
    /// A gradient whose shape is not its parameter's.
    #[error(transparent)]
    Tensor(#[from] descent_tensor::Error),
    /// The reverse sweep failed (from [`DataParallel::backward`](crate::DataParallel::backward)).
    #[error(transparent)]
    Autodiff(#[from] descent_autodiff::Error),
    /// The data set refused a subset.
    #[error(transparent)]
    Data(#[from] descent_data::Error),
    /// The objective's own failure (from the batch method's closure).
    #[error(transparent)]
    Optim(#[from] descent_optim::Error),
    /// A checkpoint that could not be written or read.
    #[error("{path}: {why}")]
    Checkpoint {
        /// The file.
        path: std::path::PathBuf,
        /// The error from writing or reading it.
        why: String,
    },
}

/// `Result` with the distributed [`enum@Error`].
pub type Result<T> = std::result::Result<T, Error>;
