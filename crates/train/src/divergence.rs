//! Stop a diverging run with what went wrong: the step, the loss or the parameter whose
//! gradient is not finite, and an optimizer spec with a ten times smaller learning rate.
//!
//! ```
//! use descent_train::divergence::DivergenceGuard;
//! let guard = DivergenceGuard::new(Some("sgd:lr=1,momentum=0.9".into()));
//! let err = guard.check_loss(f64::NAN, 2, 7, 1.0).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "training diverged at epoch 2, step 7: the loss is NaN. Try a smaller learning rate, \
//!      e.g. sgd:lr=1e-1,momentum=0.9"
//! );
//! ```

use descent_nn::Module;
use descent_tensor::Float;

use crate::{Error, Result};

/// Turns a non-finite loss or gradient into [`Error::Diverged`].
#[derive(Debug, Clone, Default)]
pub struct DivergenceGuard {
    spec: Option<String>,
}

impl DivergenceGuard {
    /// A guard for an optimizer made from `spec` (`None`: no spec to suggest).
    pub fn new(spec: Option<String>) -> Self {
        DivergenceGuard { spec }
    }

    fn diverged(&self, epoch: usize, step: usize, what: String, lr: f64) -> Error {
        Error::Diverged {
            epoch,
            step,
            what,
            suggestion: self.spec.as_deref().map(|s| smaller_lr(s, lr)),
        }
    }

    /// `Ok` if `loss` is finite.
    ///
    /// # Errors
    /// [`Error::Diverged`] if it is not.
    pub fn check_loss(&self, loss: f64, epoch: usize, step: usize, lr: f64) -> Result<()> {
        if loss.is_finite() {
            return Ok(());
        }
        Err(self.diverged(epoch, step, format!("the loss is {loss}"), lr))
    }

    /// Turns the optimizer's refusal of a non-finite gradient into [`Error::Diverged`]
    /// naming the parameter (by its name in `model`); other errors pass through.
    pub fn check_step<F: Float>(
        &self,
        stepped: descent_optim::Result<()>,
        model: &dyn Module<F>,
        epoch: usize,
        step: usize,
        lr: f64,
    ) -> Result<()> {
        match stepped {
            Err(descent_optim::Error::NonFiniteGradient { index, shape, .. }) => {
                let names = model.named_params();
                let name = names
                    .get(index)
                    .map_or_else(|| format!("#{index}"), |(n, _)| n.clone());
                let what =
                    format!("the gradient of parameter {name} (shape {shape:?}) is not finite");
                Err(self.diverged(epoch, step, what, lr))
            }
            other => Ok(other?),
        }
    }
}

/// `spec` with its learning rate `lr` made ten times smaller (`lr=` first, other options
/// kept).
pub fn smaller_lr(spec: &str, lr: f64) -> String {
    let (name, opts) = spec.split_once(':').unwrap_or((spec, ""));
    let mut opts: Vec<&str> = opts
        .split(',')
        .filter(|o| !o.trim().is_empty() && !o.trim_start().starts_with("lr="))
        .collect();
    let lr = format!("lr={:e}", lr / 10.0);
    opts.insert(0, &lr);
    format!("{}:{}", name.trim(), opts.join(","))
}
