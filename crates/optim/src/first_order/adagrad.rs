//! Adagrad (torch.optim.Adagrad; Duchi, Hazan & Singer 2011).
//!
//! `g ← ∇ + λθ`, `clr = lr / (1 + (t − 1)·lr_decay)`, `s ← s + g²`,
//! `θ ← θ − clr·g / (√s + ε)`; `s` starts at `initial_accumulator_value`.

use super::kernel::{grad_l2, in_parallel, sign_of, Bufs, ElementLoop};
use crate::error::Result;
use crate::first_order::optimizer::{RuleCtx, State, UpdateRule};
use crate::spec::{Allowed, Spec};
use descent_tensor::Float;

/// torch.optim.Adagrad's hyper-parameters (same names and defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adagrad {
    /// Learning rate (default 1e-2).
    pub lr: f64,
    /// Learning-rate decay per step (default 0).
    pub lr_decay: f64,
    /// L2 penalty (default 0).
    pub weight_decay: f64,
    /// Starting value of the sum of squares (default 0).
    pub initial_accumulator_value: f64,
    /// Added to the root for stability (default 1e-10).
    pub eps: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Adagrad {
    fn default() -> Self {
        Adagrad {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            maximize: false,
        }
    }
}

impl UpdateRule for Adagrad {
    fn name(&self) -> &'static str {
        "adagrad"
    }

    fn from_spec(s: &mut Spec, base: &Self) -> Result<Self> {
        Ok(Adagrad {
            lr: s.f64("lr", base.lr)?,
            lr_decay: s.f64("lr_decay", base.lr_decay)?,
            weight_decay: s.f64("weight_decay", base.weight_decay)?,
            initial_accumulator_value: s
                .f64("initial_accumulator_value", base.initial_accumulator_value)?,
            eps: s.f64("eps", base.eps)?,
            maximize: s.bool("maximize", base.maximize)?,
        })
    }

    fn validate(&self) -> Result<()> {
        let n = Allowed::NonNegative;
        n.check("adagrad", "lr", self.lr)?;
        n.check("adagrad", "lr_decay", self.lr_decay)?;
        n.check("adagrad", "weight_decay", self.weight_decay)?;
        n.check(
            "adagrad",
            "initial_accumulator_value",
            self.initial_accumulator_value,
        )?;
        n.check("adagrad", "eps", self.eps)?;
        Ok(())
    }

    lr_field!();

    fn buffers(&self) -> &'static [&'static str] {
        &["sum"]
    }

    fn init<F: Float>(&self, numel: usize) -> (Vec<Vec<F>>, Vec<f64>) {
        (
            vec![vec![F::of(self.initial_accumulator_value); numel]],
            Vec::new(),
        )
    }

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut State<F>, _: RuleCtx) -> Result<()> {
        let n = p.len();
        let g = &g[..n];
        let sign = sign_of::<F>(self.maximize);
        let sum = Bufs::new(&mut st.bufs).req("sum", n)?;
        let clr = self.lr / (1.0 + (st.step as f64 - 1.0) * self.lr_decay);
        let (neg_clr, wd, eps) = (F::of(-clr), F::of(self.weight_decay), F::of(self.eps));
        let c = [sign, wd, eps, neg_clr];
        in_parallel(p, g, [sum, &mut [], &mut []], &c, Kernel);
        Ok(())
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
