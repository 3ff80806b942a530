//! Batch methods on a [`Module`] in place: the model's parameters are flattened in
//! `named_params` order, the method runs on them through [`with_params`] (a loss closure)
//! or [`with_param_residuals`] (a residual closure), which read the trial values through
//! the model's own `tape.param` calls, and the result is written back into the model, so
//! nothing is left to copy back by hand.

use crate::batch::flat::{with_param_residuals, with_params, ClosureError};
use crate::batch::objective::{HessianObjective, LeastSquares};
use crate::error::{Error, Result};
use descent_autodiff::{Param, Tape, Var};
use descent_nn::Module;
use descent_tensor::Float;

/// A closure recording a loss (or a residual vector) with a model's forward pass:
/// `|tape, model| -> Result<Var, E>`, with any error `E` that optim's converts into.
pub trait ModuleLoss<F: Float, M: ?Sized, E>:
    for<'t> FnMut(&'t Tape<F>, &M) -> std::result::Result<Var<'t, F>, E>
{
}
impl<F: Float, M: ?Sized, E, C> ModuleLoss<F, M, E> for C where
    C: for<'t> FnMut(&'t Tape<F>, &M) -> std::result::Result<Var<'t, F>, E>
{
}

/// The names and shapes of a model's parameters, as a method with history last saw them.
pub type Layout = Vec<(String, Vec<usize>)>;

/// Refuses a model whose parameters are not those the method's history was built on.
fn check(kept: &Layout, now: &Layout) -> Result<()> {
    if kept.is_empty() {
        return Ok(());
    }
    for (name, shape) in now {
        match kept.iter().find(|(n, _)| n == name) {
            Some((_, before)) if before == shape => {}
            before => {
                return Err(Error::ModuleShape {
                    name: name.clone(),
                    before: before.map(|(_, s)| s.clone()),
                    now: Some(shape.clone()),
                })
            }
        }
    }
    if let Some((name, before)) = kept.iter().find(|(n, _)| !now.iter().any(|(m, _)| m == n)) {
        return Err(Error::ModuleShape {
            name: name.clone(),
            before: Some(before.clone()),
            now: None,
        });
    }
    Ok(())
}

/// Checks `model` against the layout a method with history `kept` (if any) and records it.
pub(crate) fn remember<F: Float, M: Module<F> + ?Sized>(
    kept: Option<&mut Layout>,
    model: &M,
) -> Result<()> {
    if let Some(kept) = kept {
        let now: Layout = model
            .named_params()
            .into_iter()
            .map(|(n, p)| (n, p.value.shape().to_vec()))
            .collect();
        check(kept, &now)?;
        *kept = now;
    }
    Ok(())
}

/// Runs `go` on `model`'s parameters (cloned out, so the closure may read the model) and
/// writes them back on success.
fn in_place<F, M, R, E>(
    model: &mut M,
    go: impl FnOnce(&mut [Param<F>], &M) -> std::result::Result<R, E>,
) -> std::result::Result<R, E>
where
    F: Float,
    M: Module<F> + ?Sized,
{
    let mut params: Vec<Param<F>> = model.params().into_iter().cloned().collect();
    let r = go(&mut params, model)?;
    for (slot, p) in model.params_mut().into_iter().zip(params) {
        slot.value = p.value;
    }
    Ok(r)
}

/// Runs `go` (one step, or a whole minimization) on the objective of `loss` over `model`'s
/// parameters, in place.
pub(crate) fn on_loss<F, M, C, E, R>(
    model: &mut M,
    mut loss: C,
    go: impl FnOnce(&mut [f64], &mut dyn HessianObjective) -> Result<R>,
) -> std::result::Result<R, E>
where
    F: Float,
    M: Module<F> + ?Sized,
    C: ModuleLoss<F, M, E>,
    E: ClosureError + From<Error>,
{
    in_place(model, |params, m| {
        with_params(params, |tape| loss(tape, m), go)
    })
}

/// Runs `go` on the least-squares problem of the residual closure `residuals` over
/// `model`'s parameters, in place.
pub(crate) fn on_residuals<F, M, C, E, R>(
    model: &mut M,
    mut residuals: C,
    go: impl FnOnce(&mut [f64], &mut dyn LeastSquares) -> Result<R>,
) -> std::result::Result<R, E>
where
    F: Float,
    M: Module<F> + ?Sized,
    C: ModuleLoss<F, M, E>,
    E: ClosureError + From<Error>,
{
    in_place(model, |params, m| {
        with_param_residuals(params, |tape| residuals(tape, m), go)
    })
}
