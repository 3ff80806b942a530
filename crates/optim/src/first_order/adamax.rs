//! Adamax (torch.optim.Adamax; Kingma & Ba 2015, §7.1): Adam with the infinity norm.
//!
//! `g ← ∇ + λθ`, `m ← β₁·m + (1 − β₁)·g`, `u ← max(β₂·u, |g| + ε)`,
//! `θ ← θ − lr/(1 − β₁ᵗ) · m / u`.

use super::kernel::{grad_l2, in_parallel, lerp, sign_of, Bufs, ElementLoop};
use crate::error::Result;
use crate::first_order::optimizer::{RuleCtx, State, UpdateRule};
use crate::spec::{Allowed, Spec};
use descent_tensor::Float;

/// torch.optim.Adamax's hyper-parameters (same names and defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adamax {
    /// Learning rate (default 2e-3).
    pub lr: f64,
    /// Decays (β₁, β₂) (default 0.9, 0.999).
    pub betas: (f64, f64),
    /// Added to |g| (default 1e-8).
    pub eps: f64,
    /// L2 penalty (default 0).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Adamax {
    fn default() -> Self {
        Adamax {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            maximize: false,
        }
    }
}

impl UpdateRule for Adamax {
    fn name(&self) -> &'static str {
        "adamax"
    }

    fn from_spec(s: &mut Spec, base: &Self) -> Result<Self> {
        Ok(Adamax {
            lr: s.f64("lr", base.lr)?,
            betas: s.pair("betas", base.betas)?,
            eps: s.f64("eps", base.eps)?,
            weight_decay: s.f64("weight_decay", base.weight_decay)?,
            maximize: s.bool("maximize", base.maximize)?,
        })
    }

    fn validate(&self) -> Result<()> {
        Allowed::check_all(
            "adamax",
            &[
                ("lr", self.lr, Allowed::NonNegative),
                ("betas", self.betas.0, Allowed::UnitOpenRight),
                ("betas", self.betas.1, Allowed::UnitOpenRight),
                ("eps", self.eps, Allowed::NonNegative),
                ("weight_decay", self.weight_decay, Allowed::NonNegative),
            ],
        )?;
        Ok(())
    }

    lr_field!();

    fn buffers(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_inf"]
    }

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut State<F>, _: RuleCtx) -> Result<()> {
        let n = p.len();
        let g = &g[..n];
        let sign = sign_of::<F>(self.maximize);
        let mut bufs = Bufs::new(&mut st.bufs);
        let m = bufs.req("exp_avg", n)?;
        let u = bufs.req("exp_inf", n)?;
        let (b1, b2) = self.betas;
        let neg_clr = F::of(-(self.lr / (1.0 - b1.powf(st.step as f64))));
        let (w1, b2, eps, wd) = (
            F::of(1.0 - b1),
            F::of(b2),
            F::of(self.eps),
            F::of(self.weight_decay),
        );
        let c = [sign, wd, w1, b2, eps, neg_clr];
        in_parallel(p, g, [m, u, &mut []], &c, Kernel);
        Ok(())
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
