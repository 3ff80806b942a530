//! Stochastic gradient descent with momentum (torch.optim.SGD).
//!
//! `g ← ∇ + λθ` (weight decay), then with momentum `μ`:
//! `b ← g` on the first step, `b ← μ·b + (1 − τ)·g` after (dampening `τ`), and the step
//! direction is `g + μ·b` (Nesterov) or `b`; finally `θ ← θ − lr·direction`.
//! Sutskever et al. (2013) for the Nesterov form.
//!
//! `momentum_form=dampened` is the lecture form `v ← μ·v + (1 − μ)·g` from `v = 0`: an
//! exponential moving average of gradients, whose first step is `(1 − μ)·g` where torch's
//! (with `dampening = μ`) copies `g`.

use super::kernel::{grad_l2, in_parallel, sign_of, ElementLoop};
use crate::error::{Error, Result};
use crate::first_order::optimizer::{rule_state, RuleCtx, UpdateRule};
use crate::spec::{choices, options};
use descent_tensor::Float;

/// How the momentum buffer accumulates gradients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MomentumForm {
    /// torch's: `b₁ = g₁`, then `b ← μ·b + (1 − dampening)·g`.
    #[default]
    Torch,
    /// The lecture's (1 − μ)-dampened average `v ← μ·v + (1 − μ)·g` from `v₀ = 0`.
    Dampened,
}

choices!(MomentumForm { "torch" => Torch, "dampened" => Dampened });

options! {
    /// torch.optim.SGD's hyper-parameters (same names and defaults), plus [`MomentumForm`].
    ///
    /// ```
    /// use descent_optim::first_order::{FirstOrder, Sgd};
    /// let opt = FirstOrder::<f64, _>::new(Sgd { lr: 0.1, momentum: 0.9, nesterov: true, ..Sgd::default() })?;
    /// assert_eq!(opt.to_string(), "sgd:lr=0.1,momentum=0.9,nesterov=true");
    /// # Ok::<(), descent_optim::Error>(())
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Sgd {
        /// Learning rate.
        lr: f64 = 1e-3, NonNegative;
        /// Momentum factor μ (0: plain gradient descent).
        momentum: f64 = 0.0, NonNegative;
        /// Dampening τ of the momentum.
        dampening: f64 = 0.0, Finite;
        /// L2 penalty λ added to the gradient.
        weight_decay: f64 = 0.0, NonNegative;
        /// Nesterov momentum (needs momentum > 0 and dampening 0).
        nesterov: bool = false;
        /// Ascend instead of descend.
        maximize: bool = false;
        /// torch's momentum buffer or the lecture's (1 − μ)-dampened average.
        momentum_form: MomentumForm = MomentumForm::Torch;
    }
}

rule_state! {
    /// SGD's state: torch's `momentum_buffer`, kept when momentum ≠ 0.
    pub struct SgdState for Sgd {
        /// The momentum buffer `b`.
        momentum_buffer if (|r| r.momentum != 0.0),
    }
}

impl UpdateRule for Sgd {
    type State<F: Float> = SgdState<F>;

    fn name(&self) -> &'static str {
        "sgd"
    }

    fn check_relations(&self) -> Result<()> {
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::hyper(
                "sgd",
                "nesterov",
                true,
                format!(
                    "only with momentum > 0 and dampening = 0 (got momentum={}, dampening={})",
                    self.momentum, self.dampening
                ),
            ));
        }
        if self.momentum_form == MomentumForm::Dampened && self.dampening != 0.0 {
            return Err(Error::hyper(
                "sgd",
                "dampening",
                self.dampening,
                "0 with momentum_form=dampened (its dampening is 1 − momentum)",
            ));
        }
        Ok(())
    }

    lr_field!();

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut SgdState<F>, ctx: RuleCtx) {
        let n = p.len();
        let g = &g[..n];
        let sign = sign_of::<F>(self.maximize);
        let (neg_lr, wd, mu) = (
            F::of(-self.lr),
            F::of(self.weight_decay),
            F::of(self.momentum),
        );
        let (copy_first, keep) = match self.momentum_form {
            MomentumForm::Torch => (ctx.step == 1, F::of(1.0 - self.dampening)),
            MomentumForm::Dampened => (false, F::of(1.0 - self.momentum)),
        };
        let Some(b) = st.momentum_buffer.as_deref_mut() else {
            in_parallel(
                p,
                g,
                [&mut [], &mut [], &mut []],
                &[sign, wd, neg_lr],
                Plain,
            );
            return;
        };
        // torch's first step copies g into the (zero) buffer: 0·μ + 1·g.
        let (decay, keep) = if copy_first {
            (F::zero(), F::one())
        } else {
            (mu, keep)
        };
        let c = [sign, wd, decay, keep, mu, neg_lr];
        let bufs = [b, &mut [], &mut []];
        if self.nesterov {
            in_parallel(p, g, bufs, &c, Momentum::<true>);
        } else {
            in_parallel(p, g, bufs, &c, Momentum::<false>);
        }
    }
}

/// The plain step, `θ ← θ − lr·(±∇ + λθ)`; `c = [sign, weight_decay, −lr]`.
#[derive(Clone, Copy)]
struct Plain;

impl<F: Float> ElementLoop<F, [F; 3]> for Plain {
    #[inline(always)]
    fn run(self, p: &mut [F], g: &[F], _: [&mut [F]; 3], c: &[F; 3]) {
        let [sign, wd, neg_lr] = *c;
        let g = &g[..p.len()];
        for (p, &g) in p.iter_mut().zip(g) {
            *p = neg_lr.mul_add(grad_l2(g, *p, sign, wd), *p);
        }
    }
}

/// The momentum step, one monomorphized loop per form so that it vectorizes;
/// `c = [sign, weight_decay, buffer decay, gradient weight, μ, −lr]`.
#[derive(Clone, Copy)]
struct Momentum<const NESTEROV: bool>;

impl<F: Float, const NESTEROV: bool> ElementLoop<F, [F; 6]> for Momentum<NESTEROV> {
    #[inline(always)]
    fn run(self, p: &mut [F], g: &[F], [b, _, _]: [&mut [F]; 3], c: &[F; 6]) {
        let [sign, wd, decay, keep, mu, neg_lr] = *c;
        let n = p.len();
        let (g, b) = (&g[..n], &mut b[..n]);
        for i in 0..n {
            let d = grad_l2(g[i], p[i], sign, wd);
            b[i] = keep.mul_add(d, b[i] * decay);
            let dir = if NESTEROV { mu.mul_add(b[i], d) } else { b[i] };
            p[i] = neg_lr.mul_add(dir, p[i]);
        }
    }
}
