//! Any batch method behind one type, built from a spec string with the crate's one parser
//! ([`Spec`]): `lbfgs:history_size=10`, `cg:beta=pr`, `cg:beta=fr`, `bfgs`, `newton`, `lm`,
//! `gauss_newton`, `steepest:line_search=armijo`. Keys not read are rejected with the
//! allowed ones listed.

use crate::batch::bfgs::{Bfgs, BfgsConfig};
use crate::batch::cg::{Beta, CgConfig, ConjugateGradient};
use crate::batch::flat::{with_params, ClosureError};
use crate::batch::lbfgs::{Lbfgs, LbfgsConfig};
use crate::batch::linesearch::{LineSearch, SearchConfig};
use crate::batch::lm::{
    GaussNewton, GaussNewtonConfig, LeastSquaresMethod, LevenbergMarquardt, LmConfig,
};
use crate::batch::module::Layout;
use crate::batch::newton::{Newton, NewtonConfig};
use crate::batch::objective::{
    BatchMethod, BatchReport, HessianObjective, LeastSquares, Objective, StopTolerances,
};
use crate::batch::steepest::SteepestDescent;
use crate::error::{Error, Result};
use crate::spec::{Allowed, Spec, ITERATIONS};
use descent_autodiff::{Param, Tape, Var};
use descent_tensor::Float;
use std::ops::RangeInclusive;

/// The names [`Method::from_spec`] knows.
pub const METHODS: &[&str] = &[
    "steepest",
    "cg",
    "bfgs",
    "lbfgs",
    "newton",
    "lm",
    "gauss_newton",
];

/// One of the batch methods, with its state, for a method chosen by name at run time.
///
/// It takes any [`Objective`]; Newton asks it for its Hessian through
/// [`Objective::as_hessian`], LM and Gauss–Newton for residuals through
/// [`Objective::as_least_squares`], and an objective without them is
/// [`Error::Unsupported`] naming the method (with the typed [`Newton`] and
/// [`LeastSquaresMethod`]s the same mistake does not compile).
///
/// ```
/// use descent_optim::batch::{BatchMethod, Method};
/// let mut m = Method::from_spec("cg:beta=fr,tolerance_grad=1e-10")?;
/// let mut f = |x: &[f64]| Ok((x[0] * x[0] + 10.0 * x[1] * x[1], vec![2.0 * x[0], 20.0 * x[1]]));
/// let mut x = vec![1.0, 1.0];
/// let report = m.minimize(&mut x, &mut f, 100)?;
/// assert!(x[0].abs() < 1e-9 && x[1].abs() < 1e-9, "{report:?}");
/// let err = Method::from_spec("cg:beta=hs").unwrap_err().to_string();
/// assert_eq!(err, "cg: beta=hs is invalid; allowed: one of pr, fr");
/// # Ok::<(), descent_optim::Error>(())
/// ```
#[derive(Debug, Clone)]
pub enum Method {
    /// Steepest descent.
    Steepest(SteepestDescent),
    /// Nonlinear conjugate gradient.
    Cg(ConjugateGradient),
    /// BFGS.
    Bfgs(Bfgs),
    /// L-BFGS (one step = up to `max_iter` iterations, as in PyTorch).
    Lbfgs(Lbfgs),
    /// Newton with the exact Hessian (needs a [`HessianObjective`]).
    Newton(Newton),
    /// Levenberg–Marquardt (needs a [`LeastSquares`] objective).
    Lm(LevenbergMarquardt),
    /// Gauss–Newton with an Armijo search (needs a [`LeastSquares`] objective).
    GaussNewton(GaussNewton),
}

/// L-BFGS's evaluations: room for the default `max_iter·5/4` of the largest `max_iter`.
const EVALUATIONS: RangeInclusive<usize> = 1..=1_250_000_000;
/// L-BFGS's history: pairs of vectors the size of the parameters.
const HISTORY: RangeInclusive<usize> = 1..=1_000_000;
/// The parameter count above which a dense method refuses (its matrix has `n²` entries).
const PARAMETERS: RangeInclusive<usize> = 1..=1_000_000;

/// Reads `line_search`, `c1`, `c2`, `max_ls`, `tolerance_grad`, `tolerance_change`.
/// `defaults` are the method's own tolerances.
fn search_config(
    s: &mut Spec,
    line_search: &'static str,
    c2: f64,
    defaults: StopTolerances,
) -> Result<SearchConfig> {
    let ls = s.choice(
        "line_search",
        line_search,
        &["wolfe", "strong_wolfe", "armijo"],
    )?;
    let c1 = s.f64_in("c1", 1e-4, Allowed::OpenUnit)?;
    let line_search = match ls {
        "armijo" => LineSearch::Armijo {
            c1,
            shrink: s.f64_in("shrink", 0.5, Allowed::OpenUnit)?,
        },
        _ => LineSearch::StrongWolfe {
            c1,
            c2: s.f64_in("c2", c2, Allowed::OpenUnit)?,
        },
    };
    Ok(SearchConfig {
        line_search,
        max_ls: s.usize_in("max_ls", 25, ITERATIONS)?,
        tolerances: tolerances(s, defaults)?,
    })
}

fn tolerances(s: &mut Spec, d: StopTolerances) -> Result<StopTolerances> {
    Ok(StopTolerances {
        tolerance_grad: s.f64_in("tolerance_grad", d.tolerance_grad, Allowed::NonNegative)?,
        tolerance_change: s.f64_in("tolerance_change", d.tolerance_change, Allowed::NonNegative)?,
    })
}

impl Method {
    /// Builds a method from `name:key=value,...`. Keys: every method takes
    /// `tolerance_grad`, `tolerance_change` (for `cg` and `bfgs` SciPy's defaults `1e-5` and
    /// `0`, see [`StopTolerances::SCIPY`]; else `1e-7` and `1e-9`); the line-search methods `line_search`
    /// (`wolfe`|`armijo`), `c1`, `c2`, `max_ls`; `cg` `beta` (`pr`|`fr`), `restart`; `bfgs`,
    /// `newton`, `lm` `max_params`; `newton` `damping`, `beta`; `lbfgs` PyTorch's `lr`,
    /// `max_iter`, `max_eval`, `history_size`, `line_search` (`none`|`strong_wolfe`|`wolfe`|
    /// `armijo`); `lm` `tau`, `max_tries`; `gauss_newton` `c1`, `shrink`, `max_ls`,
    /// `max_params`.
    ///
    /// # Errors
    /// [`Error::UnknownName`], [`Error::UnknownKey`], [`Error::Hyperparameter`], [`Error::Spec`].
    pub fn from_spec(spec: &str) -> Result<Method> {
        let mut s = Spec::parse(spec)?;
        let name = s.name().to_string();
        let method = match name.as_str() {
            "steepest" => Method::Steepest(SteepestDescent::new(search_config(
                &mut s,
                "wolfe",
                0.1,
                StopTolerances::default(),
            )?)?),
            "cg" => {
                let beta = match s.choice("beta", "pr", &["pr", "fr"])? {
                    "fr" => Beta::FletcherReeves,
                    _ => Beta::PolakRibierePlus,
                };
                let restart = match s.has("restart") {
                    true => Some(s.usize_in("restart", 1, ITERATIONS)?),
                    false => None,
                };
                Method::Cg(ConjugateGradient::new(CgConfig {
                    beta,
                    restart,
                    search: search_config(&mut s, "wolfe", 0.1, StopTolerances::SCIPY)?,
                })?)
            }
            "bfgs" => {
                let max_params = s.usize_in("max_params", 4096, PARAMETERS)?;
                Method::Bfgs(Bfgs::new(BfgsConfig {
                    search: search_config(&mut s, "wolfe", 0.9, StopTolerances::SCIPY)?,
                    max_params,
                })?)
            }
            "newton" => {
                let d = NewtonConfig::default();
                let (damping, beta, max_params) = (
                    s.bool("damping", d.damping)?,
                    s.f64_in("beta", d.beta, Allowed::Positive)?,
                    s.usize_in("max_params", d.max_params, PARAMETERS)?,
                );
                Method::Newton(Newton::new(NewtonConfig {
                    search: search_config(&mut s, "armijo", 0.9, StopTolerances::default())?,
                    damping,
                    beta,
                    max_params,
                })?)
            }
            "lbfgs" => {
                let d = LbfgsConfig::default();
                let lr = s.f64_in("lr", d.lr, Allowed::Positive)?;
                let max_iter = s.usize_in("max_iter", d.max_iter, ITERATIONS)?;
                let derived = LbfgsConfig {
                    max_iter,
                    ..LbfgsConfig::default()
                }
                .max_eval();
                let max_eval = Some(s.usize_in("max_eval", derived, EVALUATIONS)?);
                let history_size = s.usize_in("history_size", d.history_size, HISTORY)?;
                s.alias("line_search_fn", "line_search")?;
                let line_search = match s.choice(
                    "line_search_fn",
                    "none",
                    &["none", "strong_wolfe", "wolfe", "armijo"],
                )? {
                    "none" => None,
                    "armijo" => Some(LineSearch::ARMIJO),
                    _ => Some(LineSearch::WOLFE),
                };
                let StopTolerances {
                    tolerance_grad,
                    tolerance_change,
                } = tolerances(&mut s, StopTolerances::default())?;
                Method::Lbfgs(Lbfgs::new(LbfgsConfig {
                    lr,
                    max_iter,
                    max_eval,
                    tolerance_grad,
                    tolerance_change,
                    history_size,
                    line_search,
                })?)
            }
            "lm" => {
                let d = LmConfig::default();
                let (tau, max_tries, max_params) = (
                    s.f64_in("tau", d.tau, Allowed::NonNegative)?,
                    s.usize_in("max_tries", d.max_tries, ITERATIONS)?,
                    s.usize_in("max_params", d.max_params, PARAMETERS)?,
                );
                Method::Lm(LevenbergMarquardt::new(LmConfig {
                    tau,
                    tolerances: tolerances(&mut s, StopTolerances::default())?,
                    max_tries,
                    max_params,
                })?)
            }
            "gauss_newton" => {
                let d = GaussNewtonConfig::default();
                let (c1, shrink, max_ls, max_params) = (
                    s.f64_in("c1", d.c1, Allowed::OpenUnit)?,
                    s.f64_in("shrink", d.shrink, Allowed::OpenUnit)?,
                    s.usize_in("max_ls", d.max_ls, ITERATIONS)?,
                    s.usize_in("max_params", d.max_params, PARAMETERS)?,
                );
                Method::GaussNewton(GaussNewton::new(GaussNewtonConfig {
                    c1,
                    shrink,
                    max_ls,
                    tolerances: tolerances(&mut s, StopTolerances::default())?,
                    max_params,
                })?)
            }
            other => return Err(crate::first_order::unknown(other)),
        };
        s.finish()?;
        Ok(method)
    }

    /// The method's spec name.
    pub fn name(&self) -> &'static str {
        match self {
            Method::Steepest(_) => "steepest",
            Method::Cg(_) => "cg",
            Method::Bfgs(_) => "bfgs",
            Method::Lbfgs(_) => "lbfgs",
            Method::Newton(_) => "newton",
            Method::Lm(_) => "lm",
            Method::GaussNewton(_) => "gauss_newton",
        }
    }

    /// Whether the method needs a [`LeastSquares`] objective (residuals).
    pub fn needs_residuals(&self) -> bool {
        matches!(self, Method::Lm(_) | Method::GaussNewton(_))
    }

    /// Whether the method needs a [`HessianObjective`].
    pub fn needs_hessian(&self) -> bool {
        matches!(self, Method::Newton(_))
    }

    /// One step over a parameter set, PyTorch style: `loss` records the loss on the tape it
    /// is given, reading the parameters through `tape.param` (see [`crate::batch::ParamObjective`]).
    ///
    /// # Errors
    /// As [`Method::step`]; [`crate::Error::NotScalar`] if the loss is not a scalar; the
    /// closure's own errors come back as they were.
    pub fn step_params<F: Float, C, E>(
        &mut self,
        params: &mut [Param<F>],
        loss: C,
    ) -> std::result::Result<BatchReport, E>
    where
        C: for<'t> FnMut(&'t Tape<F>) -> std::result::Result<Var<'t, F>, E>,
        E: ClosureError + From<crate::Error>,
    {
        with_params(params, loss, |x, obj| self.step(x, obj))
    }
}

/// `obj` as a [`HessianObjective`], or [`Error::Unsupported`] for `method`.
fn with_hessian<'a>(
    method: &'static str,
    obj: &'a mut dyn Objective,
) -> Result<&'a mut dyn HessianObjective> {
    obj.as_hessian().ok_or(Error::Unsupported {
        method,
        needs: "Hessian",
        hint: "build it with TapeObjective or ParamObjective (the tape's exact Hessian), or implement HessianObjective and return Some(self) from Objective::as_hessian",
    })
}

/// `obj` as a [`LeastSquares`] problem, or [`Error::Unsupported`] for `method`.
fn with_residuals<'a>(
    method: &'static str,
    obj: &'a mut dyn Objective,
) -> Result<&'a mut dyn LeastSquares> {
    obj.as_least_squares().ok_or(Error::Unsupported {
        method,
        needs: "least-squares form (residuals)",
        hint: "build it with TapeResiduals or ParamResiduals from a closure returning the residual vector, or use lbfgs/bfgs/newton on the loss itself",
    })
}

impl BatchMethod for Method {
    fn module_layout(&mut self) -> Option<&mut Layout> {
        match self {
            Method::Steepest(_) => None,
            Method::Cg(m) => m.module_layout(),
            Method::Bfgs(m) => m.module_layout(),
            Method::Lbfgs(m) => m.module_layout(),
            Method::Newton(m) => Some(m.layout()),
            Method::Lm(m) => Some(m.module_layout()),
            Method::GaussNewton(m) => Some(m.module_layout()),
        }
    }

    /// One step from `x`: one iteration (L-BFGS: up to `max_iter`, as PyTorch's `step`).
    ///
    /// # Errors
    /// As the method's own `step`; [`Error::Unsupported`] if the method needs a Hessian or
    /// residuals the objective does not offer.
    fn step(&mut self, x: &mut [f64], obj: &mut dyn Objective) -> Result<BatchReport> {
        match self {
            Method::Steepest(m) => m.step(x, obj),
            Method::Cg(m) => m.step(x, obj),
            Method::Bfgs(m) => m.step(x, obj),
            Method::Lbfgs(m) => m.step(x, obj),
            Method::Newton(m) => m.step(x, with_hessian("newton", obj)?),
            Method::Lm(m) => m.step(x, with_residuals("lm", obj)?),
            Method::GaussNewton(m) => m.step(x, with_residuals("gauss_newton", obj)?),
        }
    }
}
