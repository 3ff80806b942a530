//! Ill-conditioning: the curvature of the loss along the gradient, `gᵀHg / gᵀg`, from one
//! Hessian-vector product, against the stability limit `2/η` of gradient descent with
//! rate `η`. On a quadratic, a step along a direction of curvature `λ` multiplies the error
//! there by `1 − ηλ`, which grows once `λ > 2/η`; the gradient leans towards the directions
//! of large curvature, so `gᵀHg / gᵀg` is a cheap lower bound of `λ_max` that rises to the
//! limit when training sits at the edge of stability (Cohen et al., 2021).

use crate::error::Result;
use crate::hooks::{Hook, StepInfo};
use descent_autodiff::{Param, Tape, Var};
use descent_nn::Mode;
use descent_tensor::Float;

/// One measurement of the curvature along the gradient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Curvature {
    /// The loss where it was measured.
    pub loss: f64,
    /// `gᵀg`, the squared gradient norm.
    pub grad_sq: f64,
    /// `gᵀHg`.
    pub ghg: f64,
}

impl Curvature {
    /// `gᵀHg / gᵀg`: the second derivative of the loss along the unit gradient direction;
    /// `None` where the gradient is zero (no direction).
    pub fn along_gradient(&self) -> Option<f64> {
        (self.grad_sq > 0.0).then(|| self.ghg / self.grad_sq)
    }
}

/// Measures `gᵀHg` and `gᵀg` for the loss that `loss` records on a fresh tape, with respect
/// to `params`: one gradient recorded on the tape, then the gradient of `⟨g, stop(g)⟩`,
/// which is `Hg` (reverse over reverse; the parameters are untouched).
///
/// ```
/// use descent_autodiff::{Param, Tape};
/// use descent_tensor::Tensor;
/// use descent_train::diagnostics::curvature_along_gradient;
/// // f(x) = x₀² + 5·x₁², H = diag(2, 10); at x = (1, 1), g = (2, 10):
/// // gᵀHg / gᵀg = (2·4 + 10·100) / (4 + 100).
/// let x = Param::new(Tensor::from_vec(vec![1.0f64, 1.0], &[2])?);
/// let w = Tensor::from_vec(vec![1.0, 5.0], &[2])?;
/// let c = curvature_along_gradient(&[&x], |tape: &Tape<f64>| {
///     Ok(tape.param(&x).square()?.mul(tape.constant(w.clone()))?.sum(&[], false)?)
/// })?;
/// assert!((c.along_gradient().unwrap() - 1008.0 / 104.0).abs() < 1e-12);
/// # Ok::<(), descent_train::Error>(())
/// ```
///
/// # Errors
/// Any error of `loss`, or of differentiating it twice.
pub fn curvature_along_gradient<F: Float>(
    params: &[&Param<F>],
    loss: impl for<'t> FnOnce(&'t Tape<F>) -> Result<Var<'t, F>>,
) -> Result<Curvature> {
    let tape = Tape::new();
    let value = loss(&tape)?;
    let vars: Vec<Var<'_, F>> = params.iter().map(|p| tape.param(p)).collect();
    let grads = value.grad(&vars, None)?;
    let mut g_dot_g: Option<Var<'_, F>> = None;
    let mut grad_sq = 0.0;
    for g in &grads {
        let fixed = g.value()?;
        grad_sq += dot(&fixed, &fixed);
        let term = g.mul(tape.constant(fixed))?.sum(&[], false)?;
        g_dot_g = Some(match g_dot_g {
            Some(acc) => acc.add(term)?,
            None => term,
        });
    }
    let Some(g_dot_g) = g_dot_g else {
        return Ok(Curvature {
            loss: value.item()?.as_f64(),
            grad_sq: 0.0,
            ghg: 0.0,
        });
    };
    // ∇⟨g, stop(g)⟩ = H·g: the constant copy keeps the second factor out of the derivative.
    let hg = g_dot_g.grad(&vars, None)?;
    let mut ghg = 0.0;
    for (h, g) in hg.iter().zip(&grads) {
        ghg += dot(&h.value()?, &g.value()?);
    }
    Ok(Curvature {
        loss: value.item()?.as_f64(),
        grad_sq,
        ghg,
    })
}

/// `Σ aᵢbᵢ` accumulated in `f64`.
fn dot<F: Float>(a: &descent_tensor::Tensor<F>, b: &descent_tensor::Tensor<F>) -> f64 {
    let (a, b) = (a.to_vec(), b.to_vec());
    a.iter().zip(&b).map(|(x, y)| x.as_f64() * y.as_f64()).sum()
}

/// One row of the [`CurvatureMonitor`]: the curvature at a step against that step's
/// stability limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CurvatureRow {
    /// The step it was measured at.
    pub step: u64,
    /// The learning rate in force.
    pub lr: f64,
    /// The measurement.
    pub curvature: Curvature,
}

impl CurvatureRow {
    /// `2/η`: gradient descent is unstable along any direction curved more than this.
    pub fn limit(&self) -> f64 {
        2.0 / self.lr
    }

    /// Whether the curvature along the gradient exceeds `2/η`: the step overshoots along
    /// the gradient itself, and the loss will rise unless the rate comes down.
    pub fn unstable(&self) -> bool {
        self.curvature
            .along_gradient()
            .is_some_and(|c| c > self.limit())
    }
}

/// Measures the curvature along the gradient every `every` steps of a training loop, and
/// keeps the rows for a CSV. A Hessian-vector product costs about two more backward passes,
/// so measure sparsely.
///
/// ```
/// use descent_autodiff::{Param, Tape};
/// use descent_tensor::Tensor;
/// use descent_train::diagnostics::CurvatureMonitor;
/// let x = Param::new(Tensor::from_vec(vec![1.0f64], &[1])?);
/// let mut monitor = CurvatureMonitor::new(10)?;
/// for step in 0..20 {
///     // f(x) = 3x²: curvature 6 everywhere, so a rate of 0.5 (limit 4) is unstable.
///     monitor.observe(step, 0.5, &[&x], |tape: &Tape<f64>| {
///         Ok(tape.param(&x).square()?.mul_scalar(3.0)?.sum(&[], false)?)
///     })?;
/// }
/// assert_eq!(monitor.rows().len(), 2);
/// assert!(monitor.rows()[0].unstable());
/// assert!(monitor.to_csv().starts_with("step,lr,loss,grad_norm,curvature,limit,unstable\n0,0.5,"));
/// # Ok::<(), descent_train::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct CurvatureMonitor {
    every: u64,
    rows: Vec<CurvatureRow>,
}

impl CurvatureMonitor {
    /// A monitor that measures at steps `0, every, 2·every, …`.
    ///
    /// # Errors
    /// [`crate::Error::InvalidArgument`] for `every = 0`.
    pub fn new(every: u64) -> Result<Self> {
        if every == 0 {
            return Err(crate::Error::InvalidArgument {
                op: "CurvatureMonitor::new",
                arg: "every",
                value: "0".into(),
                why: "must be at least 1".into(),
            });
        }
        Ok(CurvatureMonitor {
            every,
            rows: Vec::new(),
        })
    }

    /// At a step that is a multiple of `every`, measures the curvature of `loss` along its
    /// gradient with respect to `params` and returns the new row; at other steps records
    /// nothing and does not call `loss`.
    ///
    /// # Errors
    /// As [`curvature_along_gradient`].
    pub fn observe<F: Float>(
        &mut self,
        step: u64,
        lr: f64,
        params: &[&Param<F>],
        loss: impl for<'t> FnOnce(&'t Tape<F>) -> Result<Var<'t, F>>,
    ) -> Result<Option<CurvatureRow>> {
        if !step.is_multiple_of(self.every) {
            return Ok(None);
        }
        let row = CurvatureRow {
            step,
            lr,
            curvature: curvature_along_gradient(params, loss)?,
        };
        self.rows.push(row);
        Ok(Some(row))
    }

    /// The rows measured so far.
    pub fn rows(&self) -> &[CurvatureRow] {
        &self.rows
    }

    /// The rows as CSV: `step,lr,loss,grad_norm,curvature,limit,unstable` (curvature empty
    /// where the gradient was zero).
    pub fn to_csv(&self) -> String {
        let mut out = String::from("step,lr,loss,grad_norm,curvature,limit,unstable\n");
        for r in &self.rows {
            let c = r.curvature;
            let along = c.along_gradient().map_or(String::new(), |v| v.to_string());
            super::csv_row(
                &mut out,
                &[
                    &r.step,
                    &r.lr,
                    &c.loss,
                    &c.grad_sq.sqrt(),
                    &along,
                    &r.limit(),
                    &r.unstable(),
                ],
            );
        }
        out
    }
}

/// The monitor as a hook on any model: at every `every`-th step, the curvature of the run's
/// loss on the step's batch, at the weights after the step, against the step's rate; the
/// model runs in eval mode (so measuring draws no dropout mask and moves no running
/// statistics: the run is the run without it).
///
/// ```
/// use descent_data::{DataLoader, Dataset};
/// use descent_nn::Linear;
/// use descent_tensor::Tensor;
/// use descent_train::{diagnostics::CurvatureMonitor, evaluate::Regression, Trainer};
/// use std::{cell::RefCell, rc::Rc};
/// // Mean squared error of a linear model on inputs ±1: the Hessian is 2·I, whatever the
/// // weights, so the curvature along any gradient is 2.
/// let x = Tensor::<f64>::from_vec(vec![1.0, -1.0, 1.0, -1.0], &[4, 1])?;
/// let data = Dataset::new(x.clone(), x.mul_scalar(3.0))?;
/// let model = Linear::<f64>::new(1, 1, &mut rand::rng())?.without_bias();
/// let monitor = Rc::new(RefCell::new(CurvatureMonitor::new(1)?));
/// let mut trainer = Trainer::new(model, "sgd:lr=0.1", DataLoader::new(data, 4)?, Regression)?
///     .epochs(3)
///     .print_epochs(false)
///     .hook(monitor.clone());
/// trainer.fit()?;
/// for row in monitor.borrow().rows() {
///     assert!((row.curvature.along_gradient().unwrap() - 2.0).abs() < 1e-12);
///     assert_eq!(row.limit(), 2.0 / 0.1);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl<F: Float> Hook<F> for CurvatureMonitor {
    fn on_step(&mut self, info: &StepInfo<'_, F>) -> Result<()> {
        let Some(batch) = info.batch else {
            return Ok(());
        };
        let (model, params) = (info.model, info.model.params());
        self.observe(info.step as u64, info.lr, &params, |tape: &Tape<F>| {
            let x = tape.constant(batch.input().clone());
            batch.loss(model.forward(tape, x, Mode::Eval)?)
        })?;
        Ok(())
    }
}
