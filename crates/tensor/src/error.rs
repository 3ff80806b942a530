//! The tensor crate's error type: every message names the op and the shapes involved.

/// A shape as it appears in error messages.
pub type Shape = Vec<usize>;

/// Everything that can go wrong in a tensor op, with the numbers needed to fix it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes that NumPy's broadcasting rules cannot reconcile.
    #[error("{op}: shapes {lhs:?} and {rhs:?} do not broadcast")]
    Broadcast {
        /// The op that was called.
        op: &'static str,
        /// Left operand's shape.
        lhs: Shape,
        /// Right operand's shape.
        rhs: Shape,
    },
    /// A shape that is not the one required.
    #[error("{op}: expected shape {expected:?}, got {got:?}")]
    ShapeMismatch {
        /// The op that was called.
        op: &'static str,
        /// The shape required.
        expected: Shape,
        /// The shape given.
        got: Shape,
    },
    /// A buffer whose length does not match the shape's element count.
    #[error("{op}: {len} elements cannot have shape {shape:?} ({numel} elements)")]
    Length {
        /// The op that was called.
        op: &'static str,
        /// Elements given.
        len: usize,
        /// Shape requested.
        shape: Shape,
        /// Elements the shape holds.
        numel: usize,
    },
    /// Matrix product of incompatible operands.
    #[error("matmul: inner dimensions differ: {lhs:?} x {rhs:?}")]
    MatmulInner {
        /// Left operand's shape.
        lhs: Shape,
        /// Right operand's shape.
        rhs: Shape,
    },
    /// A tensor of the wrong rank for the op.
    #[error("{op}: expected {expected}, got shape {shape:?}")]
    Rank {
        /// The op that was called.
        op: &'static str,
        /// What rank was expected, in words (e.g. "at least 2 dims").
        expected: &'static str,
        /// The shape given.
        shape: Shape,
    },
    /// An axis outside `-ndim..ndim`.
    #[error("{op}: dim {dim} is out of range for shape {shape:?}")]
    DimOutOfRange {
        /// The op that was called.
        op: &'static str,
        /// The axis given.
        dim: isize,
        /// The tensor's shape.
        shape: Shape,
    },
    /// An index outside its axis.
    #[error("{op}: index {index} is out of range for size {size} (dim {dim} of shape {shape:?})")]
    IndexOutOfRange {
        /// The op that was called.
        op: &'static str,
        /// The index given.
        index: i64,
        /// The axis' size.
        size: usize,
        /// The axis.
        dim: usize,
        /// The tensor's shape.
        shape: Shape,
    },
    /// A class label outside `0..classes`.
    #[error("{op}: label {label} at position {position} is out of range for {classes} classes")]
    Label {
        /// The op that was called.
        op: &'static str,
        /// Where the label is in the list.
        position: usize,
        /// The label given.
        label: usize,
        /// The number of classes.
        classes: usize,
    },
    /// A shape whose element count overflows `usize`, or whose bytes would not fit in
    /// `isize::MAX` (no allocation could hold it, and offsets into it would wrap).
    #[error("{op}: shape {shape:?} has too many elements to address")]
    TooLarge {
        /// The op that was called.
        op: &'static str,
        /// The shape requested.
        shape: Shape,
    },
    /// A hyper-parameter or argument outside its domain.
    #[error("{op}: invalid {arg} = {value}: {why}")]
    InvalidArgument {
        /// The op that was called.
        op: &'static str,
        /// The argument's name.
        arg: &'static str,
        /// The value given, formatted.
        value: String,
        /// What is allowed.
        why: &'static str,
    },
    /// A matrix the factorization cannot take: singular (`inverse`, `solve`) or not
    /// positive-definite (`cholesky`), as PyTorch raises.
    #[error("{op}: a matrix of the batch {shape:?} is {what}")]
    Singular {
        /// The op that was called.
        op: &'static str,
        /// The input's shape.
        shape: Shape,
        /// What the matrix is: "singular" or "not positive-definite".
        what: &'static str,
    },
    /// Convolution or pooling operands that do not fit together: channels, groups, or a
    /// window larger than its padded input.
    #[error("{op}: {detail}: {input:?} * {other:?}")]
    Window {
        /// The op that was called.
        op: &'static str,
        /// What does not fit, with the numbers.
        detail: String,
        /// The input's shape.
        input: Shape,
        /// The weight's shape, or the window's kernel size.
        other: Shape,
    },
}

/// `Result` with [`enum@Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The old name of [`enum@Error`]: every crate of the workspace now exports its error as
/// `Error` (and the facade's `descent::Error` takes them all).
#[deprecated(note = "renamed to descent_tensor::Error")]
pub type TensorError = Error;
