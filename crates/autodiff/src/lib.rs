//! # descent-autodiff
//!
//! Tape-based reverse-mode automatic differentiation over [`descent_tensor::Tensor`].
//!
//! Ops on [`Var`]s are appended to a [`Tape`]; [`Var::backward`] walks the tape once in
//! reverse and returns [`Gradients`] keyed by leaf. Every backward rule is written in terms
//! of differentiable `Var` ops, so the same rule can be recorded ([`Var::grad`]) and
//! differentiated again: Hessian-vector products, Hessians and Jacobians come for free
//! ([`hessian_vector_product`], [`hessian`], [`jacobian`]).
//!
//! [`gradcheck`] compares any gradient with central finite differences and is the first
//! thing to reach for when writing a custom op ([`Tape::record`]) or model:
//!
//! ```
//! use descent_autodiff::{gradcheck, Result, Tape, Tolerances, Var};
//! use descent_tensor::Tensor;
//! // A two-layer tanh network's output, checked against finite differences in f64.
//! fn net<'t>(_: &'t Tape<f64>, v: &[Var<'t, f64>]) -> Result<Var<'t, f64>> {
//!     v[0].matmul(v[1])?.tanh()?.matmul(v[2])
//! }
//! let x = Tensor::from_vec(vec![0.5, -0.3, 0.8, 0.1, -0.9, 0.4], &[3, 2])?;
//! let w1 = Tensor::from_vec(vec![0.2, -0.4, 0.7, 0.1], &[2, 2])?;
//! let w2 = Tensor::from_vec(vec![0.3, -0.6], &[2, 1])?;
//! let report = gradcheck(net, &[x, w1, w2], Tolerances::default())?;
//! assert!(report.passed, "{report}");
//! # Ok::<(), descent_autodiff::Error>(())
//! ```
#![warn(missing_docs)]

mod backward;
pub mod catalog;
mod error;
mod gradcheck;
mod higher;
mod ops;
mod param;
mod tape;

pub use backward::{BackwardOptions, Gradients};
pub use error::{Error, Result};
pub use gradcheck::{gradcheck, gradgradcheck, MultiFunction, Report, Tolerances, Worst};
pub use higher::{hessian, hessian_vector_product, jacobian, jvp, vjp, Function, DENSE_LIMIT};
pub use ops::MatrixNorm;
pub use param::{Param, ParamId};
pub use tape::{Ctx, NoGradGuard, Rule, Tape, Var};
