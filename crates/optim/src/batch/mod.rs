//! Batch (full-batch, re-evaluating) methods: line searches ([`LineSearch`]), steepest
//! descent, nonlinear conjugate gradient, BFGS, L-BFGS, Newton, Levenberg–Marquardt and
//! Gauss–Newton, the loop that drives them ([`BatchMethod::minimize`]), any of them behind
//! one type built from a spec ([`Method`]), and Hessian diagnostics ([`curvature`]).
//!
//! They work on one flat `f64` vector through the [`Objective`] trait (value and gradient),
//! as PyTorch's LBFGS does with `_gather_flat_grad`; Newton needs a [`HessianObjective`]
//! and the least-squares methods a [`LeastSquares`] problem, so a missing capability is a
//! type error. [`TapeObjective`], [`TapeResiduals`], [`ParamObjective`], [`ParamResiduals`],
//! [`with_params`] and [`with_param_residuals`] build objectives from tape closures, and
//! every method runs on a `descent_nn::Module` in place (`step_module`,
//! `step_module_residuals`).

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
    flatten, unflatten, with_param_residuals, with_params, ClosureError, ParamObjective,
    ParamResiduals, TapeObjective, TapeResiduals,
};
pub use lbfgs::{Lbfgs, LbfgsConfig};
pub use linesearch::{LineSearch, LineStep, SearchConfig};
pub use lm::{GaussNewton, GaussNewtonConfig, LeastSquaresMethod, LevenbergMarquardt, LmConfig};
pub use method::{Method, METHODS};
pub use module::ModuleLoss;
pub use newton::{Newton, NewtonConfig};
pub use objective::{
    BatchMethod, BatchReport, HessianObjective, LeastSquares, Objective, StopReason, StopTolerances,
};
pub use steepest::SteepestDescent;
