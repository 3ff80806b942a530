//! # descent
//!
//! A CPU deep-learning framework: N-d tensors with parallel kernels ([`tensor`]),
//! tape-based reverse-mode autodiff ([`autodiff`]), layers and losses ([`nn`]), optimizers
//! from SGD to Levenberg–Marquardt ([`optim`]) and data loading ([`data`]).
#![warn(missing_docs)]

pub use descent_autodiff as autodiff;
pub use descent_data as data;
pub use descent_nn as nn;
pub use descent_optim as optim;
pub use descent_tensor as tensor;
pub use descent_tensor::Tensor;

/// The README's examples, compiled and run as doc tests so they never go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
