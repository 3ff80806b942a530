//! Batch methods on a [`Module`] in place: the model's parameters are flattened in
//! `named_params` order, the method runs on them through [`with_params`] (the loss closure
//! reads the trial values through the model's own `tape.param` calls), and the result is
//! written back into the model, so nothing is left to copy back by hand.

use crate::batch::flat::{with_params, ClosureError};
use crate::batch::objective::{BatchMethod, BatchReport, Objective};
use crate::error::{Error, Result};
use descent_autodiff::{Param, Tape, Var};
use descent_nn::Module;
use descent_tensor::Float;

/// The names and shapes of a model's parameters, as a method with history last saw them.
pub(crate) type Layout = Vec<(String, Vec<usize>)>;

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

/// Runs `go` (one step, or a whole minimization) of `method` on `model`'s parameters.
pub(crate) fn run<B, F, M, C, E>(
    method: &mut B,
    model: &mut M,
    mut loss: C,
    go: impl FnOnce(&mut B, &mut [f64], &mut dyn Objective) -> Result<BatchReport>,
) -> std::result::Result<BatchReport, E>
where
    B: BatchMethod + ?Sized,
    F: Float,
    M: Module<F> + ?Sized,
    C: for<'t> FnMut(&'t Tape<F>, &M) -> std::result::Result<Var<'t, F>, E>,
    E: ClosureError + From<Error>,
{
    let named: Vec<(String, Param<F>)> = model
        .named_params()
        .into_iter()
        .map(|(n, p)| (n, p.clone()))
        .collect();
    let now: Layout = named
        .iter()
        .map(|(n, p)| (n.clone(), p.value.shape().to_vec()))
        .collect();
    if let Some(kept) = method.module_layout() {
        check(kept, &now)?;
        *kept = now;
    }
    let mut params: Vec<Param<F>> = named.into_iter().map(|(_, p)| p).collect();
    let report = {
        let m: &M = model;
        with_params(
            &mut params,
            |tape| loss(tape, m),
            |x, obj| go(method, x, obj),
        )?
    };
    for ((_, slot), p) in model.named_params_mut().into_iter().zip(params) {
        slot.value = p.value;
    }
    Ok(report)
}
