//! Loss functions, each reduced to a scalar by [`Reduction::Mean`] or [`Reduction::Sum`]
//! (or left per sample by [`Reduction::None`]) with PyTorch's definitions (`torch.nn.functional`), written to stay finite for extreme
//! inputs: cross-entropy goes through the fused log-softmax (finite for logits of ±1e4),
//! BCE-with-logits through softplus, BCE clamps its logarithms at −100 as PyTorch does.
//!
//! ```
//! use descent_autodiff::Tape;
//! use descent_nn::{loss, Reduction};
//! use descent_tensor::Tensor;
//! let tape = Tape::<f64>::new();
//! let logits = tape.var(Tensor::from_vec(vec![1e4, -1e4, 0.0, 2.0, 1.0, 0.5], &[2, 3])?);
//! let l = loss::cross_entropy(logits, &[0, 2], Reduction::Sum)?;
//! assert!(l.item()?.is_finite());
//! let err = loss::cross_entropy(logits, &[0, 3], Reduction::Sum).unwrap_err();
//! assert_eq!(err.to_string(), "cross_entropy: label 3 at position 1 is out of range for 3 classes");
//! # Ok::<(), descent_nn::Error>(())
//! ```

use crate::error::{Error, Result};
use descent_autodiff::Var;
use descent_tensor::{Float, Tensor};

/// How per-element (or per-sample) losses become one scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// The average (over samples for class-index and probability-target cross-entropy and
    /// NLL, over all elements otherwise: PyTorch's `'mean'`).
    #[default]
    Mean,
    /// The sum.
    Sum,
    /// No reduction: the loss of each sample (class-index and probability-target
    /// cross-entropy, NLL: shape `[N]`) or of each element (the others: the input's shape),
    /// PyTorch's `'none'`. For weighting samples, or finding the hard ones.
    None,
}

impl Reduction {
    fn apply<'t, F: Float>(self, losses: Var<'t, F>) -> Result<Var<'t, F>> {
        Ok(match self {
            Reduction::Mean => losses.mean(&[], false)?,
            Reduction::Sum => losses.sum(&[], false)?,
            Reduction::None => losses,
        })
    }
}

/// Cross-entropy of `logits: [N, C]` against class indices `labels` (length `N`):
/// `−log_softmax(logits)[i, labels[i]]`, fused and stable.
///
/// # Errors
/// [`Error::TargetShape`] if `logits` is not 2-D or `labels.len() != N`;
/// [`Error::LabelOutOfRange`] naming the first label `≥ C` and its position.
pub fn cross_entropy<'t, F: Float>(
    logits: Var<'t, F>,
    labels: &[usize],
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    check_labels("cross_entropy", &logits.shape(), labels)?;
    picked_nll(logits.log_softmax(-1)?, labels, reduction)
}

/// Cross-entropy of `logits: [N, C]` against class probabilities `target: [N, C]`:
/// `−Σ_c target·log_softmax(logits)` per sample.
///
/// # Errors
/// [`Error::TargetShape`] unless both are `[N, C]`.
pub fn cross_entropy_probs<'t, F: Float>(
    logits: Var<'t, F>,
    target: Var<'t, F>,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    let shape = same_shape("cross_entropy_probs", logits, target)?;
    if shape.len() != 2 {
        return Err(Error::TargetShape {
            op: "cross_entropy_probs",
            input: shape.clone(),
            target: shape,
        });
    }
    let per_sample = target
        .mul(logits.log_softmax(-1)?)?
        .sum(&[-1], false)?
        .neg()?;
    reduction.apply(per_sample)
}

/// Negative log-likelihood of `log_probs: [N, C]` (e.g. from
/// [`crate::activation::log_softmax`]) at class indices `labels`: `−log_probs[i, labels[i]]`.
///
/// # Errors
/// As [`cross_entropy`].
pub fn nll_loss<'t, F: Float>(
    log_probs: Var<'t, F>,
    labels: &[usize],
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    check_labels("nll_loss", &log_probs.shape(), labels)?;
    picked_nll(log_probs, labels, reduction)
}

/// `−log_probs[i, labels[i]]`, reduced; labels already checked.
fn picked_nll<'t, F: Float>(
    log_probs: Var<'t, F>,
    labels: &[usize],
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    let n = labels.len();
    // `gather` keeps the class axis ([N, 1]); the losses are per sample, [N], as PyTorch's
    // (a [N, 1] loss times [N] weights would broadcast to [N, N]).
    let picked = log_probs
        .gather(1, labels, &[n, 1])?
        .reshape(&[n as isize])?;
    reduction.apply(picked.neg()?)
}

fn check_labels(op: &'static str, shape: &[usize], labels: &[usize]) -> Result<()> {
    let [n, classes] = *shape else {
        return Err(Error::TargetShape {
            op,
            input: shape.to_vec(),
            target: vec![labels.len()],
        });
    };
    if labels.len() != n {
        return Err(Error::TargetShape {
            op,
            input: shape.to_vec(),
            target: vec![labels.len()],
        });
    }
    match labels.iter().position(|&l| l >= classes) {
        Some(position) => Err(Error::LabelOutOfRange {
            op,
            label: labels[position],
            position,
            classes,
        }),
        None => Ok(()),
    }
}

/// The common shape of an input and its target, or [`Error::TargetShape`].
fn same_shape<F: Float>(
    op: &'static str,
    input: Var<'_, F>,
    target: Var<'_, F>,
) -> Result<Vec<usize>> {
    let (a, b) = (input.shape(), target.shape());
    if a != b {
        return Err(Error::TargetShape {
            op,
            input: a,
            target: b,
        });
    }
    Ok(a)
}

/// Mean squared error `(input − target)²`.
///
/// # Errors
/// [`Error::TargetShape`] unless the shapes are equal (no silent broadcasting).
pub fn mse_loss<'t, F: Float>(
    input: Var<'t, F>,
    target: Var<'t, F>,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    same_shape("mse_loss", input, target)?;
    reduction.apply(input.sub(target)?.square()?)
}

/// Binary cross-entropy of probabilities `p ∈ [0, 1]` against targets `t ∈ [0, 1]`:
/// `−(t·ln p + (1 − t)·ln(1 − p))`, each logarithm clamped at −100 as PyTorch does so that
/// `p = 0` or `1` gives a finite loss. Prefer [`bce_with_logits`] on logits.
///
/// One op with PyTorch's gradients, finite at `p = 0` and `1` too (the chain rule through
/// the clamped logarithms would give `0·∞`): `∂p = g·(p − t) / max(p(1 − p), ε)` with ε
/// PyTorch's `1e-12` (an `f32` constant there, so `9.999999960041972e-13`), and
/// `∂t = g·(ln(1 − p) − ln p)`, not clamped (±∞ at `p = 0` or `1`, as PyTorch's).
///
/// # Errors
/// [`Error::TargetShape`] unless the shapes are equal.
pub fn bce_loss<'t, F: Float>(
    p: Var<'t, F>,
    target: Var<'t, F>,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    same_shape("bce_loss", p, target)?;
    let lo = F::of(-100.0);
    let (pv, tv) = (p.value()?, target.value()?);
    let log_p = pv.ln().maximum_scalar(lo);
    let log_q = pv.map(|v| (-v).ln_1p()).maximum_scalar(lo);
    // −(t·ln p + (1 − t)·ln q) = (t − 1)·ln q − t·ln p, PyTorch's order of operations.
    let value = tv
        .add_scalar(-F::one())
        .mul(&log_q)?
        .sub(&tv.mul(&log_p)?)?;
    let eps = F::of(f64::from(1e-12f32));
    let losses = p.tape().record("bce_loss", value, &[p, target], move |c| {
        let (p, t) = (c.x(0), c.x(1));
        let dp = c.need(0, || {
            let var = p.mul(p.rsub_scalar(F::one())?)?;
            let denom = var.maximum(c.g.tape().constant(Tensor::scalar(eps)))?;
            c.g.mul(p.sub(t)?.div(denom)?)
        })?;
        let dt = c.need(1, || c.g.mul(p.rsub_scalar(F::one())?.ln()?.sub(p.ln()?)?))?;
        Ok(vec![dp, dt])
    })?;
    reduction.apply(losses)
}

/// Binary cross-entropy of `sigmoid(x)` against `t`, computed as `softplus(x) − x·t`: exact
/// and finite for any logit, with gradient `sigmoid(x) − t`.
///
/// # Errors
/// [`Error::TargetShape`] unless the shapes are equal.
pub fn bce_with_logits<'t, F: Float>(
    x: Var<'t, F>,
    target: Var<'t, F>,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    same_shape("bce_with_logits", x, target)?;
    reduction.apply(x.softplus()?.sub(x.mul(target)?)?)
}

/// Huber loss of `d = input − target`: `½d²` for `|d| ≤ δ`, `δ(|d| − ½δ)` beyond, computed
/// as `½q² + δ(|d| − |q|)` with `q = clamp(d, −δ, δ)`: clamping `d` rather than `|d|` keeps
/// the second derivative PyTorch's, 1 at `d = 0` (where `|d|` has slope 0) and 0 at `±δ`.
///
/// # Errors
/// [`Error::TargetShape`] unless the shapes are equal; [`Error::InvalidArgument`] unless
/// `delta > 0`.
pub fn huber_loss<'t, F: Float>(
    input: Var<'t, F>,
    target: Var<'t, F>,
    delta: f64,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    same_shape("huber_loss", input, target)?;
    if !(delta > 0.0 && delta.is_finite()) {
        return Err(Error::InvalidArgument {
            op: "huber_loss",
            arg: "delta",
            value: delta.to_string(),
            why: "must be positive and finite",
        });
    }
    let d = input.sub(target)?;
    let q = d.clamp(F::of(-delta), F::of(delta))?;
    let quadratic = q.square()?.mul_scalar(F::of(0.5))?;
    let linear = d.abs()?.sub(q.abs()?)?.mul_scalar(F::of(delta))?;
    reduction.apply(quadratic.add(linear)?)
}

/// Kullback–Leibler divergence `KL(target ‖ input)` with `input` given as log-probabilities
/// (PyTorch's `kl_div`): `target·(ln target − input)`, 0 where `target = 0`. `Mean` averages
/// over all elements as PyTorch's `'mean'`; the per-sample divergence (`'batchmean'`) is
/// `Sum` divided by the batch size.
///
/// # Errors
/// [`Error::TargetShape`] unless the shapes are equal.
pub fn kl_div<'t, F: Float>(
    log_input: Var<'t, F>,
    target: Var<'t, F>,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    same_shape("kl_div", log_input, target)?;
    // t·ln t with 0·ln 0 = 0: take the logarithm of 1 where t = 0.
    let t = target.value()?;
    let positive = t.gt_scalar(F::zero());
    let ones = target
        .tape()
        .constant(descent_tensor::Tensor::ones(t.shape()));
    let safe = Var::where_cond(&positive, target, ones)?;
    reduction.apply(target.mul(safe.ln()?.sub(log_input)?)?)
}
