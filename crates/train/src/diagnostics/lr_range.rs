//! The learning-rate range test (Smith, 2017, "Cyclical learning rates"), made to label
//! each rate rather than leave a curve to be read: every rate of a geometric grid trains
//! the same model from the same weights on the same batches for a few steps of plain
//! gradient descent, and what happened is named —
//!
//! | label | what the trial showed |
//! |---|---|
//! | `Diverging` | the loss ended above where it started, or turned NaN or infinite |
//! | `Oscillating` | the loss fell, but consecutive gradients pointed against each other on average (negative mean cosine): each step overshot the valley floor, as on a quadratic when `1/λ_max < η < 2/λ_max` |
//! | `Slow` | the loss fell by less than a tenth (on a log scale) of the best trial's fall |
//! | `Good` | the rest |
//!
//! The suggested rate is the `Good` one whose loss fell furthest. Starting every trial from
//! the same weights (restored through [`descent_nn::load_state_dict`]) costs a few steps
//! per rate instead of one, but makes each label a statement about that rate alone — in
//! the classic one-pass sweep each rate inherits whatever the previous ones did.

use crate::error::{Error, Result};
use descent_autodiff::{Tape, Var};
use descent_nn::Module;
use descent_tensor::Float;

/// What a rate did in its trial (see the [module](self) table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLabel {
    /// The loss barely fell.
    Slow,
    /// The loss fell steadily.
    Good,
    /// The loss fell, but each step overshot along the gradient.
    Oscillating,
    /// The loss rose or became non-finite.
    Diverging,
}

impl RateLabel {
    /// The label in lower case, as written in the CSV.
    pub fn name(self) -> &'static str {
        match self {
            RateLabel::Slow => "slow",
            RateLabel::Good => "good",
            RateLabel::Oscillating => "oscillating",
            RateLabel::Diverging => "diverging",
        }
    }
}

/// One rate's trial.
#[derive(Debug, Clone, PartialEq)]
pub struct RateTrial {
    /// The learning rate.
    pub lr: f64,
    /// The loss on batch 0 before the trial's first step.
    pub start: f64,
    /// The loss on batch 0 after the trial's last step (non-finite if it blew up).
    pub end: f64,
    /// The loss at each step, before that step's update.
    pub losses: Vec<f64>,
    /// The mean cosine between consecutive steps' gradients.
    pub mean_cosine: f64,
    /// What the trial showed.
    pub label: RateLabel,
}

impl RateTrial {
    /// `ln(start / end)`: how far the loss fell, on a log scale (negative if it rose).
    pub fn log_decrease(&self) -> f64 {
        (self.start / self.end).ln()
    }
}

/// The settings of a range test: a geometric grid of rates from `lr_min` to `lr_max`, and
/// the steps each trains for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangeTest {
    /// The smallest rate tried.
    pub lr_min: f64,
    /// The largest rate tried.
    pub lr_max: f64,
    /// The number of rates, spaced geometrically (both ends included).
    pub rates: usize,
    /// The gradient-descent steps of each trial.
    pub steps: usize,
}

impl Default for RangeTest {
    /// 1e-6 to 10 in 29 rates (four per decade) of 10 steps: about 300 steps in all.
    fn default() -> Self {
        RangeTest {
            lr_min: 1e-6,
            lr_max: 10.0,
            rates: 29,
            steps: 10,
        }
    }
}

/// The trials of a [`RangeTest`], one per rate in increasing order.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeReport {
    /// One trial per rate.
    pub trials: Vec<RateTrial>,
}

impl RangeTest {
    /// The grid of rates.
    pub fn grid(&self) -> Vec<f64> {
        if self.rates == 1 {
            return vec![self.lr_min];
        }
        let ratio = (self.lr_max / self.lr_min).ln() / (self.rates - 1) as f64;
        (0..self.rates)
            .map(|i| self.lr_min * (ratio * i as f64).exp())
            .collect()
    }

    /// Runs one trial per rate on `model`: `loss(model, tape, i)` records the loss of batch
    /// `i` (for `i` in `0..steps`) in training mode, and each step subtracts `lr · ∇` from
    /// every parameter. The model's weights and buffers are restored after each trial and at
    /// the end; a dropout layer's generator is not, so seed it again afterwards if the run
    /// must be reproducible.
    ///
    /// ```
    /// use descent_autodiff::Tape;
    /// use descent_nn::{Linear, Mode, Module};
    /// use descent_tensor::Tensor;
    /// use descent_train::diagnostics::{RangeTest, RateLabel};
    /// use rand::{rngs::StdRng, SeedableRng};
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let mut model = Linear::<f64>::new(3, 1, &mut rng)?;
    /// let x = Tensor::randn(&[32, 3], 0.0, 1.0, &mut rng)?;
    /// let y = Tensor::randn(&[32, 1], 0.0, 1.0, &mut rng)?;
    /// let report = RangeTest::default().run(&mut model, |m: &Linear<f64>, tape: &Tape<f64>, _| {
    ///     let out = m.forward(tape, tape.constant(x.clone()), Mode::Train)?;
    ///     Ok(descent_nn::loss::mse_loss(out, tape.constant(y.clone()), descent_nn::Reduction::Mean)?)
    /// })?;
    /// assert_eq!(report.trials[0].label, RateLabel::Slow);
    /// assert_eq!(report.trials.last().unwrap().label, RateLabel::Diverging);
    /// assert!(report.suggested().is_some());
    /// # Ok::<(), descent_train::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a rate that is not positive and finite, `lr_max <
    /// lr_min`, or zero rates or steps; any error of `loss` or of its backward pass
    /// (the model is restored first).
    pub fn run<F: Float, M: Module<F>>(
        &self,
        model: &mut M,
        mut loss: impl for<'t> FnMut(&M, &'t Tape<F>, usize) -> Result<Var<'t, F>>,
    ) -> Result<RangeReport> {
        self.check()?;
        let initial = model.state_dict();
        let mut trials = Vec::with_capacity(self.rates);
        for lr in self.grid() {
            let trial = trial(model, &mut loss, lr, self.steps);
            descent_nn::load_state_dict(model, &initial)?;
            trials.push(trial?);
        }
        label(&mut trials);
        Ok(RangeReport { trials })
    }

    fn check(&self) -> Result<()> {
        let invalid = |arg: &'static str, value: String, why: &str| Error::InvalidArgument {
            op: "RangeTest::run",
            arg,
            value,
            why: why.into(),
        };
        for (arg, v) in [("lr_min", self.lr_min), ("lr_max", self.lr_max)] {
            if !(v > 0.0 && v.is_finite()) {
                return Err(invalid(arg, v.to_string(), "must be positive and finite"));
            }
        }
        if self.lr_max < self.lr_min {
            let why = format!("must be at least lr_min = {}", self.lr_min);
            return Err(invalid("lr_max", self.lr_max.to_string(), &why));
        }
        if self.rates == 0 {
            return Err(invalid("rates", "0".into(), "must be at least 1"));
        }
        if self.steps == 0 {
            return Err(invalid("steps", "0".into(), "must be at least 1"));
        }
        Ok(())
    }
}

/// Trains `model` for `steps` steps of gradient descent at `lr`, unlabelled.
fn trial<F: Float, M: Module<F>>(
    model: &mut M,
    loss: &mut impl for<'t> FnMut(&M, &'t Tape<F>, usize) -> Result<Var<'t, F>>,
    lr: f64,
    steps: usize,
) -> Result<RateTrial> {
    let mut losses = Vec::with_capacity(steps);
    let mut cosines = Vec::with_capacity(steps);
    let mut previous: Option<Vec<f64>> = None;
    for i in 0..steps {
        let tape = Tape::new();
        let value = loss(model, &tape, i)?;
        let l = value.item()?.as_f64();
        losses.push(l);
        if !l.is_finite() {
            break;
        }
        let grads = value.backward()?;
        let mut flat = Vec::new();
        for p in model.params_mut() {
            if let Some(g) = grads.get(p) {
                flat.extend(g.to_vec().into_iter().map(F::as_f64));
                p.value = p.value.sub(&g.mul_scalar(F::of(lr)))?;
            }
        }
        if let Some(prev) = &previous {
            cosines.push(cosine(prev, &flat));
        }
        previous = Some(flat);
    }
    let end = if losses.iter().all(|l| l.is_finite()) {
        let tape = Tape::new();
        let value = loss(model, &tape, 0)?;
        value.item()?.as_f64()
    } else {
        f64::NAN
    };
    let mean_cosine = if cosines.is_empty() {
        0.0
    } else {
        cosines.iter().sum::<f64>() / cosines.len() as f64
    };
    Ok(RateTrial {
        lr,
        start: losses[0],
        end,
        losses,
        mean_cosine,
        label: RateLabel::Good,
    })
}

/// `aᵀb / (‖a‖‖b‖)`, 0 if either is zero.
fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| x * x).sum::<f64>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}

/// A fall below this fraction of the best trial's (log scale) is slow.
const SLOW_FRACTION: f64 = 0.1;

/// Labels the trials as the [module](self) table says.
fn label(trials: &mut [RateTrial]) {
    for t in trials.iter_mut() {
        t.label = if !(t.end.is_finite() && t.end <= t.start) {
            RateLabel::Diverging
        } else if t.mean_cosine < 0.0 {
            RateLabel::Oscillating
        } else {
            RateLabel::Good
        };
    }
    let best = trials
        .iter()
        .filter(|t| t.label != RateLabel::Diverging)
        .map(RateTrial::log_decrease)
        .fold(0.0, f64::max);
    for t in trials.iter_mut() {
        if t.label == RateLabel::Good && t.log_decrease() < SLOW_FRACTION * best {
            t.label = RateLabel::Slow;
        }
    }
}

impl RangeReport {
    /// The `Good` rate whose loss fell furthest; `None` if no rate was good.
    pub fn suggested(&self) -> Option<f64> {
        self.trials
            .iter()
            .filter(|t| t.label == RateLabel::Good)
            .max_by(|a, b| a.log_decrease().total_cmp(&b.log_decrease()))
            .map(|t| t.lr)
    }

    /// The trials as CSV: `lr,start,end,log_decrease,mean_cosine,label`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("lr,start,end,log_decrease,mean_cosine,label\n");
        for t in &self.trials {
            super::csv_row(
                &mut out,
                &[
                    &t.lr,
                    &t.start,
                    &t.end,
                    &t.log_decrease(),
                    &t.mean_cosine,
                    &t.label.name(),
                ],
            );
        }
        out
    }
}
