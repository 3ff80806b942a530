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
/// `−log_softmax(logits)[i, labels[i]]`, fused and stable. [`cross_entropy_with`] takes
/// torch's other options.
///
/// # Errors
/// [`Error::TargetShape`] if `logits` is not 2-D or `labels.len() != N`;
/// [`Error::LabelOutOfRange`] naming the first label `≥ C` and its position.
pub fn cross_entropy<'t, F: Float>(
    logits: Var<'t, F>,
    labels: &[usize],
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    if logits.shape().len() != 2 {
        return Err(Error::TargetShape {
            op: "cross_entropy",
            input: logits.shape(),
            target: vec![labels.len()],
        });
    }
    cross_entropy_with(logits, labels, ClassOptions::from(reduction))
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
/// [`nll_loss_with`] takes torch's other options.
///
/// # Errors
/// As [`cross_entropy`].
pub fn nll_loss<'t, F: Float>(
    log_probs: Var<'t, F>,
    labels: &[usize],
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    if log_probs.shape().len() != 2 {
        return Err(Error::TargetShape {
            op: "nll_loss",
            input: log_probs.shape(),
            target: vec![labels.len()],
        });
    }
    nll_loss_with(log_probs, labels, ClassOptions::from(reduction))
}

/// torch's options of [`cross_entropy_with`] and [`nll_loss_with`], `Default` as torch's.
#[derive(Debug, Clone, Copy)]
pub struct ClassOptions<'a, F: Float> {
    /// A weight per class (`[C]`), or none (all 1).
    pub weight: Option<&'a Tensor<F>>,
    /// A label whose samples contribute nothing, not even to the mean's denominator
    /// (torch's default, −100, is no `usize`: `None`).
    pub ignore_index: Option<usize>,
    /// `ε` in `[0, 1]`: the target is `1 − ε` on the label plus `ε/C` on every class
    /// (cross-entropy only).
    pub label_smoothing: f64,
    /// The reduction; `Mean` divides by the summed weights of the counted samples, as torch.
    pub reduction: Reduction,
}

impl<F: Float> Default for ClassOptions<'_, F> {
    fn default() -> Self {
        Reduction::Mean.into()
    }
}

impl<F: Float> From<Reduction> for ClassOptions<'_, F> {
    fn from(reduction: Reduction) -> Self {
        ClassOptions {
            weight: None,
            ignore_index: None,
            label_smoothing: 0.0,
            reduction,
        }
    }
}

/// torch's `F.cross_entropy` with class indices: `logits` of shape `[N, C, d…]` (or `[C]`
/// for one sample), `labels` the `N·d…` class indices in row-major order, and
/// [`ClassOptions`]' weight, ignore index and label smoothing. With `Reduction::None` the
/// losses have shape `[N, d…]`.
///
/// # Errors
/// [`Error::TargetShape`] if the label count is not `N·d…`; [`Error::LabelOutOfRange`] for a
/// label `≥ C` that is not the ignore index; [`Error::InvalidArgument`] for a weight that
/// is not `[C]` or a smoothing outside `[0, 1]`.
pub fn cross_entropy_with<'t, F: Float>(
    logits: Var<'t, F>,
    labels: &[usize],
    opts: ClassOptions<'_, F>,
) -> Result<Var<'t, F>> {
    let (rows, out_shape) = class_rows("cross_entropy", logits, labels)?;
    let eps = opts.label_smoothing;
    if !(0.0..=1.0).contains(&eps) {
        return Err(Error::InvalidArgument {
            op: "cross_entropy",
            arg: "label_smoothing",
            value: eps.to_string(),
            why: "must be in [0, 1]",
        });
    }
    let log_probs = rows.log_softmax(-1)?;
    let nll = class_nll("cross_entropy", log_probs, labels, opts, &out_shape)?;
    if eps == 0.0 {
        return Ok(nll);
    }
    // torch's smoothing term: −Σ_c w_c·log p_c per sample, 0 for ignored samples, reduced
    // as the NLL is.
    let tape = logits.tape();
    let classes = log_probs.shape()[1];
    let weighted = match opts.weight {
        Some(w) => log_probs.mul(tape.constant(w.clone()))?,
        None => log_probs,
    };
    let kept = kept_mask::<F>(labels, opts.ignore_index);
    let smooth = Var::where_cond(
        &kept,
        weighted.sum(&[-1], false)?.neg()?,
        tape.constant(Tensor::scalar(F::zero())),
    )?;
    let smooth = match opts.reduction {
        Reduction::None => smooth.reshape(&signed(&out_shape))?,
        Reduction::Sum => smooth.sum(&[], false)?,
        Reduction::Mean => smooth
            .sum(&[], false)?
            .div_scalar(sample_weights(labels, opts)?.sum_all())?,
    };
    Ok(nll
        .mul_scalar(F::of(1.0 - eps))?
        .add(smooth.mul_scalar(F::of(eps / classes as f64))?)?)
}

/// torch's `F.nll_loss` on `log_probs` of shape `[N, C, d…]` (or `[C]`), with
/// [`ClassOptions`]' weight and ignore index (its label smoothing must be 0).
///
/// # Errors
/// As [`cross_entropy_with`].
pub fn nll_loss_with<'t, F: Float>(
    log_probs: Var<'t, F>,
    labels: &[usize],
    opts: ClassOptions<'_, F>,
) -> Result<Var<'t, F>> {
    if opts.label_smoothing != 0.0 {
        return Err(Error::InvalidArgument {
            op: "nll_loss",
            arg: "label_smoothing",
            value: opts.label_smoothing.to_string(),
            why: "applies to cross_entropy only",
        });
    }
    let (rows, out_shape) = class_rows("nll_loss", log_probs, labels)?;
    class_nll("nll_loss", rows, labels, opts, &out_shape)
}

/// `[N, C, d…]` (or `[C]`) as `[N·d…, C]` rows, checked against the label count, and the
/// shape of the per-sample losses, `[N, d…]` (or `[]`).
fn class_rows<'t, F: Float>(
    op: &'static str,
    x: Var<'t, F>,
    labels: &[usize],
) -> Result<(Var<'t, F>, Vec<usize>)> {
    let shape = x.shape();
    let bad = || Error::TargetShape {
        op,
        input: shape.clone(),
        target: vec![labels.len()],
    };
    let (rows, out_shape) = match shape.len() {
        0 => return Err(bad()),
        1 => (x.unsqueeze(0)?, vec![]),
        2 => (x, vec![shape[0]]),
        _ => {
            let c = shape[1] as isize;
            let mut out = shape.clone();
            out.remove(1);
            (x.movedim(&[1], &[-1])?.reshape(&[-1, c])?, out)
        }
    };
    if rows.shape()[0] != labels.len() {
        return Err(bad());
    }
    Ok((rows, out_shape))
}

/// 1 for each sample that counts, 0 for those at the ignore index.
fn kept_mask<F: Float>(labels: &[usize], ignore: Option<usize>) -> Tensor<F> {
    let v = labels
        .iter()
        .map(|&l| {
            if Some(l) == ignore {
                F::zero()
            } else {
                F::one()
            }
        })
        .collect::<Vec<_>>();
    let n = v.len();
    Tensor::from_vec(v, &[n]).unwrap_or_else(|_| Tensor::zeros(&[n]))
}

/// Each sample's weight `w[label]` (1 without weights), 0 at the ignore index.
fn sample_weights<F: Float>(labels: &[usize], opts: ClassOptions<'_, F>) -> Result<Tensor<F>> {
    let w = opts.weight.map(Tensor::to_vec);
    let v: Vec<F> = labels
        .iter()
        .map(|&l| match (&w, Some(l) == opts.ignore_index) {
            (_, true) => F::zero(),
            (Some(w), false) => w[l],
            (None, false) => F::one(),
        })
        .collect();
    let n = v.len();
    Ok(Tensor::from_vec(v, &[n])?)
}

/// `−w[y]·log_probs[i, y]` per row (0 at the ignore index), reduced as torch's `nll_loss`.
fn class_nll<'t, F: Float>(
    op: &'static str,
    log_probs: Var<'t, F>,
    labels: &[usize],
    opts: ClassOptions<'_, F>,
    out_shape: &[usize],
) -> Result<Var<'t, F>> {
    let classes = log_probs.shape()[1];
    if let Some(w) = opts.weight {
        if w.shape() != [classes] {
            return Err(Error::InvalidArgument {
                op,
                arg: "weight",
                value: format!("of shape {:?}", w.shape()),
                why: "needs one weight per class",
            });
        }
    }
    if let Some(position) = labels
        .iter()
        .position(|&l| l >= classes && Some(l) != opts.ignore_index)
    {
        return Err(Error::LabelOutOfRange {
            op,
            label: labels[position],
            position,
            classes,
        });
    }
    let n = labels.len();
    // Ignored samples gather class 0 and are then masked out.
    let safe: Vec<usize> = labels
        .iter()
        .map(|&l| if l < classes { l } else { 0 })
        .collect();
    let picked = log_probs
        .gather(1, &safe, &[n, 1])?
        .reshape(&[n as isize])?;
    let tape = log_probs.tape();
    let weights = sample_weights(labels, opts)?;
    let weighted = if opts.weight.is_some() {
        picked.mul(tape.constant(weights.clone()))?
    } else {
        picked
    };
    let losses = Var::where_cond(
        &kept_mask::<F>(labels, opts.ignore_index),
        weighted.neg()?,
        tape.constant(Tensor::scalar(F::zero())),
    )?;
    Ok(match opts.reduction {
        Reduction::None => losses.reshape(&signed(out_shape))?,
        Reduction::Sum => losses.sum(&[], false)?,
        Reduction::Mean => losses.sum(&[], false)?.div_scalar(weights.sum_all())?,
    })
}

fn signed(shape: &[usize]) -> Vec<isize> {
    shape.iter().map(|&n| n as isize).collect()
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
/// over all elements as PyTorch's `'mean'`; the per-sample divergence (`'batchmean'`) and
/// log-probability targets are [`kl_div_with`]'s options.
///
/// # Errors
/// [`Error::TargetShape`] unless the shapes are equal.
pub fn kl_div<'t, F: Float>(
    log_input: Var<'t, F>,
    target: Var<'t, F>,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    same_shape("kl_div", log_input, target)?;
    // t·ln t with 0·ln 0 = 0, as torch's `xlogy`; like it, the gradient in the target at
    // t = 0 is NaN (0·∞ through the masked-out branch).
    let t = target.value()?;
    let positive = t.gt_scalar(F::zero());
    let zero = target.tape().constant(Tensor::scalar(F::zero()));
    let entropy = Var::where_cond(&positive, target.mul(target.ln()?)?, zero)?;
    reduction.apply(entropy.sub(target.mul(log_input)?)?)
}

/// `|input − target|` (torch's `l1_loss`); the derivative at 0 is 0, as torch's.
///
/// # Errors
/// [`Error::TargetShape`] unless the shapes are equal.
pub fn l1_loss<'t, F: Float>(
    input: Var<'t, F>,
    target: Var<'t, F>,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    same_shape("l1_loss", input, target)?;
    reduction.apply(input.sub(target)?.abs()?)
}

/// torch's `smooth_l1_loss`: `½d²/β` for `|d| < β`, `|d| − ½β` beyond, which is
/// [`huber_loss`] with `δ = β` divided by `β`; `β = 0` is [`l1_loss`].
///
/// # Errors
/// [`Error::TargetShape`] unless the shapes are equal; [`Error::InvalidArgument`] for a
/// negative or non-finite `beta`.
pub fn smooth_l1_loss<'t, F: Float>(
    input: Var<'t, F>,
    target: Var<'t, F>,
    beta: f64,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    if beta == 0.0 {
        return l1_loss(input, target, reduction);
    }
    if !(beta > 0.0 && beta.is_finite()) {
        return Err(Error::InvalidArgument {
            op: "smooth_l1_loss",
            arg: "beta",
            value: beta.to_string(),
            why: "must be non-negative and finite",
        });
    }
    let losses = huber_loss(input, target, beta, Reduction::None)?.div_scalar(F::of(beta))?;
    reduction.apply(losses)
}

/// `max(v, 0)` as torch's hinge losses compute it (an in-place `clamp_min` whose gradient
/// at 0 is 0): [`Var::relu`].
fn relu0<F: Float>(v: Var<'_, F>) -> Result<Var<'_, F>> {
    Ok(v.relu()?)
}

/// A ±1 target as a constant, checked to broadcast to `shape`.
fn sign_target<'t, F: Float>(
    op: &'static str,
    like: Var<'t, F>,
    y: &Tensor<F>,
    shape: &[usize],
) -> Result<Var<'t, F>> {
    if descent_tensor::layout::broadcast_shapes(op, shape, y.shape())?[..] != shape[..] {
        return Err(Error::TargetShape {
            op,
            input: shape.to_vec(),
            target: y.shape().to_vec(),
        });
    }
    Ok(like.tape().constant(y.clone()))
}

/// torch's `margin_ranking_loss`: `max(0, −y·(x1 − x2) + margin)` for `y = ±1`.
///
/// # Errors
/// [`Error::TargetShape`] unless `x1` and `x2` have one shape that `y` broadcasts to.
pub fn margin_ranking_loss<'t, F: Float>(
    x1: Var<'t, F>,
    x2: Var<'t, F>,
    y: &Tensor<F>,
    margin: f64,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    let shape = same_shape("margin_ranking_loss", x1, x2)?;
    let y = sign_target("margin_ranking_loss", x1, y, &shape)?;
    let v = y.neg()?.mul(x1.sub(x2)?)?.add_scalar(F::of(margin))?;
    reduction.apply(relu0(v)?)
}

/// torch's `hinge_embedding_loss`: `x` where `y = 1`, `max(0, margin − x)` where `y = −1`
/// (torch adds both terms where `y` is neither).
///
/// # Errors
/// [`Error::TargetShape`] unless `y` broadcasts to `x`'s shape.
pub fn hinge_embedding_loss<'t, F: Float>(
    x: Var<'t, F>,
    y: &Tensor<F>,
    margin: f64,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    let op = "hinge_embedding_loss";
    sign_target(op, x, y, &x.shape())?;
    let tape = x.tape();
    let zero = tape.constant(Tensor::scalar(F::zero()));
    let not_one = y.map(|v| F::of(f64::from(u8::from(v != F::one()))));
    let not_minus_one = y.map(|v| F::of(f64::from(u8::from(v != -F::one()))));
    let hinge = Var::where_cond(&not_one, relu0(x.rsub_scalar(F::of(margin))?)?, zero)?;
    let linear = Var::where_cond(&not_minus_one, x, zero)?;
    reduction.apply(hinge.add(linear)?)
}

/// torch's `multi_margin_loss` options, `Default` as torch's.
#[derive(Debug, Clone, Copy)]
pub struct MultiMarginOptions<'a, F: Float> {
    /// The exponent, 1 or 2.
    pub p: u32,
    /// The margin.
    pub margin: f64,
    /// A weight per class (`[C]`), applied by the sample's label.
    pub weight: Option<&'a Tensor<F>>,
    /// The reduction (over samples).
    pub reduction: Reduction,
}

impl<F: Float> Default for MultiMarginOptions<'_, F> {
    fn default() -> Self {
        MultiMarginOptions {
            p: 1,
            margin: 1.0,
            weight: None,
            reduction: Reduction::Mean,
        }
    }
}

/// torch's `multi_margin_loss` of `x: [N, C]` at labels `y`:
/// `Σ_{c ≠ y} w[y]·max(0, margin − x[y] + x[c])ᵖ / C` per sample.
///
/// # Errors
/// [`Error::TargetShape`] unless `x` is `[N, C]` with `N` labels;
/// [`Error::LabelOutOfRange`]; [`Error::InvalidArgument`] for `p` other than 1 or 2 or a
/// weight that is not `[C]`.
pub fn multi_margin_loss<'t, F: Float>(
    x: Var<'t, F>,
    labels: &[usize],
    opts: MultiMarginOptions<'_, F>,
) -> Result<Var<'t, F>> {
    let op = "multi_margin_loss";
    let shape = x.shape();
    if shape.len() != 2 || shape[0] != labels.len() {
        return Err(Error::TargetShape {
            op,
            input: shape,
            target: vec![labels.len()],
        });
    }
    if let Some(position) = labels.iter().position(|&l| l >= shape[1]) {
        return Err(Error::LabelOutOfRange {
            op,
            label: labels[position],
            position,
            classes: shape[1],
        });
    }
    if !(opts.p == 1 || opts.p == 2) {
        return Err(Error::InvalidArgument {
            op,
            arg: "p",
            value: opts.p.to_string(),
            why: "must be 1 or 2",
        });
    }
    let (n, c) = (labels.len(), x.shape()[1]);
    let picked = x.gather(1, labels, &[n, 1])?;
    let mut margins = relu0(x.sub(picked)?.add_scalar(F::of(opts.margin))?)?;
    if opts.p == 2 {
        margins = margins.square()?;
    }
    // The label's own column is left out.
    let mut others = vec![F::one(); n * c];
    for (i, &l) in labels.iter().enumerate() {
        others[i * c + l] = F::zero();
    }
    let tape = x.tape();
    let zero = tape.constant(Tensor::scalar(F::zero()));
    let mut terms = Var::where_cond(&Tensor::from_vec(others, &[n, c])?, margins, zero)?;
    if let Some(w) = opts.weight {
        if w.shape() != [c] {
            return Err(Error::InvalidArgument {
                op,
                arg: "weight",
                value: format!("of shape {:?}", w.shape()),
                why: "needs one weight per class",
            });
        }
        let wy = w.index_select(0, labels)?.reshape(&[n as isize, 1])?;
        terms = terms.mul(tape.constant(wy))?;
    }
    opts.reduction
        .apply(terms.sum(&[1], false)?.div_scalar(F::of(c as f64))?)
}

/// torch's `cosine_embedding_loss` of rows `x1, x2: [N, D]` (or `[D]`) with `y = ±1` per
/// row: `1 − cos` where `y = 1`, `max(0, cos − margin)` where `y = −1`, with torch's
/// `cos = x1·x2 / √((|x1|² + ε)(|x2|² + ε))`, `ε = 1e-12`.
///
/// # Errors
/// [`Error::TargetShape`] unless `x1` and `x2` have one shape of 1 or 2 axes and `y` one
/// entry per row.
pub fn cosine_embedding_loss<'t, F: Float>(
    x1: Var<'t, F>,
    x2: Var<'t, F>,
    y: &Tensor<F>,
    margin: f64,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    let op = "cosine_embedding_loss";
    let shape = same_shape(op, x1, x2)?;
    let rows = match shape.len() {
        1 => vec![],
        2 => vec![shape[0]],
        _ => vec![usize::MAX],
    };
    if y.shape() != rows.as_slice() {
        return Err(Error::TargetShape {
            op,
            input: shape,
            target: y.shape().to_vec(),
        });
    }
    let eps = F::of(1e-12);
    let dot = x1.mul(x2)?.sum(&[-1], false)?;
    let m1 = x1.square()?.sum(&[-1], false)?.add_scalar(eps)?;
    let m2 = x2.square()?.sum(&[-1], false)?.add_scalar(eps)?;
    let cos = dot.div(m1.mul(m2)?.sqrt()?)?;
    let tape = x1.tape();
    let zero = tape.constant(Tensor::scalar(F::zero()));
    let is_pos = y.map(|v| F::of(f64::from(u8::from(v == F::one()))));
    let is_neg = y.map(|v| F::of(f64::from(u8::from(v == -F::one()))));
    let pos = Var::where_cond(&is_pos, cos.rsub_scalar(F::one())?, zero)?;
    let neg = Var::where_cond(&is_neg, relu0(cos.add_scalar(F::of(-margin))?)?, zero)?;
    reduction.apply(pos.add(neg)?)
}

/// torch's `poisson_nll_loss` options, `Default` as torch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoissonNllOptions {
    /// The input is `ln λ` (loss `e^input − t·input`), else `λ` (loss `λ − t·ln(λ + eps)`).
    pub log_input: bool,
    /// Adds Stirling's `t·ln t − t + ½ln(2πt)` where `t > 1`.
    pub full: bool,
    /// Keeps `ln(λ + eps)` finite when `log_input` is false.
    pub eps: f64,
    /// The reduction.
    pub reduction: Reduction,
}

impl Default for PoissonNllOptions {
    fn default() -> Self {
        PoissonNllOptions {
            log_input: true,
            full: false,
            eps: 1e-8,
            reduction: Reduction::Mean,
        }
    }
}

/// torch's `poisson_nll_loss` of `input` against counts `target` (see
/// [`PoissonNllOptions`]).
///
/// # Errors
/// [`Error::TargetShape`] unless the shapes are equal.
pub fn poisson_nll_loss<'t, F: Float>(
    input: Var<'t, F>,
    target: Var<'t, F>,
    opts: PoissonNllOptions,
) -> Result<Var<'t, F>> {
    same_shape("poisson_nll_loss", input, target)?;
    let mut losses = if opts.log_input {
        input.exp()?.sub(target.mul(input)?)?
    } else {
        input.sub(target.mul(input.add_scalar(F::of(opts.eps))?.ln()?)?)?
    };
    if opts.full {
        let t = target.value()?;
        let big = t.gt_scalar(F::one());
        // Masked out where t ≤ 1, as torch's: so the gradient in the target at t = 0 is
        // 0·∞ = NaN there, as torch's.
        let safe = target;
        let stirling = safe.mul(safe.ln()?)?.sub(safe)?.add(
            safe.mul_scalar(F::of(2.0 * std::f64::consts::PI))?
                .ln()?
                .mul_scalar(F::of(0.5))?,
        )?;
        let zero = target.tape().constant(Tensor::scalar(F::zero()));
        losses = losses.add(Var::where_cond(&big, stirling, zero)?)?;
    }
    opts.reduction.apply(losses)
}

/// torch's `gaussian_nll_loss` options, `Default` as torch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianNllOptions {
    /// Adds the constant `½ln(2π)`.
    pub full: bool,
    /// The variance is raised to at least `eps` (its gradient passing unchanged, as torch's
    /// clamp under `no_grad`).
    pub eps: f64,
    /// The reduction.
    pub reduction: Reduction,
}

impl Default for GaussianNllOptions {
    fn default() -> Self {
        GaussianNllOptions {
            full: false,
            eps: 1e-6,
            reduction: Reduction::Mean,
        }
    }
}

/// torch's `gaussian_nll_loss`: `½(ln var + (input − target)²/var)` with `var` broadcast to
/// `input` (same shape, or one fewer trailing axis, or a last axis of 1).
///
/// # Errors
/// [`Error::TargetShape`] unless `input` and `target` agree and `var` fits;
/// [`Error::InvalidArgument`] for a negative variance.
pub fn gaussian_nll_loss<'t, F: Float>(
    input: Var<'t, F>,
    target: Var<'t, F>,
    var: Var<'t, F>,
    opts: GaussianNllOptions,
) -> Result<Var<'t, F>> {
    let op = "gaussian_nll_loss";
    let shape = same_shape(op, input, target)?;
    let vs = var.shape();
    let var = if vs.len() + 1 == shape.len() && vs[..] == shape[..vs.len()] {
        var.unsqueeze(-1)?
    } else {
        var
    };
    let fits = var.shape().len() == shape.len()
        && var
            .shape()
            .iter()
            .zip(&shape)
            .enumerate()
            .all(|(i, (&v, &s))| v == s || (v == 1 && i + 1 == shape.len()));
    if !fits {
        return Err(Error::TargetShape {
            op,
            input: shape,
            target: vs,
        });
    }
    let v = var.value()?;
    if v.to_vec().iter().any(|&x| x < F::zero()) {
        return Err(Error::InvalidArgument {
            op,
            arg: "var",
            value: "a negative entry".into(),
            why: "variances must be non-negative",
        });
    }
    // var + (max(var, eps) − var): the value clamped, the gradient that of var.
    let eps = F::of(opts.eps);
    let lift = v.map(|x| if x < eps { eps - x } else { F::zero() });
    let var = var.add(var.tape().constant(lift))?;
    let mut losses = var
        .ln()?
        .add(input.sub(target)?.square()?.div(var)?)?
        .mul_scalar(F::of(0.5))?;
    if opts.full {
        losses = losses.add_scalar(F::of(0.5 * (2.0 * std::f64::consts::PI).ln()))?;
    }
    opts.reduction.apply(losses)
}

/// torch's `binary_cross_entropy` with a `weight` broadcast to the input (rescaling each
/// element's loss before the reduction); see [`bce_loss`].
///
/// # Errors
/// As [`bce_loss`], and [`Error::TargetShape`] if `weight` does not broadcast.
pub fn bce_loss_with<'t, F: Float>(
    p: Var<'t, F>,
    target: Var<'t, F>,
    weight: Option<&Tensor<F>>,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    let losses = bce_loss(p, target, Reduction::None)?;
    reduction.apply(weighted("bce_loss", losses, weight)?)
}

/// `losses · weight`, the weight broadcast to the losses' shape.
fn weighted<'t, F: Float>(
    op: &'static str,
    losses: Var<'t, F>,
    weight: Option<&Tensor<F>>,
) -> Result<Var<'t, F>> {
    match weight {
        None => Ok(losses),
        Some(w) => {
            sign_target(op, losses, w, &losses.shape())?;
            Ok(losses.mul(losses.tape().constant(w.clone()))?)
        }
    }
}

/// torch's `binary_cross_entropy_with_logits` with `weight` (per element, broadcast) and
/// `pos_weight` (per class, the last axis, multiplying the positive term):
/// `(1 − t)·x + (1 + (pw − 1)·t)·softplus(−x)`, finite for any logit.
///
/// # Errors
/// [`Error::TargetShape`] unless the shapes are equal and the weights broadcast.
pub fn bce_with_logits_with<'t, F: Float>(
    x: Var<'t, F>,
    target: Var<'t, F>,
    weight: Option<&Tensor<F>>,
    pos_weight: Option<&Tensor<F>>,
    reduction: Reduction,
) -> Result<Var<'t, F>> {
    let op = "bce_with_logits";
    let shape = same_shape(op, x, target)?;
    let losses = match pos_weight {
        None => x.softplus()?.sub(x.mul(target)?)?,
        Some(pw) => {
            let pw = sign_target(op, x, pw, &shape)?;
            let scale = pw
                .add_scalar(-F::one())?
                .mul(target)?
                .add_scalar(F::one())?;
            target
                .rsub_scalar(F::one())?
                .mul(x)?
                .add(scale.mul(x.neg()?.softplus()?)?)?
        }
    };
    reduction.apply(weighted(op, losses, weight)?)
}

/// torch's `kl_div` options, `Default` as torch's (`'mean'`, targets as probabilities).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KlDivOptions {
    /// The reduction (ignored when `batchmean`).
    pub reduction: Reduction,
    /// torch's `'batchmean'`: the sum divided by the batch size (the first axis), the
    /// true KL divergence per sample.
    pub batchmean: bool,
    /// The target is given as log-probabilities: the loss is `eᵗ·(t − input)`.
    pub log_target: bool,
}

/// [`kl_div`] with torch's `'batchmean'` and `log_target` (see [`KlDivOptions`]).
///
/// # Errors
/// [`Error::TargetShape`] unless the shapes are equal.
pub fn kl_div_with<'t, F: Float>(
    log_input: Var<'t, F>,
    target: Var<'t, F>,
    opts: KlDivOptions,
) -> Result<Var<'t, F>> {
    let inner = if opts.batchmean {
        Reduction::Sum
    } else {
        opts.reduction
    };
    let loss = if opts.log_target {
        same_shape("kl_div", log_input, target)?;
        inner.apply(target.exp()?.mul(target.sub(log_input)?)?)?
    } else {
        kl_div(log_input, target, inner)?
    };
    if opts.batchmean {
        let n = log_input.shape().first().copied().unwrap_or(1);
        Ok(loss.div_scalar(F::of(n as f64))?)
    } else {
        Ok(loss)
    }
}
