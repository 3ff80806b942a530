//! # descent-train
//!
//! The training loop as a small toolkit, usable with any `Module` and any loss: pieces a
//! hand-written loop can take one by one, and the lectures' diagnostics as hooks.
//!
//! - [`diagnostics`]: what the lectures measure on a model while it trains.
#![warn(missing_docs)]

pub mod diagnostics;
mod error;

pub use error::{Error, Result};
