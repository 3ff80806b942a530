//! Batch normalization over the feature axis (Ioffe & Szegedy, 2015), with PyTorch's
//! conventions for the running statistics.

use crate::error::{Error, Result};
use crate::module::{Mode, Module};
use descent_autodiff::{Param, Tape, Var};
use descent_tensor::{Float, Tensor};
use std::cell::{Cell, RefCell};

/// `y = (x − μ)/√(σ² + ε)·γ + β` per feature, for `x: [N, C]` or `[N, C, L]`.
///
/// In [`Mode::Train`], `μ` and `σ²` are the batch's mean and *biased* variance, and the
/// running estimates move towards the batch's mean and *unbiased* variance:
/// `running ← (1 − momentum)·running + momentum·batch` (PyTorch's convention, momentum 0.1;
/// with `momentum: None`, the plain average of every batch so far, as PyTorch's
/// `momentum=None`).
/// In [`Mode::Eval`] the running estimates normalize. Parameters `weight` (γ) and `bias`
/// (β), buffers `running_mean`, `running_var` and `num_batches_tracked`, as in PyTorch.
/// [`BatchNorm1d::without_running_stats`] (PyTorch's `track_running_stats=False`) keeps no
/// estimates and normalizes with the batch's statistics in both modes.
///
/// The running statistics sit in a `RefCell`, so `forward` takes `&self` like every other
/// layer (see [`Module`]); a BatchNorm is therefore not `Sync`.
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{BatchNorm1d, Mode, Module};
/// use descent_tensor::Tensor;
/// let bn = BatchNorm1d::<f64>::new(2)?;
/// let tape = Tape::new();
/// let x = Tensor::from_vec(vec![1.0, 10.0, 3.0, 30.0], &[2, 2])?;
/// let y = bn.forward(&tape, tape.constant(x), Mode::Train)?.value()?;
/// assert!(y.allclose(&Tensor::from_vec(vec![-1.0, -1.0, 1.0, 1.0], &[2, 2])?, 1e-4, 0.0));
/// // running_mean = 0.9·0 + 0.1·[2, 20]
/// assert_eq!(bn.running_mean().to_vec(), vec![0.2, 2.0]);
/// # Ok::<(), descent_nn::Error>(())
/// ```
#[derive(Debug)]
pub struct BatchNorm1d<F: Float> {
    /// γ, `[C]`, initialized to 1; none if not affine.
    pub weight: Option<Param<F>>,
    /// β, `[C]`, initialized to 0; none if not affine.
    pub bias: Option<Param<F>>,
    /// The weight of the newest batch in the running estimates (PyTorch's default 0.1);
    /// `None` weighs every batch equally (a cumulative average, weight `1/batches`).
    pub momentum: Option<f64>,
    /// Added to the variance before the square root (default 1e-5).
    pub eps: f64,
    running_mean: RefCell<Tensor<F>>,
    running_var: RefCell<Tensor<F>>,
    num_batches_tracked: Cell<u64>,
    track_running_stats: bool,
}

impl<F: Float> BatchNorm1d<F> {
    /// Normalization of `features` channels, affine, momentum 0.1, eps 1e-5; running mean 0
    /// and variance 1.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `features` is 0.
    pub fn new(features: usize) -> Result<Self> {
        if features == 0 {
            return Err(Error::InvalidArgument {
                op: "BatchNorm1d",
                arg: "num_features",
                value: "0".into(),
                why: "must be at least 1",
            });
        }
        Ok(BatchNorm1d {
            weight: Some(Param::new(Tensor::ones(&[features]))),
            bias: Some(Param::new(Tensor::zeros(&[features]))),
            momentum: Some(0.1),
            eps: 1e-5,
            running_mean: RefCell::new(Tensor::zeros(&[features])),
            running_var: RefCell::new(Tensor::ones(&[features])),
            num_batches_tracked: Cell::new(0),
            track_running_stats: true,
        })
    }

    /// The same layer without γ and β (PyTorch's `affine=False`).
    pub fn without_affine(mut self) -> Self {
        self.weight = None;
        self.bias = None;
        self
    }

    /// The same layer without running statistics (PyTorch's `track_running_stats=False`):
    /// the batch's mean and variance normalize in [`Mode::Eval`] too, and there are no
    /// buffers to save.
    ///
    /// ```
    /// use descent_autodiff::Tape;
    /// use descent_nn::{BatchNorm1d, Mode, Module};
    /// use descent_tensor::Tensor;
    /// let bn = BatchNorm1d::<f64>::new(1)?.without_running_stats();
    /// let tape = Tape::new();
    /// let x = tape.constant(Tensor::from_vec(vec![1.0, 3.0], &[2, 1])?);
    /// let y = bn.forward(&tape, x, Mode::Eval)?.value()?;
    /// assert!(y.allclose(&Tensor::from_vec(vec![-1.0, 1.0], &[2, 1])?, 1e-4, 0.0));
    /// assert!(bn.named_buffers().is_empty());
    /// # Ok::<(), descent_nn::Error>(())
    /// ```
    pub fn without_running_stats(mut self) -> Self {
        self.track_running_stats = false;
        self
    }

    /// Whether the layer keeps running statistics (see [`BatchNorm1d::without_running_stats`]).
    pub fn tracks_running_stats(&self) -> bool {
        self.track_running_stats
    }

    /// The number of features `C`.
    pub fn num_features(&self) -> usize {
        self.running_mean.borrow().numel()
    }

    /// The running mean (a cheap copy: storage is shared); stays at 0 without running
    /// statistics.
    pub fn running_mean(&self) -> Tensor<F> {
        self.running_mean.borrow().clone()
    }

    /// The running (unbiased) variance.
    pub fn running_var(&self) -> Tensor<F> {
        self.running_var.borrow().clone()
    }

    /// How many training batches updated the running statistics.
    pub fn num_batches_tracked(&self) -> u64 {
        self.num_batches_tracked.get()
    }

    /// The name used in errors, with the sizes.
    fn describe(&self) -> String {
        format!("BatchNorm1d(num_features={})", self.num_features())
    }

    /// `running ← (1 − m)·running + m·batch`.
    fn update(running: &RefCell<Tensor<F>>, batch: &Tensor<F>, m: F) -> Result<()> {
        let mut r = running.borrow_mut();
        let next = r
            .mul_scalar(F::one() - m)
            .add(&batch.reshape(&[-1])?.mul_scalar(m))?;
        *r = next;
        Ok(())
    }
}

impl<F: Float> Module<F> for BatchNorm1d<F> {
    fn forward<'t>(&self, tape: &'t Tape<F>, x: Var<'t, F>, mode: Mode) -> Result<Var<'t, F>> {
        let shape = x.shape();
        let c = self.num_features();
        if !(shape.len() == 2 || shape.len() == 3) || shape[1] != c {
            return Err(Error::InputShape {
                layer: self.describe(),
                expected: format!("[N, {c}] or [N, {c}, L]"),
                got: shape,
            });
        }
        // Statistics over every axis but the feature axis; per-feature tensors broadcast as
        // [1, C] or [1, C, 1].
        let dims: &[isize] = if shape.len() == 2 { &[0] } else { &[0, 2] };
        let kept: Vec<isize> = if shape.len() == 2 {
            vec![1, c as isize]
        } else {
            vec![1, c as isize, 1]
        };
        let batch_stats = mode == Mode::Train || !self.track_running_stats;
        let (mean, var) = if batch_stats {
            let n = shape.iter().product::<usize>() / c;
            if n < 2 {
                return Err(Error::InputShape {
                    layer: self.describe(),
                    expected: "more than 1 value per feature for batch statistics".into(),
                    got: shape,
                });
            }
            let mean = x.mean(dims, true)?;
            let var = x.var(dims, 0, true)?;
            if mode == Mode::Train && self.track_running_stats {
                let unbiased = var.value()?.mul_scalar(F::of_usize(n) / F::of_usize(n - 1));
                let batches = self.num_batches_tracked.get() + 1;
                self.num_batches_tracked.set(batches);
                let m = F::of(self.momentum.unwrap_or(1.0 / batches as f64));
                Self::update(&self.running_mean, &mean.value()?, m)?;
                Self::update(&self.running_var, &unbiased, m)?;
            }
            (mean, var)
        } else {
            (
                tape.constant(self.running_mean.borrow().reshape(&kept)?),
                tape.constant(self.running_var.borrow().reshape(&kept)?),
            )
        };
        let mut y = x.sub(mean)?.div(var.add_scalar(F::of(self.eps))?.sqrt()?)?;
        if let Some(w) = &self.weight {
            y = y.mul(tape.param(w).reshape(&kept)?)?;
        }
        if let Some(b) = &self.bias {
            y = y.add(tape.param(b).reshape(&kept)?)?;
        }
        Ok(y)
    }

    crate::params!(F; weight, bias);
    crate::buffers!(F; running_mean, running_var, num_batches_tracked; if track_running_stats);
}
