//! Per-layer statistics of activations and their gradients — the variance-propagation
//! picture behind Xavier/Glorot and He initialization: with a good initialization the
//! standard deviation of each layer's output stays of the same order forward, and so does
//! that of the gradient of the loss with respect to it backward; a shrinking or growing
//! column of numbers, or a rising fraction of dead ReLUs, shows where a deep net stops
//! learning.

use super::stats::{Histogram, TensorStats};
use crate::error::Result;
use crate::hooks::{Hook, StepInfo};
use descent_autodiff::{Gradients, Tape, Var};
use descent_nn::{Mode, Module};
use descent_tensor::{Float, Tensor};

/// What a row describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// A layer's output.
    Activation,
    /// The gradient of the loss with respect to a layer's output.
    ActivationGrad,
    /// The gradient of the loss with respect to a parameter.
    ParamGrad,
}

impl Quantity {
    /// The name written in the CSV.
    pub fn name(self) -> &'static str {
        match self {
            Quantity::Activation => "activation",
            Quantity::ActivationGrad => "activation_grad",
            Quantity::ParamGrad => "param_grad",
        }
    }
}

/// The statistics of one layer's tensor at one step.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerRow {
    /// The epoch passed to [`LayerMonitor::observe`].
    pub epoch: usize,
    /// The step passed to [`LayerMonitor::observe`].
    pub step: u64,
    /// The layer's name as [`Module::forward_observed`] reports it (`"0"`, `"2.1"`;
    /// `"output"` for a model that reports only its output), or the parameter's name.
    pub layer: String,
    /// What was measured.
    pub quantity: Quantity,
    /// The numbers.
    pub stats: TensorStats,
}

/// A histogram of one layer's tensor at one step.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerHistogram {
    /// The epoch.
    pub epoch: usize,
    /// The step.
    pub step: u64,
    /// The layer's or parameter's name.
    pub layer: String,
    /// What was measured.
    pub quantity: Quantity,
    /// The counts.
    pub histogram: Histogram,
}

/// What one observed step computed, for the loop to use as it would its own backward pass.
pub struct Observation<F: Float> {
    /// The loss.
    pub loss: F,
    /// The gradient of the loss with respect to each parameter of the model.
    pub grads: Gradients<F>,
}

/// Collects [`LayerRow`]s (and, at chosen epochs, [`LayerHistogram`]s) from the steps a
/// loop chooses to observe.
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{activation::Relu, loss, Linear, Mode, Reduction, Sequential};
/// use descent_tensor::Tensor;
/// use descent_train::diagnostics::{LayerMonitor, Quantity};
/// use rand::{rngs::StdRng, SeedableRng};
/// let mut rng = StdRng::seed_from_u64(0);
/// let model = Sequential::new().add(Linear::new(4, 8, &mut rng)?).add(Relu).add(Linear::new(8, 3, &mut rng)?);
/// let x = Tensor::<f32>::randn(&[16, 4], 0.0, 1.0, &mut rng)?;
/// let mut monitor = LayerMonitor::new().with_histograms(10, &[0]);
/// let seen = monitor.observe(0, 0, &model, &x, Mode::Train, |out| {
///     Ok(loss::cross_entropy(out, &[0; 16], Reduction::Mean)?)
/// })?;
/// assert_eq!(seen.grads.len(), 4);                           // ready for an optimizer step
/// let relu = monitor.rows().iter().find(|r| r.layer == "1" && r.quantity == Quantity::Activation);
/// assert!(relu.unwrap().stats.min >= 0.0);
/// assert!(monitor.to_csv().starts_with("epoch,step,layer,quantity,count,mean,std,"));
/// assert_eq!(monitor.histograms().len(), monitor.rows().len());
/// # Ok::<(), descent_train::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct LayerMonitor {
    every: u64,
    bins: usize,
    histogram_epochs: Vec<usize>,
    rows: Vec<LayerRow>,
    histograms: Vec<LayerHistogram>,
}

impl LayerMonitor {
    /// A monitor that keeps statistics and no histograms.
    pub fn new() -> Self {
        Self::default()
    }

    /// As a [`Hook`], observes steps `every, 2·every, …` only (0 counts as 1): each
    /// observation records the gradients on the tape, about three backward passes.
    pub fn every(mut self, steps: u64) -> Self {
        self.every = steps;
        self
    }

    /// Also keeps histograms of `bins` bins at the steps observed during `epochs`.
    pub fn with_histograms(mut self, bins: usize, epochs: &[usize]) -> Self {
        self.bins = bins;
        self.histogram_epochs = epochs.to_vec();
        self
    }

    /// Runs `model` on `x` in `mode` through [`Module::forward_observed`], takes the loss
    /// with `loss`, and records for each reported layer the statistics of its output and of
    /// the loss's gradient with respect to it, and for each parameter those of its gradient.
    /// The gradients are recorded on the tape (PyTorch's `create_graph=True`), which costs
    /// more memory than a plain backward pass: observe some steps, not all. Returns the loss
    /// and the parameters' gradients, so the observed step can also be a training step.
    ///
    /// # Errors
    /// Any error of the forward pass, of `loss` or of differentiating it;
    /// [`crate::Error::InvalidArgument`] for an empty layer output or zero histogram bins.
    pub fn observe<F: Float, M: Module<F> + ?Sized>(
        &mut self,
        epoch: usize,
        step: u64,
        model: &M,
        x: &Tensor<F>,
        mode: Mode,
        loss: impl for<'t> FnOnce(Var<'t, F>) -> Result<Var<'t, F>>,
    ) -> Result<Observation<F>> {
        let tape = Tape::new();
        let mut outputs: Vec<(String, Var<'_, F>)> = Vec::new();
        let out = model.forward_observed(&tape, tape.constant(x.clone()), mode, &mut |n, v| {
            let name = if n.is_empty() { "output" } else { n };
            outputs.push((name.to_string(), v));
        })?;
        let value = loss(out)?;
        let params = model.named_params();
        let wrt: Vec<Var<'_, F>> = outputs
            .iter()
            .map(|(_, v)| *v)
            .chain(params.iter().map(|(_, p)| tape.param(p)))
            .collect();
        let grads = value.grad(&wrt, None)?;
        let (act_grads, param_grads) = grads.split_at(outputs.len());
        let histograms = self.bins > 0 && self.histogram_epochs.contains(&epoch);
        for ((name, v), g) in outputs.iter().zip(act_grads) {
            self.record(
                epoch,
                step,
                name,
                Quantity::Activation,
                &v.value()?,
                histograms,
            )?;
            let g = g.value()?;
            self.record(epoch, step, name, Quantity::ActivationGrad, &g, histograms)?;
        }
        let mut out = Gradients::new();
        for ((name, p), g) in params.iter().zip(param_grads) {
            let g = g.value()?;
            self.record(epoch, step, name, Quantity::ParamGrad, &g, histograms)?;
            out.insert(p.id(), g);
        }
        Ok(Observation {
            loss: value.item()?,
            grads: out,
        })
    }

    fn record<F: Float>(
        &mut self,
        epoch: usize,
        step: u64,
        layer: &str,
        quantity: Quantity,
        t: &Tensor<F>,
        histogram: bool,
    ) -> Result<()> {
        let stats = TensorStats::of(t)?;
        self.rows.push(LayerRow {
            epoch,
            step,
            layer: layer.to_string(),
            quantity,
            stats,
        });
        if histogram && !t.has_non_finite() {
            self.histograms.push(LayerHistogram {
                epoch,
                step,
                layer: layer.to_string(),
                quantity,
                histogram: Histogram::of(t, self.bins)?,
            });
        }
        Ok(())
    }

    /// The statistics recorded so far, in the order observed.
    pub fn rows(&self) -> &[LayerRow] {
        &self.rows
    }

    /// The histograms recorded so far.
    pub fn histograms(&self) -> &[LayerHistogram] {
        &self.histograms
    }

    /// The statistics as CSV:
    /// `epoch,step,layer,quantity,count,mean,std,min,max,zero_fraction,dead_fraction`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from(
            "epoch,step,layer,quantity,count,mean,std,min,max,zero_fraction,dead_fraction\n",
        );
        for r in &self.rows {
            let s = r.stats;
            super::csv_row(
                &mut out,
                &[
                    &r.epoch,
                    &r.step,
                    &r.layer,
                    &r.quantity.name(),
                    &s.count,
                    &s.mean,
                    &s.std,
                    &s.min,
                    &s.max,
                    &s.zero_fraction,
                    &s.dead_fraction,
                ],
            );
        }
        out
    }

    /// The histograms as CSV, one line per bin: `epoch,step,layer,quantity,lo,hi,count`.
    pub fn histograms_csv(&self) -> String {
        let mut out = String::from("epoch,step,layer,quantity,lo,hi,count\n");
        for h in &self.histograms {
            let edges = h.histogram.edges.windows(2);
            for (e, count) in edges.zip(&h.histogram.counts) {
                super::csv_row(
                    &mut out,
                    &[
                        &h.epoch,
                        &h.step,
                        &h.layer,
                        &h.quantity.name(),
                        &e[0],
                        &e[1],
                        &count,
                    ],
                );
            }
        }
        out
    }
}

/// The monitor as a hook on any model: at every `every`-th step, observes the model after
/// the step on the step's batch, with the run's loss, in eval mode (so observing draws no
/// dropout mask and moves no running statistics: the run is the run without it).
///
/// ```
/// use descent_data::{DataLoader, Dataset};
/// use descent_nn::{activation::Relu, Linear, Sequential};
/// use descent_tensor::Tensor;
/// use descent_train::{diagnostics::LayerMonitor, evaluate::Regression, Trainer};
/// use std::{cell::RefCell, rc::Rc};
/// let mut rng = rand::rng();
/// let x = Tensor::<f32>::randn(&[32, 2], 0.0, 1.0, &mut rng)?;
/// let data = Dataset::new(x.clone(), x.sum(&[1], true)?)?;
/// let model = Sequential::new().add(Linear::new(2, 8, &mut rng)?).add(Relu).add(Linear::new(8, 1, &mut rng)?);
/// let layers = Rc::new(RefCell::new(LayerMonitor::new().every(2)));
/// let mut trainer = Trainer::new(model, "adam", DataLoader::new(data, 8)?, Regression)?
///     .print_epochs(false)
///     .hook(layers.clone());
/// trainer.fit()?;                                          // 4 steps: 2 observed
/// let steps: Vec<u64> = layers.borrow().rows().iter().map(|r| r.step).collect();
/// assert!(steps.iter().all(|&s| s == 2 || s == 4) && steps.contains(&4));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<F: Float> Hook<F> for LayerMonitor {
    fn on_step(&mut self, info: &StepInfo<'_, F>) -> Result<()> {
        let step = info.step as u64;
        let Some(batch) = info.batch else {
            return Ok(());
        };
        if !step.is_multiple_of(self.every.max(1)) {
            return Ok(());
        }
        let x = batch.input();
        self.observe(info.epoch, step, info.model, x, Mode::Eval, |out| {
            batch.loss(out)
        })?;
        Ok(())
    }
}
