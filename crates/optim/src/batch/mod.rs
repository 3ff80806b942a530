//! Batch (full-batch, re-evaluating) methods: line searches ([`LineSearch`]), steepest
//! descent, nonlinear conjugate gradient, BFGS, L-BFGS, Newton, Levenberg–Marquardt and
//! Gauss–Newton, the loop that drives them ([`BatchMethod::minimize`]), any of them behind
//! one type built from a spec ([`Method`]), and Hessian diagnostics ([`curvature`]).
//!
//! They work on one flat `f64` vector through the [`Objective`] trait, as PyTorch's LBFGS
//! does with `_gather_flat_grad`; [`TapeObjective`], [`TapeResiduals`], [`ParamObjective`]
//! and [`with_params`] build objectives from tape closures.

mod bfgs;
mod cg;
pub mod curvature;
mod flat;
mod lbfgs;
mod linesearch;
mod lm;
mod method;
mod module;
mod newton;
pub(crate) mod objective;
mod steepest;

pub use bfgs::{Bfgs, BfgsConfig};
pub use cg::{Beta, CgConfig, ConjugateGradient};
pub use flat::{
    flatten, unflatten, with_params, ClosureError, ParamObjective, TapeObjective, TapeResiduals,
};
pub use lbfgs::{Lbfgs, LbfgsConfig};
pub use linesearch::{LineSearch, LineStep, SearchConfig};
pub use lm::{GaussNewton, GaussNewtonConfig, LevenbergMarquardt, LmConfig};
pub use method::{Method, METHODS};
pub use newton::{Newton, NewtonConfig};
pub use objective::{BatchMethod, BatchReport, Objective, StopReason, StopTolerances};
pub use steepest::SteepestDescent;
