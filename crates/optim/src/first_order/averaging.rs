//! Parameter averaging: evaluate with an average of the iterates instead of the last one.
//!
//! - Polynomial-decay averaging (Shamir & Zhang 2013):
//!   `θ̄ₜ = (1 − (γ+1)/(t+γ))·θ̄ₜ₋₁ + (γ+1)/(t+γ)·θₜ`; `γ = 0` is Polyak–Ruppert's plain mean
//!   of all iterates, larger γ weights recent iterates more (`γ = 1`: weights ∝ t).
//! - Exponential moving average `θ̄ ← d·θ̄ + (1 − d)·θ` (torch's `AveragedModel` with
//!   `get_ema_multi_avg_fn(d)`: the first update copies θ).
//!
//! Call [`Averager::update`] after each optimizer step; [`Averager::swap`] exchanges the
//! averaged and the current weights (no copy) for evaluation, and again to swap back.
//! [`Averager::state_dict`] and [`Averager::load_state_dict`] carry the averages through a
//! checkpoint, so that a resumed run averages exactly as an uninterrupted one.
//!
//! ```
//! use descent_autodiff::Param;
//! use descent_optim::first_order::Averager;
//! use descent_tensor::Tensor;
//! let mut w = Param::new(Tensor::<f64>::scalar(0.0));
//! let mut avg = Averager::parse("polynomial:gamma=0")?;        // the plain mean
//! for x in [1.0, 2.0, 6.0] {
//!     w.value = Tensor::scalar(x);                              // an optimizer step
//!     avg.update(&[&w])?;
//! }
//! avg.swap(&mut [&mut w])?;
//! assert_eq!(w.value.item()?, 3.0);                             // evaluate with the mean
//! avg.swap(&mut [&mut w])?;
//! assert_eq!(w.value.item()?, 6.0);                             // and continue training
//! # Ok::<(), descent_optim::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::first_order::kernel::lerp;
use crate::first_order::state::{check_count, check_finite, StateDict};
use crate::spec::{Allowed, Spec};
use descent_autodiff::{Param, ParamId};
use descent_tensor::{Float, Tensor};
use std::collections::HashMap;

/// Which average.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Averaging {
    /// Polynomial-decay averaging with γ ≥ 0 (γ = 0: the plain mean).
    Polynomial {
        /// γ.
        gamma: f64,
    },
    /// Exponential moving average with decay `d` in [0, 1].
    Ema {
        /// d.
        decay: f64,
    },
}

/// Running averages of a set of parameters, keyed by [`ParamId`]. Its `Display` is its
/// spec ([`Averager::spec`]).
#[derive(Debug, Clone)]
pub struct Averager<F: Float> {
    kind: Averaging,
    avg: HashMap<ParamId, (u64, Tensor<F>)>,
    swapped: bool,
}

impl<F: Float> std::fmt::Display for Averager<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.spec())
    }
}

impl<F: Float> Averager<F> {
    /// An averager of kind `kind`.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] for γ < 0 or a decay outside [0, 1].
    pub fn new(kind: Averaging) -> Result<Self> {
        match kind {
            Averaging::Polynomial { gamma } => {
                Allowed::NonNegative.check("polynomial", "gamma", gamma)?;
            }
            Averaging::Ema { decay } => {
                Allowed::Unit.check("ema", "decay", decay)?;
            }
        }
        Ok(Averager {
            kind,
            avg: HashMap::new(),
            swapped: false,
        })
    }

    /// `"polynomial:gamma=0"` or `"ema:decay=0.999"` (defaults γ = 0, d = 0.999).
    ///
    /// # Errors
    /// Spec errors, or as [`Averager::new`].
    pub fn parse(spec: &str) -> Result<Self> {
        let mut s = Spec::parse(spec)?;
        let kind = match s.name() {
            "polynomial" => Averaging::Polynomial {
                gamma: s.f64("gamma", 0.0)?,
            },
            "ema" => Averaging::Ema {
                decay: s.f64("decay", 0.999)?,
            },
            other => {
                return Err(Error::UnknownName {
                    kind: "averaging",
                    name: other.to_string(),
                    known: "polynomial, ema".into(),
                })
            }
        };
        s.finish()?;
        Averager::new(kind)
    }

    /// Folds the current values of `params` into their averages (in place).
    ///
    /// # Errors
    /// [`Error::Averaging`] while the averages are swapped in; [`Error::State`] if a
    /// parameter changed shape.
    pub fn update(&mut self, params: &[&Param<F>]) -> Result<()> {
        if self.swapped {
            return Err(Error::Averaging {
                why: "update while the averaged weights are swapped in; swap back first".into(),
            });
        }
        for p in params {
            let Some((t, avg)) = self.avg.get_mut(&p.id()) else {
                self.avg.insert(p.id(), (1, p.value.map(|x| x)));
                continue;
            };
            if avg.shape() != p.shape() {
                return Err(Error::state(format!(
                    "averaging: parameter changed shape from {:?} to {:?}",
                    avg.shape(),
                    p.shape()
                )));
            }
            *t = t.saturating_add(1);
            let w = F::of(match self.kind {
                Averaging::Polynomial { gamma } => (gamma + 1.0) / (*t as f64 + gamma),
                Averaging::Ema { decay } => 1.0 - decay,
            });
            let x = p.value.contiguous();
            let src = x.as_slice().unwrap_or_default();
            for (a, &x) in avg.data_mut().iter_mut().zip(src) {
                *a = lerp(*a, x, w);
            }
        }
        Ok(())
    }

    /// Exchanges each parameter's value with its average (parameters never updated are
    /// left alone). Call again to swap back.
    ///
    /// # Errors
    /// [`Error::State`] if a parameter's shape differs from its average's.
    pub fn swap(&mut self, params: &mut [&mut Param<F>]) -> Result<()> {
        for p in params.iter() {
            if let Some((_, avg)) = self.avg.get(&p.id()) {
                if avg.shape() != p.shape() {
                    return Err(Error::state(format!(
                        "averaging: parameter of shape {:?} has an average of shape {:?}",
                        p.shape(),
                        avg.shape()
                    )));
                }
            }
        }
        for p in params.iter_mut() {
            if let Some((_, avg)) = self.avg.get_mut(&p.id()) {
                std::mem::swap(&mut p.value, avg);
            }
        }
        self.swapped = !self.swapped;
        Ok(())
    }

    /// The averager's spec, as [`Averager::parse`] reads it: `"ema:decay=0.999"`.
    pub fn spec(&self) -> String {
        match self.kind {
            Averaging::Polynomial { gamma } => format!("polynomial:gamma={gamma:?}"),
            Averaging::Ema { decay } => format!("ema:decay={decay:?}"),
        }
    }

    /// The averages of `params` (in that order) and their iterate counts, under keys
    /// `average.<i>`, with the spec under `average.spec`; parameters not averaged yet have
    /// no entry. Merge it into a checkpoint's [`StateDict`] beside the optimizer's state.
    ///
    /// ```
    /// use descent_autodiff::Param;
    /// use descent_optim::first_order::Averager;
    /// use descent_tensor::Tensor;
    /// let mut w = Param::new(Tensor::<f64>::scalar(1.0));
    /// let mut avg = Averager::parse("polynomial")?;
    /// avg.update(&[&w])?;
    /// let saved = avg.state_dict(&[&w])?;
    ///
    /// let mut resumed = Averager::parse("polynomial")?;               // a new process
    /// resumed.load_state_dict(&saved, &[&w])?;
    /// w.value = Tensor::scalar(4.0);
    /// resumed.update(&[&w])?;
    /// assert_eq!(resumed.average(w.id()).unwrap().1.item()?, 2.5);   // mean of 1 and 4
    /// # Ok::<(), descent_optim::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Averaging`] while the averages are swapped in (the parameters hold them).
    pub fn state_dict(&self, params: &[&Param<F>]) -> Result<StateDict<F>> {
        if self.swapped {
            return Err(Error::Averaging {
                why: "state_dict while the averaged weights are swapped in; swap back first".into(),
            });
        }
        let mut sd = StateDict::new("averaging");
        sd.set_meta("average.spec", self.spec());
        for (i, p) in params.iter().enumerate() {
            if let Some((count, avg)) = self.avg.get(&p.id()) {
                sd.tensors.insert(format!("average.{i}"), avg.clone());
                sd.set_meta(&format!("average.{i}.count"), count);
            }
        }
        Ok(sd)
    }

    /// Restores what [`Averager::state_dict`] wrote, average `i` going to `params[i]`;
    /// checks everything before changing anything.
    ///
    /// # Errors
    /// [`Error::State`] if the state was written by another kind of average, names a
    /// parameter beyond `params`, or holds an average whose shape differs from its
    /// parameter's; [`Error::Averaging`] while the averages are swapped in.
    pub fn load_state_dict(&mut self, sd: &StateDict<F>, params: &[&Param<F>]) -> Result<()> {
        if self.swapped {
            return Err(Error::Averaging {
                why: "load_state_dict while the averaged weights are swapped in".into(),
            });
        }
        let (saved, spec) = (sd.meta_str("average.spec")?, self.spec());
        if saved != spec {
            return Err(Error::state(format!(
                "the averages were saved by `{saved}` and cannot be loaded into `{spec}`"
            )));
        }
        let mut avg = HashMap::new();
        for (key, tensor) in &sd.tensors {
            let Some(i) = key.strip_prefix("average.") else {
                continue;
            };
            let p = i
                .parse::<usize>()
                .ok()
                .and_then(|i| params.get(i))
                .ok_or_else(|| {
                    Error::state(format!(
                        "`{key}` names no parameter (there are {})",
                        params.len()
                    ))
                })?;
            if tensor.shape() != p.shape() {
                return Err(Error::state(format!(
                    "`{key}` has shape {:?} but its parameter {:?}",
                    tensor.shape(),
                    p.shape()
                )));
            }
            check_finite(key, tensor)?;
            let count_key = format!("{key}.count");
            let count = check_count(&count_key, sd.meta_parse(&count_key)?)?;
            avg.insert(p.id(), (count, tensor.clone()));
        }
        self.avg = avg;
        Ok(())
    }

    /// Whether the averages are currently swapped into the parameters.
    pub fn is_swapped(&self) -> bool {
        self.swapped
    }

    /// The average of one parameter (its current value while swapped in), and how many
    /// iterates it holds.
    pub fn average(&self, id: ParamId) -> Option<(u64, &Tensor<F>)> {
        self.avg.get(&id).map(|(t, a)| (*t, a))
    }
}
