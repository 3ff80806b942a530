//! Running one of the library's optimizers (any `descent::optim::build` spec) on a loss
//! written on the tape: the one loop the 2-D experiments share.

use crate::Error;
use descent::autodiff::{Param, Tape, Var};
use descent::tensor::Tensor;

/// The iterates (`steps + 1`, the start first) of the optimizer `spec` on `loss(t, tape,
/// w)`, where `t` counts steps from 0, from `w0`. Stops early, keeping what it has, when
/// the loss or a coordinate is no longer finite.
pub fn descend(
    spec: &str,
    w0: &[f64],
    steps: usize,
    mut loss: impl for<'t> FnMut(usize, &'t Tape<f64>, Var<'t, f64>) -> Result<Var<'t, f64>, Error>,
) -> Result<Vec<Vec<f64>>, Error> {
    let mut opt = descent::optim::build::<f64>(spec)?;
    let mut w = Param::new(Tensor::from_vec(w0.to_vec(), &[w0.len()])?);
    let mut path = vec![w0.to_vec()];
    for t in 0..steps {
        let (value, grads) = {
            let tape = Tape::new();
            let l = loss(t, &tape, tape.param(&w))?;
            (l.item()?, l.backward()?)
        };
        if !value.is_finite() {
            break;
        }
        opt.step_with_loss(&mut [&mut w], &grads, value)?;
        let now = w.value.to_vec();
        if now.iter().any(|v| !v.is_finite()) {
            break;
        }
        path.push(now);
    }
    Ok(path)
}

/// `Σᵢ cᵢ wᵢ²` on the tape: a quadratic with its axes along the coordinates.
pub fn quadratic<'t>(
    tape: &'t Tape<f64>,
    w: Var<'t, f64>,
    c: &[f64],
) -> Result<Var<'t, f64>, Error> {
    let c = tape.constant(Tensor::from_vec(c.to_vec(), &[c.len()])?);
    Ok(w.square()?.mul(c)?.sum(&[], false)?)
}

/// `g · w` on the tape: a loss whose gradient is `g` wherever `w` is.
pub fn linear<'t>(tape: &'t Tape<f64>, w: Var<'t, f64>, g: &[f64]) -> Result<Var<'t, f64>, Error> {
    let g = tape.constant(Tensor::from_vec(g.to_vec(), &[g.len()])?);
    Ok(w.mul(g)?.sum(&[], false)?)
}
