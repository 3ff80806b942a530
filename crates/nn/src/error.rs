//! The nn error type: every message names the layer, loss or tensor, what was expected and
//! what was found.

use descent_tensor::Shape;
use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong building, running, initializing, saving or loading a model.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A recording or differentiation error from the tape.
    #[error(transparent)]
    Autodiff(#[from] descent_autodiff::Error),
    /// A tensor op failed outside the tape (initializers, buffers).
    #[error(transparent)]
    Tensor(#[from] descent_tensor::Error),
    /// A layer got an input of the wrong shape.
    #[error("{layer}: expected input {expected}, got shape {got:?}")]
    InputShape {
        /// The layer, with its sizes (e.g. `Linear(in=4, out=8)`).
        layer: String,
        /// The shape required, in words (e.g. `[batch, 4]`).
        expected: String,
        /// The shape given.
        got: Shape,
    },
    /// A class label outside `0..classes`.
    #[error("{op}: label {label} at position {position} is out of range for {classes} classes")]
    LabelOutOfRange {
        /// The loss that was called.
        op: &'static str,
        /// The offending label.
        label: usize,
        /// Its position in the label slice.
        position: usize,
        /// The number of classes (the logits' last dimension).
        classes: usize,
    },
    /// A loss's input and target do not agree in shape or count.
    #[error("{op}: input has shape {input:?} but target has shape {target:?}")]
    TargetShape {
        /// The loss that was called.
        op: &'static str,
        /// The input's (logits', predictions') shape.
        input: Shape,
        /// The target's shape (for class labels: `[number of labels]`).
        target: Shape,
    },
    /// A hyper-parameter outside its domain.
    #[error("{op}: invalid {arg} = {value}: {why}")]
    InvalidArgument {
        /// The layer, loss or initializer.
        op: &'static str,
        /// The argument's name.
        arg: &'static str,
        /// The value given, formatted.
        value: String,
        /// What is allowed.
        why: &'static str,
    },
    /// A name (initializer, gain) that is not one of the known ones.
    #[error("unknown {what} {name:?}; expected one of: {allowed}")]
    UnknownName {
        /// What kind of name (`"initializer"`, `"gain"`, `"initializer option"`).
        what: &'static str,
        /// The name given.
        name: String,
        /// The accepted names, comma-separated.
        allowed: String,
    },
    /// Reading or writing a weights file failed at the operating-system level.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A weights file that is not valid safetensors (bad header, overlapping offsets...).
    #[error("{}: not a valid safetensors file: {why}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong, from the parser.
        why: String,
    },
    /// A weights file whose data ends before a tensor's bytes do.
    #[error("{}: truncated: tensor {name:?} needs bytes {start}..{end} of the data section, but the file holds only {found} data bytes", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The first tensor cut short.
        name: String,
        /// Where its bytes start in the data section.
        start: usize,
        /// Where they should end.
        end: usize,
        /// The data bytes actually present.
        found: usize,
    },
    /// A model tensor that the file does not contain.
    #[error("{}: missing tensor {name:?} (expected {expected}); the file holds: {found}", path.display())]
    MissingTensor {
        /// The file.
        path: PathBuf,
        /// The model's name for it.
        name: String,
        /// Its dtype and shape in the model.
        expected: String,
        /// The names present in the file.
        found: String,
    },
    /// A file tensor that the model does not have (loading is strict, as PyTorch's default).
    #[error("{}: unexpected tensor {name:?} not in the model; the model holds: {expected}", path.display())]
    UnexpectedTensor {
        /// The file.
        path: PathBuf,
        /// The file's name for it.
        name: String,
        /// The model's names.
        expected: String,
    },
    /// A tensor whose shape in the file differs from the model's.
    #[error("{}: tensor {name:?} has shape {found:?} in the file, the model expects {expected:?}", path.display())]
    TensorShape {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The model's shape.
        expected: Shape,
        /// The file's shape.
        found: Shape,
    },
    /// A tensor whose element type in the file differs from the model's.
    #[error("{}: tensor {name:?} has dtype {found} in the file, the model expects {expected}", path.display())]
    TensorDtype {
        /// The file.
        path: PathBuf,
        /// The tensor's name.
        name: String,
        /// The model's dtype (safetensors spelling, e.g. `F32`).
        expected: String,
        /// The file's dtype.
        found: String,
    },
}

/// `Result` with the nn [`enum@Error`].
pub type Result<T> = std::result::Result<T, Error>;
