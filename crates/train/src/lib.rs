//! # descent-train
//!
//! The training loop as a small toolkit, usable with any `Module` and any loss: pieces a
//! hand-written loop can take one by one, and the lectures' diagnostics as hooks.
//!
//! - [`hooks`]: per-step and per-epoch callbacks.
//! - [`diagnostics`]: what the lectures measure on a model while it trains.
#![warn(missing_docs)]

pub mod diagnostics;
mod error;
pub mod hooks;

pub use error::{Error, Result};
pub use hooks::Hook;
