//! One error type for programs that use several of descent's crates.
//!
//! Each crate keeps its own precise error (`descent_tensor::Error`, `descent_autodiff::Error`,
//! `descent_nn::Error`, `descent_optim::Error`, `descent_data::Error`, `descent_distributed::Error`,
//! `descent_train::Error`,
//! and the file errors of
//! `descent_tensor::io`); every one of them converts into [`enum@Error`], so a function
//! returning [`Result`] can use `?` on calls into any crate. The message is the crate's own,
//! unchanged (it names the op and the shapes, or the file and the byte offset).

/// Any error of descent's crates, wrapped without losing its variant: match on the crate,
/// then on its error, to handle one case.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor op failed (shapes, axes, indices, arguments).
    #[error(transparent)]
    Tensor(#[from] descent_tensor::Error),
    /// Recording or differentiating on the tape failed, or a gradient check did not pass.
    #[error(transparent)]
    Autodiff(#[from] descent_autodiff::Error),
    /// A layer, loss, initializer or weights file failed.
    #[error(transparent)]
    Nn(#[from] descent_nn::Error),
    /// An optimizer, schedule or batch method failed.
    #[error(transparent)]
    Optim(#[from] descent_optim::Error),
    /// Finding, downloading, reading or batching data failed.
    #[error(transparent)]
    Data(#[from] descent_data::Error),
    /// Reading or writing a safetensors file or an atomic write failed.
    #[error(transparent)]
    Io(#[from] descent_tensor::io::IoError),
    /// Communication between processes failed (a rank missing, a mismatched model).
    #[error(transparent)]
    Distributed(#[from] descent_distributed::Error),
    /// Training, checkpointing or a diagnostic failed.
    #[error(transparent)]
    Train(#[from] descent_train::Error),
}

/// `Result` with the facade's [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
