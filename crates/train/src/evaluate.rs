//! Evaluation in eval mode, without recording gradients: the mean loss and, for a task
//! that has one, accuracy and top-k accuracy; optionally on averaged weights
//! ([`with_average`]). The loss a run trains on and evaluates with is a [`Task`]:
//! [`Classification`], [`Regression`], or any closure through [`loss_fn`].

use descent_autodiff::{Tape, Var};
use descent_data::{DataLoader, Dataset, Targets};
use descent_nn::{loss, Mode, Module, Reduction};
use descent_optim::first_order::Averager;
use descent_tensor::{Float, Tensor};

use crate::Result;

/// What a run minimizes, and how it counts a correct prediction.
pub trait Task<F: Float, Y> {
    /// The loss of the model's `output` against `targets`, reduced as asked.
    ///
    /// # Errors
    /// The loss's own, for outputs and targets that do not fit.
    fn loss<'t>(&self, output: Var<'t, F>, targets: &Y, reduction: Reduction)
        -> Result<Var<'t, F>>;

    /// How many rows of `output` have their target among their `k` largest entries;
    /// `None` for a task without accuracy (the default).
    ///
    /// # Errors
    /// The kernel's, for outputs and targets that do not fit.
    fn correct(&self, output: &Tensor<F>, targets: &Y, k: usize) -> Result<Option<usize>> {
        let _ = (output, targets, k);
        Ok(None)
    }
}

/// Class labels against logits: cross-entropy, accuracy by the largest logit.
#[derive(Debug, Clone, Copy, Default)]
pub struct Classification;

impl<F: Float> Task<F, Vec<usize>> for Classification {
    fn loss<'t>(
        &self,
        output: Var<'t, F>,
        targets: &Vec<usize>,
        reduction: Reduction,
    ) -> Result<Var<'t, F>> {
        Ok(loss::cross_entropy(output, targets, reduction)?)
    }

    fn correct(&self, output: &Tensor<F>, targets: &Vec<usize>, k: usize) -> Result<Option<usize>> {
        if k <= 1 {
            let pred = output.argmax(1)?;
            return Ok(Some(
                pred.iter().zip(targets).filter(|(p, l)| p == l).count(),
            ));
        }
        let k = k.min(output.shape().get(1).copied().unwrap_or(0));
        let (_, top) = output.topk(k, 1, true)?;
        let hits = top
            .chunks(k.max(1))
            .zip(targets)
            .filter(|(row, l)| row.contains(l));
        Ok(Some(hits.count()))
    }
}

/// Float targets: mean squared error, no accuracy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Regression;

impl<F: Float> Task<F, Tensor<F>> for Regression {
    fn loss<'t>(
        &self,
        output: Var<'t, F>,
        targets: &Tensor<F>,
        reduction: Reduction,
    ) -> Result<Var<'t, F>> {
        let target = output.tape().constant(targets.clone());
        Ok(loss::mse_loss(output, target, reduction)?)
    }
}

/// A closure as a [`Task`] without accuracy (see [`loss_fn`]).
#[derive(Debug, Clone, Copy)]
pub struct LossFn<C>(C);

/// Any loss as a [`Task`]: `f(output, targets, reduction)`.
///
/// ```
/// use descent_nn::{loss, Reduction};
/// use descent_train::evaluate::loss_fn;
/// let huber = loss_fn(|out, y: &descent_tensor::Tensor<f32>, r: Reduction| {
///     Ok(loss::huber_loss(out, out.tape().constant(y.clone()), 1.0, r)?)
/// });
/// # let _ = huber;
/// ```
pub fn loss_fn<F, Y, C>(f: C) -> LossFn<C>
where
    F: Float,
    C: for<'t> Fn(Var<'t, F>, &Y, Reduction) -> Result<Var<'t, F>>,
{
    LossFn(f)
}

impl<F, Y, C> Task<F, Y> for LossFn<C>
where
    F: Float,
    C: for<'t> Fn(Var<'t, F>, &Y, Reduction) -> Result<Var<'t, F>>,
{
    fn loss<'t>(
        &self,
        output: Var<'t, F>,
        targets: &Y,
        reduction: Reduction,
    ) -> Result<Var<'t, F>> {
        (self.0)(output, targets, reduction)
    }
}

/// The result of [`evaluate`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EvalReport {
    /// The mean loss per sample.
    pub loss: f64,
    /// The fraction of samples whose largest output is the target, if the task counts.
    pub accuracy: Option<f64>,
    /// `(k, fraction)` of samples whose target is among the `k` largest outputs, if asked.
    pub top_k: Option<(usize, f64)>,
    /// The samples evaluated.
    pub samples: usize,
}

/// Mean loss and accuracy (and top-`k` accuracy, if `top_k` is given) over `data`, in
/// batches of `batch_size`, in eval mode, without recording gradients. The loss is summed
/// over each batch and divided by the number of samples once.
///
/// # Errors
/// The model's or task's errors; [`crate::Error::Data`] for a batch size of 0.
pub fn evaluate<F, Y, M, T>(
    model: &M,
    data: &Dataset<F, Y>,
    task: &T,
    batch_size: usize,
    top_k: Option<usize>,
) -> Result<EvalReport>
where
    F: Float,
    Y: Targets<F>,
    M: Module<F> + ?Sized,
    T: Task<F, Y> + ?Sized,
{
    let loader = DataLoader::new(data.clone(), batch_size)?;
    let (mut loss_sum, mut correct, mut top) = (0.0, Some(0usize), 0usize);
    for (x, y) in loader.epoch(0) {
        let tape = Tape::new();
        let (loss, c, t) = tape.no_grad(|| -> Result<_> {
            let out = model.forward(&tape, tape.constant(x), Mode::Eval)?;
            let value = out.value()?;
            let c = task.correct(&value, &y, 1)?;
            let t = match top_k {
                Some(k) => task.correct(&value, &y, k)?.unwrap_or(0),
                None => 0,
            };
            let loss = task.loss(out, &y, Reduction::Sum)?.item()?;
            Ok((loss.as_f64(), c, t))
        })?;
        loss_sum += loss;
        correct = correct.zip(c).map(|(a, b)| a + b);
        top += t;
    }
    let n = data.len().max(1) as f64;
    Ok(EvalReport {
        loss: loss_sum / n,
        accuracy: correct.map(|c| c as f64 / n),
        top_k: top_k.map(|k| (k, top as f64 / n)),
        samples: data.len(),
    })
}

/// Runs `f` with the averaged weights swapped into `model` (if `averager` is given) and
/// swaps the model's own back afterwards, also when `f` fails.
///
/// # Errors
/// `f`'s, or the averager's.
pub fn with_average<F, M, R>(
    model: &mut M,
    averager: Option<&mut Averager<F>>,
    f: impl FnOnce(&mut M) -> Result<R>,
) -> Result<R>
where
    F: Float,
    M: Module<F> + ?Sized,
{
    let Some(a) = averager else {
        return f(model);
    };
    a.swap(&mut model.params_mut())?;
    let result = f(model);
    a.swap(&mut model.params_mut())?;
    result
}
