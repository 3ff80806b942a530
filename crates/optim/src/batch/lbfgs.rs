//! L-BFGS (Nocedal 1980; Liu & Nocedal 1989): a quasi-Newton method that keeps the last
//! `history_size` pairs `sₖ = xₖ₊₁ − xₖ`, `yₖ = gₖ₊₁ − gₖ` and applies the inverse-Hessian
//! approximation by the two-loop recursion, scaled by `H₀ = sᵀy / yᵀy`.
//!
//! The rule, the defaults and the stopping tests are `torch.optim.LBFGS`'s: one [`Lbfgs::step`]
//! runs up to `max_iter` iterations; the first step is `min(1, 1/‖g‖₁)·lr`, later ones `lr`;
//! without a line search the step is fixed, with `line_search=strong_wolfe` it is PyTorch's
//! strong-Wolfe search. Pairs with `yᵀs ≤ 1e-10` are skipped. A run from the same point gives
//! PyTorch's iterates in f64 (tested against them).

use crate::batch::linesearch::LineSearch;
use crate::batch::objective::{
    axpy, dot, evaluate, max_abs, neg, BatchMethod, BatchReport, Objective, StopReason,
    StopTolerances,
};
use crate::error::{Error, Result};
use std::collections::VecDeque;

/// L-BFGS hyper-parameters, with PyTorch's names and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LbfgsConfig {
    /// Step length (the fixed step without a line search; the first trial step with one).
    pub lr: f64,
    /// Iterations per [`Lbfgs::step`] call.
    pub max_iter: usize,
    /// Evaluations per call; `None` derives PyTorch's `max_iter · 5 / 4` (see
    /// [`LbfgsConfig::max_eval`]), so `LbfgsConfig { max_iter: 200, ..Default::default() }`
    /// allows 250 as `torch.optim.LBFGS(max_iter=200)` does.
    pub max_eval: Option<usize>,
    /// Stop when `max |gᵢ| ≤ tolerance_grad`.
    pub tolerance_grad: f64,
    /// Stop when the loss or the step's largest entry changes by less than this.
    pub tolerance_change: f64,
    /// Number of `(s, y)` pairs kept.
    pub history_size: usize,
    /// `None` (a fixed step, PyTorch's default) or strong Wolfe.
    pub line_search: Option<LineSearch>,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        LbfgsConfig {
            lr: 1.0,
            max_iter: 20,
            max_eval: None,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            history_size: 100,
            line_search: None,
        }
    }
}

impl LbfgsConfig {
    /// The evaluation budget per call: `max_eval` if set, else PyTorch's `max_iter · 5 / 4`
    /// (at least 1).
    ///
    /// ```
    /// use descent_optim::batch::LbfgsConfig;
    /// assert_eq!(LbfgsConfig { max_iter: 200, ..Default::default() }.max_eval(), 250);
    /// assert_eq!(LbfgsConfig::default().max_eval(), 25);
    /// ```
    pub fn max_eval(&self) -> usize {
        self.max_eval
            .unwrap_or((self.max_iter.saturating_mul(5) / 4).max(1))
    }
}

/// L-BFGS with its history: state persists across [`Lbfgs::step`] calls, as in PyTorch.
///
/// ```
/// use descent_optim::batch::{BatchMethod, Lbfgs, LbfgsConfig, LineSearch};
/// // Rosenbrock from (−1.2, 1).
/// let mut rosen = |p: &[f64]| {
///     let (x, y) = (p[0], p[1]);
///     Ok(((1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
///         vec![-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)]))
/// };
/// let mut opt = Lbfgs::new(LbfgsConfig { line_search: Some(LineSearch::WOLFE), ..Default::default() })?;
/// let mut x = vec![-1.2, 1.0];
/// let report = opt.minimize(&mut x, &mut rosen, 10)?; // 10 calls of step
/// // PyTorch's default tolerance_change = 1e-9 on the loss stops it near 1e-5.
/// assert!((x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4, "{report:?}");
/// # Ok::<(), descent_optim::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Lbfgs {
    config: LbfgsConfig,
    n_iter: usize,
    func_evals: usize,
    d: Vec<f64>,
    t: f64,
    old_dirs: VecDeque<Vec<f64>>,
    old_stps: VecDeque<Vec<f64>>,
    ro: VecDeque<f64>,
    h_diag: f64,
    prev_flat_grad: Option<Vec<f64>>,
    /// The model's parameter names and shapes at the last `step_module`.
    layout: Vec<(String, Vec<usize>)>,
}

impl Default for Lbfgs {
    fn default() -> Self {
        Self::with(LbfgsConfig::default())
    }
}

impl Lbfgs {
    /// A new L-BFGS with an empty history.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] for a non-positive `lr`, `max_iter`, `max_eval` or
    /// `history_size`, or negative tolerances.
    pub fn new(config: LbfgsConfig) -> Result<Self> {
        let bad =
            |name: &str, value: String, why: &str| Err(Error::hyper("lbfgs", name, value, why));
        if !(config.lr > 0.0 && config.lr.is_finite()) {
            return bad("lr", config.lr.to_string(), "must be positive and finite");
        }
        if config.max_iter == 0 || config.max_eval() == 0 || config.history_size == 0 {
            return bad(
                "max_iter/max_eval/history_size",
                format!(
                    "{}/{}/{}",
                    config.max_iter,
                    config.max_eval(),
                    config.history_size
                ),
                "must be at least 1",
            );
        }
        StopTolerances {
            tolerance_grad: config.tolerance_grad,
            tolerance_change: config.tolerance_change,
        }
        .validate("lbfgs")?;
        Ok(Self::with(config))
    }

    fn with(config: LbfgsConfig) -> Self {
        Lbfgs {
            config,
            n_iter: 0,
            func_evals: 0,
            d: vec![],
            t: 0.0,
            old_dirs: VecDeque::new(),
            old_stps: VecDeque::new(),
            ro: VecDeque::new(),
            h_diag: 1.0,
            prev_flat_grad: None,
            layout: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &LbfgsConfig {
        &self.config
    }

    /// Iterations run over all calls (PyTorch's `state['n_iter']`).
    pub fn total_iterations(&self) -> usize {
        self.n_iter
    }

    fn finish(
        &self,
        mut report: BatchReport,
        evals: usize,
        loss: f64,
        grad: &[f64],
    ) -> Result<BatchReport> {
        report.function_evals = evals;
        report.gradient_evals = evals;
        report.loss = loss;
        report.grad_max = max_abs(grad);
        Ok(report)
    }

    /// Stores the newest pair (if its curvature `yᵀs` is positive) and sets `d = −H g` by
    /// the two-loop recursion.
    fn update_direction(&mut self, flat_grad: &[f64]) {
        if let Some(prev) = &self.prev_flat_grad {
            let y: Vec<f64> = flat_grad.iter().zip(prev).map(|(a, b)| a - b).collect();
            let s: Vec<f64> = self.d.iter().map(|v| v * self.t).collect();
            let ys = dot(&y, &s);
            if ys > 1e-10 {
                if self.old_dirs.len() == self.config.history_size {
                    self.old_dirs.pop_front();
                    self.old_stps.pop_front();
                    self.ro.pop_front();
                }
                self.h_diag = ys / dot(&y, &y);
                self.old_dirs.push_back(y);
                self.old_stps.push_back(s);
                self.ro.push_back(1.0 / ys);
            }
        }
        let k = self.old_dirs.len();
        let mut al = vec![0.0; k];
        let mut q = neg(flat_grad);
        for i in (0..k).rev() {
            al[i] = dot(&self.old_stps[i], &q) * self.ro[i];
            axpy(&mut q, -al[i], &self.old_dirs[i]);
        }
        let mut r: Vec<f64> = q.iter().map(|v| v * self.h_diag).collect();
        for (i, a) in al.iter().enumerate() {
            let be_i = dot(&self.old_dirs[i], &r) * self.ro[i];
            axpy(&mut r, a - be_i, &self.old_stps[i]);
        }
        self.d = r;
    }
}

impl BatchMethod for Lbfgs {
    fn module_layout(&mut self) -> Option<&mut Vec<(String, Vec<usize>)>> {
        Some(&mut self.layout)
    }

    /// One PyTorch `LBFGS.step(closure)`: up to `max_iter` iterations from `x`, updating it.
    /// As in PyTorch, without a line search the last of `max_iter` iterations is not
    /// re-evaluated: the report's loss is then the one before that last update.
    ///
    /// # Errors
    /// [`Error::NonFinite`] if the loss or gradient at `x` is not finite, [`Error::Length`]
    /// for a gradient of the wrong length, or the objective's own error.
    fn step(&mut self, x: &mut [f64], obj: &mut dyn Objective) -> Result<BatchReport> {
        let c = self.config;
        let (mut loss, mut flat_grad) = evaluate("lbfgs", obj, x, 0, true)?;
        let mut report = BatchReport::new(loss, &flat_grad);
        let mut current_evals = 1;
        self.func_evals += 1;
        if max_abs(&flat_grad) <= c.tolerance_grad {
            report.reason = StopReason::GradientTolerance;
            return self.finish(report, 1, loss, &flat_grad);
        }
        let mut n_iter = 0;
        let reason = loop {
            n_iter += 1;
            self.n_iter += 1;
            if self.n_iter == 1 {
                self.d = neg(&flat_grad);
                self.old_dirs.clear();
                self.old_stps.clear();
                self.ro.clear();
                self.h_diag = 1.0;
            } else {
                self.update_direction(&flat_grad);
            }
            self.prev_flat_grad = Some(flat_grad.clone());
            let prev_loss = loss;
            self.t = if self.n_iter == 1 {
                (1.0f64).min(1.0 / flat_grad.iter().map(|v| v.abs()).sum::<f64>()) * c.lr
            } else {
                c.lr
            };
            let gtd = dot(&flat_grad, &self.d);
            if gtd > -c.tolerance_change {
                break StopReason::NotDescent;
            }
            let mut ls_evals = 0;
            let mut opt_cond = false;
            if let Some(ls) = c.line_search {
                let max_ls = c.max_eval().saturating_sub(current_evals); // PyTorch's budget
                let found = ls.search(
                    obj,
                    x,
                    self.t,
                    &self.d,
                    loss,
                    &flat_grad,
                    gtd,
                    max_ls,
                    c.tolerance_change,
                )?;
                if !found.f.is_finite() || found.g.iter().any(|v| !v.is_finite()) {
                    current_evals += found.evals;
                    break StopReason::LineSearchFailed;
                }
                (loss, flat_grad, self.t, ls_evals) = (found.f, found.g, found.t, found.evals);
                axpy(x, self.t, &self.d);
                opt_cond = max_abs(&flat_grad) <= c.tolerance_grad;
            } else {
                axpy(x, self.t, &self.d);
                if n_iter != c.max_iter {
                    (loss, flat_grad) = evaluate("lbfgs", obj, x, n_iter, true)?;
                    opt_cond = max_abs(&flat_grad) <= c.tolerance_grad;
                    ls_evals = 1;
                }
            }
            current_evals += ls_evals;
            self.func_evals += ls_evals;
            if n_iter == c.max_iter {
                break StopReason::MaxIterations;
            }
            if current_evals >= c.max_eval() {
                break StopReason::MaxEvaluations;
            }
            if opt_cond {
                break StopReason::GradientTolerance;
            }
            if max_abs(&self.d) * self.t.abs() <= c.tolerance_change {
                break StopReason::StepTolerance;
            }
            if (loss - prev_loss).abs() < c.tolerance_change {
                break StopReason::LossChange;
            }
        };
        report.iterations = n_iter;
        report.reason = reason;
        self.finish(report, current_evals, loss, &flat_grad)
    }
}
