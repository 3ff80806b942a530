//! Gradient noise: how far a mini-batch gradient strays from the full one, against the
//! batch size. For a batch of `b` samples drawn without replacement from `n`, the expected
//! squared distance is `E‖g_b − G‖² = tr(Σ)/b · (n − b)/(n − 1)`, where `Σ` is the
//! covariance of the per-sample gradients: variance times batch size is constant, which
//! is why doubling the batch is worth at most one halving of the noise. The ratio
//! `tr(Σ)/‖G‖²` is the "simple noise scale" (McCandlish et al., 2018), the batch size
//! past which larger batches stop paying for themselves.

use crate::error::{Error, Result};
use crate::evaluate::Task;
use crate::hooks::{EpochInfo, Hook};
use descent_autodiff::{Gradients, ParamId, Tape};
use descent_data::{Dataset, Targets};
use descent_nn::{Mode, Reduction};
use descent_tensor::Float;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::BTreeMap;

/// The spread of the mini-batch gradient at one batch size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NoiseRow {
    /// The batch size `b`.
    pub batch_size: usize,
    /// The number of batches drawn.
    pub draws: usize,
    /// The number of samples `n` the batches were drawn from.
    pub samples: usize,
    /// `E‖g_b − E g_b‖²`, estimated over the draws with Bessel's correction.
    pub variance: f64,
    /// `‖mean of the draws‖²`.
    pub mean_sq: f64,
    /// `tr(Σ)`, the per-sample gradient variance: `variance · b · (n − 1)/(n − b)`, the
    /// finite-population correction undone.
    pub trace: f64,
}

impl NoiseRow {
    /// `variance · b`: constant in `b` up to the finite-population factor `(n − b)/(n − 1)`.
    pub fn variance_times_batch(&self) -> f64 {
        self.variance * self.batch_size as f64
    }

    /// `‖G‖²` estimated without bias: `E‖mean‖² = ‖G‖² + variance/draws`.
    pub fn grad_sq(&self) -> f64 {
        self.mean_sq - self.variance / self.draws as f64
    }

    /// The simple noise scale `tr(Σ)/‖G‖²`; `None` where `‖G‖²` is not positive (the
    /// draws cannot tell the gradient from noise).
    pub fn noise_scale(&self) -> Option<f64> {
        let g = self.grad_sq();
        (g > 0.0).then(|| self.trace / g)
    }
}

/// The gradient's variance at several batch sizes: [`GradientNoise::measure`].
#[derive(Debug, Clone, PartialEq)]
pub struct GradientNoise {
    /// One row per batch size, in the order given.
    pub rows: Vec<NoiseRow>,
}

impl GradientNoise {
    /// For each batch size `b`, draws `draws` batches of `b` distinct sample indices out of
    /// `0..n` (seeded by `seed`) and asks `gradient` for the mean gradient over each batch;
    /// the parameters must not change meanwhile. The spread is accumulated per element
    /// (Welford), so memory is two copies of the gradient whatever the number of draws.
    ///
    /// ```
    /// use descent_autodiff::{Param, Tape};
    /// use descent_tensor::Tensor;
    /// use descent_train::diagnostics::GradientNoise;
    /// // The mean of b samples of xᵢ ∈ {0, 1, …, 99}: the gradient of ½(w − x)² at w = 0.
    /// let w = Param::new(Tensor::<f64>::zeros(&[1]));
    /// let noise = GradientNoise::measure(100, &[5, 20], 200, 0, |batch| {
    ///     let tape = Tape::new();
    ///     let x = Tensor::from_vec(batch.iter().map(|&i| i as f64).collect(), &[batch.len()])?;
    ///     let loss = tape.param(&w).sub(tape.constant(x))?.square()?.mean(&[], false)?.mul_scalar(0.5)?;
    ///     Ok(loss.backward()?)
    /// })?;
    /// let per_sample = (100.0f64 * 100.0 - 1.0) / 12.0;    // the variance of 0..100
    /// for row in &noise.rows {
    ///     assert!((row.trace / per_sample - 1.0).abs() < 0.3, "{row:?}");
    /// }
    /// # Ok::<(), descent_train::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for fewer than 2 draws or a batch size of 0 or above `n`
    /// (or `n` itself, whose only batch has no spread); any error of `gradient`.
    pub fn measure<F: Float>(
        n: usize,
        batch_sizes: &[usize],
        draws: usize,
        seed: u64,
        mut gradient: impl FnMut(&[usize]) -> Result<Gradients<F>>,
    ) -> Result<GradientNoise> {
        check(n, batch_sizes, draws)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let mut rows = Vec::with_capacity(batch_sizes.len());
        for &b in batch_sizes {
            let mut acc = Welford::default();
            for _ in 0..draws {
                let mut batch = rand::seq::index::sample(&mut rng, n, b).into_vec();
                batch.sort_unstable();
                acc.add(&gradient(&batch)?);
            }
            let variance = acc.m2 / (draws - 1) as f64;
            let mean_sq: f64 = acc.mean.values().flatten().map(|m| m * m).sum();
            rows.push(NoiseRow {
                batch_size: b,
                draws,
                samples: n,
                variance,
                mean_sq,
                trace: variance * b as f64 * (n - 1) as f64 / (n - b) as f64,
            });
        }
        Ok(GradientNoise { rows })
    }

    /// The rows as CSV: `batch_size,draws,variance,variance_times_batch,trace,grad_sq,noise_scale`.
    pub fn to_csv(&self) -> String {
        let mut out = format!("{COLUMNS}\n");
        for r in &self.rows {
            r.csv(&mut out);
        }
        out
    }
}

/// The CSV columns of a [`NoiseRow`].
const COLUMNS: &str = "batch_size,draws,variance,variance_times_batch,trace,grad_sq,noise_scale";

impl NoiseRow {
    /// Appends the row's CSV line (the [`COLUMNS`]).
    fn csv(&self, out: &mut String) {
        let scale = self.noise_scale().map_or(String::new(), |s| s.to_string());
        super::csv_row(
            out,
            &[
                &self.batch_size,
                &self.draws,
                &self.variance,
                &self.variance_times_batch(),
                &self.trace,
                &self.grad_sq(),
                &scale,
            ],
        );
    }
}

/// Refuses fewer than 2 draws, and batch sizes of 0 or not below `n`.
fn check(n: usize, batch_sizes: &[usize], draws: usize) -> Result<()> {
    if draws < 2 {
        return Err(Error::InvalidArgument {
            op: "GradientNoise::measure",
            arg: "draws",
            value: draws.to_string(),
            why: "must be at least 2 to estimate a variance".into(),
        });
    }
    if let Some(&b) = batch_sizes.iter().find(|&&b| b == 0 || b >= n) {
        return Err(Error::InvalidArgument {
            op: "GradientNoise::measure",
            arg: "batch_size",
            value: b.to_string(),
            why: format!("must be in 1..{n} (the data set has {n} samples)"),
        });
    }
    Ok(())
}

/// Welford's running mean and summed squared deviation, per gradient element, summed over
/// elements in `m2`.
#[derive(Default)]
struct Welford {
    count: usize,
    mean: BTreeMap<ParamId, Vec<f64>>,
    m2: f64,
}

impl Welford {
    fn add<F: Float>(&mut self, grads: &Gradients<F>) {
        self.count += 1;
        let k = self.count as f64;
        for (id, g) in grads.iter() {
            let mean = self.mean.entry(id).or_insert_with(|| vec![0.0; g.numel()]);
            for (m, x) in mean.iter_mut().zip(g.to_vec()) {
                let x = x.as_f64();
                let delta = x - *m;
                *m += delta / k;
                self.m2 += delta * (x - *m);
            }
        }
    }
}

/// [`GradientNoise`] as a hook: after every `every`-th epoch, measures the variance of the
/// mini-batch gradient of the run's loss on `data` at each batch size, with the model in
/// eval mode (so measuring draws no dropout mask and moves no running statistics: the run
/// is the run without it). Each measurement costs `draws` forward and backward passes per
/// batch size.
///
/// ```
/// use descent_data::{DataLoader, Dataset};
/// use descent_nn::Linear;
/// use descent_tensor::Tensor;
/// use descent_train::{diagnostics::NoiseMonitor, evaluate::Regression, Trainer};
/// use std::{cell::RefCell, rc::Rc};
/// let x = Tensor::<f64>::randn(&[64, 2], 0.0, 1.0, &mut rand::rng())?;
/// let data = Dataset::new(x.clone(), x.sum(&[1], true)?)?;
/// let noise = Rc::new(RefCell::new(NoiseMonitor::new(data.clone(), Regression, &[4, 16], 10)?));
/// let model = Linear::<f64>::new(2, 1, &mut rand::rng())?;
/// let mut trainer = Trainer::new(model, "sgd:lr=0.1", DataLoader::new(data, 8)?, Regression)?
///     .epochs(2)
///     .print_epochs(false)
///     .hook(noise.clone());
/// trainer.fit()?;
/// assert_eq!(noise.borrow().rows().len(), 4);        // 2 epochs × 2 batch sizes
/// assert!(noise.borrow().to_csv().starts_with("epoch,batch_size,"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct NoiseMonitor<F: Float, Y, T> {
    data: Dataset<F, Y>,
    task: T,
    batch_sizes: Vec<usize>,
    draws: usize,
    every: usize,
    seed: u64,
    rows: Vec<(usize, NoiseRow)>,
}

impl<F: Float, Y: Targets<F>, T: Task<F, Y>> NoiseMonitor<F, Y, T> {
    /// Measures after every epoch with `draws` batches of each size in `batch_sizes`,
    /// drawn from `data` with seed 0.
    ///
    /// # Errors
    /// As [`GradientNoise::measure`], checked now: fewer than 2 draws, a batch size of 0 or
    /// not below the number of samples.
    pub fn new(data: Dataset<F, Y>, task: T, batch_sizes: &[usize], draws: usize) -> Result<Self> {
        check(data.len(), batch_sizes, draws)?;
        Ok(NoiseMonitor {
            data,
            task,
            batch_sizes: batch_sizes.to_vec(),
            draws,
            every: 1,
            seed: 0,
            rows: Vec::new(),
        })
    }

    /// Measures after epochs `every, 2·every, …` only (0 counts as 1).
    pub fn every(mut self, epochs: usize) -> Self {
        self.every = epochs.max(1);
        self
    }

    /// Draws the batches with `seed` (mixed with the epoch).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The rows so far: the epoch after which each was measured, and the measurement.
    pub fn rows(&self) -> &[(usize, NoiseRow)] {
        &self.rows
    }

    /// The rows as CSV: `epoch,` then [`GradientNoise::to_csv`]'s columns.
    pub fn to_csv(&self) -> String {
        let mut out = format!("epoch,{COLUMNS}\n");
        for (epoch, row) in &self.rows {
            out += &format!("{epoch},");
            row.csv(&mut out);
        }
        out
    }
}

impl<F: Float, Y: Targets<F>, T: Task<F, Y>> Hook<F> for NoiseMonitor<F, Y, T> {
    fn on_epoch(&mut self, info: &EpochInfo<'_, F>) -> Result<()> {
        if !info.epoch.is_multiple_of(self.every) {
            return Ok(());
        }
        let seed = crate::epoch_seed(self.seed, info.epoch);
        let (data, task) = (&self.data, &self.task);
        let noise =
            GradientNoise::measure(data.len(), &self.batch_sizes, self.draws, seed, |idx| {
                let batch = data.subset(idx)?;
                let tape = Tape::new();
                let x = tape.constant(batch.images().clone());
                let out = info.model.forward(&tape, x, Mode::Eval)?;
                let loss = task.loss(out, batch.targets(), Reduction::Mean)?;
                Ok(loss.backward()?)
            })?;
        self.rows
            .extend(noise.rows.into_iter().map(|r| (info.epoch, r)));
        Ok(())
    }
}
