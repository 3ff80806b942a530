//! Adadelta (torch.optim.Adadelta; Zeiler 2012).
//!
//! `g ← ∇ + λθ`, `v ← ρ·v + (1 − ρ)·g²`, `Δ = √(u + ε) / √(v + ε) · g`,
//! `u ← ρ·u + (1 − ρ)·Δ²`, `θ ← θ − lr·Δ`.

use super::kernel::{grad_l2, in_parallel, sign_of, Bufs, ElementLoop};
use crate::error::Result;
use crate::first_order::optimizer::{RuleCtx, State, UpdateRule};
use crate::spec::{Allowed, Spec};
use descent_tensor::Float;

/// torch.optim.Adadelta's hyper-parameters (same names and defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adadelta {
    /// Scale of the update (default 1.0).
    pub lr: f64,
    /// Decay of both running averages (default 0.9).
    pub rho: f64,
    /// Added inside both roots (default 1e-6).
    pub eps: f64,
    /// L2 penalty (default 0).
    pub weight_decay: f64,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for Adadelta {
    fn default() -> Self {
        Adadelta {
            lr: 1.0,
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
            maximize: false,
        }
    }
}

impl UpdateRule for Adadelta {
    fn name(&self) -> &'static str {
        "adadelta"
    }

    fn from_spec(s: &mut Spec, base: &Self) -> Result<Self> {
        Ok(Adadelta {
            lr: s.f64("lr", base.lr)?,
            rho: s.f64("rho", base.rho)?,
            eps: s.f64("eps", base.eps)?,
            weight_decay: s.f64("weight_decay", base.weight_decay)?,
            maximize: s.bool("maximize", base.maximize)?,
        })
    }

    fn validate(&self) -> Result<()> {
        Allowed::check_all(
            "adadelta",
            &[
                ("lr", self.lr, Allowed::NonNegative),
                ("rho", self.rho, Allowed::Unit),
                ("eps", self.eps, Allowed::NonNegative),
                ("weight_decay", self.weight_decay, Allowed::NonNegative),
            ],
        )?;
        Ok(())
    }

    lr_field!();

    fn buffers(&self) -> &'static [&'static str] {
        &["square_avg", "acc_delta"]
    }

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut State<F>, _: RuleCtx) -> Result<()> {
        let n = p.len();
        let g = &g[..n];
        let sign = sign_of::<F>(self.maximize);
        let mut bufs = Bufs::new(&mut st.bufs);
        let v = bufs.req("square_avg", n)?;
        let u = bufs.req("acc_delta", n)?;
        let (neg_lr, wd, eps) = (F::of(-self.lr), F::of(self.weight_decay), F::of(self.eps));
        let (rho, keep) = (F::of(self.rho), F::of(1.0 - self.rho));
        let c = [sign, wd, rho, keep, eps, neg_lr];
        in_parallel(p, g, [v, u, &mut []], &c, Kernel);
        Ok(())
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
