//! NAdam (torch.optim.NAdam; Dozat 2016): Adam with Nesterov momentum and a warming
//! momentum schedule `μₜ = β₁·(1 − ½·0.96^(t·ψ))` (ψ = `momentum_decay`).
//!
//! `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g²`, `d = √(v/(1 − β₂ᵗ)) + ε`,
//! `θ ← θ − lr·(1 − μₜ)/(1 − Πμ₁..ₜ)·g/d − lr·μₜ₊₁/(1 − Πμ₁..ₜ₊₁)·m/d`.

use super::kernel::{grad_l2, in_parallel, lerp, sign_of, weight_decay, ElementLoop};
use crate::error::Result;
use crate::first_order::optimizer::{RuleCtx, RuleState, Saved, UpdateRule};
use crate::spec::options;
use descent_tensor::Float;

options! {
    /// torch.optim.NAdam's hyper-parameters (same names and defaults).
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct NAdam {
        /// Learning rate.
        lr: f64 = 2e-3, NonNegative;
        /// Decays (β₁, β₂).
        betas: (f64, f64) = (0.9, 0.999), UnitOpenRight;
        /// Added to the denominator.
        eps: f64 = 1e-8, NonNegative;
        /// Weight decay.
        weight_decay: f64 = 0.0, NonNegative;
        /// ψ of the momentum schedule.
        momentum_decay: f64 = 4e-3, NonNegative;
        /// Decay the weights directly (as AdamW) instead of adding λθ to the gradient.
        decoupled_weight_decay: bool = false;
        /// Ascend instead of descend.
        maximize: bool = false;
    }
}

/// NAdam's state under torch's names: Adam's moments and the product of the momentum
/// schedule so far.
#[derive(Debug, Clone, PartialEq)]
pub struct NAdamState<F> {
    /// The first moment `m`.
    pub exp_avg: Vec<F>,
    /// The second moment `v`.
    pub exp_avg_sq: Vec<F>,
    /// `Πμ₁..ₜ`, from 1, rounded to the parameters' precision as torch keeps it.
    pub mu_product: f64,
}

impl<F: Float> RuleState<F> for NAdamState<F> {
    type Rule = NAdam;

    fn new(_: &NAdam, numel: usize) -> Self {
        NAdamState {
            exp_avg: vec![F::zero(); numel],
            exp_avg_sq: vec![F::zero(); numel],
            mu_product: 1.0,
        }
    }

    fn buffers(&self) -> Vec<(&'static str, &[F])> {
        vec![("exp_avg", &self.exp_avg), ("exp_avg_sq", &self.exp_avg_sq)]
    }

    fn scalars(&self) -> Vec<f64> {
        vec![self.mu_product]
    }

    fn load(_: &NAdam, saved: &mut Saved<'_, F>) -> Result<Self> {
        Ok(NAdamState {
            exp_avg: saved.buffer("exp_avg")?,
            exp_avg_sq: saved.buffer("exp_avg_sq")?,
            mu_product: saved.scalar("mu_product")?,
        })
    }
}

impl UpdateRule for NAdam {
    type State<F: Float> = NAdamState<F>;

    fn name(&self) -> &'static str {
        "nadam"
    }

    lr_field!();

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut NAdamState<F>, ctx: RuleCtx) {
        let n = p.len();
        let g = &g[..n];
        let sign = sign_of::<F>(self.maximize);
        let (b1, b2) = self.betas;
        let t = ctx.step as f64;
        let bc2 = F::of(1.0 - b2.powf(t));
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        let mu_product = &mut st.mu_product;
        // torch keeps the product in the parameters' precision (a tensor of their dtype).
        *mu_product = (F::of(*mu_product) * F::of(mu)).as_f64();
        let c_grad = F::of(-self.lr * (1.0 - mu) / (1.0 - *mu_product));
        let c_avg = F::of(-self.lr * mu_next / (1.0 - *mu_product * mu_next));
        let (m, v) = (&mut st.exp_avg[..], &mut st.exp_avg_sq[..]);
        let (w1, b2f, w2, eps) = (F::of(1.0 - b1), F::of(b2), F::of(1.0 - b2), F::of(self.eps));
        let (l2, shrink) = weight_decay(self.lr, self.weight_decay, self.decoupled_weight_decay);
        let keep = shrink.unwrap_or(F::one());
        let c = [sign, keep, l2, w1, b2f, w2, bc2, eps, c_grad, c_avg];
        in_parallel(p, g, [m, v, &mut []], &c, Kernel);
    }
}

/// The element loop; `c = [sign, decoupled-decay factor, weight_decay, 1 − β₁, β₂, 1 − β₂,
/// 1 − β₂ᵗ, ε, gradient coefficient, average coefficient]`.
#[derive(Clone, Copy)]
struct Kernel;

impl<F: Float> ElementLoop<F, [F; 10]> for Kernel {
    #[inline(always)]
    fn run(self, p: &mut [F], g: &[F], [m, v, _]: [&mut [F]; 3], c: &[F; 10]) {
        let [sign, keep, l2, w1, b2f, w2, bc2, eps, c_grad, c_avg] = *c;
        let n = p.len();
        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
        for i in 0..n {
            p[i] *= keep;
            let d = grad_l2(g[i], p[i], sign, l2);
            m[i] = lerp(m[i], d, w1);
            // torch's `addcmul_`, fused: `fma((1 − β₂)·g, g, β₂·v)`.
            v[i] = (w2 * d).mul_add(d, v[i] * b2f);
            let denom = (v[i] / bc2).sqrt() + eps;
            p[i] += c_grad * d / denom;
            p[i] += c_avg * m[i] / denom;
        }
    }
}
