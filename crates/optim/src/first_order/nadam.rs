//! NAdam (torch.optim.NAdam; Dozat 2016): Adam with Nesterov momentum and a warming
//! momentum schedule `μₜ = β₁·(1 − ½·0.96^(t·ψ))` (ψ = `momentum_decay`).
//!
//! `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g²`, `d = √(v/(1 − β₂ᵗ)) + ε`,
//! `θ ← θ − lr·(1 − μₜ)/(1 − Πμ₁..ₜ)·g/d − lr·μₜ₊₁/(1 − Πμ₁..ₜ₊₁)·m/d`.

use super::kernel::{grad_l2, in_parallel, lerp, sign_of, weight_decay, Bufs, ElementLoop};
use crate::error::Result;
use crate::first_order::optimizer::{RuleCtx, State, UpdateRule};
use crate::spec::{Allowed, Spec};
use descent_tensor::Float;

/// torch.optim.NAdam's hyper-parameters (same names and defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NAdam {
    /// Learning rate (default 2e-3).
    pub lr: f64,
    /// Decays (β₁, β₂) (default 0.9, 0.999).
    pub betas: (f64, f64),
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    /// Weight decay (default 0).
    pub weight_decay: f64,
    /// ψ of the momentum schedule (default 4e-3).
    pub momentum_decay: f64,
    /// Decay the weights directly (as AdamW) instead of adding λθ to the gradient.
    pub decoupled_weight_decay: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
}

impl Default for NAdam {
    fn default() -> Self {
        NAdam {
            lr: 2e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            momentum_decay: 4e-3,
            decoupled_weight_decay: false,
            maximize: false,
        }
    }
}

impl UpdateRule for NAdam {
    fn name(&self) -> &'static str {
        "nadam"
    }

    fn from_spec(s: &mut Spec, base: &Self) -> Result<Self> {
        Ok(NAdam {
            lr: s.f64("lr", base.lr)?,
            betas: s.pair("betas", base.betas)?,
            eps: s.f64("eps", base.eps)?,
            weight_decay: s.f64("weight_decay", base.weight_decay)?,
            momentum_decay: s.f64("momentum_decay", base.momentum_decay)?,
            decoupled_weight_decay: s
                .bool("decoupled_weight_decay", base.decoupled_weight_decay)?,
            maximize: s.bool("maximize", base.maximize)?,
        })
    }

    fn validate(&self) -> Result<()> {
        Allowed::check_all(
            "nadam",
            &[
                ("lr", self.lr, Allowed::NonNegative),
                ("betas", self.betas.0, Allowed::UnitOpenRight),
                ("betas", self.betas.1, Allowed::UnitOpenRight),
                ("eps", self.eps, Allowed::NonNegative),
                ("weight_decay", self.weight_decay, Allowed::NonNegative),
                ("momentum_decay", self.momentum_decay, Allowed::NonNegative),
            ],
        )?;
        Ok(())
    }

    lr_field!();

    fn buffers(&self) -> &'static [&'static str] {
        &["exp_avg", "exp_avg_sq"]
    }

    /// The buffers and `mu_product = 1`.
    fn init<F: Float>(&self, numel: usize) -> (Vec<Vec<F>>, Vec<f64>) {
        (vec![vec![F::zero(); numel]; 2], vec![1.0])
    }

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut State<F>, _: RuleCtx) -> Result<()> {
        let n = p.len();
        let g = &g[..n];
        let sign = sign_of::<F>(self.maximize);
        let (b1, b2) = self.betas;
        let t = st.step as f64;
        let bc2 = F::of(1.0 - b2.powf(t));
        let mu = b1 * (1.0 - 0.5 * 0.96f64.powf(t * self.momentum_decay));
        let mu_next = b1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * self.momentum_decay));
        let Some(mu_product) = st.scalars.first_mut() else {
            return Err(crate::error::Error::state("nadam: mu_product is missing"));
        };
        // torch keeps the product in the parameters' precision (a tensor of their dtype).
        *mu_product = (F::of(*mu_product) * F::of(mu)).as_f64();
        let c_grad = F::of(-self.lr * (1.0 - mu) / (1.0 - *mu_product));
        let c_avg = F::of(-self.lr * mu_next / (1.0 - *mu_product * mu_next));
        let mut bufs = Bufs::new(&mut st.bufs);
        let m = bufs.req("exp_avg", n)?;
        let v = bufs.req("exp_avg_sq", n)?;
        let (w1, b2f, w2, eps) = (F::of(1.0 - b1), F::of(b2), F::of(1.0 - b2), F::of(self.eps));
        let (l2, shrink) = weight_decay(self.lr, self.weight_decay, self.decoupled_weight_decay);
        let keep = shrink.unwrap_or(F::one());
        let c = [sign, keep, l2, w1, b2f, w2, bc2, eps, c_grad, c_avg];
        in_parallel(p, g, [m, v, &mut []], &c, Kernel);
        Ok(())
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
