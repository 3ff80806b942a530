//! Levenberg–Marquardt for least squares, loss `L(x) = Σ rᵢ(x)²`: with the Jacobian `J` of
//! the residuals (from the tape, see [`crate::batch::TapeResiduals`]), solve
//!
//! `(μI + JᵀJ) δ = −Jᵀr`
//!
//! by Cholesky. Small `μ` gives Gauss–Newton's step, large `μ` a short gradient step. The
//! step is taken if the gain ratio `ρ = (F(x) − F(x+δ)) / (½ δᵀ(μδ − Jᵀr))` (actual over
//! predicted decrease of `F = ½‖r‖²`) is positive; then `μ ← μ·max(⅓, 1 − (2ρ − 1)³)`, else
//! `μ ← max(μν, 10⁻³ · max diag(JᵀJ)), ν ← 2ν` (Nielsen's rule; Madsen, Nielsen &
//! Tingleff, *Methods for Non-Linear Least Squares Problems*, 2004, Alg. 3.16; the floor
//! lets `μ` grow from 0). `μ₀ = τ · max diag(JᵀJ)`.

use crate::batch::flat::ClosureError;
use crate::batch::module::{self, Layout, ModuleLoss};
use crate::batch::newton::{check_dense_size, shifted_cholesky_solve};
use crate::batch::objective::{repeat, BatchReport, LeastSquares, StopReason, StopTolerances};
use crate::error::{Error, Result};
use descent_nn::Module;
use descent_tensor::Float;
use nalgebra::{DMatrix, DVector};

/// After a rejected step `μ` grows from at least `MU_FLOOR · max diag(JᵀJ)`: from `μ = 0`
/// (`tau = 0`, a pure Gauss–Newton start) `μν` would stay 0 and the same rejected step be
/// retried. `1e-3` is the default `tau`'s start, the usual "small but not negligible"
/// damping relative to the curvature's scale (Madsen, Nielsen & Tingleff §3.2).
const MU_FLOOR: f64 = 1e-3;

/// A method for least-squares problems (Levenberg–Marquardt, Gauss–Newton): it takes a
/// [`LeastSquares`] objective, so one without residuals is a type error. The calls mirror
/// [`crate::batch::BatchMethod`]'s.
pub trait LeastSquaresMethod {
    /// One step from `x`, updating it in place.
    ///
    /// # Errors
    /// Non-finite residuals or Jacobian at `x`, a normal system that cannot be factored, or
    /// the objective's own error.
    fn step(&mut self, x: &mut [f64], obj: &mut dyn LeastSquares) -> Result<BatchReport>;

    /// Calls [`LeastSquaresMethod::step`] until a terminal [`StopReason`] or `max_steps`
    /// calls; the report sums the calls' counts.
    ///
    /// # Errors
    /// As [`LeastSquaresMethod::step`]; [`Error::Hyperparameter`] for `max_steps = 0`.
    fn minimize(
        &mut self,
        x: &mut [f64],
        obj: &mut dyn LeastSquares,
        max_steps: usize,
    ) -> Result<BatchReport> {
        repeat(max_steps, || self.step(x, obj))
    }

    /// The names and shapes of the model the last `step_module_residuals` ran on.
    #[doc(hidden)]
    fn module_layout(&mut self) -> &mut Layout;

    /// One [`LeastSquaresMethod::step`] on a small model's parameters, in place:
    /// `residuals(tape, model)` records the residual vector (any shape; flattened) with the
    /// model's forward pass, and its Jacobian with respect to the parameters (flattened in
    /// `named_params` order) comes from the tape. The closure may return any error that
    /// optim's converts into (its own come back as they were).
    ///
    /// ```
    /// use descent_nn::{Linear, Mode, Module, Sequential};
    /// use descent_optim::batch::{LeastSquaresMethod, LevenbergMarquardt};
    /// use descent_tensor::Tensor;
    /// use rand::SeedableRng;
    /// let mut model = Sequential::<f64>::new().add(Linear::new(1, 1, &mut rand::rngs::StdRng::seed_from_u64(0))?);
    /// let (x, y) = (Tensor::from_vec(vec![0.0, 1.0, 2.0], &[3, 1])?, Tensor::from_vec(vec![1.0, 3.0, 5.0], &[3, 1])?);
    /// LevenbergMarquardt::default().minimize_module_residuals(&mut model, |tape, m| -> descent_optim::Result<_> {
    ///     Ok(m.forward(tape, tape.constant(x.clone()), Mode::Eval)?.sub(tape.constant(y.clone()))?)
    /// }, 20)?;
    /// let w: Vec<f64> = model.params().iter().map(|p| p.value.to_vec()[0]).collect();
    /// assert!((w[0] - 2.0).abs() < 1e-6 && (w[1] - 1.0).abs() < 1e-6, "{w:?}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`LeastSquaresMethod::step`] ([`Error::TooLarge`] naming the parameter count
    /// above `max_params`); the closure's own errors; [`Error::ModuleShape`] if the model's
    /// parameters are not those of the previous call.
    fn step_module_residuals<F, M, C, E>(
        &mut self,
        model: &mut M,
        residuals: C,
    ) -> std::result::Result<BatchReport, E>
    where
        Self: Sized,
        F: Float,
        M: Module<F> + ?Sized,
        C: ModuleLoss<F, M, E>,
        E: ClosureError + From<Error>,
    {
        module::remember(Some(self.module_layout()), model)?;
        module::on_residuals(model, residuals, |x, obj| self.step(x, obj))
    }

    /// [`LeastSquaresMethod::minimize`] on a model's parameters, in place (see
    /// [`LeastSquaresMethod::step_module_residuals`]).
    ///
    /// # Errors
    /// As [`LeastSquaresMethod::step_module_residuals`]; [`Error::Hyperparameter`] for
    /// `max_steps = 0`.
    fn minimize_module_residuals<F, M, C, E>(
        &mut self,
        model: &mut M,
        residuals: C,
        max_steps: usize,
    ) -> std::result::Result<BatchReport, E>
    where
        Self: Sized,
        F: Float,
        M: Module<F> + ?Sized,
        C: ModuleLoss<F, M, E>,
        E: ClosureError + From<Error>,
    {
        module::remember(Some(self.module_layout()), model)?;
        module::on_residuals(model, residuals, |x, obj| self.minimize(x, obj, max_steps))
    }
}

/// Levenberg–Marquardt settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LmConfig {
    /// `μ₀ = tau · max diag(JᵀJ)`; with `tau = 0` the first step is Gauss–Newton's (and a
    /// rank-deficient `J` is a singular system); a rejected step then raises `μ` to
    /// `10⁻³ · max diag(JᵀJ)` and doubles it from there.
    pub tau: f64,
    /// Stop when `max |2Jᵀr| ≤ tolerance_grad`; stop when `‖δ‖ ≤ tolerance_change·(‖x‖ +
    /// tolerance_change)` or the loss changes by less than `tolerance_change` relative to
    /// `max(|L|, 1)`.
    pub tolerances: StopTolerances,
    /// Rejected trial steps allowed in one iteration before giving up.
    pub max_tries: usize,
    /// The largest number of parameters for which `JᵀJ` (`n x n`) is formed.
    pub max_params: usize,
}

impl Default for LmConfig {
    fn default() -> Self {
        LmConfig {
            tau: 1e-3,
            tolerances: StopTolerances::default(),
            max_tries: 32,
            max_params: 4096,
        }
    }
}

/// Levenberg–Marquardt; one [`LevenbergMarquardt::step`] is one accepted step (after up to
/// `max_tries` rejected ones).
///
/// ```
/// use descent_optim::{Result, batch::{LeastSquares, LeastSquaresMethod, LevenbergMarquardt, Objective}};
/// use nalgebra::{DMatrix, DVector};
/// /// Rosenbrock as least squares: r = (10(y − x²), 1 − x).
/// struct Rosen;
/// impl Objective for Rosen {
///     fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> { self.sum_of_squares(x) }
/// }
/// impl LeastSquares for Rosen {
///     fn residuals(&mut self, p: &[f64]) -> Result<(DVector<f64>, DMatrix<f64>)> {
///         let r = DVector::from_vec(vec![10.0 * (p[1] - p[0] * p[0]), 1.0 - p[0]]);
///         Ok((r, DMatrix::from_row_slice(2, 2, &[-20.0 * p[0], 10.0, -1.0, 0.0])))
///     }
/// }
/// let mut x = vec![-1.2, 1.0];
/// let report = LevenbergMarquardt::default().minimize(&mut x, &mut Rosen, 100)?;
/// assert!((x[0] - 1.0).abs() < 1e-8 && (x[1] - 1.0).abs() < 1e-8, "{report:?}");
/// # Ok::<(), descent_optim::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LevenbergMarquardt {
    config: LmConfig,
    mu: Option<f64>,
    nu: f64,
    cache: Option<(Vec<f64>, DVector<f64>, DMatrix<f64>)>,
    layout: Layout,
}

impl Default for LevenbergMarquardt {
    fn default() -> Self {
        LevenbergMarquardt {
            config: LmConfig::default(),
            mu: None,
            nu: 2.0,
            cache: None,
            layout: Layout::new(),
        }
    }
}

impl LevenbergMarquardt {
    /// LM with the given settings.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] for a negative `tau` or tolerance, or zero `max_tries`.
    pub fn new(config: LmConfig) -> Result<Self> {
        let bad = |name: &str, value: String, why: &str| Err(Error::hyper("lm", name, value, why));
        if !(config.tau >= 0.0 && config.tau.is_finite()) {
            return bad(
                "tau",
                config.tau.to_string(),
                "must be non-negative and finite",
            );
        }
        if config.max_tries == 0 {
            return bad("max_tries", "0".into(), "must be at least 1");
        }
        config.tolerances.validate("lm")?;
        Ok(LevenbergMarquardt {
            config,
            ..Default::default()
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LmConfig {
        &self.config
    }

    /// The current damping `μ` (`None` before the first step).
    pub fn damping(&self) -> Option<f64> {
        self.mu
    }
}

/// The residuals and Jacobian at `x`, counted in `report` and checked for shape (and, with
/// `finite`, for finiteness: the point a step starts from must be finite).
fn residuals(
    method: &'static str,
    obj: &mut dyn LeastSquares,
    x: &[f64],
    report: &mut BatchReport,
    finite: bool,
) -> Result<(DVector<f64>, DMatrix<f64>)> {
    let (r, j) = obj.residuals(x)?;
    report.function_evals += 1;
    report.gradient_evals += 1; // the Jacobian gives the gradient 2Jᵀr too
    report.hessian_evals += 1;
    if j.nrows() != r.len() || j.ncols() != x.len() {
        return Err(Error::Length {
            method,
            what: "Jacobian (rows x cols, expected residuals x parameters)",
            expected: r.len() * x.len(),
            got: j.nrows() * j.ncols(),
        });
    }
    if finite {
        if let Some(&bad) = r.iter().chain(j.iter()).find(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                method,
                what: "residual or Jacobian",
                value: bad,
                iteration: 0,
            });
        }
    }
    Ok((r, j))
}

impl LeastSquaresMethod for LevenbergMarquardt {
    /// One accepted step from `x`, updating it.
    ///
    /// # Errors
    /// [`Error::TooLarge`] above `max_params` parameters, [`Error::NonFinite`] for
    /// non-finite residuals or Jacobian at `x`, [`Error::Singular`] if `μI + JᵀJ` cannot be
    /// factored (`μ = 0` with a rank-deficient `J`).
    fn step(&mut self, x: &mut [f64], obj: &mut dyn LeastSquares) -> Result<BatchReport> {
        let n = x.len();
        check_dense_size("lm", n, self.config.max_params)?;
        let tol = self.config.tolerances;
        let mut report = BatchReport::new(0.0, &[]);
        let (r, j) = match self.cache.take() {
            Some((cx, r, j)) if cx.as_slice() == &*x => (r, j),
            _ => residuals("lm", obj, x, &mut report, true)?,
        };
        let f = r.norm_squared();
        let g = j.tr_mul(&r); // ½ ∇L
        (report.loss, report.grad_max) = (f, 2.0 * g.amax());
        if report.grad_max <= tol.tolerance_grad {
            report.reason = StopReason::GradientTolerance;
            self.cache = Some((x.to_vec(), r, j));
            return Ok(report);
        }
        let a = j.tr_mul(&j);
        let scale = a.diagonal().max();
        let mut mu = *self.mu.get_or_insert(self.config.tau * scale);
        let floor = MU_FLOOR * scale;
        let x_norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        report.iterations = 1;
        for _ in 0..self.config.max_tries {
            let (h, _) =
                shifted_cholesky_solve(&(&a + DMatrix::identity(n, n) * mu), &-&g, 1.0, false)
                    .ok_or(Error::Singular {
                        method: "lm",
                        n,
                        system: "(mu I + J^T J) delta = -J^T r",
                        hint: " (J is rank-deficient and mu = 0: use tau > 0)",
                    })?;
            if h.norm() <= tol.tolerance_change * (x_norm + tol.tolerance_change) {
                report.reason = StopReason::StepTolerance;
                self.cache = Some((x.to_vec(), r, j));
                return Ok(report);
            }
            let x_new: Vec<f64> = x.iter().zip(h.iter()).map(|(a, b)| a + b).collect();
            let (r_new, j_new) = residuals("lm", obj, &x_new, &mut report, false)?;
            let f_new = r_new.norm_squared();
            let predicted = 0.5 * h.dot(&(&h * mu - &g));
            let rho = 0.5 * (f - f_new) / predicted;
            if rho > 0.0 && f_new.is_finite() && j_new.iter().all(|v| v.is_finite()) {
                mu *= (1.0f64 / 3.0).max(1.0 - (2.0 * rho - 1.0).powi(3));
                self.mu = Some(mu);
                self.nu = 2.0;
                x.copy_from_slice(&x_new);
                let g_new = j_new.tr_mul(&r_new);
                (report.loss, report.grad_max) = (f_new, 2.0 * g_new.amax());
                // The step test was made above, relative to ‖x‖.
                report.reason = if report.grad_max <= tol.tolerance_grad {
                    StopReason::GradientTolerance
                } else if tol.loss_converged(f, f_new) {
                    StopReason::LossChange
                } else {
                    StopReason::MaxIterations
                };
                self.cache = Some((x.to_vec(), r_new, j_new));
                return Ok(report);
            }
            mu = (mu * self.nu).max(floor);
            self.nu *= 2.0;
            self.mu = Some(mu);
        }
        report.reason = StopReason::LineSearchFailed;
        self.cache = Some((x.to_vec(), r, j));
        Ok(report)
    }

    fn module_layout(&mut self) -> &mut Layout {
        &mut self.layout
    }
}

/// Gauss–Newton settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussNewtonConfig {
    /// Armijo's sufficient-decrease constant: accept `t` when `L(x + tδ) ≤ L(x) + c1·t·∇Lᵀδ`.
    pub c1: f64,
    /// The factor `t` is multiplied by after a rejected trial (`t₀ = 1`, the full step).
    pub shrink: f64,
    /// Trials of the line search in one iteration before giving up.
    pub max_ls: usize,
    /// As [`LmConfig::tolerances`].
    pub tolerances: StopTolerances,
    /// The largest number of parameters for which `JᵀJ` (`n x n`) is formed.
    pub max_params: usize,
}

impl Default for GaussNewtonConfig {
    fn default() -> Self {
        GaussNewtonConfig {
            c1: 1e-4,
            shrink: 0.5,
            max_ls: 25,
            tolerances: StopTolerances::default(),
            max_params: 4096,
        }
    }
}

/// Gauss–Newton for least squares, loss `L(x) = Σ rᵢ(x)²`: LM's normal equations without
/// damping, `JᵀJ δ = −Jᵀr`, and a backtracking (Armijo) search along `δ`, which is a
/// descent direction whenever `J` has full column rank. Near a zero-residual solution the
/// full step is taken and convergence is quadratic; with large residuals it may be slow,
/// where [`LevenbergMarquardt`] is the robust choice. One [`GaussNewton::step`] is one
/// iteration.
///
/// ```
/// use descent_optim::{Result, batch::{GaussNewton, LeastSquares, LeastSquaresMethod, Objective}};
/// use nalgebra::{DMatrix, DVector};
/// /// r = (x² − 4, x·y − 2): zero at (2, 1).
/// struct Roots;
/// impl Objective for Roots {
///     fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> { self.sum_of_squares(x) }
/// }
/// impl LeastSquares for Roots {
///     fn residuals(&mut self, p: &[f64]) -> Result<(DVector<f64>, DMatrix<f64>)> {
///         let r = DVector::from_vec(vec![p[0] * p[0] - 4.0, p[0] * p[1] - 2.0]);
///         Ok((r, DMatrix::from_row_slice(2, 2, &[2.0 * p[0], 0.0, p[1], p[0]])))
///     }
/// }
/// let mut x = vec![3.0, 3.0];
/// let report = GaussNewton::default().minimize(&mut x, &mut Roots, 50)?;
/// assert!((x[0] - 2.0).abs() < 1e-8 && (x[1] - 1.0).abs() < 1e-8, "{report:?}");
/// # Ok::<(), descent_optim::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct GaussNewton {
    config: GaussNewtonConfig,
    cache: Option<(Vec<f64>, DVector<f64>, DMatrix<f64>)>,
    layout: Layout,
}

impl GaussNewton {
    /// Gauss–Newton with the given settings.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] for `c1` or `shrink` outside `(0, 1)`, zero `max_ls`, or a
    /// negative tolerance.
    pub fn new(config: GaussNewtonConfig) -> Result<Self> {
        let bad = |name: &str, value: String, why: &str| {
            Err(Error::hyper("gauss_newton", name, value, why))
        };
        for (name, v) in [("c1", config.c1), ("shrink", config.shrink)] {
            if !(v > 0.0 && v < 1.0) {
                return bad(name, v.to_string(), "must be in (0, 1)");
            }
        }
        if config.max_ls == 0 {
            return bad("max_ls", "0".into(), "must be at least 1");
        }
        config.tolerances.validate("gauss_newton")?;
        Ok(GaussNewton {
            config,
            ..Default::default()
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GaussNewtonConfig {
        &self.config
    }
}

impl LeastSquaresMethod for GaussNewton {
    /// One iteration from `x`, updating it.
    ///
    /// # Errors
    /// [`Error::TooLarge`] above `max_params` parameters, [`Error::NonFinite`] for
    /// non-finite residuals or Jacobian at `x`, [`Error::Singular`] if `J` is (numerically)
    /// rank-deficient.
    fn step(&mut self, x: &mut [f64], obj: &mut dyn LeastSquares) -> Result<BatchReport> {
        const NAME: &str = "gauss_newton";
        let n = x.len();
        check_dense_size(NAME, n, self.config.max_params)?;
        let tol = self.config.tolerances;
        let mut report = BatchReport::new(0.0, &[]);
        let (r, j) = match self.cache.take() {
            Some((cx, r, j)) if cx.as_slice() == &*x => (r, j),
            _ => residuals(NAME, obj, x, &mut report, true)?,
        };
        let f = r.norm_squared();
        let g = j.tr_mul(&r); // ½ ∇L
        (report.loss, report.grad_max) = (f, 2.0 * g.amax());
        if report.grad_max <= tol.tolerance_grad {
            report.reason = StopReason::GradientTolerance;
            self.cache = Some((x.to_vec(), r, j));
            return Ok(report);
        }
        let (d, _) = shifted_cholesky_solve(&j.tr_mul(&j), &-&g, 1.0, false).ok_or(
            Error::Singular {
                method: NAME,
                n,
                system: "(J^T J) delta = -J^T r",
                hint: " (the Jacobian is rank-deficient: fewer independent residuals than parameters near x; use lm, whose damping mu I makes the system solvable)",
            },
        )?;
        report.iterations = 1;
        let slope = 2.0 * g.dot(&d); // ∇Lᵀδ = −2‖Jδ‖² < 0
        let x_norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
        let mut t = 1.0;
        for _ in 0..self.config.max_ls {
            let step_norm = t * d.norm();
            if step_norm <= tol.tolerance_change * (x_norm + tol.tolerance_change) {
                report.reason = StopReason::StepTolerance;
                self.cache = Some((x.to_vec(), r, j));
                return Ok(report);
            }
            let x_new: Vec<f64> = x.iter().zip(d.iter()).map(|(a, b)| a + t * b).collect();
            let (r_new, j_new) = residuals(NAME, obj, &x_new, &mut report, false)?;
            let f_new = r_new.norm_squared();
            let finite = f_new.is_finite() && j_new.iter().all(|v| v.is_finite());
            if finite && f_new <= f + self.config.c1 * t * slope {
                x.copy_from_slice(&x_new);
                let g_new = j_new.tr_mul(&r_new);
                (report.loss, report.grad_max) = (f_new, 2.0 * g_new.amax());
                report.reason = if report.grad_max <= tol.tolerance_grad {
                    StopReason::GradientTolerance
                } else if tol.loss_converged(f, f_new) {
                    StopReason::LossChange
                } else {
                    StopReason::MaxIterations
                };
                self.cache = Some((x.to_vec(), r_new, j_new));
                return Ok(report);
            }
            t *= self.config.shrink;
        }
        report.reason = StopReason::LineSearchFailed;
        self.cache = Some((x.to_vec(), r, j));
        Ok(report)
    }

    fn module_layout(&mut self) -> &mut Layout {
        &mut self.layout
    }
}
