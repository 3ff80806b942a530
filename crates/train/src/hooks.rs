//! Callbacks for what runs per step and per epoch: a [`Hook`] sees the model, where the run
//! is, the loss, the learning rate and (per step) the gradients, and can measure anything
//! from them without owning the loop. The trainer calls every hook it was given; a
//! hand-written loop calls them itself. The diagnostics of [`crate::diagnostics`] are hooks;
//! a hook shared as `Rc<RefCell<H>>` stays readable by the caller while the trainer runs it.
//!
//! ```
//! use descent_train::hooks::{EpochInfo, Hook, StepInfo};
//!
//! /// Remembers the largest batch loss seen.
//! #[derive(Default)]
//! struct WorstLoss(f64);
//!
//! impl Hook<f32> for WorstLoss {
//!     fn on_step(&mut self, info: &StepInfo<'_, f32>) -> descent_train::Result<()> {
//!         self.0 = self.0.max(info.loss);
//!         Ok(())
//!     }
//! }
//! let mut hook = WorstLoss::default();
//! let model = descent_nn::Linear::<f32>::new(2, 1, &mut rand::rng())?;
//! hook.on_step(&StepInfo { model: &model, epoch: 1, step: 1, loss: 0.5, lr: 0.1, grads: None, batch: None })?;
//! hook.on_epoch(&EpochInfo { model: &model, epoch: 1, step: 1, train_loss: 0.5, eval_loss: None, lr: 0.1 })?;
//! assert_eq!(hook.0, 0.5);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::cell::RefCell;
use std::rc::Rc;

use descent_autodiff::{Gradients, Var};
use descent_nn::Module;
use descent_tensor::{Float, Tensor};

use crate::Result;

/// One optimizer step, as a hook sees it: after the update, with the gradients it used.
pub struct StepInfo<'a, F: Float> {
    /// The model, after the step.
    pub model: &'a dyn Module<F>,
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// The optimizer step over the whole run, counted from 1.
    pub step: usize,
    /// The batch loss before the step.
    pub loss: f64,
    /// The learning rate the step used (parameter group 0).
    pub lr: f64,
    /// The gradients the step used, after any clipping; `None` where none were computed.
    pub grads: Option<&'a Gradients<F>>,
    /// The batch the step trained on, with its loss, so a hook can measure the model on
    /// the step's own data; `None` where the loop offers none.
    pub batch: Option<&'a dyn Batch<F>>,
}

/// A training batch as a hook sees it: the model's input, and the loss of any output of
/// the model against the batch's targets (the run's task, mean over the batch).
pub trait Batch<F: Float> {
    /// The input the model is given.
    fn input(&self) -> &Tensor<F>;

    /// The mean loss of `output` (the model's output on [`Batch::input`]) against the
    /// batch's targets, recorded on `output`'s tape.
    ///
    /// # Errors
    /// The task's, for an output that does not fit the targets.
    fn loss<'t>(&self, output: Var<'t, F>) -> Result<Var<'t, F>>;
}

/// One finished epoch, as a hook sees it: after evaluation, before the checkpoint.
pub struct EpochInfo<'a, F: Float> {
    /// The model at the end of the epoch (its own weights, not averaged ones).
    pub model: &'a dyn Module<F>,
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// Optimizer steps over the whole run so far.
    pub step: usize,
    /// The mean training loss over the epoch's batches.
    pub train_loss: f64,
    /// The evaluation loss, when the run evaluates.
    pub eval_loss: Option<f64>,
    /// The learning rate of the epoch's last step (parameter group 0).
    pub lr: f64,
}

/// What runs per step and per epoch. Both methods default to doing nothing, so a hook
/// implements only what it measures; an error stops the run and is returned by it.
pub trait Hook<F: Float> {
    /// Called after each optimizer step.
    ///
    /// # Errors
    /// The hook's own; the run stops with it.
    fn on_step(&mut self, info: &StepInfo<'_, F>) -> Result<()> {
        let _ = info;
        Ok(())
    }

    /// Called after each epoch's evaluation.
    ///
    /// # Errors
    /// The hook's own; the run stops with it.
    fn on_epoch(&mut self, info: &EpochInfo<'_, F>) -> Result<()> {
        let _ = info;
        Ok(())
    }
}

/// A shared hook: the trainer runs it, and the caller keeps a handle to read it
/// (`trainer.hook(monitor.clone())`, then `monitor.borrow().rows()`).
impl<F: Float, H: Hook<F>> Hook<F> for Rc<RefCell<H>> {
    fn on_step(&mut self, info: &StepInfo<'_, F>) -> Result<()> {
        self.borrow_mut().on_step(info)
    }

    fn on_epoch(&mut self, info: &EpochInfo<'_, F>) -> Result<()> {
        self.borrow_mut().on_epoch(info)
    }
}
