//! # descent-optim
//!
//! Optimizers over [`descent_autodiff::Param`]s and the [`descent_autodiff::Gradients`] a
//! tape returns; they never see layers.
//!
//! - First-order methods with torch.optim's update rules, argument names and defaults
//!   ([`Sgd`], [`Adagrad`], [`RmsProp`], [`Adadelta`], [`Adam`] / AdamW, [`Adamax`],
//!   [`NAdam`], [`Rprop`] and its four variants), driven by [`FirstOrder`] behind the
//!   [`Optimizer`] trait: parameter groups, state saved to safetensors ([`StateDict`]).
//! - One spec-string parser for all of them ([`Spec`], [`build`]):
//!   `"sgd:lr=0.1,momentum=0.9,nesterov=true"`; the grammar is in [`spec`].
//! - Learning-rate schedules as torch.optim.lr_scheduler's, from specs and chainable
//!   ([`Scheduler`]: `"warmup:total_iters=5;cosine:T_max=100"`; every schedule and its
//!   formula in [`schedule`]); parameter averaging
//!   (polynomial-decay and EMA, swapped in for evaluation: [`Averager`]); gradient clipping
//!   ([`clip_grad_norm`], [`clip_grad_value`]); the lectures' 2-D test functions on the tape
//!   ([`TestFunction`]).
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

mod averaging;
mod batch;
mod bfgs;
mod cg;
mod clip;
pub mod curvature;
mod error;
mod flat;
mod functions;
mod lbfgs;
mod linesearch;
mod lm;
mod method;
mod newton;
mod optimizer;
mod rules;
pub mod schedule;
pub mod spec;
mod state;
mod steepest;

pub use averaging::{Averager, Averaging};
pub use batch::{BatchMethod, Objective, Report, StopReason, Tolerances};
pub use bfgs::{Bfgs, BfgsConfig};
pub use cg::{Beta, CgConfig, ConjugateGradient};
pub use clip::{clip_grad_norm, clip_grad_value};
pub use error::{Error, Result};
pub use flat::{flatten, unflatten, with_params, ParamObjective, TapeObjective, TapeResiduals};
pub use functions::{TestFunction, FUNCTIONS};
pub use lbfgs::{Lbfgs, LbfgsConfig};
pub use linesearch::{LineSearch, LineStep, SearchConfig};
pub use lm::{GaussNewton, GaussNewtonConfig, LevenbergMarquardt, LmConfig};
pub use method::{Method, METHODS};
pub use newton::{Newton, NewtonConfig};
pub use optimizer::{build, Ctx, FirstOrder, Optimizer, State, UpdateRule, OPTIMIZERS};
pub use rules::{
    Adadelta, Adagrad, Adam, Adamax, MomentumForm, NAdam, RmsProp, Rprop, RpropVariant, Sgd,
};
pub use schedule::{parse_schedule, Closed, Plateau, Schedule, Scheduler, SCHEDULES};
pub use spec::{Allowed, Spec};
pub use state::{write_atomic, StateDict, MAX_COUNT};
pub use steepest::SteepestDescent;
