//! The toolkit's error: the wrapped errors of the crates it drives, and its own.

use std::path::PathBuf;

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
    /// A file (metrics, plot, checkpoint) could not be read or written.
    #[error(transparent)]
    File(#[from] descent_tensor::io::IoError),
    /// A checkpoint that does not fit this run, or is not a readable checkpoint at all.
    /// Nothing was changed: not the model, not the optimizer, not the file.
    #[error("{}: {why}", path.display())]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What does not fit, in plain words.
        why: String,
    },
    /// The loss or a gradient stopped being finite. No checkpoint was written for the step.
    #[error("training diverged at epoch {epoch}, step {step}: {what}. Try a smaller learning rate{}", suggestion.as_ref().map(|s| format!(", e.g. {s}")).unwrap_or_default())]
    Diverged {
        /// The epoch, counted from 1.
        epoch: usize,
        /// The step within the epoch, counted from 1.
        step: usize,
        /// What was not finite: the loss, or which parameter's gradient or value.
        what: String,
        /// An optimizer spec with a ten times smaller learning rate, when the spec is known.
        suggestion: Option<String>,
    },
    /// A figure (learning curves, a diagnostic's) could not be drawn.
    #[error("{}: {why}", path.display())]
    Plot {
        /// The image file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// A command-line flag that cannot work (a path that cannot be written, two flags
    /// that contradict each other, a checkpoint of another run), in one sentence naming
    /// the flag: a program exits with code 2 for it, as for a flag its parser refused.
    #[error("{0}")]
    Usage(String),
    /// A setting of the run that cannot work (zero epochs, a batch size of zero, ...).
    #[error("{name}: {why}")]
    Setting {
        /// The setting, in plain words.
        name: String,
        /// Why it cannot work.
        why: String,
    },
}

/// `Result` with the toolkit's [`enum@Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn os(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::File(descent_tensor::io::IoError::Os {
            path: path.to_path_buf(),
            source,
        })
    }
}
