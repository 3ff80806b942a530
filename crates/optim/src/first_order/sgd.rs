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

use super::kernel::{grad_l2, in_parallel, sign_of, Bufs, ElementLoop};
use crate::error::{Error, Result};
use crate::first_order::optimizer::{RuleCtx, State, UpdateRule};
use crate::spec::{Allowed, Spec};
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

/// torch.optim.SGD's hyper-parameters (same names and defaults), plus [`MomentumForm`].
///
/// ```
/// use descent_optim::first_order::{FirstOrder, Sgd};
/// let opt = FirstOrder::<f64, _>::new(Sgd { lr: 0.1, momentum: 0.9, nesterov: true, ..Sgd::default() })?;
/// # Ok::<(), descent_optim::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// Momentum factor μ (default 0: plain gradient descent).
    pub momentum: f64,
    /// Dampening τ of the momentum (default 0).
    pub dampening: f64,
    /// L2 penalty λ added to the gradient (default 0).
    pub weight_decay: f64,
    /// Nesterov momentum (needs momentum > 0 and dampening 0).
    pub nesterov: bool,
    /// Ascend instead of descend.
    pub maximize: bool,
    /// torch's momentum buffer or the lecture's (1 − μ)-dampened average.
    pub momentum_form: MomentumForm,
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            maximize: false,
            momentum_form: MomentumForm::Torch,
        }
    }
}

impl UpdateRule for Sgd {
    fn name(&self) -> &'static str {
        "sgd"
    }

    fn from_spec(s: &mut Spec, base: &Self) -> Result<Self> {
        let form = match base.momentum_form {
            MomentumForm::Torch => "torch",
            MomentumForm::Dampened => "dampened",
        };
        Ok(Sgd {
            lr: s.f64("lr", base.lr)?,
            momentum: s.f64("momentum", base.momentum)?,
            dampening: s.f64("dampening", base.dampening)?,
            weight_decay: s.f64("weight_decay", base.weight_decay)?,
            nesterov: s.bool("nesterov", base.nesterov)?,
            maximize: s.bool("maximize", base.maximize)?,
            momentum_form: match s.choice("momentum_form", form, &["torch", "dampened"])? {
                "dampened" => MomentumForm::Dampened,
                _ => MomentumForm::Torch,
            },
        })
    }

    fn validate(&self) -> Result<()> {
        Allowed::check_all(
            "sgd",
            &[
                ("lr", self.lr, Allowed::NonNegative),
                ("momentum", self.momentum, Allowed::NonNegative),
                ("dampening", self.dampening, Allowed::Finite),
                ("weight_decay", self.weight_decay, Allowed::NonNegative),
            ],
        )?;
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

    fn buffers(&self) -> &'static [&'static str] {
        if self.momentum != 0.0 {
            &["momentum_buffer"]
        } else {
            &[]
        }
    }

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut State<F>, _: RuleCtx) -> Result<()> {
        let n = p.len();
        let g = &g[..n];
        let sign = sign_of::<F>(self.maximize);
        let (neg_lr, wd, mu) = (
            F::of(-self.lr),
            F::of(self.weight_decay),
            F::of(self.momentum),
        );
        let (copy_first, keep) = match self.momentum_form {
            MomentumForm::Torch => (st.step == 1, F::of(1.0 - self.dampening)),
            MomentumForm::Dampened => (false, F::of(1.0 - self.momentum)),
        };
        let mut bufs = Bufs::new(&mut st.bufs);
        let Some(b) = bufs.next(self.momentum != 0.0, "momentum_buffer", n)? else {
            in_parallel(
                p,
                g,
                [&mut [], &mut [], &mut []],
                &[sign, wd, neg_lr],
                Plain,
            );
            return Ok(());
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
        Ok(())
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
