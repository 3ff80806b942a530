//! Adadelta (torch.optim.Adadelta; Zeiler 2012).
//!
//! `g ← ∇ + λθ`, `v ← ρ·v + (1 − ρ)·g²`, `Δ = √(u + ε) / √(v + ε) · g`,
//! `u ← ρ·u + (1 − ρ)·Δ²`, `θ ← θ − lr·Δ`.

use super::kernel::{grad_l2, in_parallel, sign_of, ElementLoop};
use crate::first_order::optimizer::{rule_state, RuleCtx, UpdateRule};
use crate::spec::options;
use descent_tensor::Float;

options! {
    /// torch.optim.Adadelta's hyper-parameters (same names and defaults).
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Adadelta {
        /// Scale of the update.
        lr: f64 = 1.0, NonNegative;
        /// Decay of both running averages.
        rho: f64 = 0.9, Unit;
        /// Added inside both roots.
        eps: f64 = 1e-6, NonNegative;
        /// L2 penalty.
        weight_decay: f64 = 0.0, NonNegative;
        /// Ascend instead of descend.
        maximize: bool = false;
    }
}

rule_state! {
    /// Adadelta's state under torch's names.
    pub struct AdadeltaState for Adadelta {
        /// The running average of squared gradients `v`.
        square_avg,
        /// The running average of squared updates `u`.
        acc_delta,
    }
}

impl UpdateRule for Adadelta {
    type State<F: Float> = AdadeltaState<F>;

    fn name(&self) -> &'static str {
        "adadelta"
    }

    lr_field!();

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut AdadeltaState<F>, _: RuleCtx) {
        let n = p.len();
        let g = &g[..n];
        let sign = sign_of::<F>(self.maximize);
        let (v, u) = (&mut st.square_avg[..], &mut st.acc_delta[..]);
        let (neg_lr, wd, eps) = (F::of(-self.lr), F::of(self.weight_decay), F::of(self.eps));
        let (rho, keep) = (F::of(self.rho), F::of(1.0 - self.rho));
        let c = [sign, wd, rho, keep, eps, neg_lr];
        in_parallel(p, g, [v, u, &mut []], &c, Kernel);
    }
}

/// The element loop; `c = [sign, weight_decay, ρ, 1 − ρ, ε, −lr]`.
#[derive(Clone, Copy)]
struct Kernel;

impl<F: Float> ElementLoop<F, [F; 6]> for Kernel {
    #[inline(always)]
    fn run(self, p: &mut [F], g: &[F], [v, u, _]: [&mut [F]; 3], c: &[F; 6]) {
        let [sign, wd, rho, keep, eps, neg_lr] = *c;
        let n = p.len();
        let (g, v, u) = (&g[..n], &mut v[..n], &mut u[..n]);
        for i in 0..n {
            let d = grad_l2(g[i], p[i], sign, wd);
            // torch's `mul_(ρ).addcmul_(x, x, value=1 − ρ)`, fused: `fma((1 − ρ)·x, x, ρ·v)`.
            v[i] = (keep * d).mul_add(d, v[i] * rho);
            let delta = (u[i] + eps).sqrt() / (v[i] + eps).sqrt() * d;
            u[i] = (keep * delta).mul_add(delta, u[i] * rho);
            p[i] = neg_lr.mul_add(delta, p[i]);
        }
    }
}
