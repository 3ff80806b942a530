//! Resilient backpropagation: torch.optim.Rprop and the four variants of Igel & Hüsken
//! (2000), "Improving the Rprop learning algorithm".
//!
//! Each weight has its own step size Δ, grown by η₊ while its gradient keeps its sign and
//! shrunk by η₋ when the sign flips (clamped to `step_sizes`); the weight moves by
//! `−sign(g)·Δ`, ignoring the gradient's magnitude. The variants differ on a sign flip:
//!
//! | variant  | on a sign flip                                                    |
//! |----------|-------------------------------------------------------------------|
//! | `rprop-` | still steps `−sign(g)·Δ`                                          |
//! | `rprop+` | undoes the previous step (weight backtracking), forgets `g`       |
//! | `irprop-`| does not step, forgets `g` (torch.optim.Rprop is exactly this)    |
//! | `irprop+`| undoes the previous step only if the loss went up, forgets `g`    |
//!
//! "Forgets `g`" stores 0 as the previous gradient, so the next step neither grows nor
//! shrinks Δ. `irprop+` needs the loss: step it with `step_with_loss`. The initial Δ is
//! `lr` (as in torch); changing `lr` later has no effect on existing step sizes.

use super::kernel::{in_parallel, sign, sign_of, ElementLoop};
use crate::error::{Error, Result};
use crate::first_order::optimizer::{rule_state, RuleCtx, UpdateRule};
use crate::spec::{choices, options};
use descent_tensor::Float;

/// Which Rprop (Igel & Hüsken 2000).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RpropVariant {
    /// Rprop with weight backtracking (Riedmiller & Braun 1993).
    RpropPlus,
    /// Rprop without backtracking.
    RpropMinus,
    /// Improved Rprop with backtracking only when the loss increased.
    IRpropPlus,
    /// Improved Rprop without backtracking: torch.optim.Rprop.
    #[default]
    IRpropMinus,
}

impl RpropVariant {
    /// Whether a sign flip may undo the previous update (keeps `prev_update`).
    fn backtracks(self) -> bool {
        matches!(self, RpropVariant::RpropPlus | RpropVariant::IRpropPlus)
    }
}

choices!(RpropVariant {
    "rprop+" => RpropPlus,
    "rprop-" => RpropMinus,
    "irprop+" => IRpropPlus,
    "irprop-" => IRpropMinus,
});

options! {
    /// torch.optim.Rprop's hyper-parameters (same names and defaults) plus the variant.
    ///
    /// ```
    /// let opt = descent_optim::build::<f64>("rprop:variant=irprop+,etas=0.5/1.2,step_sizes=1e-6/50")?;
    /// assert_eq!(opt.to_string(), "rprop:variant=irprop+");
    /// # Ok::<(), descent_optim::Error>(())
    /// ```
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Rprop {
        /// Initial step size Δ₀.
        lr: f64 = 1e-2, NonNegative;
        /// (η₋, η₊), with 0 < η₋ < 1 < η₊.
        etas: (f64, f64) = (0.5, 1.2), Finite;
        /// (Δmin, Δmax), with 0 ≤ Δmin ≤ Δmax.
        step_sizes: (f64, f64) = (1e-6, 50.0), Finite;
        /// Ascend instead of descend.
        maximize: bool = false;
        /// Which of the four (torch's is iRprop−).
        variant: RpropVariant = RpropVariant::IRpropMinus;
    }
}

rule_state! {
    /// Rprop's state under torch's names.
    pub struct RpropState for Rprop {
        /// The previous gradient (0 after a sign flip).
        prev,
        /// Each weight's step size Δ, from `lr`.
        step_size = |r| r.lr,
        /// The previous update, kept by the variants that backtrack.
        prev_update if (|r| r.variant.backtracks()),
    }
}

impl UpdateRule for Rprop {
    type State<F: Float> = RpropState<F>;

    fn name(&self) -> &'static str {
        "rprop"
    }

    fn check_relations(&self) -> Result<()> {
        let (minus, plus) = self.etas;
        if !(minus > 0.0 && minus < 1.0 && plus > 1.0 && plus.is_finite()) {
            return Err(Error::hyper(
                "rprop",
                "etas",
                format!("{minus}/{plus}"),
                "η₋/η₊ with 0 < η₋ < 1 < η₊",
            ));
        }
        let (lo, hi) = self.step_sizes;
        if !(lo >= 0.0 && lo <= hi && hi.is_finite()) {
            return Err(Error::hyper(
                "rprop",
                "step_sizes",
                format!("{lo}/{hi}"),
                "min/max with 0 <= min <= max",
            ));
        }
        Ok(())
    }

    lr_field!();

    fn needs_loss(&self) -> bool {
        self.variant == RpropVariant::IRpropPlus
    }

    fn update<F: Float>(&self, p: &mut [F], g: &[F], st: &mut RpropState<F>, ctx: RuleCtx) {
        let n = p.len();
        let g = &g[..n];
        let (prev, delta) = (&mut st.prev[..], &mut st.step_size[..]);
        let last = st.prev_update.as_deref_mut().unwrap_or_default();
        let (minus, plus) = (F::of(self.etas.0), F::of(self.etas.1));
        let (lo, hi) = (F::of(self.step_sizes.0), F::of(self.step_sizes.1));
        // After a sign flip Rprop+ undoes the last update; iRprop+ only if the loss rose.
        let undo = self.variant == RpropVariant::RpropPlus || ctx.loss_increased;
        let undo = if undo { F::one() } else { F::zero() };
        let c = [sign_of(self.maximize), minus, plus, lo, hi, undo];
        let bufs = [prev, delta, last];
        match self.variant {
            RpropVariant::RpropMinus => in_parallel(p, g, bufs, &c, Kernel::<false, false>),
            RpropVariant::IRpropMinus => in_parallel(p, g, bufs, &c, Kernel::<false, true>),
            RpropVariant::RpropPlus | RpropVariant::IRpropPlus => {
                in_parallel(p, g, bufs, &c, Kernel::<true, false>)
            }
        }
    }
}

/// The element loop: `BACKTRACK` for Rprop+ and iRprop+ (the last update is kept in
/// `last`), else `IMPROVED` zeroes a flipped gradient (iRprop−);
/// `c = [sign, η−, η+, Δmin, Δmax, 1 if a flip undoes the last update else 0]`.
#[derive(Clone, Copy)]
struct Kernel<const BACKTRACK: bool, const IMPROVED: bool>;

impl<F: Float, const BACKTRACK: bool, const IMPROVED: bool> ElementLoop<F, [F; 6]>
    for Kernel<BACKTRACK, IMPROVED>
{
    #[inline(always)]
    fn run(self, p: &mut [F], g: &[F], [prev, delta, last]: [&mut [F]; 3], c: &[F; 6]) {
        let [sgn, minus, plus, lo, hi, undo] = *c;
        let n = p.len();
        let (g, prev, delta) = (&g[..n], &mut prev[..n], &mut delta[..n]);
        let last = if BACKTRACK { &mut last[..n] } else { last };
        for i in 0..n {
            let mut d = g[i] * sgn;
            let s = sign(d * prev[i]);
            let factor = if s > F::zero() {
                plus
            } else if s < F::zero() {
                minus
            } else {
                F::one()
            };
            delta[i] = (delta[i] * factor).max(lo).min(hi);
            let flipped = s < F::zero();
            if !BACKTRACK {
                if IMPROVED && flipped {
                    d = F::zero();
                }
                p[i] += -sign(d) * delta[i];
            } else if flipped {
                last[i] = if undo != F::zero() {
                    -last[i]
                } else {
                    F::zero()
                };
                p[i] += last[i];
                d = F::zero();
            } else {
                last[i] = -sign(d) * delta[i];
                p[i] += last[i];
            }
            prev[i] = d;
        }
    }
}
