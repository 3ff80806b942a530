//! Adam and AdamW (torch.optim.Adam / AdamW; Kingma & Ba 2015, Loshchilov & Hutter 2019,
//! AMSGrad: Reddi et al. 2018).
//!
//! `g ← ∇ + λθ` (Adam) or `θ ← θ·(1 − lr·λ)` (AdamW, decoupled), then
//! `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g²`, `v̂ = max(v̂, v)` with AMSGrad,
//! `θ ← θ − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)`.
//!
//! `eps_inside=true` is the form `θ ← θ − lr·m̂ / √(v̂ + ε)` with both moments bias-corrected.

use super::kernel::{grad_l2, in_parallel, lerp, sign_of, weight_decay, Bufs, ElementLoop};
use crate::error::Result;
use crate::first_order::optimizer::{RuleCtx, State, UpdateRule};
use crate::spec::{Allowed, Spec};
use descent_tensor::Float;

/// torch.optim.Adam's hyper-parameters (same names and defaults); [`Adam::adamw`] gives
/// AdamW's (decoupled weight decay, `weight_decay = 1e-2`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adam {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Decays (β₁, β₂) of the first and second moments (default 0.9, 0.999).
    pub betas: (f64, f64),
    /// Added to the denominator (default 1e-8).
    pub eps: f64,
    /// Weight decay λ (default 0; AdamW's 1e-2).
    pub weight_decay: f64,
    /// AMSGrad: divide by the running maximum of `v`.
    pub amsgrad: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
    /// Decay the weights directly (AdamW) instead of adding λθ to the gradient.
    pub decoupled_weight_decay: bool,
    /// ε inside the square root, `√(v̂ + ε)`, as some lectures write it.
    pub eps_inside: bool,
}

impl Default for Adam {
    fn default() -> Self {
        Adam {
            lr: 1e-3,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            maximize: false,
            decoupled_weight_decay: false,
            eps_inside: false,
        }
    }
}

impl Adam {
    /// torch.optim.AdamW's defaults: decoupled weight decay 1e-2.
    pub fn adamw() -> Self {
        Adam {
            weight_decay: 1e-2,
            decoupled_weight_decay: true,
            ..Adam::default()
        }
    }
}

impl UpdateRule for Adam {
    fn name(&self) -> &'static str {
        if self.decoupled_weight_decay {
            "adamw"
        } else {
            "adam"
        }
    }

    fn from_spec(s: &mut Spec, base: &Self) -> Result<Self> {
        Ok(Adam {
            lr: s.f64("lr", base.lr)?,
            betas: s.pair("betas", base.betas)?,
            eps: s.f64("eps", base.eps)?,
            weight_decay: s.f64("weight_decay", base.weight_decay)?,
            amsgrad: s.bool("amsgrad", base.amsgrad)?,
            maximize: s.bool("maximize", base.maximize)?,
            decoupled_weight_decay: s
                .bool("decoupled_weight_decay", base.decoupled_weight_decay)?,
            eps_inside: s.bool("eps_inside", base.eps_inside)?,
        })
    }

    fn validate(&self) -> Result<()> {
        let name = self.name();
        Allowed::check_all(
            name,
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
        if self.amsgrad {
            &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            &["exp_avg", "exp_avg_sq"]
        }
    }

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut State<F>, _: RuleCtx) -> Result<()> {
        let n = p.len();
        let g = &g[..n];
        let mut bufs = Bufs::new(&mut st.bufs);
        let m = bufs.req("exp_avg", n)?;
        let v = bufs.req("exp_avg_sq", n)?;
        let vmax = bufs.next(self.amsgrad, "max_exp_avg_sq", n)?;
        let (b1, b2) = self.betas;
        let t = st.step as f64;
        let (bc1, bc2) = (1.0 - b1.powf(t), 1.0 - b2.powf(t));
        let neg_step = F::of(-(self.lr / bc1));
        let bc2_sqrt = F::of(bc2.powf(0.5));
        let (bc2, eps) = (F::of(bc2), F::of(self.eps));
        let (w1, b2f, w2) = (F::of(1.0 - b1), F::of(b2), F::of(1.0 - b2));
        let (l2, shrink) = weight_decay(self.lr, self.weight_decay, self.decoupled_weight_decay);
        let c = Coef {
            sign: sign_of(self.maximize),
            keep: shrink.unwrap_or(F::one()),
            l2,
            w1,
            b2: b2f,
            w2,
            bc2,
            bc2_sqrt,
            eps,
            neg_step,
        };
        // One monomorphized loop per (amsgrad, eps_inside), free of branches so it vectorizes.
        let bufs = [m, v, vmax.unwrap_or_default()];
        match (self.amsgrad, self.eps_inside) {
            (true, false) => in_parallel(p, g, bufs, &c, Kernel::<true, false>),
            (true, true) => in_parallel(p, g, bufs, &c, Kernel::<true, true>),
            (false, false) => in_parallel(p, g, bufs, &c, Kernel::<false, false>),
            (false, true) => in_parallel(p, g, bufs, &c, Kernel::<false, true>),
        }
        Ok(())
    }
}

/// The per-step constants of one Adam update.
struct Coef<F> {
    sign: F,
    keep: F,
    l2: F,
    w1: F,
    b2: F,
    w2: F,
    bc2: F,
    bc2_sqrt: F,
    eps: F,
    neg_step: F,
}

/// The element loop. `keep` (1 unless decoupled decay) multiplies exactly, so torch's
/// conditionals become arithmetic.
#[derive(Clone, Copy)]
struct Kernel<const AMS: bool, const INSIDE: bool>;

impl<F: Float, const AMS: bool, const INSIDE: bool> ElementLoop<F, Coef<F>>
    for Kernel<AMS, INSIDE>
{
    #[inline(always)]
    fn run(self, p: &mut [F], g: &[F], [m, v, vm]: [&mut [F]; 3], c: &Coef<F>) {
        let n = p.len();
        let (g, m, v) = (&g[..n], &mut m[..n], &mut v[..n]);
        let vm = if AMS { &mut vm[..n] } else { vm };
        for i in 0..n {
            p[i] *= c.keep;
            let d = grad_l2(g[i], p[i], c.sign, c.l2);
            m[i] = lerp(m[i], d, c.w1);
            // torch's `v.mul_(β₂).addcmul_(g, g, value=1 − β₂)`: addcmul is one fused
            // multiply-add on the CPU, `fma((1 − β₂)·g, g, β₂·v)`.
            v[i] = (c.w2 * d).mul_add(d, v[i] * c.b2);
            let second = if AMS {
                vm[i] = if v[i] > vm[i] { v[i] } else { vm[i] };
                vm[i]
            } else {
                v[i]
            };
            let denom = if INSIDE {
                (second / c.bc2 + c.eps).sqrt()
            } else {
                second.sqrt() / c.bc2_sqrt + c.eps
            };
            p[i] += c.neg_step * m[i] / denom;
        }
    }
}
