//! Stop when the evaluation loss has not improved for a number of epochs, and say which
//! epoch was best, so its weights (kept by the caller or in a checkpoint) can be restored.
//!
//! ```
//! use descent_train::early_stopping::{EarlyStopping, Verdict};
//! let mut rule = EarlyStopping::new(2)?;
//! assert_eq!(rule.observe(1, 0.9), Verdict::Improved);
//! assert_eq!(rule.observe(2, 0.7), Verdict::Improved);
//! assert_eq!(rule.observe(3, 0.8), Verdict::Wait);
//! assert_eq!(rule.observe(4, 0.75), Verdict::Stop { best_epoch: 2 });
//! # Ok::<(), descent_train::Error>(())
//! ```

use crate::{Error, Result};

/// What [`EarlyStopping::observe`] decides after an epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The loss is the best so far: keep these weights.
    Improved,
    /// Not better, but within patience.
    Wait,
    /// Not better for `patience` epochs: stop, and restore the weights of `best_epoch`.
    Stop {
        /// The epoch with the lowest loss.
        best_epoch: usize,
    },
}

/// Patience-based early stopping on a loss (lower is better; ties keep the earlier epoch,
/// as Keras' `EarlyStopping` with `min_delta = 0` does).
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    patience: usize,
    best: Option<(usize, f64)>,
}

impl EarlyStopping {
    /// Stops after `patience` epochs without improvement.
    ///
    /// # Errors
    /// [`Error::Setting`] for a patience of 0.
    pub fn new(patience: usize) -> Result<Self> {
        if patience == 0 {
            return Err(Error::Setting {
                name: "early-stopping patience".into(),
                why: "must be at least 1 epoch".into(),
            });
        }
        Ok(EarlyStopping {
            patience,
            best: None,
        })
    }

    /// The patience, in epochs.
    pub fn patience(&self) -> usize {
        self.patience
    }

    /// The best epoch so far and its loss.
    pub fn best(&self) -> Option<(usize, f64)> {
        self.best
    }

    /// Takes the loss measured after `epoch`.
    pub fn observe(&mut self, epoch: usize, loss: f64) -> Verdict {
        match self.best {
            // Not strictly lower (or NaN): no improvement.
            Some((_, b)) if loss.partial_cmp(&b) != Some(std::cmp::Ordering::Less) => {}
            _ => {
                self.best = Some((epoch, loss));
                return Verdict::Improved;
            }
        }
        let (best_epoch, _) = self.best.unwrap_or((epoch, loss));
        if epoch - best_epoch >= self.patience {
            Verdict::Stop { best_epoch }
        } else {
            Verdict::Wait
        }
    }
}
