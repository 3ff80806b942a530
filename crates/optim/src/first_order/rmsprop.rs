//! RMSprop (torch.optim.RMSprop; Hinton's lecture 6e, Graves 2013 for the centered form).
//!
//! `g ← ∇ + λθ`, `v ← α·v + (1 − α)·g²`; centered: `ḡ ← α·ḡ + (1 − α)·g`, `v' = v − ḡ²`;
//! `d = √v' + ε`; with momentum `b ← μ·b + g/d`, `θ ← θ − lr·b`, else `θ ← θ − lr·g/d`.
//! `eps_inside=true` uses `d = √(v' + ε)` (Goodfellow et al., Algorithm 8.5).
//!
//! The operations and their rounding are torch's single-tensor path: `v·α` then one fused
//! `+ (1 − α)g·g`; `ḡ` by `lerp` (fused); `v − ḡ²` fused; `√ + ε`; `b·μ + g/d`; `θ` fused
//! `+ (−lr)·b`. The one difference left is the square root: Rust's is correctly rounded,
//! torch's CPU kernel is not always (1 ulp apart now and then, in f64 as in f32).

use super::kernel::{grad_l2, in_parallel, lerp, sign_of, ElementLoop};
use crate::first_order::optimizer::{rule_state, RuleCtx, UpdateRule};
use crate::spec::options;
use descent_tensor::Float;

options! {
    /// torch.optim.RMSprop's hyper-parameters (same names and defaults).
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct RmsProp {
        /// Learning rate.
        lr: f64 = 1e-2, NonNegative;
        /// Smoothing constant α.
        alpha: f64 = 0.99, Unit;
        /// Added to the denominator.
        eps: f64 = 1e-8, NonNegative;
        /// L2 penalty.
        weight_decay: f64 = 0.0, NonNegative;
        /// Momentum μ.
        momentum: f64 = 0.0, NonNegative;
        /// Normalize by the variance estimate `v − ḡ²` instead of `v`.
        centered: bool = false;
        /// Ascend instead of descend.
        maximize: bool = false;
        /// ε inside the square root, `√(v + ε)`.
        eps_inside: bool = false;
    }
}

rule_state! {
    /// RMSprop's state under torch's names.
    pub struct RmsPropState for RmsProp {
        /// The running average of squared gradients `v`.
        square_avg,
        /// The momentum buffer `b`, kept with momentum > 0.
        momentum_buffer if (|r| r.momentum > 0.0),
        /// The running average of gradients `ḡ`, kept when centered.
        grad_avg if (|r| r.centered),
    }
}

impl UpdateRule for RmsProp {
    type State<F: Float> = RmsPropState<F>;

    fn name(&self) -> &'static str {
        "rmsprop"
    }

    lr_field!();

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut RmsPropState<F>, _: RuleCtx) {
        let n = p.len();
        let g = &g[..n];
        let sign = sign_of::<F>(self.maximize);
        let v = &mut st.square_avg[..];
        let mom = st.momentum_buffer.as_deref_mut();
        let avg = st.grad_avg.as_deref_mut();
        let (alpha, keep) = (F::of(self.alpha), F::of(1.0 - self.alpha));
        let (neg_lr, wd, eps, mu) = (
            F::of(-self.lr),
            F::of(self.weight_decay),
            F::of(self.eps),
            F::of(self.momentum),
        );
        let c = [sign, wd, alpha, keep, eps, mu, neg_lr];
        let (centered, inside) = (avg.is_some(), self.eps_inside);
        let (a, b) = (avg.unwrap_or_default(), mom.unwrap_or_default());
        let momentum = !b.is_empty();
        // One monomorphized loop per (centered, momentum, eps_inside), so each vectorizes.
        let bufs = [v, a, b];
        match (centered, momentum, inside) {
            (false, false, false) => in_parallel(p, g, bufs, &c, Kernel::<false, false, false>),
            (false, false, true) => in_parallel(p, g, bufs, &c, Kernel::<false, false, true>),
            (false, true, false) => in_parallel(p, g, bufs, &c, Kernel::<false, true, false>),
            (false, true, true) => in_parallel(p, g, bufs, &c, Kernel::<false, true, true>),
            (true, false, false) => in_parallel(p, g, bufs, &c, Kernel::<true, false, false>),
            (true, false, true) => in_parallel(p, g, bufs, &c, Kernel::<true, false, true>),
            (true, true, false) => in_parallel(p, g, bufs, &c, Kernel::<true, true, false>),
            (true, true, true) => in_parallel(p, g, bufs, &c, Kernel::<true, true, true>),
        }
    }
}

/// The element loop; `a` (the gradient average) and `b` (the momentum buffer) are empty when
/// unused; `c = [sign, weight_decay, α, 1 − α, ε, μ, −lr]`.
#[derive(Clone, Copy)]
struct Kernel<const CENTERED: bool, const MOMENTUM: bool, const INSIDE: bool>;

impl<F: Float, const CENTERED: bool, const MOMENTUM: bool, const INSIDE: bool>
    ElementLoop<F, [F; 7]> for Kernel<CENTERED, MOMENTUM, INSIDE>
{
    #[inline(always)]
    fn run(self, p: &mut [F], g: &[F], [v, a, b]: [&mut [F]; 3], c: &[F; 7]) {
        let [sign, wd, alpha, keep, eps, mu, neg_lr] = *c;
        let n = p.len();
        let (g, v) = (&g[..n], &mut v[..n]);
        let a = if CENTERED { &mut a[..n] } else { a };
        let b = if MOMENTUM { &mut b[..n] } else { b };
        for i in 0..n {
            let d = grad_l2(g[i], p[i], sign, wd);
            // torch's CPU `addcmul` is one fused multiply-add, `self + (value·t1)·t2`
            // rounded once, here and for `v − ḡ²` below.
            v[i] = (keep * d).mul_add(d, v[i] * alpha);
            let var = if CENTERED {
                a[i] = lerp(a[i], d, keep);
                (-a[i]).mul_add(a[i], v[i])
            } else {
                v[i]
            };
            let denom = if INSIDE {
                (var + eps).sqrt()
            } else {
                var.sqrt() + eps
            };
            if MOMENTUM {
                b[i] = b[i] * mu + d / denom;
                p[i] = neg_lr.mul_add(b[i], p[i]);
            } else {
                p[i] += neg_lr * d / denom;
            }
        }
    }
}
