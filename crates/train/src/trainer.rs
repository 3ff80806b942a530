//! [`Trainer`]: the `fit` loop over the pieces of this crate, for any model, loss and data.
//!
//! Per step: forward in train mode, the [`Task`]'s loss, backward, optional gradient
//! clipping, the optimizer step (given the loss, which iRprop+ needs), the weight average,
//! a per-step schedule, the hooks, a metrics row. Per epoch: evaluation in eval mode (on the
//! averaged weights when averaging), a per-epoch schedule, the best weights kept for early
//! stopping, the hooks, the checkpoint, the metrics rows. A non-finite loss or gradient
//! stops the run with [`Error::Diverged`] before anything is saved for that step.
//!
//! Resuming is exact: the data order and dropout masks are functions of the seed and the
//! epoch ([`epoch_seed`]), the schedule is replayed, and the rest comes from the
//! checkpoint; a run may be resumed to more epochs than it first planned.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use descent_autodiff::{Tape, Var};
use descent_data::{DataLoader, Dataset, Targets};
use descent_nn::{Mode, Module, Reduction};
use descent_optim::first_order::{clip_grad_norm, Averager, Scheduler};
use descent_optim::Optimizer;
use descent_tensor::{Float, Tensor};

use crate::checkpoint::{Best, Checkpointer, Parts, PartsMut, Progress, Settings};
use crate::diagnostics::{RangeReport, RangeTest, RunningLoss};
use crate::divergence::DivergenceGuard;
use crate::early_stopping::{EarlyStopping, Verdict};
use crate::evaluate::{evaluate, with_average, Task};
use crate::hooks::{Batch, EpochInfo, Hook, StepInfo};
use crate::metrics::{EpochRecord, MetricsLogger};
use crate::plot::{self, Curves};
use crate::progress::{self, ProgressMode};
use crate::{Error, Result};

/// An optimizer given by spec (`"adam:lr=1e-3"`, which divergence messages can rewrite
/// with a smaller rate) or as a value.
pub enum OptimizerChoice<F: Float> {
    /// A spec for [`descent_optim::build`].
    Spec(String),
    /// A ready optimizer.
    Value(Box<dyn Optimizer<F>>),
}

impl<F: Float> From<&str> for OptimizerChoice<F> {
    fn from(spec: &str) -> Self {
        OptimizerChoice::Spec(spec.to_string())
    }
}

impl<F: Float> From<String> for OptimizerChoice<F> {
    fn from(spec: String) -> Self {
        OptimizerChoice::Spec(spec)
    }
}

impl<F: Float> From<Box<dyn Optimizer<F>>> for OptimizerChoice<F> {
    fn from(opt: Box<dyn Optimizer<F>>) -> Self {
        OptimizerChoice::Value(opt)
    }
}

/// Whether the schedule's `t` counts epochs or optimizer steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SchedulePer {
    /// One schedule step per epoch, given the epoch's evaluation loss (plateau uses it).
    #[default]
    Epoch,
    /// One schedule step per optimizer step.
    Step,
}

/// The smoothing of the running loss in the per-step metrics (fastai's default).
const RUNNING_LOSS_BETA: f64 = 0.98;

/// The seed of epoch `epoch`'s random draws (dropout masks) in a run seeded with `seed`:
/// a function of the two only, so a resumed run draws the same masks.
pub fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// What [`Trainer::fit`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Epochs finished over the whole run (including those before a resume).
    pub epochs_done: usize,
    /// Seconds spent training in this call (not evaluating).
    pub train_seconds: f64,
    /// Samples trained on in this call.
    pub trained_samples: usize,
    /// When early stopping ended the run: the best epoch, whose weights were restored.
    pub stopped_early: Option<usize>,
}

type BeforeEpoch<M> = Box<dyn FnMut(&mut M, u64) -> Result<()>>;

/// A `fit`-style driver: model, optimizer, optional schedule and averager, training and
/// evaluation data, a [`Task`] for the loss; checkpoints, metrics, early stopping, hooks
/// and progress are opt-in. The model stays the caller's: [`Trainer::model`] borrows it,
/// [`Trainer::into_model`] gives it back.
///
/// ```
/// use descent_data::{DataLoader, Dataset};
/// use descent_nn::Linear;
/// use descent_tensor::Tensor;
/// use descent_train::{evaluate::Regression, progress::ProgressMode, Trainer};
/// // y = 2x on 32 points.
/// let x = Tensor::<f64>::from_vec((0..32).map(|i| i as f64 / 32.0).collect(), &[32, 1])?;
/// let y = x.mul_scalar(2.0);
/// let data = Dataset::new(x, y)?;
/// let model = Linear::<f64>::new(1, 1, &mut rand::rng())?;
/// let mut trainer = Trainer::new(model, "sgd:lr=0.5", DataLoader::new(data, 8)?, Regression)?
///     .epochs(40)
///     .progress(ProgressMode::Quiet);
/// trainer.fit()?;
/// let w = trainer.model().weight.value.to_vec()[0];
/// assert!((w - 2.0).abs() < 0.05, "{w}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Trainer<F: Float, M, Y, T> {
    model: M,
    optimizer: Box<dyn Optimizer<F>>,
    optimizer_spec: Option<String>,
    schedule: Option<(Scheduler, String, SchedulePer)>,
    averager: Option<Averager<F>>,
    train: DataLoader<F, Y>,
    eval: Option<(String, Dataset<F, Y>)>,
    task: T,
    epochs: usize,
    seed: u64,
    clip_norm: Option<f64>,
    early_stopping: Option<EarlyStopping>,
    checkpointer: Option<Checkpointer>,
    metrics: Option<(PathBuf, usize)>,
    progress_mode: ProgressMode,
    print_epochs: bool,
    hooks: Vec<Box<dyn Hook<F>>>,
    before_epoch: Option<BeforeEpoch<M>>,
    settings: Settings,
    state: Progress<F>,
    resumed: bool,
    eval_batch: Option<usize>,
}

impl<F, M, Y, T> Trainer<F, M, Y, T>
where
    F: Float,
    M: Module<F>,
    Y: Targets<F>,
    T: Task<F, Y>,
{
    /// A trainer of `model` with `optimizer` on the batches of `train`, minimizing `task`'s
    /// loss; 1 epoch, seed 0, no evaluation until [`Trainer::validation`].
    ///
    /// # Errors
    /// The optimizer spec's errors.
    pub fn new(
        model: M,
        optimizer: impl Into<OptimizerChoice<F>>,
        train: DataLoader<F, Y>,
        task: T,
    ) -> Result<Self> {
        let (optimizer, optimizer_spec) = match optimizer.into() {
            OptimizerChoice::Spec(spec) => (descent_optim::build::<F>(&spec)?, Some(spec)),
            OptimizerChoice::Value(opt) => (opt, None),
        };
        Ok(Trainer {
            model,
            optimizer,
            optimizer_spec,
            schedule: None,
            averager: None,
            train,
            eval: None,
            task,
            epochs: 1,
            seed: 0,
            clip_norm: None,
            early_stopping: None,
            checkpointer: None,
            metrics: None,
            progress_mode: ProgressMode::Auto,
            print_epochs: true,
            hooks: Vec::new(),
            before_epoch: None,
            settings: Settings::new(),
            state: Progress::default(),
            resumed: false,
            eval_batch: None,
        })
    }

    /// Trains until epoch `epochs` (counted over the whole run, resumes included).
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// The run's seed, given to [`Trainer::before_epoch`] through [`epoch_seed`] and kept in
    /// checkpoints (the loader's shuffle takes its own seed).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// A learning-rate schedule from `spec` (schedules separated by `;`), stepping per
    /// epoch or per optimizer step. Its base rates are the optimizer's now.
    ///
    /// # Errors
    /// The spec's errors; [`Error::Setting`] for a plateau schedule stepping per step (it
    /// watches each epoch's evaluation loss).
    pub fn schedule(mut self, spec: &str, per: SchedulePer) -> Result<Self> {
        let plateau = spec.split(';').any(|p| p.trim().starts_with("plateau"));
        if per == SchedulePer::Step && plateau {
            return Err(Error::Setting {
                name: "schedule".into(),
                why: "plateau watches the evaluation loss of each epoch: step it per epoch".into(),
            });
        }
        let s = Scheduler::new(spec, self.optimizer.as_mut())?;
        self.schedule = Some((s, spec.to_string(), per));
        Ok(self)
    }

    /// Averages the weights (`ema:decay=0.999`, `polynomial:gamma=3`, ...) and evaluates,
    /// keeps as best, and finally hands back the averages.
    ///
    /// # Errors
    /// The spec's errors.
    pub fn average(mut self, spec: &str) -> Result<Self> {
        self.averager = Some(Averager::parse(spec)?);
        Ok(self)
    }

    /// Evaluates on `data` after every epoch, reported under `name` (`"val"`, `"test"`).
    pub fn validation(mut self, name: &str, data: Dataset<F, Y>) -> Self {
        self.eval = Some((name.to_string(), data));
        self
    }

    /// Clips the gradients' global 2-norm to `max_norm` before each step.
    pub fn clip_grad_norm(mut self, max_norm: f64) -> Self {
        self.clip_norm = Some(max_norm);
        self
    }

    /// Stops when the evaluation loss has not improved for `patience` epochs and restores
    /// the best epoch's weights.
    ///
    /// # Errors
    /// [`Error::Setting`] for a patience of 0.
    pub fn early_stopping(mut self, patience: usize) -> Result<Self> {
        self.early_stopping = Some(EarlyStopping::new(patience)?);
        Ok(self)
    }

    /// Writes a checkpoint to `path` after every epoch.
    pub fn checkpoint(mut self, path: impl Into<PathBuf>) -> Self {
        self.checkpointer = Some(Checkpointer::new(path));
        self
    }

    /// Writes metrics to `path` (CSV, or JSON lines for `.jsonl`): a row per epoch and one
    /// every `every` steps.
    pub fn metrics(mut self, path: impl Into<PathBuf>, every: usize) -> Self {
        self.metrics = Some((path.into(), every.max(1)));
        self
    }

    /// How progress is shown (bars on a terminal by default).
    pub fn progress(mut self, mode: ProgressMode) -> Self {
        self.progress_mode = mode;
        self
    }

    /// Whether each epoch's line goes to stdout (default: yes, unless quiet).
    pub fn print_epochs(mut self, print: bool) -> Self {
        self.print_epochs = print;
        self
    }

    /// Adds a hook, called per step and per epoch.
    pub fn hook(mut self, hook: impl Hook<F> + 'static) -> Self {
        self.hooks.push(Box::new(hook));
        self
    }

    /// Runs `f(model, epoch_seed)` before each epoch, after the trainer has reseeded the
    /// model's dropout layers with [`Module::reseed_dropout`] (so a resumed run draws the
    /// same masks): where other per-epoch state of the caller's is set.
    pub fn before_epoch(mut self, f: impl FnMut(&mut M, u64) -> Result<()> + 'static) -> Self {
        self.before_epoch = Some(Box::new(f));
        self
    }

    /// Settings of the caller's own (model shape, data preparation) that a checkpoint must
    /// match, besides those the trainer records itself ([`Trainer::run_settings`]).
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The batch size of evaluation. The default is the training batch size, so evaluating
    /// never holds more activations than a training step does.
    pub fn eval_batch_size(mut self, n: usize) -> Self {
        self.eval_batch = Some(n.max(1));
        self
    }

    /// The batch size evaluation runs at ([`Trainer::eval_batch_size`]).
    pub fn eval_batch(&self) -> usize {
        self.eval_batch.unwrap_or_else(|| self.train.batch_size())
    }

    /// The settings a checkpoint of this run records and a resume must match: the
    /// caller's, then the optimizer, schedule, averaging, batch size, seed, early stopping
    /// and clipping.
    pub fn run_settings(&self) -> Settings {
        let mut s = self.settings.clone();
        let opt = self
            .optimizer_spec
            .clone()
            .unwrap_or_else(|| self.optimizer.name().to_string());
        s.set("optimizer", opt);
        match &self.schedule {
            Some((_, spec, per)) => {
                s.set("schedule", spec);
                let per = if *per == SchedulePer::Step {
                    "step"
                } else {
                    "epoch"
                };
                s.set("schedule per", per);
            }
            None => s.set("schedule", "none"),
        }
        let avg = self.averager.as_ref().map_or("none".into(), Averager::spec);
        s.set("weight averaging", avg);
        s.set("batch size", self.train.batch_size());
        s.set("seed", self.seed);
        if let Some(e) = &self.early_stopping {
            s.set("early-stopping patience", e.patience());
        }
        if let Some(c) = self.clip_norm {
            s.set("gradient clipping norm", c);
        }
        s
    }

    /// Continues the run saved at `path`: restores the model, optimizer, averages and
    /// progress, and replays the schedule. Call after configuring, before [`Trainer::fit`].
    ///
    /// # Errors
    /// [`Checkpointer::load`]'s, naming any mismatch; nothing changes then.
    pub fn resume(&mut self, path: impl Into<PathBuf>) -> Result<&Progress<F>> {
        let ckpt = Checkpointer::new(path);
        let settings = self.run_settings();
        let progress = ckpt.load(PartsMut {
            model: &mut self.model,
            optimizer: self.optimizer.as_mut(),
            averager: self.averager.as_mut(),
            settings: &settings,
        })?;
        if let Some((s, _, _)) = self.schedule.as_mut() {
            if progress.schedule_metrics.is_empty() {
                for _ in 0..progress.schedule_steps {
                    s.step(self.optimizer.as_mut())?;
                }
            } else {
                for &m in &progress.schedule_metrics {
                    s.step_with_metric(self.optimizer.as_mut(), m)?;
                }
            }
        }
        if let Some(rule) = self.early_stopping.as_mut() {
            for r in &progress.history {
                if let Some(l) = r.eval_loss {
                    rule.observe(r.epoch, l);
                }
            }
        }
        self.state = progress;
        self.resumed = true;
        Ok(&self.state)
    }

    /// The model (its own weights: not the averages).
    pub fn model(&self) -> &M {
        &self.model
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &dyn Optimizer<F> {
        self.optimizer.as_ref()
    }

    /// Where the run is: epochs done, their records, per-step losses.
    pub fn state(&self) -> &Progress<F> {
        &self.state
    }

    /// Puts the weights that were evaluated into the model: the averages, if averaging
    /// (early stopping's restored best weights already are). Call once training is over,
    /// before saving or testing; calling it again changes nothing.
    ///
    /// # Errors
    /// The averager's.
    pub fn use_evaluated_weights(&mut self) -> Result<()> {
        if let Some(a) = self.averager.as_mut() {
            if !a.is_swapped() {
                a.swap(&mut self.model.params_mut())?;
            }
        }
        Ok(())
    }

    /// The model, with the weights that were evaluated ([`Trainer::use_evaluated_weights`]).
    ///
    /// # Errors
    /// The averager's.
    pub fn into_model(mut self) -> Result<M> {
        self.use_evaluated_weights()?;
        Ok(self.model)
    }

    /// The label of the evaluation: its name, and the averaging when it ran on averages.
    pub fn eval_label(&self) -> String {
        let name = self.eval.as_ref().map_or("eval", |(n, _)| n.as_str());
        match &self.averager {
            Some(a) => format!("{name} ({} average)", a.spec()),
            None => name.to_string(),
        }
    }

    /// Runs the learning-rate range test on the model: trial `i` of each rate trains on
    /// batch `i` of the first epoch's order (the batches repeat if the epoch has fewer) with
    /// the task's loss. The weights and buffers are restored afterwards, and the trainer
    /// reseeds dropout every epoch, so a run after the test is the run without it.
    ///
    /// ```
    /// use descent_data::{DataLoader, Dataset};
    /// use descent_nn::Linear;
    /// use descent_tensor::Tensor;
    /// use descent_train::diagnostics::{RangeTest, RateLabel};
    /// use descent_train::{evaluate::Regression, Trainer};
    /// let x = Tensor::<f64>::from_vec((0..32).map(|i| i as f64 / 32.0).collect(), &[32, 1])?;
    /// let data = Dataset::new(x.clone(), x.mul_scalar(2.0))?;
    /// let model = Linear::<f64>::new(1, 1, &mut rand::rng())?;
    /// let mut trainer = Trainer::new(model, "sgd:lr=0.1", DataLoader::new(data, 8)?, Regression)?;
    /// let report = trainer.range_test(&RangeTest::default())?;
    /// assert_eq!(report.trials.last().unwrap().label, RateLabel::Diverging);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`RangeTest::run`]'s; [`Error::Setting`] for a training set with no batch.
    pub fn range_test(&mut self, test: &RangeTest) -> Result<RangeReport> {
        let batches: Vec<(Tensor<F>, Y)> = self.train.epoch(0).take(test.steps).collect();
        if batches.is_empty() {
            return Err(Error::Setting {
                name: "range test".into(),
                why: "the training set has no batch".into(),
            });
        }
        let task = &self.task;
        test.run(&mut self.model, |m: &M, tape: &Tape<F>, i| {
            let (x, y) = &batches[i % batches.len()];
            let out = m.forward(tape, tape.constant(x.clone()), Mode::Train)?;
            task.loss(out, y, Reduction::Mean)
        })
    }

    /// Draws the learning curves so far into `path` (`.svg` or `.png`) under `title`.
    ///
    /// # Errors
    /// [`plot::draw`]'s.
    pub fn plot(&self, path: &std::path::Path, title: &str) -> Result<()> {
        let settings = self.run_settings();
        let best = match &self.state.best {
            Some(b) => Some(b.epoch),
            None if self.eval.is_some() => self
                .state
                .history
                .iter()
                .filter_map(|r| Some((r.epoch, r.eval_loss?)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map(|(e, _)| e),
            None => None,
        };
        let averaged = self.state.history.iter().any(|r| r.averaged);
        let spec = self.averager.as_ref().map(Averager::spec);
        plot::draw(
            path,
            &Curves {
                title,
                history: &self.state.history,
                step_losses: &self.state.step_losses,
                eval_name: self.eval.as_ref().map_or("eval", |(n, _)| n.as_str()),
                averaged: if averaged {
                    spec.as_deref().or(Some("weight"))
                } else {
                    None
                },
                best_epoch: best,
                stopped_early: self.state.stopped_early.then_some(self.state.epochs_done),
                settings: &settings,
            },
        )
    }

    /// Trains from where the run is to epoch [`Trainer::epochs`], or until early stopping.
    ///
    /// # Errors
    /// [`Error::Diverged`] when the loss or a gradient is not finite (the last checkpoint
    /// is the previous epoch's); the model's, task's, optimizer's and files' errors.
    pub fn fit(&mut self) -> Result<Summary> {
        let settings = self.run_settings();
        let guard = DivergenceGuard::new(self.optimizer_spec.clone());
        let mut metrics = match &self.metrics {
            Some((p, _)) if self.resumed => Some(MetricsLogger::resume(p, self.state.epochs_done)?),
            Some((p, _)) => Some(MetricsLogger::create(p)?),
            None => None,
        };
        let every = self.metrics.as_ref().map_or(1, |m| m.1);
        let mut bar = progress::ProgressReporter::new(self.progress_mode);
        let print = self.print_epochs && bar.mode() != ProgressMode::Quiet;
        // A handle on the data (tensors share storage), so steps can borrow the trainer.
        let train = self.train.clone();
        let batches = train.num_batches();
        let eval_label = self.eval_label();
        self.state.seed = self.seed;
        let (mut train_seconds, mut trained_samples) = (0.0, 0usize);
        let mut stopped_early = None;
        // The running loss of the per-step metrics, replayed over the steps before a resume.
        let mut running = RunningLoss::new(RUNNING_LOSS_BETA)?;
        for &l in &self.state.step_losses {
            running.update(l);
        }
        if self.state.stopped_early {
            return Ok(Summary {
                epochs_done: self.state.epochs_done,
                train_seconds,
                trained_samples,
                stopped_early: self.state.best.as_ref().map(|b| b.epoch),
            });
        }
        for epoch in self.state.epochs_done + 1..=self.epochs {
            let seed = epoch_seed(self.seed, epoch);
            self.model.reseed_dropout(seed);
            if let Some(f) = self.before_epoch.as_mut() {
                f(&mut self.model, seed)?;
            }
            bar.start_epoch(epoch, self.epochs, batches);
            let start = Instant::now();
            let (mut loss_sum, mut correct, mut seen) = (0.0f64, Some(0usize), 0usize);
            for (i, (x, y)) in train.epoch(epoch as u64 - 1).enumerate() {
                let step = i + 1;
                let lr = self.optimizer.lr(0).unwrap_or(f64::NAN);
                let result = self.train_step(x, &y, epoch, step, lr, &guard);
                let (loss, c) = match result {
                    Ok(r) => r,
                    Err(e) => {
                        bar.abandon();
                        return Err(e);
                    }
                };
                correct = correct.zip(c).map(|(a, b)| a + b);
                let n = y.count();
                loss_sum += loss * n as f64;
                seen += n;
                self.state.steps_done += 1;
                self.state.step_losses.push(loss);
                let global = self.state.steps_done;
                let smoothed = running.update(loss);
                if let Some(m) = metrics.as_mut() {
                    if global.is_multiple_of(every) {
                        m.step(epoch, global, loss, smoothed, lr);
                    }
                }
                bar.step(step, loss_sum / seen as f64, seen);
            }
            let seconds = start.elapsed().as_secs_f64();
            bar.finish_epoch();
            train_seconds += seconds;
            trained_samples += seen;
            let lr = self.optimizer.lr(0).unwrap_or(f64::NAN);
            let keep = self.early_stopping.is_some();
            let (report, snapshot) = match &self.eval {
                Some((_, data)) => {
                    let (task, batch) = (&self.task, self.eval_batch());
                    let (r, snap) = with_average(&mut self.model, self.averager.as_mut(), |m| {
                        let r = evaluate(m, data, task, batch, None)?;
                        Ok((r, keep.then(|| m.state_dict())))
                    })?;
                    (Some(r), snap)
                }
                None => (None, None),
            };
            let record = EpochRecord {
                epoch,
                step: self.state.steps_done,
                train_loss: loss_sum / seen.max(1) as f64,
                train_acc: correct.map(|c| c as f64 / seen.max(1) as f64),
                eval_loss: report.map(|r| r.loss),
                eval_acc: report.and_then(|r| r.accuracy),
                averaged: report.is_some() && self.averager.is_some(),
                lr,
                seconds,
            };
            if print {
                print_epoch(&record, &eval_label, seen)?;
            }
            self.state.history.push(record);
            self.state.epochs_done = epoch;
            if let Some((s, _, SchedulePer::Epoch)) = self.schedule.as_mut() {
                let metric = record.eval_loss.unwrap_or(record.train_loss);
                s.step_with_metric(self.optimizer.as_mut(), metric)?;
                self.state.schedule_metrics.push(metric);
                self.state.schedule_steps += 1;
            }
            let verdict = match (self.early_stopping.as_mut(), record.eval_loss) {
                (Some(rule), Some(l)) => Some(rule.observe(epoch, l)),
                _ => None,
            };
            if verdict == Some(Verdict::Improved) {
                if let Some(state) = snapshot {
                    self.state.best = Some(Best { epoch, state });
                }
            }
            if let Some(Verdict::Stop { best_epoch }) = verdict {
                self.state.stopped_early = true;
                stopped_early = Some(best_epoch);
            }
            for h in &mut self.hooks {
                h.on_epoch(&EpochInfo {
                    model: &self.model,
                    epoch,
                    step: self.state.steps_done,
                    train_loss: record.train_loss,
                    eval_loss: record.eval_loss,
                    lr,
                })?;
            }
            if let Some(c) = &self.checkpointer {
                c.save(&Parts {
                    model: &self.model,
                    optimizer: self.optimizer.as_ref(),
                    averager: self.averager.as_ref(),
                    settings: &settings,
                    progress: &self.state,
                })?;
            }
            // The epoch's rows go out after its checkpoint: the file never runs ahead of it.
            if let Some(m) = metrics.as_mut() {
                m.epoch(&record)?;
            }
            if stopped_early.is_some() {
                break;
            }
        }
        if let Some(best_epoch) = stopped_early {
            if let Some(best) = self.state.best.take() {
                // The best weights are the evaluated ones (averaged, if averaging).
                descent_nn::load_state_dict(&mut self.model, &best.state)?;
                self.averager = None;
                self.state.best = Some(best);
            }
            if print {
                eprintln!(
                    "early stopping: the {eval_label} loss has not improved for {} epochs; \
                     restored the weights of epoch {best_epoch}",
                    self.early_stopping
                        .as_ref()
                        .map_or(0, EarlyStopping::patience)
                );
            }
        }
        Ok(Summary {
            epochs_done: self.state.epochs_done,
            train_seconds,
            trained_samples,
            stopped_early,
        })
    }

    /// One optimizer step on a batch: its loss and, if the task counts, its correct rows.
    fn train_step(
        &mut self,
        x: Tensor<F>,
        y: &Y,
        epoch: usize,
        step: usize,
        lr: f64,
        guard: &DivergenceGuard,
    ) -> Result<(f64, Option<usize>)> {
        // The tape (and the parameter values it holds) is gone before the optimizer runs,
        // so parameters are updated in place rather than copied on write.
        let (loss, correct, mut grads) = {
            let tape = Tape::new();
            let out = self
                .model
                .forward(&tape, tape.constant(x.clone()), Mode::Train)?;
            let loss = self.task.loss(out, y, Reduction::Mean)?;
            let value = loss.item()?.as_f64();
            guard.check_loss(value, epoch, step, lr)?;
            let correct = self.task.correct(&out.value()?, y, 1)?;
            (value, correct, loss.backward()?)
        };
        if let Some(max_norm) = self.clip_norm {
            clip_grad_norm(&mut grads, max_norm, 2.0)?;
        }
        // The loss too: iRprop+ backtracks only when it went up; other rules ignore it.
        let stepped = self
            .optimizer
            .step_with_loss(&mut self.model.params_mut(), &grads, loss);
        guard.check_step(stepped, &self.model, epoch, step, lr)?;
        if let Some(a) = self.averager.as_mut() {
            a.update(&self.model.params())?;
        }
        if let Some((s, _, SchedulePer::Step)) = self.schedule.as_mut() {
            s.step(self.optimizer.as_mut())?;
            self.state.schedule_steps += 1;
        }
        let batch = TaskBatch {
            x: &x,
            y,
            task: &self.task,
        };
        for h in &mut self.hooks {
            h.on_step(&StepInfo {
                model: &self.model,
                epoch,
                step: self.state.steps_done + 1,
                loss,
                lr,
                grads: Some(&grads),
                batch: Some(&batch),
            })?;
        }
        Ok((loss, correct))
    }
}

/// `epoch   3  train loss 0.1234 acc 96.50%  val loss 0.1500 acc 95.80%  2.1s (28571 samples/s)`.
fn print_epoch(r: &EpochRecord, eval_label: &str, seen: usize) -> Result<()> {
    let mut line = format!("epoch {:>3}  train loss {:.4}", r.epoch, r.train_loss);
    if let Some(a) = r.train_acc {
        line += &format!(" acc {:.2}%", 100.0 * a);
    }
    if let Some(l) = r.eval_loss {
        line += &format!("  {eval_label} loss {l:.4}");
    }
    if let Some(a) = r.eval_acc {
        line += &format!(" acc {:.2}%", 100.0 * a);
    }
    line += &format!(
        "  {:.1}s ({:.0} samples/s)",
        r.seconds,
        seen as f64 / r.seconds.max(1e-9)
    );
    writeln!(std::io::stdout().lock(), "{line}")
        .map_err(|e| Error::os(std::path::Path::new("stdout"), e))
}

/// A training batch with the run's task, as the hooks see it.
struct TaskBatch<'a, F: Float, Y, T> {
    x: &'a Tensor<F>,
    y: &'a Y,
    task: &'a T,
}

impl<F: Float, Y, T: Task<F, Y>> Batch<F> for TaskBatch<'_, F, Y, T> {
    fn input(&self) -> &Tensor<F> {
        self.x
    }

    fn loss<'t>(&self, output: Var<'t, F>) -> Result<Var<'t, F>> {
        self.task.loss(output, self.y, Reduction::Mean)
    }
}
