//! Learning-rate schedules, from spec strings, chainable with `;`.
//!
//! A [`Schedule`] maps the learning rate coming in (a group's base lr, or the previous
//! schedule's output in a chain) and the step count `t` to the lr for step `t`; a
//! [`Scheduler`] applies a chain to every parameter group of an optimizer, as torch's
//! `lr_scheduler` does (`t = 0` before the first step, one `step` per optimizer step or
//! epoch). Names and keys follow torch.optim.lr_scheduler:
//!
//! | spec | lr at step t (α₀ the incoming lr) | torch |
//! |------|-----------------------------------|-------|
//! | `step:step_size=30,gamma=0.1` | α₀·γ^⌊t/step_size⌋ | StepLR |
//! | `multistep:milestones=30/80,gamma=0.1` | α₀·γ^(milestones ≤ t) | MultiStepLR |
//! | `exponential:gamma=0.95` or `exponential:k=0.05` | α₀·γᵗ = α₀·e^(−kt) | ExponentialLR |
//! | `inverse_time:k=0.1` | α₀/(1 + k·t) | LambdaLR |
//! | `inverse_sqrt:k=0.1` | α₀/√(1 + k·t): the 1/√t decay of stochastic approximation | LambdaLR |
//! | `linear_then_exponential:tau=100,final_factor=0.1,gamma=0.99` | (1 − t/τ)·α₀ + (t/τ)·f·α₀ up to τ, then f·α₀·γ^(t−τ) | LambdaLR |
//! | `linear_decay:tau=100,final_lr=1e-4` (or `final_factor`) | (1 − t/τ)·α₀ + (t/τ)·α_τ, then α_τ (Goodfellow et al. §8.3.1) | LinearLR |
//! | `linear:start_factor=..,end_factor=..,total_iters=..` | α₀·(s + (e − s)·min(t, T)/T) | LinearLR |
//! | `warmup:total_iters=5,start_factor=0` | linear from s·α₀ up to α₀ | LinearLR |
//! | `polynomial:total_iters=100,power=1` | α₀·(1 − min(t, T)/T)^p | PolynomialLR |
//! | `cosine:T_max=100,eta_min=0` | η + (α₀ − η)·(1 + cos(πt/T))/2 | CosineAnnealingLR |
//! | `plateau:mode=min,factor=0.1,patience=10,...` | α₀ times `factor` after each plateau of the metric | ReduceLROnPlateau |
//!
//! A chain `"warmup:total_iters=5;cosine:T_max=100"` feeds each schedule's output to the
//! next; for these multiplicative forms that is torch's `ChainedScheduler`.
//!
//! ```
//! use descent_optim::{build, first_order::Scheduler};
//! let mut opt = build::<f32>("sgd:lr=0.1")?;
//! let mut sched = Scheduler::new("step:step_size=2,gamma=0.5", opt.as_mut())?;
//! let mut lrs = Vec::new();
//! for _ in 0..5 {
//!     lrs.push(opt.lr(0).unwrap());
//!     // ... opt.step(...) ...
//!     sched.step(opt.as_mut())?;
//! }
//! assert_eq!(lrs, vec![0.1, 0.1, 0.05, 0.05, 0.025]);
//! # Ok::<(), descent_optim::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::first_order::optimizer::Optimizer;
use crate::spec::{number, Allowed, Spec, ITERATIONS};
use descent_tensor::Float;
use std::f64::consts::PI;
use std::fmt::{self, Debug};

/// One learning-rate schedule. Its `Display` is the spec that [`parse_schedule`] turns
/// back into it (fresh: a plateau schedule's counters are not part of a spec).
pub trait Schedule: Debug + fmt::Display + Send {
    /// The lr of parameter group `group` at step `t`, given the incoming lr `lr`.
    fn lr(&mut self, group: usize, lr: f64, t: u64) -> f64;

    /// Whether [`Schedule::observe`] must be fed (reduce-on-plateau).
    fn needs_metric(&self) -> bool {
        false
    }

    /// Takes the metric measured after a step (the validation loss, say).
    fn observe(&mut self, _metric: f64) {}
}

/// The names [`Scheduler::new`] knows.
pub const SCHEDULES: &[&str] = &[
    "step",
    "multistep",
    "exponential",
    "inverse_time",
    "inverse_sqrt",
    "linear_decay",
    "linear_then_exponential",
    "linear",
    "warmup",
    "polynomial",
    "cosine",
    "plateau",
];

/// A closed-form schedule: the lr is a function of the incoming lr and `t` only.
#[derive(Debug, Clone, PartialEq)]
pub enum Closed {
    /// α₀·γ^⌊t/step_size⌋.
    Step {
        /// Steps between decays.
        step_size: u64,
        /// Decay factor.
        gamma: f64,
    },
    /// α₀·γ^(number of milestones ≤ t).
    MultiStep {
        /// Steps at which the lr decays (sorted).
        milestones: Vec<u64>,
        /// Decay factor.
        gamma: f64,
    },
    /// α₀·γᵗ.
    Exponential {
        /// Decay per step (`e^(−k)` when given as `k`).
        gamma: f64,
    },
    /// α₀·e^(−k·t), the lecture form of the exponential decay.
    ExponentialK {
        /// Decay rate.
        k: f64,
    },
    /// α₀/(1 + k·t).
    InverseTime {
        /// Decay rate.
        k: f64,
    },
    /// α₀/√(1 + k·t). Its steps sum to infinity, so it still reaches any point, but decay
    /// faster than a constant lr; an SGD iterate average then converges at the optimal rate
    /// (Polyak–Juditsky).
    InverseSqrt {
        /// Decay rate.
        k: f64,
    },
    /// Linear from α₀ to `f·α₀` over `τ` steps, then exponential from there:
    /// `(1 − t/τ)·α₀ + (t/τ)·f·α₀` for `t ≤ τ`, `f·α₀·γ^(t−τ)` after.
    LinearThenExponential {
        /// Steps of the linear part.
        tau: u64,
        /// `f`: the lr at `τ` as a factor of α₀.
        final_factor: f64,
        /// Decay per step after `τ`.
        gamma: f64,
    },
    /// (1 − t/τ)·α₀ + (t/τ)·α_τ for t ≤ τ, then α_τ, with α_τ absolute or a factor of α₀.
    LinearDecay {
        /// Steps to reach the final lr.
        tau: u64,
        /// The final lr, absolute (`Ok`) or as a factor of α₀ (`Err`).
        final_lr: std::result::Result<f64, f64>,
    },
    /// α₀·(s + (e − s)·min(t, T)/T).
    Linear {
        /// Factor at t = 0.
        start_factor: f64,
        /// Factor from t = T on.
        end_factor: f64,
        /// T.
        total_iters: u64,
    },
    /// α₀·(1 − min(t, T)/T)^p.
    Polynomial {
        /// T.
        total_iters: u64,
        /// p.
        power: f64,
    },
    /// η + (α₀ − η)·(1 + cos(π·t/T))/2.
    Cosine {
        /// Half period T.
        t_max: u64,
        /// η, the lowest lr.
        eta_min: f64,
    },
}

impl Schedule for Closed {
    fn lr(&mut self, _group: usize, lr: f64, t: u64) -> f64 {
        let tf = t as f64;
        match self {
            Closed::Step { step_size, gamma } => lr * gamma.powf((t / *step_size) as f64),
            Closed::MultiStep { milestones, gamma } => {
                let passed = milestones.iter().filter(|&&m| m <= t).count();
                lr * gamma.powf(passed as f64)
            }
            Closed::Exponential { gamma } => lr * gamma.powf(tf),
            Closed::ExponentialK { k } => lr * (-*k * tf).exp(),
            Closed::InverseTime { k } => lr / (1.0 + *k * tf),
            Closed::InverseSqrt { k } => lr / (1.0 + *k * tf).sqrt(),
            Closed::LinearThenExponential {
                tau,
                final_factor,
                gamma,
            } => {
                let end = *final_factor * lr;
                if t <= *tau {
                    let a = tf / *tau as f64;
                    (1.0 - a) * lr + a * end
                } else {
                    end * gamma.powf((t - *tau) as f64)
                }
            }
            Closed::LinearDecay { tau, final_lr } => {
                let end = match final_lr {
                    Ok(abs) => *abs,
                    Err(factor) => *factor * lr,
                };
                let a = (tf / *tau as f64).min(1.0);
                (1.0 - a) * lr + a * end
            }
            Closed::Linear {
                start_factor,
                end_factor,
                total_iters,
            } => {
                let frac = (t.min(*total_iters) as f64) / *total_iters as f64;
                lr * (*start_factor + (*end_factor - *start_factor) * frac)
            }
            Closed::Polynomial { total_iters, power } => {
                let frac = (t.min(*total_iters) as f64) / *total_iters as f64;
                lr * (1.0 - frac).powf(*power)
            }
            Closed::Cosine { t_max, eta_min } => {
                *eta_min + (lr - *eta_min) * (1.0 + (PI * tf / *t_max as f64).cos()) / 2.0
            }
        }
    }
}

/// The spec of each form, every key written out.
impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closed::Step { step_size, gamma } => {
                write!(f, "step:step_size={step_size},gamma={}", number(*gamma))
            }
            Closed::MultiStep { milestones, gamma } => {
                let ms: Vec<String> = milestones.iter().map(u64::to_string).collect();
                match ms.is_empty() {
                    true => write!(f, "multistep:gamma={}", number(*gamma)),
                    false => write!(
                        f,
                        "multistep:milestones={},gamma={}",
                        ms.join("/"),
                        number(*gamma)
                    ),
                }
            }
            Closed::Exponential { gamma } => write!(f, "exponential:gamma={}", number(*gamma)),
            Closed::ExponentialK { k } => write!(f, "exponential:k={}", number(*k)),
            Closed::InverseTime { k } => write!(f, "inverse_time:k={}", number(*k)),
            Closed::InverseSqrt { k } => write!(f, "inverse_sqrt:k={}", number(*k)),
            Closed::LinearThenExponential {
                tau,
                final_factor,
                gamma,
            } => write!(
                f,
                "linear_then_exponential:tau={tau},final_factor={},gamma={}",
                number(*final_factor),
                number(*gamma)
            ),
            Closed::LinearDecay { tau, final_lr } => match final_lr {
                Ok(lr) => write!(f, "linear_decay:tau={tau},final_lr={}", number(*lr)),
                Err(x) => write!(f, "linear_decay:tau={tau},final_factor={}", number(*x)),
            },
            Closed::Linear {
                start_factor,
                end_factor,
                total_iters,
            } => write!(
                f,
                "linear:start_factor={},end_factor={},total_iters={total_iters}",
                number(*start_factor),
                number(*end_factor)
            ),
            Closed::Polynomial { total_iters, power } => write!(
                f,
                "polynomial:total_iters={total_iters},power={}",
                number(*power)
            ),
            Closed::Cosine { t_max, eta_min } => {
                write!(f, "cosine:T_max={t_max},eta_min={}", number(*eta_min))
            }
        }
    }
}

/// torch's ReduceLROnPlateau: after more than `patience` steps without the metric
/// improving by `threshold` (relative or absolute), multiply the lr by `factor` (not below
/// `min_lr`, and only if it changes by more than `eps`), then wait `cooldown` steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Plateau {
    /// Minimize (`true`, torch's `mode="min"`) or maximize the metric.
    pub minimize: bool,
    /// Multiplier of the lr at each reduction (< 1).
    pub factor: f64,
    /// Steps without improvement tolerated before reducing.
    pub patience: u64,
    /// Improvement needed to count as better.
    pub threshold: f64,
    /// `threshold` relative to the best value (`true`, torch's `"rel"`) or absolute.
    pub relative: bool,
    /// Steps to wait after a reduction before counting bad steps again.
    pub cooldown: u64,
    /// The lowest lr.
    pub min_lr: f64,
    /// Reductions smaller than this are skipped.
    pub eps: f64,
    best: f64,
    bad: u64,
    cooldown_left: u64,
    /// Per group: the product of the reductions so far, and the last lr given out.
    scale: Vec<(f64, f64)>,
}

impl Plateau {
    fn improved(&self, x: f64) -> bool {
        match (self.minimize, self.relative) {
            (true, true) => x < self.best * (1.0 - self.threshold),
            (true, false) => x < self.best - self.threshold,
            (false, true) => x > self.best * (1.0 + self.threshold),
            (false, false) => x > self.best + self.threshold,
        }
    }
}

/// The spec of the configuration, every key written out.
impl fmt::Display for Plateau {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plateau:mode={},threshold_mode={},factor={},patience={},threshold={},cooldown={},min_lr={},eps={}",
            if self.minimize { "min" } else { "max" },
            if self.relative { "rel" } else { "abs" },
            number(self.factor),
            self.patience,
            number(self.threshold),
            self.cooldown,
            number(self.min_lr),
            number(self.eps)
        )
    }
}

impl Schedule for Plateau {
    fn lr(&mut self, group: usize, lr: f64, _t: u64) -> f64 {
        if self.scale.len() <= group {
            self.scale.resize(group + 1, (1.0, lr));
        }
        let (scale, last) = &mut self.scale[group];
        *last = (lr * *scale).max(self.min_lr.min(lr));
        *last
    }

    fn needs_metric(&self) -> bool {
        true
    }

    fn observe(&mut self, metric: f64) {
        if self.improved(metric) {
            self.best = metric;
            self.bad = 0;
        } else {
            self.bad += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad = 0;
        }
        if self.bad > self.patience {
            for (scale, last) in &mut self.scale {
                let new = (*last * self.factor).max(self.min_lr);
                if *last - new > self.eps {
                    *scale *= self.factor;
                }
            }
            self.cooldown_left = self.cooldown;
            self.bad = 0;
        }
    }
}

/// Parses one schedule (no `;`).
///
/// # Errors
/// [`Error::UnknownName`], [`Error::UnknownKey`], [`Error::Hyperparameter`].
pub fn parse_schedule(spec: &str) -> Result<Box<dyn Schedule>> {
    let mut s = Spec::parse(spec)?;
    let name = s.name().to_string();
    let iters = |s: &mut Spec, key: &'static str, default: usize| -> Result<u64> {
        Ok(s.usize_in(key, default, ITERATIONS)? as u64)
    };
    let schedule: Box<dyn Schedule> = match name.as_str() {
        "step" => Box::new(Closed::Step {
            step_size: iters(&mut s, "step_size", 1)?,
            gamma: s.f64_in("gamma", 0.1, Allowed::NonNegative)?,
        }),
        "multistep" => {
            let milestones = s.list("milestones", &[], Allowed::NonNegative)?;
            let steps = ITERATIONS;
            let mut milestones = milestones
                .iter()
                .map(|&m| match m.fract() == 0.0 && m <= *steps.end() as f64 {
                    true => Ok(m as u64),
                    false => Err(Error::hyper(
                        "multistep",
                        "milestones",
                        m,
                        format!("`/`-separated integers in [0, {}]", steps.end()),
                    )),
                })
                .collect::<Result<Vec<u64>>>()?;
            milestones.sort_unstable();
            Box::new(Closed::MultiStep {
                milestones,
                gamma: s.f64_in("gamma", 0.1, Allowed::NonNegative)?,
            })
        }
        "exponential" => {
            let gamma = s.opt_f64("gamma", Allowed::NonNegative)?;
            let k = s.opt_f64("k", Allowed::NonNegative)?;
            match (gamma, k) {
                (Some(gamma), None) => Box::new(Closed::Exponential { gamma }),
                (None, Some(k)) => Box::new(Closed::ExponentialK { k }),
                _ => {
                    return Err(Error::hyper(
                        "exponential",
                        "gamma",
                        format!("{gamma:?} with k={k:?}"),
                        "exactly one of gamma (α₀·γᵗ) and k (α₀·e^(−kt))",
                    ))
                }
            }
        }
        "inverse_time" => Box::new(Closed::InverseTime {
            k: s.f64_in("k", 1.0, Allowed::NonNegative)?,
        }),
        "inverse_sqrt" => Box::new(Closed::InverseSqrt {
            k: s.f64_in("k", 1.0, Allowed::NonNegative)?,
        }),
        "linear_then_exponential" => Box::new(Closed::LinearThenExponential {
            tau: iters(&mut s, "tau", 100)?,
            final_factor: s.f64_in("final_factor", 0.1, Allowed::NonNegative)?,
            gamma: s.f64_in("gamma", 0.99, Allowed::NonNegative)?,
        }),
        "linear_decay" => {
            let tau = iters(&mut s, "tau", 100)?;
            let abs = s.opt_f64("final_lr", Allowed::NonNegative)?;
            let factor = s.opt_f64("final_factor", Allowed::NonNegative)?;
            let final_lr = match (abs, factor) {
                (Some(a), None) => Ok(a),
                (None, Some(f)) => Err(f),
                (None, None) => Err(0.01),
                _ => {
                    return Err(Error::hyper(
                        "linear_decay",
                        "final_lr",
                        "given with final_factor",
                        "one of final_lr (absolute) and final_factor (times the initial lr)",
                    ))
                }
            };
            Box::new(Closed::LinearDecay { tau, final_lr })
        }
        "linear" | "warmup" => {
            let warm = name == "warmup";
            let start_factor = s.f64_in(
                "start_factor",
                if warm { 0.0 } else { 1.0 / 3.0 },
                Allowed::Unit,
            )?;
            let end_factor = if warm {
                1.0
            } else {
                s.f64_in("end_factor", 1.0, Allowed::Unit)?
            };
            Box::new(Closed::Linear {
                start_factor,
                end_factor,
                total_iters: iters(&mut s, "total_iters", 5)?,
            })
        }
        "polynomial" => Box::new(Closed::Polynomial {
            total_iters: iters(&mut s, "total_iters", 5)?,
            power: s.f64_in("power", 1.0, Allowed::NonNegative)?,
        }),
        "cosine" => Box::new(Closed::Cosine {
            t_max: iters(&mut s, "T_max", 100)?,
            eta_min: s.f64_in("eta_min", 0.0, Allowed::NonNegative)?,
        }),
        "plateau" => {
            let minimize = s.choice("mode", "min", &["min", "max"])? == "min";
            let relative = s.choice("threshold_mode", "rel", &["rel", "abs"])? == "rel";
            Box::new(Plateau {
                minimize,
                factor: s.f64_in("factor", 0.1, Allowed::OpenUnit)?,
                patience: s.usize_in("patience", 10, 0..=*ITERATIONS.end())? as u64,
                threshold: s.f64_in("threshold", 1e-4, Allowed::NonNegative)?,
                relative,
                cooldown: s.usize_in("cooldown", 0, 0..=*ITERATIONS.end())? as u64,
                min_lr: s.f64_in("min_lr", 0.0, Allowed::NonNegative)?,
                eps: s.f64_in("eps", 1e-8, Allowed::NonNegative)?,
                best: if minimize {
                    f64::INFINITY
                } else {
                    f64::NEG_INFINITY
                },
                bad: 0,
                cooldown_left: 0,
                scale: Vec::new(),
            })
        }
        other => {
            return Err(Error::UnknownName {
                kind: "schedule",
                name: other.to_string(),
                known: SCHEDULES.join(", "),
            })
        }
    };
    s.finish()?;
    Ok(schedule)
}

/// A chain of schedules driving an optimizer's learning rates, one [`Scheduler::step`] per
/// optimizer step (or epoch). Each group's base lr is its lr when the scheduler was made.
/// Its `Display` is the chain's spec (`warmup:…;cosine:…`).
#[derive(Debug)]
pub struct Scheduler {
    chain: Vec<Box<dyn Schedule>>,
    base: Vec<f64>,
    t: u64,
}

impl fmt::Display for Scheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.chain.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl Scheduler {
    /// Parses `spec` (schedules separated by `;`), records `opt`'s learning rates as the
    /// bases and sets the lrs for step 0.
    ///
    /// # Errors
    /// Spec errors as [`parse_schedule`]; [`Error::Spec`] for an empty chain.
    pub fn new<F: Float>(spec: &str, opt: &mut dyn Optimizer<F>) -> Result<Self> {
        let chain = spec
            .split(';')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(parse_schedule)
            .collect::<Result<Vec<_>>>()?;
        if chain.is_empty() {
            return Err(Error::Spec {
                spec: spec.to_string(),
                why: "no schedule (expected e.g. `step:step_size=30,gamma=0.1`)".into(),
            });
        }
        let base = (0..opt.num_groups()).filter_map(|g| opt.lr(g)).collect();
        let mut s = Scheduler { chain, base, t: 0 };
        s.apply(opt)?;
        Ok(s)
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// The lr of group `group` (with base lr `base`) at step `t`.
    pub fn lr_at(&mut self, group: usize, base: f64, t: u64) -> f64 {
        self.chain.iter_mut().fold(base, |lr, s| s.lr(group, lr, t))
    }

    fn apply<F: Float>(&mut self, opt: &mut dyn Optimizer<F>) -> Result<()> {
        for g in 0..self.base.len() {
            let lr = self.lr_at(g, self.base[g], self.t);
            opt.set_lr(g, lr)?;
        }
        Ok(())
    }

    /// Advances one step and sets the new learning rates.
    ///
    /// # Errors
    /// [`Error::NeedsLoss`] if the chain has a plateau schedule (use
    /// [`Scheduler::step_with_metric`]); errors of [`Optimizer::set_lr`].
    pub fn step<F: Float>(&mut self, opt: &mut dyn Optimizer<F>) -> Result<()> {
        if self.chain.iter().any(|s| s.needs_metric()) {
            return Err(Error::NeedsLoss {
                name: "plateau".into(),
                call: "step_with_metric",
            });
        }
        self.t += 1;
        self.apply(opt)
    }

    /// Feeds the metric measured after this step (the plateau schedules use it), advances
    /// one step and sets the new learning rates.
    ///
    /// # Errors
    /// Errors of [`Optimizer::set_lr`].
    pub fn step_with_metric<F: Float>(
        &mut self,
        opt: &mut dyn Optimizer<F>,
        metric: f64,
    ) -> Result<()> {
        for s in &mut self.chain {
            s.observe(metric);
        }
        self.t += 1;
        self.apply(opt)
    }
}
