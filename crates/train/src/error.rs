//! The toolkit's error: the wrapped errors of the crates it drives.

/// An error while training, checkpointing or diagnosing a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor op failed.
    #[error(transparent)]
    Tensor(#[from] descent_tensor::Error),
    /// Recording or differentiating on the tape failed.
    #[error(transparent)]
    Autodiff(#[from] descent_autodiff::Error),
    /// A layer, loss or weights file failed.
    #[error(transparent)]
    Nn(#[from] descent_nn::Error),
    /// An optimizer, schedule or averager failed.
    #[error(transparent)]
    Optim(#[from] descent_optim::Error),
    /// Reading or batching data failed.
    #[error(transparent)]
    Data(#[from] descent_data::Error),
    /// An argument out of its range (a diagnostic's rate, batch size or bin count), naming
    /// the function, the argument, its value and why it was refused.
    #[error("{op}: {arg} = {value} {why}")]
    InvalidArgument {
        /// The function that refused it.
        op: &'static str,
        /// The argument's name.
        arg: &'static str,
        /// Its value, as given.
        value: String,
        /// Why it was refused.
        why: String,
    },
    /// A diagnostic's figure could not be drawn.
    #[error("{figure}: drawing failed: {why}")]
    Plot {
        /// The function that drew it.
        figure: &'static str,
        /// The drawing library's message.
        why: String,
    },
}

/// `Result` with the toolkit's [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
