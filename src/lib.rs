//! # descent
//!
//! A CPU deep-learning framework: N-d tensors with parallel kernels ([`tensor`]),
//! tape-based reverse-mode autodiff ([`autodiff`]), layers and losses ([`nn`]), optimizers
//! from SGD to Levenberg–Marquardt ([`optim`]) and data loading ([`data`]).
//!
//! Every crate's error converts into [`enum@Error`], so one function can use `?` on all of
//! them — here a layer checked against finite differences, in a closure that mixes nn and
//! autodiff calls, and weights restored from memory:
//!
//! ```
//! use descent::autodiff::{gradcheck, Tape, Tolerances};
//! use descent::nn::{check::gradcheck_module, Linear, Mode, Module};
//! use descent::Tensor;
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! fn main() -> descent::Result<()> {
//!     let mut rng = StdRng::seed_from_u64(0);
//!     let mut layer = Linear::<f64>::new(3, 2, &mut rng)?;
//!     let x = Tensor::randn(&[4, 3], 0.0, 1.0, &mut rng)?;
//!     gradcheck_module(&layer, &x, Mode::Train, Tolerances::default())?.ok()?;
//!     let report = gradcheck(
//!         |tape, v| -> descent::Result<_> {
//!             let y = layer.forward(tape, v[0], Mode::Train)?;
//!             Ok((y * y).sum_all()?)
//!         },
//!         &[x],
//!         Tolerances::default(),
//!     )?;
//!     assert!(report.passed, "{report}");
//!     let best = layer.state_dict();
//!     layer.weight.value = &layer.weight.value * 0.5;
//!     descent::nn::load_state_dict(&mut layer, &best)?;
//!     let tape = Tape::new();
//!     let frozen = tape.no_grad(|| -> descent::Result<_> {
//!         Ok(layer.forward(&tape, tape.constant(Tensor::zeros(&[1, 3])), Mode::Eval)?)
//!     })?;
//!     assert!(!frozen.requires_grad());
//!     Ok(())
//! }
//! ```
//!
//! The batch methods take the same closures: L-BFGS fits a model in place, its loss written
//! with nn's layers and losses and the tape's ops, all behind one `?`:
//!
//! ```
//! use descent::nn::{activation::Tanh, loss::mse_loss, Linear, Mode, Module, Reduction, Sequential};
//! use descent::optim::batch::{BatchMethod, Lbfgs};
//! use descent::Tensor;
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! fn main() -> descent::Result<()> {
//!     let mut rng = StdRng::seed_from_u64(0);
//!     let mut model = Sequential::<f64>::new()
//!         .add(Linear::new(1, 8, &mut rng)?)
//!         .add(Tanh)
//!         .add(Linear::new(8, 1, &mut rng)?);
//!     let x = Tensor::linspace(-1.0, 1.0, 32).reshape(&[32, 1])?;
//!     let y = x.sin();
//!     let report = Lbfgs::default().minimize_module(
//!         &mut model,
//!         |tape, model| -> descent::Result<_> {
//!             let pred = model.forward(tape, tape.constant(x.clone()), Mode::Train)?;
//!             Ok(mse_loss(pred, tape.constant(y.clone()), Reduction::Mean)?)
//!         },
//!         50,
//!     )?;
//!     assert!(report.loss < 1e-4, "{report:?}");
//!     Ok(())
//! }
//! ```
//!
//! Levenberg–Marquardt fits a model from its residuals; Newton and LM take only objectives
//! that have a Hessian or residuals, so asking for the wrong one does not compile:
//!
//! ```
//! use descent::nn::{activation::Tanh, Linear, Mode, Module, Sequential};
//! use descent::optim::batch::{LeastSquaresMethod, LevenbergMarquardt};
//! use descent::Tensor;
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! fn main() -> descent::Result<()> {
//!     // y = 1.5 tanh(0.8 x) − 0.3 is a · tanh(w x + b) + c: four parameters.
//!     let mut rng = StdRng::seed_from_u64(0);
//!     let mut model = Sequential::<f64>::new()
//!         .add(Linear::new(1, 1, &mut rng)?)
//!         .add(Tanh)
//!         .add(Linear::new(1, 1, &mut rng)?);
//!     let x = Tensor::linspace(-2.0, 2.0, 20).reshape(&[20, 1])?;
//!     let y = &(&(&x * 0.8).tanh() * 1.5) - 0.3;
//!     let report = LevenbergMarquardt::default().minimize_module_residuals(
//!         &mut model,
//!         |tape, model| -> descent::Result<_> {
//!             let pred = model.forward(tape, tape.constant(x.clone()), Mode::Eval)?;
//!             Ok(pred.sub(tape.constant(y.clone()))?)
//!         },
//!         100,
//!     )?;
//!     assert!(report.loss < 1e-8, "{report:?}");
//!     Ok(())
//! }
//! ```
#![warn(missing_docs)]

mod error;

pub use descent_autodiff as autodiff;
pub use descent_data as data;
pub use descent_distributed as distributed;
pub use descent_nn as nn;
pub use descent_optim as optim;
pub use descent_tensor as tensor;
pub use descent_tensor::Tensor;
pub use descent_train as train;
pub use error::{Error, Result};

/// The README's examples, compiled and run as doc tests so they never go stale.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
