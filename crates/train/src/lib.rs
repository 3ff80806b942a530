//! # descent-train
//!
//! The training loop as a small toolkit, usable with any `Module` and any loss: a
//! `fit`-style [`Trainer`], and the same pieces usable one by one from a hand-written loop.
//!
//! - [`checkpoint`]: one file with the model, optimizer, schedule position, averages, seed
//!   and progress, written atomically and restored bit for bit; mismatches in plain words.
//! - [`metrics`]: per-epoch records and a CSV / JSON-lines logger.
//! - [`early_stopping`]: patience on the evaluation loss, naming the best epoch.
//! - [`divergence`]: a non-finite loss or gradient as an error with a smaller learning rate.
//! - [`evaluate`]: eval-mode loss, accuracy and top-k, optionally on averaged weights; the
//!   [`evaluate::Task`] a run minimizes.
//! - [`progress`]: bars on a terminal, plain lines otherwise, nothing when quiet.
//! - [`plot`]: learning curves as SVG or PNG.
//! - [`hooks`]: per-step and per-epoch callbacks.
//! - [`cli`]: a training program's shared flags (clap) and the run they describe.
//! - [`diagnostics`]: what the lectures measure on a model while it trains.
#![warn(missing_docs)]

pub mod checkpoint;
pub mod cli;
pub mod diagnostics;
pub mod divergence;
pub mod early_stopping;
mod error;
pub mod evaluate;
pub mod hooks;
pub mod metrics;
pub mod plot;
pub mod progress;
mod trainer;

pub use error::{Error, Result};
pub use hooks::Hook;
pub use trainer::{epoch_seed, OptimizerChoice, SchedulePer, Summary, Trainer};
