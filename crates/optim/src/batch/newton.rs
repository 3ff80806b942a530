//! Newton's method with the exact Hessian: solve `(H + τI) d = −g` by Cholesky and search
//! along `d` from the full step `t = 1` (Armijo by default), so on a quadratic with a
//! positive-definite Hessian one iteration lands on the minimum.
//!
//! When `H` is not positive definite, `τ` grows from `β − min Hᵢᵢ` (or `β`) by doubling until
//! the Cholesky factorization succeeds (N&W Alg. 3.3, "Cholesky with added multiple of
//! the identity"): `d` is then a descent direction between Newton's and the gradient's.
//! With `damping: false` such a Hessian is an error instead. The Hessian is `n x n`, so
//! `max_params` bounds `n` (the error says how large and what to use instead).

use crate::batch::flat::ClosureError;
use crate::batch::linesearch::{iterate, Cache, Direction, LineSearch, SearchConfig};
use crate::batch::module::{self, Layout, ModuleLoss};
use crate::batch::objective::{repeat, BatchReport, HessianObjective};
use crate::error::{Error, Result};
use descent_nn::Module;
use descent_tensor::Float;
use nalgebra::{DMatrix, DVector};

/// Newton settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NewtonConfig {
    /// Search and tolerances (Armijo from `t = 1` by default).
    pub search: SearchConfig,
    /// Add `τI` to a Hessian that is not positive definite (else: [`Error::Singular`]).
    pub damping: bool,
    /// The smallest shift `β` tried when damping.
    pub beta: f64,
    /// The largest number of parameters for which the dense Hessian is formed.
    pub max_params: usize,
}

impl Default for NewtonConfig {
    fn default() -> Self {
        NewtonConfig {
            search: SearchConfig::new(LineSearch::ARMIJO),
            damping: true,
            beta: 1e-3,
            max_params: 4096,
        }
    }
}

/// Newton's method; one [`Newton::step`] is one iteration (one Hessian). It takes a
/// [`HessianObjective`]: an objective without a Hessian is a type error.
///
/// ```
/// use descent_optim::{Result, batch::{HessianObjective, Newton, Objective}};
/// use nalgebra::DMatrix;
/// /// ½ xᵀAx − bᵀx with A = [[3, 1], [1, 2]], b = (1, 1).
/// struct Quadratic;
/// impl Objective for Quadratic {
///     fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
///         let g = vec![3.0 * x[0] + x[1] - 1.0, x[0] + 2.0 * x[1] - 1.0];
///         Ok((0.5 * (3.0 * x[0] * x[0] + 2.0 * x[0] * x[1] + 2.0 * x[1] * x[1]) - x[0] - x[1], g))
///     }
/// }
/// impl HessianObjective for Quadratic {
///     fn hessian(&mut self, _x: &[f64]) -> Result<DMatrix<f64>> {
///         Ok(DMatrix::from_row_slice(2, 2, &[3.0, 1.0, 1.0, 2.0]))
///     }
/// }
/// let mut x = vec![5.0, -7.0];
/// Newton::default().step(&mut x, &mut Quadratic)?;
/// assert!((x[0] - 0.2).abs() < 1e-12 && (x[1] - 0.4).abs() < 1e-12); // one step
/// # Ok::<(), descent_optim::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Newton {
    config: NewtonConfig,
    gradient_fallback: bool,
    last_shift: f64,
    cache: Cache,
    layout: Layout,
}

impl Default for Newton {
    fn default() -> Self {
        Newton {
            config: NewtonConfig::default(),
            gradient_fallback: false,
            last_shift: 0.0,
            cache: Cache::default(),
            layout: Layout::new(),
        }
    }
}

impl Newton {
    /// Newton with the given settings.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] for a non-positive `beta` or bad search constants.
    pub fn new(config: NewtonConfig) -> Result<Self> {
        config.search.validate("newton")?;
        if !(config.beta > 0.0 && config.beta.is_finite()) {
            return Err(Error::hyper(
                "newton",
                "beta",
                config.beta.to_string(),
                "must be positive and finite",
            ));
        }
        Ok(Newton {
            config,
            ..Default::default()
        })
    }

    /// The configuration.
    pub fn config(&self) -> &NewtonConfig {
        &self.config
    }

    /// The shift `τ` added to the last Hessian (0 when it was positive definite).
    pub fn last_shift(&self) -> f64 {
        self.last_shift
    }
}

impl Newton {
    /// One iteration from `x`, updating it.
    ///
    /// # Errors
    /// [`Error::TooLarge`] above `max_params` parameters, [`Error::Singular`] for a Hessian
    /// that is not positive definite without damping, [`Error::NonFinite`] for a non-finite
    /// loss, gradient or Hessian.
    pub fn step(&mut self, x: &mut [f64], obj: &mut dyn HessianObjective) -> Result<BatchReport> {
        check_dense_size("newton", x.len(), self.config.max_params)?;
        iterate(self, x, obj)
    }

    /// Calls [`Newton::step`] until a terminal [`crate::batch::StopReason`] or `max_steps`
    /// calls; the report sums the calls' counts.
    ///
    /// # Errors
    /// As [`Newton::step`]; [`Error::Hyperparameter`] for `max_steps = 0`.
    pub fn minimize(
        &mut self,
        x: &mut [f64],
        obj: &mut dyn HessianObjective,
        max_steps: usize,
    ) -> Result<BatchReport> {
        repeat(max_steps, || self.step(x, obj))
    }

    /// One [`Newton::step`] on a small model's parameters, in place, with the tape's exact
    /// Hessian of `loss(tape, model)` with respect to all of them (flattened in
    /// `named_params` order). As [`crate::batch::BatchMethod::step_module`]: the closure
    /// may return any error that optim's converts into.
    ///
    /// ```
    /// use descent_nn::{Linear, Mode, Module, Sequential};
    /// use descent_optim::batch::Newton;
    /// use descent_tensor::Tensor;
    /// use rand::SeedableRng;
    /// // Least squares is a quadratic: one Newton step fits y = 2x + 1.
    /// let mut model = Sequential::<f64>::new().add(Linear::new(1, 1, &mut rand::rngs::StdRng::seed_from_u64(0))?);
    /// let (x, y) = (Tensor::from_vec(vec![0.0, 1.0, 2.0], &[3, 1])?, Tensor::from_vec(vec![1.0, 3.0, 5.0], &[3, 1])?);
    /// Newton::default().step_module(&mut model, |tape, m| -> descent_optim::Result<_> {
    ///     let pred = m.forward(tape, tape.constant(x.clone()), Mode::Eval)?;
    ///     Ok(pred.sub(tape.constant(y.clone()))?.square()?.sum(&[], false)?)
    /// })?;
    /// let w: Vec<f64> = model.params().iter().map(|p| p.value.to_vec()[0]).collect();
    /// assert!((w[0] - 2.0).abs() < 1e-12 && (w[1] - 1.0).abs() < 1e-12, "{w:?}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Newton::step`] ([`Error::TooLarge`] naming the parameter count above
    /// `max_params`); the closure's own errors; [`Error::ModuleShape`] if the model's
    /// parameters are not those of the previous call.
    pub fn step_module<F, M, C, E>(
        &mut self,
        model: &mut M,
        loss: C,
    ) -> std::result::Result<BatchReport, E>
    where
        F: Float,
        M: Module<F> + ?Sized,
        C: ModuleLoss<F, M, E>,
        E: ClosureError + From<Error>,
    {
        module::remember(Some(&mut self.layout), model)?;
        module::on_loss(model, loss, |x, obj| self.step(x, obj))
    }

    /// [`Newton::minimize`] on a small model's parameters, in place (see
    /// [`Newton::step_module`]).
    ///
    /// # Errors
    /// As [`Newton::step_module`]; [`Error::Hyperparameter`] for `max_steps = 0`.
    pub fn minimize_module<F, M, C, E>(
        &mut self,
        model: &mut M,
        loss: C,
        max_steps: usize,
    ) -> std::result::Result<BatchReport, E>
    where
        F: Float,
        M: Module<F> + ?Sized,
        C: ModuleLoss<F, M, E>,
        E: ClosureError + From<Error>,
    {
        module::remember(Some(&mut self.layout), model)?;
        module::on_loss(model, loss, |x, obj| self.minimize(x, obj, max_steps))
    }

    /// The model layout of the last `step_module`, for [`crate::batch::Method`].
    pub(crate) fn layout(&mut self) -> &mut Layout {
        &mut self.layout
    }
}

/// [`Error::TooLarge`] if an `n x n` Hessian is above the limit.
pub(crate) fn check_dense_size(method: &'static str, n: usize, limit: usize) -> Result<()> {
    if n > limit {
        let mib = (n as f64) * (n as f64) * 8.0 / (1u64 << 20) as f64;
        return Err(Error::TooLarge { method, what: "Hessian", n, mib, limit, instead: "use lbfgs or cg (no n x n matrix), and curvature::lanczos for the extreme eigenvalues" });
    }
    Ok(())
}

/// The Hessian at `x`, checked for shape and finiteness.
pub(crate) fn checked_hessian<O: HessianObjective + ?Sized>(
    method: &'static str,
    obj: &mut O,
    x: &[f64],
) -> Result<DMatrix<f64>> {
    let h = obj.hessian(x)?;
    let n = x.len();
    if h.nrows() != n || h.ncols() != n {
        return Err(Error::Length {
            method,
            what: "Hessian (rows x cols)",
            expected: n * n,
            got: h.nrows() * h.ncols(),
        });
    }
    if let Some(&bad) = h.iter().find(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            method,
            what: "Hessian",
            value: bad,
            iteration: 0,
        });
    }
    Ok(h)
}

/// Solves `(A + τI) d = b` for the smallest `τ` in `0, β', 2β', …` whose Cholesky
/// factorization succeeds (at most 64 doublings), returning `(d, τ)`; `None` if even the
/// largest shift fails (a non-finite matrix). A factorization whose smallest pivot is below
/// `1e-7·√max Aᵢᵢ` (condition number above ~1e14, where an f64 solution is noise) counts as
/// failed: an exactly singular matrix can factor "successfully" through rounding.
pub(crate) fn shifted_cholesky_solve(
    a: &DMatrix<f64>,
    b: &DVector<f64>,
    beta: f64,
    damping: bool,
) -> Option<(DVector<f64>, f64)> {
    let min_diag = a.diagonal().min();
    let mut tau = if min_diag > 0.0 { 0.0 } else { beta - min_diag };
    if !damping {
        tau = 0.0;
    }
    let scale = beta.max(a.diagonal().abs().max());
    for _ in 0..64 {
        let shifted = a + DMatrix::identity(a.nrows(), a.ncols()) * tau;
        let pivot_floor = 1e-7 * shifted.diagonal().max().sqrt();
        if let Some(ch) = shifted.cholesky() {
            let d = ch.solve(b);
            if ch.l_dirty().diagonal().min() > pivot_floor && d.iter().all(|v| v.is_finite()) {
                return Some((d, tau));
            }
        }
        if !damping {
            return None;
        }
        tau = (2.0 * tau).max(beta * scale.max(1.0));
    }
    None
}

impl<O: HessianObjective + ?Sized> Direction<O> for Newton {
    const NAME: &'static str = "newton";

    fn search(&self) -> SearchConfig {
        self.config.search
    }

    fn cache(&mut self) -> &mut Cache {
        &mut self.cache
    }

    fn direction(
        &mut self,
        x: &[f64],
        g: &[f64],
        obj: &mut O,
        report: &mut BatchReport,
    ) -> Result<Vec<f64>> {
        if std::mem::take(&mut self.gradient_fallback) {
            return Ok(g.iter().map(|v| -v).collect());
        }
        let h = checked_hessian("newton", obj, x)?;
        report.hessian_evals += 1;
        let minus_g = -DVector::from_column_slice(g);
        let (d, tau) = shifted_cholesky_solve(&h, &minus_g, self.config.beta, self.config.damping)
            .ok_or(Error::Singular {
                method: "newton",
                n: x.len(),
                system: "H d = -g",
                hint: if self.config.damping {
                    ""
                } else {
                    " (the Hessian is not positive definite here; enable damping=true)"
                },
            })?;
        self.last_shift = tau;
        Ok(d.as_slice().to_vec())
    }

    fn reset(&mut self) {
        self.gradient_fallback = true;
    }

    fn initial_step(&mut self, _f: f64, _g: &[f64], _gtd: f64) -> f64 {
        1.0
    }

    fn accepted(&mut self, _s: &[f64], _y: &[f64], _f: f64) {}
}
