//! What the batch (full-batch, re-evaluating) methods share: the [`Objective`] they call
//! on a flat `f64` parameter vector, the [`BatchReport`] each call returns, and a few vector
//! helpers. Working on one flat vector is what PyTorch's LBFGS does too
//! (`_gather_flat_grad`): the algebra of directions and histories is then plain `Vec<f64>`.

use crate::batch::module::Layout;
use crate::error::{Error, Result};
use nalgebra::{DMatrix, DVector};

/// A differentiable objective over a flat parameter vector: its value and gradient, all
/// that steepest descent, CG, BFGS and L-BFGS need.
///
/// Closures `FnMut(&[f64]) -> Result<(f64, Vec<f64>)>` are objectives. What more a method
/// needs is a richer trait, so asking for it is a type error, not a run-time one:
/// [`HessianObjective`] for Newton, [`LeastSquares`] for Levenberg–Marquardt and
/// Gauss–Newton. A method chosen by name at run time ([`crate::batch::Method`]) asks
/// [`Objective::as_hessian`] / [`Objective::as_least_squares`] instead, which an objective
/// with the richer trait overrides to return itself.
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

    /// This objective as a [`HessianObjective`], if it is one (`Some(self)`), for a method
    /// chosen at run time; `None` by default.
    fn as_hessian(&mut self) -> Option<&mut dyn HessianObjective> {
        None
    }

    /// This objective as a [`LeastSquares`] problem, if it is one (`Some(self)`), for a
    /// method chosen at run time; `None` by default.
    fn as_least_squares(&mut self) -> Option<&mut dyn LeastSquares> {
        None
    }
}

impl<T: FnMut(&[f64]) -> Result<(f64, Vec<f64>)>> Objective for T {
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        self(x)
    }
}

/// An [`Objective`] with its Hessian, for Newton's method ([`crate::batch::Newton`]) and
/// [`crate::batch::curvature::hessian_spectrum`].
///
/// Newton on an objective without a Hessian does not compile:
///
/// ```compile_fail,E0277
/// use descent_optim::batch::Newton;
/// let mut plain = |x: &[f64]| Ok((x[0] * x[0], vec![2.0 * x[0]]));
/// Newton::default().step(&mut [1.0], &mut plain)?; // a closure has no Hessian
/// # Ok::<(), descent_optim::Error>(())
/// ```
///
/// With one it does:
///
/// ```
/// use descent_optim::batch::{HessianObjective, Newton, Objective};
/// use descent_optim::{nalgebra::DMatrix, Result};
/// struct Parabola; // x²
/// impl Objective for Parabola {
///     fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> { Ok((x[0] * x[0], vec![2.0 * x[0]])) }
///     fn as_hessian(&mut self) -> Option<&mut dyn HessianObjective> { Some(self) }
/// }
/// impl HessianObjective for Parabola {
///     fn hessian(&mut self, _x: &[f64]) -> Result<DMatrix<f64>> { Ok(DMatrix::from_element(1, 1, 2.0)) }
/// }
/// let mut x = [1.0];
/// Newton::default().step(&mut x, &mut Parabola)?;
/// assert!(x[0].abs() < 1e-15); // one step to the minimum
/// # Ok::<(), descent_optim::Error>(())
/// ```
pub trait HessianObjective: Objective {
    /// The Hessian at `x` (`n x n`, symmetric).
    ///
    /// # Errors
    /// Whatever the objective's computation returns.
    fn hessian(&mut self, x: &[f64]) -> Result<DMatrix<f64>>;
}

/// A least-squares [`Objective`], loss `L(x) = Σ rᵢ(x)²`, with its residuals and their
/// Jacobian, for Levenberg–Marquardt and Gauss–Newton
/// ([`crate::batch::LeastSquaresMethod`]). Its `value_grad` follows from the residuals:
/// write it as `self.sum_of_squares(x)`.
///
/// ```
/// use descent_optim::batch::{LeastSquares, LeastSquaresMethod, LevenbergMarquardt, Objective};
/// use descent_optim::{nalgebra::{DMatrix, DVector}, Result};
/// struct Line; // r = (x − 1, 2x − 4): least squares at x = 1.8
/// impl Objective for Line {
///     fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> { self.sum_of_squares(x) }
///     fn as_least_squares(&mut self) -> Option<&mut dyn LeastSquares> { Some(self) }
/// }
/// impl LeastSquares for Line {
///     fn residuals(&mut self, x: &[f64]) -> Result<(DVector<f64>, DMatrix<f64>)> {
///         Ok((DVector::from_vec(vec![x[0] - 1.0, 2.0 * x[0] - 4.0]), DMatrix::from_vec(2, 1, vec![1.0, 2.0])))
///     }
/// }
/// let mut x = [0.0];
/// LevenbergMarquardt::default().minimize(&mut x, &mut Line, 20)?;
/// assert!((x[0] - 1.8).abs() < 1e-9);
/// # Ok::<(), descent_optim::Error>(())
/// ```
pub trait LeastSquares: Objective {
    /// The residuals `r(x)` (`m` entries) and their Jacobian (`m x n`).
    ///
    /// # Errors
    /// Whatever the objective's computation returns.
    fn residuals(&mut self, x: &[f64]) -> Result<(DVector<f64>, DMatrix<f64>)>;

    /// `(Σ rᵢ², 2Jᵀr)` from [`LeastSquares::residuals`]: the loss and gradient, for an
    /// implementation of [`Objective::value_grad`] with nothing cheaper at hand.
    ///
    /// # Errors
    /// As [`LeastSquares::residuals`].
    fn sum_of_squares(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        let (r, j) = self.residuals(x)?;
        Ok((r.norm_squared(), (j.tr_mul(&r) * 2.0).as_slice().to_vec()))
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
pub(crate) fn evaluate<O: Objective + ?Sized>(
    method: &'static str,
    obj: &mut O,
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

    /// Refuses a negative or NaN tolerance, naming `method`.
    pub(crate) fn validate(&self, method: &str) -> Result<()> {
        let (g, c) = (self.tolerance_grad, self.tolerance_change);
        if g >= 0.0 && c >= 0.0 {
            return Ok(());
        }
        Err(Error::hyper(
            method,
            "tolerance_grad/tolerance_change",
            format!("{g}/{c}"),
            "must be non-negative",
        ))
    }

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

/// Calls `step` until it returns a terminal [`StopReason`] or `max_steps` times; the report
/// sums the calls' counts. The loop of every method's `minimize`.
pub(crate) fn repeat(
    max_steps: usize,
    mut step: impl FnMut() -> Result<BatchReport>,
) -> Result<BatchReport> {
    let mut total: Option<BatchReport> = None;
    for _ in 0..max_steps {
        let r = step()?;
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

/// A batch method that needs the loss and gradient only (steepest descent, CG, BFGS,
/// L-BFGS, and [`crate::batch::Method`], which asks the objective at run time for what
/// the named method needs): one [`BatchMethod::step`] updates `x` by re-evaluating the
/// objective (one iteration; for L-BFGS up to `max_iter`, as PyTorch's `step`), and
/// [`BatchMethod::minimize`] repeats it until a stopping test is met. Newton
/// ([`crate::batch::Newton`]) and the least-squares methods
/// ([`crate::batch::LeastSquaresMethod`]) have the same calls on the richer objectives.
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
        repeat(max_steps, || self.step(x, obj))
    }

    /// Where a method with history keeps the names and shapes of the model it last ran on,
    /// so [`BatchMethod::step_module`] can refuse another; `None` for methods without
    /// history.
    #[doc(hidden)]
    fn module_layout(&mut self) -> Option<&mut Layout> {
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
        C: crate::batch::ModuleLoss<F, M, E>,
        E: crate::batch::ClosureError + From<Error>,
    {
        crate::batch::module::remember(self.module_layout(), model)?;
        crate::batch::module::on_loss(model, loss, |x, obj| self.step(x, obj))
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
        C: crate::batch::ModuleLoss<F, M, E>,
        E: crate::batch::ClosureError + From<Error>,
    {
        crate::batch::module::remember(self.module_layout(), model)?;
        crate::batch::module::on_loss(model, loss, |x, obj| self.minimize(x, obj, max_steps))
    }
}
