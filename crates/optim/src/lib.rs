//! # descent-optim
//!
//! Optimizers over [`descent_autodiff::Param`]s and the [`descent_autodiff::Gradients`] a
//! tape returns. Two halves, one module each:
//!
//! - [`first_order`]: torch.optim's update rules, argument names and defaults
//!   ([`first_order::Sgd`], [`first_order::Adam`] / AdamW, [`first_order::RmsProp`], …),
//!   driven by [`first_order::FirstOrder`] behind the [`Optimizer`] trait: parameter groups,
//!   state saved to safetensors; learning-rate schedules as torch.optim.lr_scheduler's
//!   ([`first_order::schedule`]), parameter averaging and gradient clipping.
//! - [`batch`]: the full-batch methods that re-evaluate the loss — line searches, steepest
//!   descent, CG, BFGS, L-BFGS, Newton, Levenberg–Marquardt, Gauss–Newton — on one flat
//!   `f64` vector ([`batch::Objective`]), and Hessian diagnostics ([`batch::curvature`]).
//!
//! One spec-string parser serves both ([`spec`]): [`build`] makes a first-order optimizer
//! from `"sgd:lr=0.1,momentum=0.9,nesterov=true"`, [`batch::Method::from_spec`] a batch
//! method from `"lbfgs:history_size=10"`. The lectures' 2-D test functions on the tape are in
//! [`functions`]; the common names are in [`prelude`].
//!
//! Steps update the parameters in place: drop the tape (end its scope) before `step`, or
//! the parameters' storage is still shared with it and is copied once.
//!
//! ```
//! use descent_autodiff::{Param, Tape};
//! use descent_tensor::Tensor;
//!
//! // Minimize ½‖w − 3‖² with Adam.
//! let mut w = Param::new(Tensor::<f64>::zeros(&[2]));
//! let mut opt = descent_optim::build::<f64>("adam:lr=0.1")?;
//! for _ in 0..300 {
//!     let tape = Tape::new();
//!     let loss = tape.param(&w).add_scalar(-3.0)?.square()?.sum(&[], false)?.mul_scalar(0.5)?;
//!     opt.step(&mut [&mut w], &loss.backward()?)?;
//! }
//! assert!(w.value.allclose(&Tensor::full(&[2], 3.0), 1e-3, 1e-3));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![warn(missing_docs)]

pub mod batch;
mod error;
pub mod first_order;
pub mod functions;
pub mod spec;

pub use error::{Error, Result};
pub use first_order::{build, build_method, Optimizer};
/// nalgebra, whose matrices and vectors are in this crate's public API
/// ([`batch::Objective::residuals`], [`batch::curvature::spectrum`]).
pub use nalgebra;

/// The names most programs use, in one import: `use descent_optim::prelude::*;`.
pub mod prelude {
    pub use crate::batch::{BatchMethod, Method, Objective};
    pub use crate::first_order::{Averager, Scheduler, StateDict};
    pub use crate::functions::TestFunction;
    pub use crate::{build, build_method, Error, Optimizer, Result};
}
