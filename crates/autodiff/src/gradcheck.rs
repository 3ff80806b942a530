//! Finite-difference gradient checking: the first tool to reach for when writing a custom op
//! or model. Central differences in `f64` are compared with the tape's analytic gradient,
//! element by element, and the worst element is reported.

use crate::error::{Error, Result};
use crate::tape::{Tape, Var};
use descent_tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::fmt;

/// A function of several `f64` inputs recorded on the tape it is given; its output may have
/// any shape (it is contracted with a random cotangent).
///
/// Its error `E` is any type the autodiff [`Error`] converts into (this crate's own, nn's,
/// the facade's `descent::Error`), so a closure can use `?` on calls into several crates;
/// the checks return the same `E`.
pub trait MultiFunction<E = Error>:
    for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> std::result::Result<Var<'t, f64>, E>
{
}
impl<E, T> MultiFunction<E> for T where
    T: for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> std::result::Result<Var<'t, f64>, E>
{
}

/// The contracted output's value and, when tracked, each input's gradient.
type Contracted = (f64, Vec<Option<Tensor<f64>>>);

/// How close analytic and numeric derivatives must be: `|a − n| ≤ atol + rtol·|n|`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tolerances {
    /// The finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl Default for Tolerances {
    /// PyTorch's `gradcheck` defaults: `eps = 1e-6`, `atol = 1e-5`, `rtol = 1e-3`.
    fn default() -> Self {
        Tolerances {
            eps: 1e-6,
            atol: 1e-5,
            rtol: 1e-3,
        }
    }
}

/// The element where analytic and numeric derivatives disagree most (relative to the
/// tolerance).
#[derive(Debug, Clone, PartialEq)]
pub struct Worst {
    /// Which input.
    pub input: usize,
    /// The element's multi-index in that input.
    pub index: Vec<usize>,
    /// The tape's derivative.
    pub analytic: f64,
    /// The central difference.
    pub numeric: f64,
    /// `|analytic − numeric|`.
    pub abs_error: f64,
    /// `abs_error / |numeric|`, or `abs_error` where `|numeric| ≤ atol`.
    pub rel_error: f64,
}

/// What [`gradcheck`] found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Elements compared.
    pub checked: usize,
    /// Whether every element was within tolerance.
    pub passed: bool,
    /// The worst element (`None` when there are no elements).
    pub worst: Option<Worst>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed { "passed" } else { "FAILED" };
        write!(f, "gradcheck {verdict}: {} elements", self.checked)?;
        if let Some(w) = &self.worst {
            write!(
                f,
                "; worst: input {} at {:?}: analytic {:.6e}, numeric {:.6e}, abs error {:.3e}, rel error {:.3e}",
                w.input, w.index, w.analytic, w.numeric, w.abs_error, w.rel_error
            )?;
        }
        Ok(())
    }
}

impl Report {
    /// `Ok(self)` if passed, else an error carrying the report's text (for `?` in tests).
    ///
    /// # Errors
    /// [`Error::GradcheckFailed`] with this report's description.
    pub fn ok(self) -> Result<Self> {
        if self.passed {
            Ok(self)
        } else {
            Err(Error::GradcheckFailed(self.to_string()))
        }
    }
}

/// Compares the tape's gradient of `f` at `inputs` with central differences.
///
/// A non-scalar output is contracted with a fixed random cotangent `u`, so what is checked
/// is the vector-Jacobian product `uᵀJ` — every element of the Jacobian contributes.
/// Inputs may be non-contiguous views: the analytic pass sees them as given.
///
/// ```
/// use descent_autodiff::{gradcheck, Tolerances};
/// use descent_tensor::Tensor;
/// let x = Tensor::from_vec(vec![0.3, -1.2, 2.0, 0.7], &[2, 2])?;
/// let report = gradcheck(|_, v| v[0].tanh()?.matmul(v[0]), &[x], Tolerances::default())?;
/// assert!(report.passed, "{report}");
/// # Ok::<(), descent_autodiff::Error>(())
/// ```
///
/// # Errors
/// Any error of `f`.
pub fn gradcheck<E: From<Error>>(
    f: impl MultiFunction<E>,
    inputs: &[Tensor<f64>],
    tol: Tolerances,
) -> std::result::Result<Report, E> {
    let cotangent = {
        let tape = Tape::new();
        let vars: Vec<_> = inputs.iter().map(|x| tape.constant(x.clone())).collect();
        let shape = f(&tape, &vars)?.shape();
        Tensor::randn(&shape, 0.0, 1.0, &mut StdRng::seed_from_u64(0x9e37)).map_err(Error::from)?
    };
    let contracted =
        |tape: &Tape<f64>, xs: &[Tensor<f64>], track: bool| -> std::result::Result<Contracted, E> {
            // Leaves even when only the value is wanted: `f` may differentiate internally.
            let vars: Vec<_> = xs.iter().map(|x| tape.var(x.clone())).collect();
            let s = f(tape, &vars)?
                .mul(tape.constant(cotangent.clone()))?
                .sum(&[], false)?;
            let value = s.item()?;
            if !track {
                return Ok((value, vec![]));
            }
            let grads = s.backward()?;
            Ok((value, vars.iter().map(|v| grads.wrt(*v).cloned()).collect()))
        };
    let (_, analytic) = contracted(&Tape::new(), inputs, true)?;

    let mut report = Report {
        checked: 0,
        passed: true,
        worst: None,
    };
    let mut worst_score = f64::NEG_INFINITY;
    for (i, x) in inputs.iter().enumerate() {
        let analytic_i = analytic[i]
            .as_ref()
            .map(Tensor::to_vec)
            .unwrap_or_else(|| vec![0.0; x.numel()]);
        let base = x.contiguous();
        for (j, &a) in analytic_i.iter().enumerate() {
            let shifted = |delta: f64| -> std::result::Result<f64, E> {
                let mut xs = inputs.to_vec();
                let mut xi = base.clone();
                xi.data_mut()[j] += delta;
                xs[i] = xi;
                Ok(contracted(&Tape::new(), &xs, false)?.0)
            };
            let numeric = (shifted(tol.eps)? - shifted(-tol.eps)?) / (2.0 * tol.eps);
            let abs_error = (a - numeric).abs();
            let score = abs_error / (tol.atol + tol.rtol * numeric.abs());
            report.checked += 1;
            report.passed &= score <= 1.0; // NaN fails too
            if score > worst_score || score.is_nan() && !worst_score.is_nan() {
                worst_score = score;
                let rel_error = if numeric.abs() > tol.atol {
                    abs_error / numeric.abs()
                } else {
                    abs_error
                };
                report.worst = Some(Worst {
                    input: i,
                    index: unravel(j, x.shape()),
                    analytic: a,
                    numeric,
                    abs_error,
                    rel_error,
                });
            }
        }
    }
    Ok(report)
}

/// Checks second derivatives: [`gradcheck`] of `x ↦ ⟨∇ₓ⟨f(x), u⟩, w⟩` for fixed random `u`
/// and `w`, whose analytic gradient runs through the recorded backward pass ([`Var::grad`]).
///
/// # Errors
/// Any error of `f`.
pub fn gradgradcheck<E: From<Error>>(
    f: impl MultiFunction<E>,
    inputs: &[Tensor<f64>],
    tol: Tolerances,
) -> std::result::Result<Report, E> {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let directions = inputs
        .iter()
        .map(|x| Tensor::randn(x.shape(), 0.0, 1.0, &mut rng))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(Error::from)?;
    let cotangent = {
        let tape = Tape::new();
        let vars: Vec<_> = inputs.iter().map(|x| tape.constant(x.clone())).collect();
        let shape = f(&tape, &vars)?.shape();
        Tensor::randn(&shape, 0.0, 1.0, &mut rng).map_err(Error::from)?
    };
    gradcheck(
        |tape, xs| {
            let s = f(tape, xs)?
                .mul(tape.constant(cotangent.clone()))?
                .sum(&[], false)?;
            let grads = s.grad(xs, None)?;
            let mut total = tape.constant(Tensor::scalar(0.0));
            for (g, w) in grads.iter().zip(&directions) {
                total = total.add(g.mul(tape.constant(w.clone()))?.sum(&[], false)?)?;
            }
            Ok(total)
        },
        inputs,
        tol,
    )
}

/// The multi-index of flat row-major position `flat` in `shape`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (k, &n) in shape.iter().enumerate().rev() {
        index[k] = flat % n.max(1);
        flat /= n.max(1);
    }
    index
}
