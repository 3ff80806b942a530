//! A running average of the batch loss, for the per-step metrics: single batches are noisy,
//! and the trend is what a reader of a per-step curve wants.

/// An exponential moving average with bias correction — TensorBoard's smoothing and
/// fastai's `SmoothenValue`: `m ← β·m + (1 − β)·x`, reported as `m / (1 − βᵗ)` after `t`
/// values, so the first values are not pulled towards the zero `m` starts from. A
/// non-finite loss is kept out of the average and counted, so one NaN batch does not hide
/// the trend of the others (the divergence guard is what stops on NaN).
///
/// ```
/// use descent_train::diagnostics::RunningLoss;
/// let mut avg = RunningLoss::new(0.5)?;
/// avg.update(4.0);                        // m = 2,   value 2 / 0.5   = 4
/// assert_eq!(avg.value(), Some(4.0));
/// avg.update(1.0);                        // m = 1.5, value 1.5 / 0.75 = 2
/// assert_eq!(avg.value(), Some(2.0));
/// avg.update(f64::NAN);
/// assert_eq!((avg.value(), avg.non_finite()), (Some(2.0), 1));
/// # Ok::<(), descent_train::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RunningLoss {
    beta: f64,
    m: f64,
    count: u64,
    beta_pow: f64,
    non_finite: u64,
}

impl RunningLoss {
    /// An average with smoothing `beta` in `[0, 1)`: the weight of the past (0.98 is
    /// fastai's default; 0 reports the last batch).
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] unless `0 ≤ beta < 1`.
    pub fn new(beta: f64) -> crate::Result<Self> {
        if !(0.0..1.0).contains(&beta) {
            return Err(crate::Error::InvalidArgument {
                op: "RunningLoss::new",
                arg: "beta",
                value: beta.to_string(),
                why: "must be in [0, 1)".into(),
            });
        }
        Ok(RunningLoss {
            beta,
            m: 0.0,
            count: 0,
            beta_pow: 1.0,
            non_finite: 0,
        })
    }

    /// Adds one batch's loss; returns the average after it.
    pub fn update(&mut self, loss: f64) -> Option<f64> {
        if loss.is_finite() {
            self.m = self.beta * self.m + (1.0 - self.beta) * loss;
            self.beta_pow *= self.beta;
            self.count += 1;
        } else {
            self.non_finite += 1;
        }
        self.value()
    }

    /// The bias-corrected average, `None` before the first finite loss.
    pub fn value(&self) -> Option<f64> {
        (self.count > 0).then(|| self.m / (1.0 - self.beta_pow))
    }

    /// The number of finite losses averaged.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The number of non-finite losses left out.
    pub fn non_finite(&self) -> u64 {
        self.non_finite
    }
}

/// The average as a hook, over every step's batch loss. The trainer keeps one of its own
/// for the per-step metrics; this is for a loop, or a hook, that wants the value itself.
impl<F: descent_tensor::Float> crate::hooks::Hook<F> for RunningLoss {
    fn on_step(&mut self, info: &crate::hooks::StepInfo<'_, F>) -> crate::Result<()> {
        self.update(info.loss);
        Ok(())
    }
}
