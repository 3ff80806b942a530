//! Trainable parameters: a tensor with a stable identity, so gradients can be looked up
//! and optimizer state kept per parameter across steps and tapes.

use descent_tensor::{Float, Tensor};
use std::sync::atomic::{AtomicU64, Ordering};

/// Identifies a leaf of differentiation (a [`Param`] or a leaf made by [`crate::Tape::var`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(pub(crate) u64);

impl ParamId {
    /// A fresh, process-unique id.
    pub fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        ParamId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// A trainable tensor. Cloning keeps the id (a clone is the same parameter), so a cloned
/// model shares optimizer state unless its parameters are re-created with [`Param::new`].
#[derive(Clone)]
pub struct Param<F: Float> {
    id: ParamId,
    /// The current value; optimizers update it in place.
    pub value: Tensor<F>,
}

impl<F: Float> Param<F> {
    /// A new parameter with a fresh id.
    pub fn new(value: Tensor<F>) -> Self {
        Param {
            id: ParamId::fresh(),
            value,
        }
    }

    /// This parameter's id (the key of its gradient and optimizer state).
    pub fn id(&self) -> ParamId {
        self.id
    }

    /// The value's shape.
    pub fn shape(&self) -> &[usize] {
        self.value.shape()
    }
}

impl<F: Float> std::fmt::Debug for Param<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Param({:?}, shape={:?})", self.id, self.value.shape())
    }
}
