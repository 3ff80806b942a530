//! Adamax (torch.optim.Adamax; Kingma & Ba 2015, §7.1): Adam with the infinity norm.
//!
//! `g ← ∇ + λθ`, `m ← β₁·m + (1 − β₁)·g`, `u ← max(β₂·u, |g| + ε)`,
//! `θ ← θ − lr/(1 − β₁ᵗ) · m / u`.

use super::kernel::{grad_l2, in_parallel, lerp, sign_of, ElementLoop};
use crate::first_order::optimizer::{rule_state, RuleCtx, UpdateRule};
use crate::spec::options;
use descent_tensor::Float;

options! {
    /// torch.optim.Adamax's hyper-parameters (same names and defaults).
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Adamax {
        /// Learning rate.
        lr: f64 = 2e-3, NonNegative;
        /// Decays (β₁, β₂).
        betas: (f64, f64) = (0.9, 0.999), UnitOpenRight;
        /// Added to |g|.
        eps: f64 = 1e-8, NonNegative;
        /// L2 penalty.
        weight_decay: f64 = 0.0, NonNegative;
        /// Ascend instead of descend.
        maximize: bool = false;
    }
}

rule_state! {
    /// Adamax's state under torch's names.
    pub struct AdamaxState for Adamax {
        /// The first moment `m`.
        exp_avg,
        /// The decayed infinity norm `u`.
        exp_inf,
    }
}

impl UpdateRule for Adamax {
    type State<F: Float> = AdamaxState<F>;

    fn name(&self) -> &'static str {
        "adamax"
    }

    lr_field!();

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut AdamaxState<F>, ctx: RuleCtx) {
        let n = p.len();
        let g = &g[..n];
        let sign = sign_of::<F>(self.maximize);
        let (m, u) = (&mut st.exp_avg[..], &mut st.exp_inf[..]);
        let (b1, b2) = self.betas;
        let neg_clr = F::of(-(self.lr / (1.0 - b1.powf(ctx.step as f64))));
        let (w1, b2, eps, wd) = (
            F::of(1.0 - b1),
            F::of(b2),
            F::of(self.eps),
            F::of(self.weight_decay),
        );
        let c = [sign, wd, w1, b2, eps, neg_clr];
        in_parallel(p, g, [m, u, &mut []], &c, Kernel);
    }
}

/// The element loop; `c = [sign, weight_decay, 1 − β₁, β₂, ε, −lr/(1 − β₁ᵗ)]`.
#[derive(Clone, Copy)]
struct Kernel;

impl<F: Float> ElementLoop<F, [F; 6]> for Kernel {
    #[inline(always)]
    fn run(self, p: &mut [F], g: &[F], [m, u, _]: [&mut [F]; 3], c: &[F; 6]) {
        let [sign, wd, w1, b2, eps, neg_clr] = *c;
        let n = p.len();
        let (g, m, u) = (&g[..n], &mut m[..n], &mut u[..n]);
        for i in 0..n {
            let d = grad_l2(g[i], p[i], sign, wd);
            m[i] = lerp(m[i], d, w1);
            let (decayed, fresh) = (u[i] * b2, d.abs() + eps);
            u[i] = if decayed > fresh { decayed } else { fresh };
            p[i] += neg_clr * m[i] / u[i];
        }
    }
}
