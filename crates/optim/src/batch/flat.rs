//! From the tape to the flat `f64` vectors the batch methods work on (PyTorch's
//! `_gather_flat_grad`): a parameter set flattened in order, and [`Objective`]s built from
//! tape closures — [`TapeObjective`] (loss, gradient, the exact Hessian and Hessian-vector
//! products of a function of one flat input), [`TapeResiduals`] (residuals and their
//! Jacobian, for Levenberg–Marquardt), [`ParamObjective`] (a loss over a `Param` set, as
//! PyTorch's LBFGS closure, with its exact Hessian) and [`ParamResiduals`] (residuals over a
//! `Param` set).

use crate::batch::objective::{HessianObjective, LeastSquares, Objective};
use crate::error::{Error, Result};
use descent_autodiff::{hessian, hessian_vector_product, jacobian, Param, Tape, Var};
use descent_tensor::{Float, Tensor};
use nalgebra::{DMatrix, DVector};
use std::cell::RefCell;
use std::marker::PhantomData;

/// The parameters' values, concatenated in order (each flattened row-major).
pub fn flatten<F: Float>(params: &[Param<F>]) -> Vec<f64> {
    params
        .iter()
        .flat_map(|p| p.value.to_vec().into_iter().map(|v| v.as_f64()))
        .collect()
}

/// Writes `x` (as made by [`flatten`]) back into the parameters' values.
///
/// # Errors
/// [`Error::Length`] if `x` does not have one entry per parameter element.
pub fn unflatten<F: Float>(x: &[f64], params: &mut [Param<F>]) -> Result<()> {
    let total: usize = params.iter().map(|p| p.value.numel()).sum();
    if x.len() != total {
        return Err(Error::Length {
            method: "unflatten",
            what: "flat vector",
            expected: total,
            got: x.len(),
        });
    }
    let mut at = 0;
    for p in params {
        let n = p.value.numel();
        p.value = tensor(&x[at..at + n], p.value.shape())?;
        at += n;
    }
    Ok(())
}

fn tensor<F: Float>(x: &[f64], shape: &[usize]) -> Result<Tensor<F>> {
    Ok(Tensor::from_vec(
        x.iter().map(|&v| F::of(v)).collect(),
        shape,
    )?)
}

fn to_f64<F: Float>(t: &Tensor<F>) -> Vec<f64> {
    t.to_vec().into_iter().map(|v| v.as_f64()).collect()
}

/// What a closure's error must be to travel through the batch methods and come back: any
/// error type (`descent_optim::Error`, `descent_autodiff::Error`, a program's own enum).
pub trait ClosureError: std::error::Error + Send + Sync + 'static {}
impl<E: std::error::Error + Send + Sync + 'static> ClosureError for E {}

/// A closure's error as optim's: optim's own and the tape's keep their variants, any other
/// is carried whole in [`Error::Objective`].
pub(crate) fn into_optim<E: ClosureError>(e: E) -> Error {
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(e);
    match boxed.downcast::<Error>() {
        Ok(e) => *e,
        Err(boxed) => match boxed.downcast::<descent_autodiff::Error>() {
            Ok(e) => Error::Autodiff(*e),
            Err(boxed) => Error::Objective(boxed),
        },
    }
}

/// Back to the caller's error type: an error the closure returned comes back as it was.
pub(crate) fn from_optim<E: ClosureError + From<Error>>(e: Error) -> E {
    match e {
        Error::Objective(boxed) => match boxed.downcast::<E>() {
            Ok(e) => *e,
            Err(boxed) => E::from(Error::Objective(boxed)),
        },
        e => E::from(e),
    }
}

/// Runs a tape helper (`hessian`, `jacobian`, …, which take closures returning the tape's
/// error) on a closure with any error: a non-tape error is kept aside and returned instead
/// of the tape's placeholder.
fn on_tape<F: Float, G, E, T>(
    g: &G,
    helper: impl FnOnce(
        &dyn for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> descent_autodiff::Result<Var<'t, F>>,
    ) -> descent_autodiff::Result<T>,
) -> Result<T>
where
    G: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> std::result::Result<Var<'t, F>, E>,
    E: ClosureError,
{
    let kept: RefCell<Option<Error>> = RefCell::new(None);
    let f = tape_fn::<F, descent_autodiff::Error, _>(|t, v| {
        g(t, v).map_err(|e| match into_optim(e) {
            Error::Autodiff(e) => e,
            other => {
                *kept.borrow_mut() = Some(other);
                descent_autodiff::Error::GradcheckFailed("the objective failed".into())
            }
        })
    });
    helper(&f).map_err(|e| kept.take().unwrap_or(Error::Autodiff(e)))
}

/// Gives a closure the signature of a function on the tape (for every tape lifetime), which
/// Rust does not infer for a closure bound to a variable.
fn tape_fn<F: Float, E, G>(g: G) -> G
where
    G: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> std::result::Result<Var<'t, F>, E>,
{
    g
}

/// The loss's single value, or [`Error::NotScalar`] naming its shape.
fn scalar_loss<F: Float>(method: &'static str, loss: Var<'_, F>) -> Result<f64> {
    let shape = loss.shape();
    if shape.iter().product::<usize>() != 1 {
        return Err(Error::NotScalar { method, shape });
    }
    Ok(loss.item()?.as_f64())
}

/// The exact Hessian at `x` of the scalar function `g` of one flat input.
fn hessian_of<F: Float, G, E>(g: &G, x: &[f64]) -> Result<DMatrix<f64>>
where
    G: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> std::result::Result<Var<'t, F>, E>,
    E: ClosureError,
{
    let xt = tensor::<F>(x, &[x.len()])?;
    let h = on_tape(g, |f| hessian(f, &xt))?;
    Ok(DMatrix::from_row_slice(x.len(), x.len(), &to_f64(&h)))
}

/// The residuals `g(x)` (flattened) and their Jacobian, of a function `g` of one flat input.
fn residuals_of<F: Float, G, E>(g: &G, x: &[f64]) -> Result<(DVector<f64>, DMatrix<f64>)>
where
    G: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> std::result::Result<Var<'t, F>, E>,
    E: ClosureError,
{
    let xt = tensor::<F>(x, &[x.len()])?;
    let tape = Tape::new();
    let r = g(&tape, tape.constant(xt.clone())).map_err(into_optim)?;
    let r = to_f64(&r.value()?);
    let j = on_tape(g, |f| jacobian(f, &xt))?;
    Ok((
        DVector::from_vec(r),
        DMatrix::from_row_slice(j.shape()[0], x.len(), &to_f64(&j)),
    ))
}

/// An [`Objective`] from a closure of one flat input recorded on the tape (the form of
/// `descent_autodiff::hessian`): the gradient by one reverse sweep, the exact Hessian by
/// [`descent_autodiff::hessian`], `H·v` by [`TapeObjective::hvp`]. Computes in `F`.
///
/// ```
/// use descent_optim::batch::{BatchMethod, Newton, TapeObjective};
/// // Rosenbrock on the tape: Newton with the tape's exact Hessian.
/// let mut obj = TapeObjective::<f64, _>::new(|_, w| {
///     let (x, y) = (w.narrow(0, 0, 1)?, w.narrow(0, 1, 1)?);
///     let a = x.rsub_scalar(1.0)?.square()?;
///     let b = y.sub(x.square()?)?.square()?.mul_scalar(100.0)?;
///     a.add(b)?.sum(&[], false)
/// });
/// let mut x = vec![-1.2, 1.0];
/// Newton::default().minimize(&mut x, &mut obj, 100)?;
/// assert!((x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6);
/// # Ok::<(), descent_optim::Error>(())
/// ```
pub struct TapeObjective<F: Float, Fun> {
    f: Fun,
    _float: PhantomData<F>,
}

impl<F: Float, Fun> TapeObjective<F, Fun> {
    /// Wraps `f(tape, x) -> loss` (a scalar); the closure may return any error type (see
    /// [`ClosureError`]).
    pub fn new<E: ClosureError>(f: Fun) -> Self
    where
        Fun: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> std::result::Result<Var<'t, F>, E>,
    {
        TapeObjective {
            f,
            _float: PhantomData,
        }
    }

    /// `H·v` at `x` without forming `H` (two reverse sweeps), for [`crate::batch::curvature::lanczos`].
    ///
    /// # Errors
    /// Lengths of `x` and `v` that differ, or the tape's error.
    pub fn hvp<E: ClosureError>(&self, x: &[f64], v: &[f64]) -> Result<Vec<f64>>
    where
        Fun: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> std::result::Result<Var<'t, F>, E>,
    {
        let (x, v) = (tensor::<F>(x, &[x.len()])?, tensor::<F>(v, &[v.len()])?);
        let hv = on_tape(&self.f, |f| hessian_vector_product(f, &x, &v))?;
        Ok(to_f64(&hv))
    }
}

impl<F: Float, Fun, E: ClosureError> Objective for TapeObjective<F, Fun>
where
    Fun: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> std::result::Result<Var<'t, F>, E>,
{
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        let tape = Tape::new();
        let xv = tape.var(tensor::<F>(x, &[x.len()])?);
        let loss = (self.f)(&tape, xv).map_err(into_optim)?;
        let value = scalar_loss("objective", loss)?;
        let grads = loss.backward()?;
        let g = grads.wrt(xv).map_or_else(|| vec![0.0; x.len()], to_f64);
        Ok((value, g))
    }

    fn as_hessian(&mut self) -> Option<&mut dyn HessianObjective> {
        Some(self)
    }
}

impl<F: Float, Fun, E: ClosureError> HessianObjective for TapeObjective<F, Fun>
where
    Fun: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> std::result::Result<Var<'t, F>, E>,
{
    fn hessian(&mut self, x: &[f64]) -> Result<DMatrix<f64>> {
        hessian_of(&self.f, x)
    }
}

/// A least-squares objective, loss `Σ rᵢ²`, from a closure returning the residual vector
/// `r(x)` on the tape: [`LeastSquares::residuals`] gives `r` and its Jacobian (from
/// [`descent_autodiff::jacobian`]) for Levenberg–Marquardt; the loss, gradient `2Jᵀr` and
/// Hessian are those of `Σ rᵢ²`, so every other method runs on it too.
///
/// ```
/// use descent_optim::batch::{LeastSquaresMethod, LevenbergMarquardt, TapeResiduals};
/// // Rosenbrock's residuals (10(y − x²), 1 − x).
/// let mut obj = TapeResiduals::<f64, _>::new(|_, w| {
///     let (x, y) = (w.narrow(0, 0, 1)?, w.narrow(0, 1, 1)?);
///     let r1 = y.sub(x.square()?)?.mul_scalar(10.0)?;
///     descent_autodiff::Var::concat(&[r1, x.rsub_scalar(1.0)?], 0)
/// });
/// let mut x = vec![-1.2, 1.0];
/// LevenbergMarquardt::default().minimize(&mut x, &mut obj, 100)?;
/// assert!((x[0] - 1.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6);
/// # Ok::<(), descent_optim::Error>(())
/// ```
pub struct TapeResiduals<F: Float, Fun> {
    r: Fun,
    _float: PhantomData<F>,
}

impl<F: Float, Fun> TapeResiduals<F, Fun> {
    /// Wraps `r(tape, x) -> residuals` (any shape; flattened); the closure may return any
    /// error type (see [`ClosureError`]).
    pub fn new<E: ClosureError>(r: Fun) -> Self
    where
        Fun: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> std::result::Result<Var<'t, F>, E>,
    {
        TapeResiduals {
            r,
            _float: PhantomData,
        }
    }
}

/// `Σ rᵢ²` of a residual closure, on the tape.
fn sum_of_squares<'t, F: Float, E: ClosureError, G>(
    r: &G,
    tape: &'t Tape<F>,
    x: Var<'t, F>,
) -> Result<Var<'t, F>>
where
    G: for<'s> Fn(&'s Tape<F>, Var<'s, F>) -> std::result::Result<Var<'s, F>, E>,
{
    Ok(r(tape, x).map_err(into_optim)?.square()?.sum(&[], false)?)
}

impl<F: Float, Fun, E: ClosureError> Objective for TapeResiduals<F, Fun>
where
    Fun: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> std::result::Result<Var<'t, F>, E>,
{
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        let tape = Tape::new();
        let xv = tape.var(tensor::<F>(x, &[x.len()])?);
        let loss = sum_of_squares(&self.r, &tape, xv)?;
        let value = loss.item()?.as_f64();
        let g = loss
            .backward()?
            .wrt(xv)
            .map_or_else(|| vec![0.0; x.len()], to_f64);
        Ok((value, g))
    }

    fn as_hessian(&mut self) -> Option<&mut dyn HessianObjective> {
        Some(self)
    }

    fn as_least_squares(&mut self) -> Option<&mut dyn LeastSquares> {
        Some(self)
    }
}

impl<F: Float, Fun, E: ClosureError> HessianObjective for TapeResiduals<F, Fun>
where
    Fun: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> std::result::Result<Var<'t, F>, E>,
{
    fn hessian(&mut self, x: &[f64]) -> Result<DMatrix<f64>> {
        hessian_of(
            &tape_fn::<F, Error, _>(|t, v| sum_of_squares(&self.r, t, v)),
            x,
        )
    }
}

impl<F: Float, Fun, E: ClosureError> LeastSquares for TapeResiduals<F, Fun>
where
    Fun: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> std::result::Result<Var<'t, F>, E>,
{
    fn residuals(&mut self, x: &[f64]) -> Result<(DVector<f64>, DMatrix<f64>)> {
        residuals_of(&self.r, x)
    }
}

/// An [`Objective`] over a set of parameters: the closure records the loss on the tape it
/// is given, reading the parameters with `tape.param(&p)` (any clone of them: a clone keeps
/// the id). Before calling it, the trial values are registered on the tape under the
/// parameters' ids, so the closure — a model's forward pass — sees them without the model
/// being touched. Its exact Hessian (for Newton) comes from binding slices of one flat
/// input to the parameters, so it is the Hessian with respect to [`flatten`]'s order. Used
/// through [`crate::batch::Method::step_params`] or [`with_params`].
pub struct ParamObjective<'p, F: Float, C> {
    params: &'p [Param<F>],
    loss: C,
}

impl<'p, F: Float, C> ParamObjective<'p, F, C> {
    /// The objective of `loss` over `params` (which give the shapes, ids and order).
    pub fn new(params: &'p [Param<F>], loss: C) -> Self {
        ParamObjective { params, loss }
    }
}

/// The loss recorded by `loss` on a tape where `params` read the trial values `x`, and its
/// gradient in [`flatten`]'s order (one reverse sweep, no flat copy of the parameters).
fn param_value_grad<F: Float>(
    params: &[Param<F>],
    x: &[f64],
    loss: impl for<'t> FnOnce(&'t Tape<F>) -> Result<Var<'t, F>>,
) -> Result<(f64, Vec<f64>)> {
    let mut trial = params.to_vec();
    unflatten(x, &mut trial)?;
    let tape = Tape::new();
    for p in &trial {
        tape.param(p);
    }
    let loss = loss(&tape)?;
    let value = scalar_loss("objective", loss)?;
    let grads = loss.backward()?;
    let mut g = Vec::with_capacity(x.len());
    for p in &trial {
        match grads.get(p) {
            Some(t) => g.extend(to_f64(t)),
            None => g.extend(std::iter::repeat_n(0.0, p.value.numel())),
        }
    }
    Ok((value, g))
}

/// Reads the flat `w` as the parameters: each one's slice of it, reshaped, is bound on the
/// tape to the parameter's id, so the closure's `tape.param` calls depend on `w` (the
/// parameters give only ids and shapes; their values are not read).
fn bind<'t, F: Float>(tape: &'t Tape<F>, params: &[Param<F>], w: Var<'t, F>) -> Result<()> {
    let mut at = 0;
    for p in params {
        let n = p.value.numel();
        let shape: Vec<isize> = p.value.shape().iter().map(|&d| d as isize).collect();
        tape.bind_param(p, w.narrow(0, at, n)?.reshape(&shape)?)?;
        at += n;
    }
    Ok(())
}

/// A closure over parameters as a function of one flat input (see [`bind`]), so the tape's
/// `hessian` and `jacobian` apply; the closure is `FnMut`, theirs `Fn`, hence the cell.
fn over_flat<'a, F: Float, C, E>(
    params: &'a [Param<F>],
    f: &'a RefCell<&'a mut C>,
) -> impl for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> Result<Var<'t, F>> + 'a
where
    C: for<'t> FnMut(&'t Tape<F>) -> std::result::Result<Var<'t, F>, E>,
    E: ClosureError,
{
    tape_fn::<F, Error, _>(move |tape, w| {
        bind(tape, params, w)?;
        (f.borrow_mut())(tape).map_err(into_optim)
    })
}

impl<F: Float, C, E: ClosureError> Objective for ParamObjective<'_, F, C>
where
    C: for<'t> FnMut(&'t Tape<F>) -> std::result::Result<Var<'t, F>, E>,
{
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        param_value_grad(self.params, x, |tape| (self.loss)(tape).map_err(into_optim))
    }

    fn as_hessian(&mut self) -> Option<&mut dyn HessianObjective> {
        Some(self)
    }
}

impl<F: Float, C, E: ClosureError> HessianObjective for ParamObjective<'_, F, C>
where
    C: for<'t> FnMut(&'t Tape<F>) -> std::result::Result<Var<'t, F>, E>,
{
    fn hessian(&mut self, x: &[f64]) -> Result<DMatrix<f64>> {
        hessian_of(&over_flat(self.params, &RefCell::new(&mut self.loss)), x)
    }
}

/// A least-squares objective over a set of parameters, loss `Σ rᵢ²`: the closure records
/// the residual vector (any shape; flattened) on the tape, reading the parameters with
/// `tape.param(&p)` as for [`ParamObjective`]. [`LeastSquares::residuals`] gives the
/// residuals and their Jacobian with respect to the parameters in [`flatten`]'s order.
/// Used through [`with_param_residuals`] and
/// [`crate::batch::LeastSquaresMethod::step_module_residuals`].
pub struct ParamResiduals<'p, F: Float, C> {
    params: &'p [Param<F>],
    residuals: C,
}

impl<'p, F: Float, C> ParamResiduals<'p, F, C> {
    /// The least-squares problem of `residuals` over `params` (which give the shapes, ids
    /// and order).
    pub fn new(params: &'p [Param<F>], residuals: C) -> Self {
        ParamResiduals { params, residuals }
    }
}

impl<F: Float, C, E: ClosureError> Objective for ParamResiduals<'_, F, C>
where
    C: for<'t> FnMut(&'t Tape<F>) -> std::result::Result<Var<'t, F>, E>,
{
    fn value_grad(&mut self, x: &[f64]) -> Result<(f64, Vec<f64>)> {
        param_value_grad(self.params, x, |tape| {
            let r = (self.residuals)(tape).map_err(into_optim)?;
            Ok(r.square()?.sum(&[], false)?)
        })
    }

    fn as_least_squares(&mut self) -> Option<&mut dyn LeastSquares> {
        Some(self)
    }
}

impl<F: Float, C, E: ClosureError> LeastSquares for ParamResiduals<'_, F, C>
where
    C: for<'t> FnMut(&'t Tape<F>) -> std::result::Result<Var<'t, F>, E>,
{
    fn residuals(&mut self, x: &[f64]) -> Result<(DVector<f64>, DMatrix<f64>)> {
        residuals_of(
            &over_flat(self.params, &RefCell::new(&mut self.residuals)),
            x,
        )
    }
}

/// Runs `method` (e.g. `|x, obj| lbfgs.step(x, obj)`, or Newton's) on the flattened
/// `params` with the loss closure of [`ParamObjective`], then writes the result back into
/// `params`.
///
/// ```
/// use descent_autodiff::Param;
/// use descent_optim::batch::{with_params, BatchMethod, Lbfgs, LbfgsConfig, LineSearch};
/// use descent_tensor::Tensor;
/// // Least squares ‖w − (1, 2)‖² over one parameter.
/// let mut params = vec![Param::new(Tensor::<f64>::zeros(&[2]))];
/// let w = params[0].clone(); // the same id: the closure reads the trial value through it
/// let target = Tensor::from_vec(vec![1.0, 2.0], &[2])?;
/// let mut lbfgs = Lbfgs::new(LbfgsConfig { line_search: Some(LineSearch::WOLFE), ..Default::default() })?;
/// with_params(
///     &mut params,
///     |tape| -> descent_optim::Result<_> {
///         Ok(tape.param(&w).sub(tape.constant(target.clone()))?.square()?.sum(&[], false)?)
///     },
///     |x, obj| lbfgs.step(x, obj),
/// )?;
/// assert!(params[0].value.allclose(&target, 1e-8, 1e-8));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The closure may return any error type that optim's converts into (optim's own, or a
/// program's error enum), and gets its own errors back unchanged.
///
/// # Errors
/// Whatever `method` or the closure returns; the parameters are updated only on success.
pub fn with_params<F: Float, C, R, E>(
    params: &mut [Param<F>],
    loss: C,
    method: impl FnOnce(&mut [f64], &mut dyn HessianObjective) -> Result<R>,
) -> std::result::Result<R, E>
where
    C: for<'t> FnMut(&'t Tape<F>) -> std::result::Result<Var<'t, F>, E>,
    E: ClosureError + From<Error>,
{
    let mut x = flatten(params);
    let r = method(&mut x, &mut ParamObjective::new(params, loss)).map_err(from_optim::<E>)?;
    unflatten(&x, params)?;
    Ok(r)
}

/// [`with_params`] for a least-squares method (e.g. `|x, obj| lm.step(x, obj)`): the
/// closure returns the residual vector ([`ParamResiduals`]).
///
/// # Errors
/// Whatever `method` or the closure returns; the parameters are updated only on success.
pub fn with_param_residuals<F: Float, C, R, E>(
    params: &mut [Param<F>],
    residuals: C,
    method: impl FnOnce(&mut [f64], &mut dyn LeastSquares) -> Result<R>,
) -> std::result::Result<R, E>
where
    C: for<'t> FnMut(&'t Tape<F>) -> std::result::Result<Var<'t, F>, E>,
    E: ClosureError + From<Error>,
{
    let mut x = flatten(params);
    let r = method(&mut x, &mut ParamResiduals::new(params, residuals)).map_err(from_optim::<E>)?;
    unflatten(&x, params)?;
    Ok(r)
}
