//! # descent-nn
//!
//! Neural-network building blocks on the [`descent_autodiff`] tape: initializers and
//! weights in the safetensors format under PyTorch's names.
#![warn(missing_docs)]

mod error;
pub mod init;
pub mod serialize;

pub use error::{Error, Result};
pub use init::Init;
