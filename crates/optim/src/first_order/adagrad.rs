//! Adagrad (torch.optim.Adagrad; Duchi, Hazan & Singer 2011).
//!
//! `g ← ∇ + λθ`, `clr = lr / (1 + (t − 1)·lr_decay)`, `s ← s + g²`,
//! `θ ← θ − clr·g / (√s + ε)`; `s` starts at `initial_accumulator_value`.

use super::kernel::{grad_l2, in_parallel, sign_of, ElementLoop};
use crate::first_order::optimizer::{rule_state, RuleCtx, UpdateRule};
use crate::spec::options;
use descent_tensor::Float;

options! {
    /// torch.optim.Adagrad's hyper-parameters (same names and defaults).
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Adagrad {
        /// Learning rate.
        lr: f64 = 1e-2, NonNegative;
        /// Learning-rate decay per step.
        lr_decay: f64 = 0.0, NonNegative;
        /// L2 penalty.
        weight_decay: f64 = 0.0, NonNegative;
        /// Starting value of the sum of squares.
        initial_accumulator_value: f64 = 0.0, NonNegative;
        /// Added to the root for stability.
        eps: f64 = 1e-10, NonNegative;
        /// Ascend instead of descend.
        maximize: bool = false;
    }
}

rule_state! {
    /// Adagrad's state under torch's name.
    pub struct AdagradState for Adagrad {
        /// The sum of squared gradients, from `initial_accumulator_value`.
        sum = |r| r.initial_accumulator_value,
    }
}

impl UpdateRule for Adagrad {
    type State<F: Float> = AdagradState<F>;

    fn name(&self) -> &'static str {
        "adagrad"
    }

    lr_field!();

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut AdagradState<F>, ctx: RuleCtx) {
        let n = p.len();
        let g = &g[..n];
        let sign = sign_of::<F>(self.maximize);
        let sum = &mut st.sum[..];
        let clr = self.lr / (1.0 + (ctx.step as f64 - 1.0) * self.lr_decay);
        let (neg_clr, wd, eps) = (F::of(-clr), F::of(self.weight_decay), F::of(self.eps));
        let c = [sign, wd, eps, neg_clr];
        in_parallel(p, g, [sum, &mut [], &mut []], &c, Kernel);
    }
}

/// The element loop; `c = [sign, weight_decay, ε, −lr/(1 + (t − 1)·lr_decay)]`.
#[derive(Clone, Copy)]
struct Kernel;

impl<F: Float> ElementLoop<F, [F; 4]> for Kernel {
    #[inline(always)]
    fn run(self, p: &mut [F], g: &[F], [sum, _, _]: [&mut [F]; 3], c: &[F; 4]) {
        let [sign, wd, eps, neg_clr] = *c;
        let n = p.len();
        let (g, sum) = (&g[..n], &mut sum[..n]);
        for i in 0..n {
            let d = grad_l2(g[i], p[i], sign, wd);
            // torch's `sum.addcmul_(g, g, value=1)`, fused: `fma(g, g, sum)`.
            sum[i] = d.mul_add(d, sum[i]);
            p[i] += neg_clr * d / (sum[i].sqrt() + eps);
        }
    }
}
