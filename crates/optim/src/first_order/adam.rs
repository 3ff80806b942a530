//! Adam and AdamW (torch.optim.Adam / AdamW; Kingma & Ba 2015, Loshchilov & Hutter 2019,
//! AMSGrad: Reddi et al. 2018).
//!
//! `g ← ∇ + λθ` (Adam) or `θ ← θ·(1 − lr·λ)` (AdamW, decoupled), then
//! `m ← β₁·m + (1 − β₁)·g`, `v ← β₂·v + (1 − β₂)·g²`, `v̂ = max(v̂, v)` with AMSGrad,
//! `θ ← θ − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)`.
//!
//! `eps_inside=true` is the form `θ ← θ − lr·m̂ / √(v̂ + ε)` with both moments bias-corrected.

use super::kernel::{grad_l2, in_parallel, lerp, sign_of, weight_decay, ElementLoop};
use crate::first_order::optimizer::{rule_state, RuleCtx, UpdateRule};
use crate::spec::options;
use descent_tensor::Float;

options! {
    /// torch.optim.Adam's hyper-parameters (same names and defaults); [`Adam::adamw`] gives
    /// AdamW's (decoupled weight decay, `weight_decay = 1e-2`).
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Adam {
        /// Learning rate.
        lr: f64 = 1e-3, NonNegative;
        /// Decays (β₁, β₂) of the first and second moments.
        betas: (f64, f64) = (0.9, 0.999), UnitOpenRight;
        /// Added to the denominator.
        eps: f64 = 1e-8, NonNegative;
        /// Weight decay λ (AdamW's default is 1e-2).
        weight_decay: f64 = 0.0, NonNegative;
        /// AMSGrad: divide by the running maximum of `v`.
        amsgrad: bool = false;
        /// Ascend instead of descend.
        maximize: bool = false;
        /// Decay the weights directly (AdamW) instead of adding λθ to the gradient.
        decoupled_weight_decay: bool = false;
        /// ε inside the square root, `√(v̂ + ε)`, as some lectures write it.
        eps_inside: bool = false;
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

rule_state! {
    /// Adam's state under torch's names: the moments, and their running maximum with AMSGrad.
    pub struct AdamState for Adam {
        /// The first moment `m`.
        exp_avg,
        /// The second moment `v`.
        exp_avg_sq,
        /// `max(v)` over the steps, kept with AMSGrad.
        max_exp_avg_sq if (|r| r.amsgrad),
    }
}

impl UpdateRule for Adam {
    type State<F: Float> = AdamState<F>;

    fn name(&self) -> &'static str {
        if self.decoupled_weight_decay {
            "adamw"
        } else {
            "adam"
        }
    }

    lr_field!();

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut AdamState<F>, ctx: RuleCtx) {
        let n = p.len();
        let g = &g[..n];
        let (m, v) = (&mut st.exp_avg[..], &mut st.exp_avg_sq[..]);
        let vmax = st.max_exp_avg_sq.as_deref_mut();
        let (b1, b2) = self.betas;
        let t = ctx.step as f64;
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
