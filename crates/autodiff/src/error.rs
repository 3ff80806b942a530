//! The autodiff error type.

use descent_tensor::Shape;
use thiserror::Error;

/// What can go wrong when recording or differentiating.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor op failed (shapes, axes, indices).
    #[error(transparent)]
    Tensor(#[from] descent_tensor::Error),
    /// `backward` without a seed on an output that is not a scalar.
    #[error("backward: the output has shape {0:?}; call backward_with a seed gradient of that shape, or reduce it to a scalar first")]
    NotScalar(Shape),
    /// A seed gradient whose shape differs from the output's.
    #[error("backward: seed gradient has shape {got:?} but the output has shape {expected:?}")]
    SeedShape {
        /// The output's shape.
        expected: Shape,
        /// The seed's shape.
        got: Shape,
    },
    /// A backward rule returned a gradient of the wrong shape (a bug in that op's rule).
    #[error("{op}: backward rule returned a gradient of shape {got:?} for an input of shape {expected:?}")]
    BackwardShape {
        /// The op whose rule misbehaved.
        op: &'static str,
        /// The input's shape.
        expected: Shape,
        /// The gradient's shape.
        got: Shape,
    },
    /// Variables from two different tapes were combined.
    #[error("{op}: the operands were recorded on different tapes")]
    ForeignTape {
        /// The op that was called.
        op: &'static str,
    },
    /// A value or backward rule needed again after a backward pass freed it.
    #[error("{op} (node {node}): its saved values were freed by an earlier backward; use backward_with(.., retain_graph: true) to differentiate twice, or read values before backward")]
    Freed {
        /// The op whose node was freed.
        op: &'static str,
        /// The node's index on the tape.
        node: usize,
    },
    /// Anomaly mode found a NaN or infinity in an op's output.
    #[error("anomaly: {op} produced a non-finite value; input shapes {inputs:?}, output shape {output:?}")]
    NonFinite {
        /// The first op whose output is not finite.
        op: &'static str,
        /// Its inputs' shapes.
        inputs: Vec<Shape>,
        /// Its output's shape.
        output: Shape,
    },
    /// A dense derivative matrix would be too large to hold.
    #[error("{op}: {n} inputs need a dense {n}x{n} matrix ({bytes} bytes), above the limit of {limit} inputs; use {instead} instead")]
    TooLarge {
        /// The op that was called.
        op: &'static str,
        /// The number of scalar inputs.
        n: usize,
        /// The bytes the matrix would take.
        bytes: usize,
        /// The largest input count accepted.
        limit: usize,
        /// What to use instead.
        instead: &'static str,
    },
    /// A gradient check found a derivative outside tolerance (see [`crate::Report`]).
    #[error("{0}")]
    GradcheckFailed(String),
}

/// `Result` with the autodiff [`enum@Error`].
pub type Result<T> = std::result::Result<T, Error>;
