//! What the batch (full-batch, re-evaluating) methods share: the [`Objective`] they call
//! on a flat `f64` parameter vector, the [`BatchReport`] each call returns, and a few vector
//! helpers. Working on one flat vector is what PyTorch's LBFGS does too
//! (`_gather_flat_grad`): the algebra of directions and histories is then plain `Vec<f64>`.

use crate::error::{Error, Result};
use nalgebra::{DMatrix, DVector};

/// A differentiable objective over a flat parameter vector.
///
/// Closures `FnMut(&[f64]) -> Result<(f64, Vec<f64>)>` are objectives. Newton also needs
/// [`Objective::hessian`] and Levenberg–Marquardt [`Objective::residuals`]; the defaults
/// return [`Error::Unsupported`] saying what to provide instead, so every method can be
/// driven through one trait (as the `optimizers` example does) and fail clearly.
///
/// ```
/// use descent_optim::batch::{BatchMethod, Bfgs, Objective};
/// // f(x, y) = (x − 1)² + 10 (y + 2)²
/// let mut f = |x: &[f64]| Ok(((x[0] - 1.0).powi(2) + 10.0 * (x[1] + 2.0).powi(2),
///                             vec![2.0 * (x[0] - 1.0), 20.0 * (x[1] + 2.0)]));
/// let mut x = vec![0.0, 0.0];
/// let report = Bfgs::default().minimize(&mut x, &mut f, 100)?;
/// assert!((x[0] - 1.0).abs() < 1e-8 && (x[1] + 2.0).abs() < 1e-8, "{report:?}");
/// # Ok::<(), descent_optim::Error>(())
/// ```
pub trait Objective {
    /// The loss and its gradient at `x` (the gradient has `x.len()` entries).
    ///
    /// # Errors
    /// Whatever the objective's computation returns.
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)>;

    /// The Hessian at `x` (`n x n`, symmetric), for Newton's method.
    ///
    /// # Errors
    /// [`Error::Unsupported`] unless the objective implements it.
    fn hessian(&mut self, _x: &[f64]) -> Result<DMatrix<f64>> {
        Err(Error::Unsupported { method: "newton", needs: "Hessian", hint: "build it with TapeObjective (the tape's exact Hessian) or implement Objective::hessian" })
    }

    /// The residuals `r(x)` (`m` entries) and their Jacobian (`m x n`), for
    /// Levenberg–Marquardt on the loss `Σ rᵢ²`.
    ///
    /// # Errors
    /// [`Error::Unsupported`] unless the objective is a least-squares problem.
    fn residuals(&mut self, _x: &[f64]) -> Result<(DVector<f64>, DMatrix<f64>)> {
        Err(Error::Unsupported { method: "lm", needs: "least-squares form (residuals)", hint: "build it with TapeResiduals from a closure returning the residual vector, or use lbfgs/bfgs/newton on the loss itself" })
    }
}

impl<T: FnMut(&[f64]) -> Result<(f64, Vec<f64>)>> Objective for T {
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        self(x)
    }
}

/// Why a call of a batch method returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The call used its iteration budget (one iteration for most methods' `step`,
    /// `max_iter` for L-BFGS, the limit given to `minimize`) without meeting a tolerance.
    MaxIterations,
    /// The budget of function evaluations (`max_eval`) ran out.
    MaxEvaluations,
    /// The gradient's largest entry fell to `tolerance_grad` or below: converged.
    GradientTolerance,
    /// The loss changed by less than `tolerance_change` in one iteration: relative to
    /// `max(|f|, 1)` (SciPy's `ftol` test) for every method but L-BFGS, which keeps
    /// PyTorch's absolute test.
    LossChange,
    /// The step's largest entry fell below `tolerance_change`.
    StepTolerance,
    /// The search direction was not a descent direction (`gᵀd > −tolerance_change`).
    NotDescent,
    /// The line search (or LM's damping loop) found no point with sufficient decrease
    /// within its bounded number of trials; the parameters were left at the last good point.
    LineSearchFailed,
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StopReason::MaxIterations => "iteration budget used",
            StopReason::MaxEvaluations => "evaluation budget (max_eval) used",
            StopReason::GradientTolerance => "converged: max |g| <= tolerance_grad",
            StopReason::LossChange => "loss change below tolerance_change",
            StopReason::StepTolerance => "step below tolerance_change",
            StopReason::NotDescent => "not a descent direction",
            StopReason::LineSearchFailed => "line search found no sufficient decrease",
        })
    }
}

impl StopReason {
    /// Whether this reason means the run should stop (anything but an exhausted budget of
    /// one call).
    pub fn is_terminal(self) -> bool {
        !matches!(self, StopReason::MaxIterations | StopReason::MaxEvaluations)
    }
}

/// What one call of a batch method did.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchReport {
    /// Iterations (parameter updates attempted) in this call.
    pub iterations: usize,
    /// Objective evaluations in this call (each yields the loss and the gradient, so this is
    /// also the number of gradient evaluations; Hessians and Jacobians are counted apart).
    pub function_evals: usize,
    /// Gradient evaluations in this call.
    pub gradient_evals: usize,
    /// Hessian (Newton) or Jacobian (LM) evaluations in this call.
    pub hessian_evals: usize,
    /// The loss at the returned parameters.
    pub loss: f64,
    /// The largest absolute gradient entry at the returned parameters.
    pub grad_max: f64,
    /// Why the call returned.
    pub reason: StopReason,
}

impl BatchReport {
    pub(crate) fn new(loss: f64, grad: &[f64]) -> Self {
        BatchReport {
            iterations: 0,
            function_evals: 0,
            gradient_evals: 0,
            hessian_evals: 0,
            loss,
            grad_max: max_abs(grad),
            reason: StopReason::MaxIterations,
        }
    }

    /// Adds another call's counts into this one, taking its final loss and reason.
    pub fn absorb(&mut self, other: &BatchReport) {
        self.iterations += other.iterations;
        self.function_evals += other.function_evals;
        self.gradient_evals += other.gradient_evals;
        self.hessian_evals += other.hessian_evals;
        self.loss = other.loss;
        self.grad_max = other.grad_max;
        self.reason = other.reason;
    }
}

/// Calls `obj` and checks what it returned: a gradient of the right length, and (when
/// `finite` is asked) a finite loss and gradient, which every method needs at the point it
/// steps from. Trial points of a line search may be non-finite: the search backs off.
pub(crate) fn evaluate(
    method: &'static str,
    obj: &mut dyn Objective,
    x: &[f64],
    iteration: usize,
    finite: bool,
) -> Result<(f64, Vec<f64>)> {
    let (f, g) = obj.value_grad(x)?;
    if g.len() != x.len() {
        return Err(Error::Length {
            method,
            what: "gradient",
            expected: x.len(),
            got: g.len(),
        });
    }
    if finite {
        if !f.is_finite() {
            return Err(Error::NonFinite {
                method,
                what: "loss",
                value: f,
                iteration,
            });
        }
        if let Some(&bad) = g.iter().find(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                method,
                what: "gradient",
                value: bad,
                iteration,
            });
        }
    }
    Ok((f, g))
}

/// Stopping tolerances shared by the batch methods (PyTorch LBFGS's names and defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopTolerances {
    /// Stop when `max |gᵢ| ≤ tolerance_grad`.
    pub tolerance_grad: f64,
    /// Stop when the step's largest entry, or the loss relative to `max(|fₖ|, |fₖ₊₁|, 1)`,
    /// changes by less than this (L-BFGS: the loss change is absolute, as PyTorch's).
    pub tolerance_change: f64,
}

impl Default for StopTolerances {
    fn default() -> Self {
        StopTolerances {
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
        }
    }
}

impl StopTolerances {
    /// SciPy's `minimize(method="CG"/"BFGS")` defaults, used by [`crate::batch::ConjugateGradient`]
    /// and [`crate::batch::Bfgs`]: stop only when `max |gᵢ| ≤ 1e-5` (SciPy's `gtol` on the
    /// infinity norm), never on a small change of the loss or step
    /// (`tolerance_change = 0`), which near a narrow valley's floor stops with the gradient
    /// still large.
    pub const SCIPY: StopTolerances = StopTolerances {
        tolerance_grad: 1e-5,
        tolerance_change: 0.0,
    };

    /// `|fₖ − fₖ₊₁| < tolerance_change · max(|fₖ|, |fₖ₊₁|, 1)`: a relative test for large
    /// losses, an absolute one below 1.
    pub(crate) fn loss_converged(&self, prev: f64, loss: f64) -> bool {
        (loss - prev).abs() < self.tolerance_change * prev.abs().max(loss.abs()).max(1.0)
    }

    /// The reason to stop after an iteration that moved by `step` (`t·d`) from loss
    /// `prev` to `loss` with gradient `g`, if any.
    pub(crate) fn check(
        &self,
        g: &[f64],
        step_max: f64,
        prev: f64,
        loss: f64,
    ) -> Option<StopReason> {
        if max_abs(g) <= self.tolerance_grad {
            Some(StopReason::GradientTolerance)
        } else if step_max <= self.tolerance_change {
            Some(StopReason::StepTolerance)
        } else if self.loss_converged(prev, loss) {
            Some(StopReason::LossChange)
        } else {
            None
        }
    }
}

/// `Σ aᵢ bᵢ`.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `max |aᵢ|` (0 for an empty vector).
pub(crate) fn max_abs(a: &[f64]) -> f64 {
    a.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// `y += alpha · x`.
pub(crate) fn axpy(y: &mut [f64], alpha: f64, x: &[f64]) {
    y.iter_mut().zip(x).for_each(|(yi, xi)| *yi += alpha * xi);
}

/// `x + t · d` as a new vector.
pub(crate) fn moved(x: &[f64], t: f64, d: &[f64]) -> Vec<f64> {
    x.iter().zip(d).map(|(xi, di)| xi + t * di).collect()
}

/// `−v`.
pub(crate) fn neg(v: &[f64]) -> Vec<f64> {
    v.iter().map(|x| -x).collect()
}

/// A batch method: one [`BatchMethod::step`] updates `x` by re-evaluating the objective
/// (one iteration; for L-BFGS up to `max_iter`, as PyTorch's `step`), and
/// [`BatchMethod::minimize`] repeats it until a stopping test is met.
pub trait BatchMethod {
    /// One step from `x`, updating it in place.
    ///
    /// # Errors
    /// A non-finite loss or gradient at `x`, a wrong-length gradient, a Hessian or
    /// Jacobian the method needs but cannot get or factor, or the objective's own error.
    fn step(&mut self, x: &mut [f64], obj: &mut dyn Objective) -> Result<BatchReport>;

    /// Calls [`BatchMethod::step`] until a terminal [`StopReason`] or `max_steps` calls;
    /// the report sums the calls' counts.
    ///
    /// # Errors
    /// As [`BatchMethod::step`]; [`Error::Hyperparameter`] for `max_steps = 0`.
    fn minimize(
        &mut self,
        x: &mut [f64],
        obj: &mut dyn Objective,
        max_steps: usize,
    ) -> Result<BatchReport> {
        let mut total: Option<BatchReport> = None;
        for _ in 0..max_steps {
            let r = self.step(x, obj)?;
            let stop = r.reason.is_terminal();
            match &mut total {
                Some(t) => t.absorb(&r),
                None => total = Some(r),
            }
            if stop {
                break;
            }
        }
        total.ok_or(Error::hyper("minimize", "max_steps", 0, "at least 1"))
    }

    /// Where a method with history (L-BFGS, CG, BFGS) keeps the names and shapes of the
    /// model it last ran on, so [`BatchMethod::step_module`] can refuse another; `None` for
    /// methods without history.
    #[doc(hidden)]
    fn module_layout(&mut self) -> Option<&mut Vec<(String, Vec<usize>)>> {
        None
    }

    /// One [`BatchMethod::step`] on a model's parameters, in place: `loss(tape, model)`
    /// records the loss with the model's own forward pass, and the closure may return any
    /// error that optim's converts into (its own come back as they were).
    ///
    /// ```
    /// use descent_autodiff::Tape;
    /// use descent_nn::{Linear, Mode, Module, Sequential};
    /// use descent_optim::batch::{BatchMethod, Lbfgs, LbfgsConfig, LineSearch};
    /// use descent_tensor::Tensor;
    ///
    /// // A program's own error type, which every crate's converts into.
    /// #[derive(Debug)]
    /// enum MyError { Nn(descent_nn::Error), Optim(descent_optim::Error) }
    /// impl std::fmt::Display for MyError {
    ///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{self:?}") }
    /// }
    /// impl std::error::Error for MyError {}
    /// impl From<descent_nn::Error> for MyError { fn from(e: descent_nn::Error) -> Self { MyError::Nn(e) } }
    /// impl From<descent_optim::Error> for MyError { fn from(e: descent_optim::Error) -> Self { MyError::Optim(e) } }
    /// impl From<descent_autodiff::Error> for MyError { fn from(e: descent_autodiff::Error) -> Self { MyError::Nn(e.into()) } }
    /// impl From<descent_tensor::Error> for MyError { fn from(e: descent_tensor::Error) -> Self { MyError::Nn(e.into()) } }
    ///
    /// // Least squares: fit y = 2x + 1 with a Linear(1, 1).
    /// use rand::SeedableRng;
    /// let mut rng = rand::rngs::StdRng::seed_from_u64(0);
    /// let mut model = Sequential::<f64>::new().add(Linear::new(1, 1, &mut rng)?);
    /// let x = Tensor::from_vec(vec![0.0, 1.0, 2.0, 3.0], &[4, 1])?;
    /// let y = Tensor::from_vec(vec![1.0, 3.0, 5.0, 7.0], &[4, 1])?;
    /// let mut lbfgs = Lbfgs::new(LbfgsConfig { line_search: Some(LineSearch::WOLFE), ..Default::default() })?;
    /// lbfgs.minimize_module(&mut model, |tape, model| -> Result<_, MyError> {
    ///     let pred = model.forward(tape, tape.constant(x.clone()), Mode::Eval)?; // nn's error
    ///     Ok(pred.sub(tape.constant(y.clone()))?.square()?.sum(&[], false)?)   // the tape's
    /// }, 10)?;
    /// let w = model.named_params()[0].1.value.to_vec()[0];
    /// assert!((w - 2.0).abs() < 1e-6, "{w}");
    /// # Ok::<(), MyError>(())
    /// ```
    ///
    /// # Errors
    /// As [`BatchMethod::step`]; the closure's own errors; [`Error::ModuleShape`] if the
    /// model's parameters are not those this method's history was built on.
    fn step_module<F, M, C, E>(
        &mut self,
        model: &mut M,
        loss: C,
    ) -> std::result::Result<BatchReport, E>
    where
        Self: Sized,
        F: descent_tensor::Float,
        M: descent_nn::Module<F> + ?Sized,
        C: for<'t> FnMut(
            &'t descent_autodiff::Tape<F>,
            &M,
        ) -> std::result::Result<descent_autodiff::Var<'t, F>, E>,
        E: crate::batch::ClosureError + From<Error>,
    {
        crate::batch::module::run(self, model, loss, |m, x, obj| m.step(x, obj))
    }

    /// [`BatchMethod::minimize`] on a model's parameters, in place (see
    /// [`BatchMethod::step_module`]).
    ///
    /// # Errors
    /// As [`BatchMethod::step_module`]; [`Error::Hyperparameter`] for `max_steps = 0`.
    fn minimize_module<F, M, C, E>(
        &mut self,
        model: &mut M,
        loss: C,
        max_steps: usize,
    ) -> std::result::Result<BatchReport, E>
    where
        Self: Sized,
        F: descent_tensor::Float,
        M: descent_nn::Module<F> + ?Sized,
        C: for<'t> FnMut(
            &'t descent_autodiff::Tape<F>,
            &M,
        ) -> std::result::Result<descent_autodiff::Var<'t, F>, E>,
        E: crate::batch::ClosureError + From<Error>,
    {
        crate::batch::module::run(self, model, loss, |m, x, obj| m.minimize(x, obj, max_steps))
    }
}
