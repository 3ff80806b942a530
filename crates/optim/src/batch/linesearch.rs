//! Line searches along a descent direction `d` from `x`: find a step `t` with
//!
//! * sufficient decrease (Armijo): `f(x + t d) ≤ f(x) + c₁ t gᵀd`, and, for strong Wolfe,
//! * the curvature condition: `|∇f(x + t d)ᵀd| ≤ c₂ |gᵀd|`.
//!
//! [`LineSearch::Armijo`] backtracks (`t ← ρ t`); [`LineSearch::StrongWolfe`] brackets and
//! zooms with safeguarded cubic interpolation (Nocedal & Wright, *Numerical Optimization*,
//! Alg. 3.5 and 3.6), step for step as `torch.optim.lbfgs._strong_wolfe` does, so L-BFGS
//! reproduces PyTorch's iterates. Both are bounded by `max_ls` evaluations and report
//! whether their conditions hold at the returned step; a non-finite trial loss counts as
//! "too far" and the search backs off.

use crate::batch::objective::{
    axpy, dot, evaluate, max_abs, moved, BatchReport, Objective, StopReason, StopTolerances,
};
use crate::error::{Error, Result};

/// Which conditions the accepted step must satisfy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LineSearch {
    /// Backtracking until sufficient decrease: `t ← shrink · t`.
    Armijo {
        /// Sufficient-decrease constant `c₁` in `(0, 1)`.
        c1: f64,
        /// Backtracking factor `ρ` in `(0, 1)`.
        shrink: f64,
    },
    /// Sufficient decrease and the strong curvature condition, `0 < c₁ < c₂ < 1`.
    StrongWolfe {
        /// Sufficient-decrease constant `c₁`.
        c1: f64,
        /// Curvature constant `c₂` (0.9 for quasi-Newton, 0.1 for CG and steepest descent).
        c2: f64,
    },
}

impl LineSearch {
    /// Armijo backtracking with `c₁ = 1e-4`, `ρ = 1/2`.
    pub const ARMIJO: LineSearch = LineSearch::Armijo {
        c1: 1e-4,
        shrink: 0.5,
    };

    /// Strong Wolfe with PyTorch's constants `c₁ = 1e-4`, `c₂ = 0.9`.
    pub const WOLFE: LineSearch = LineSearch::StrongWolfe { c1: 1e-4, c2: 0.9 };

    /// Parses a spec value: `armijo` or `wolfe` (strong Wolfe with curvature constant `c2`).
    pub fn from_name(name: &str, c2: f64) -> Option<LineSearch> {
        match name {
            "armijo" => Some(LineSearch::ARMIJO),
            "wolfe" | "strong_wolfe" => Some(LineSearch::StrongWolfe { c1: 1e-4, c2 }),
            _ => None,
        }
    }

    /// Searches along `d` from `x` (loss `f`, gradient `g`, slope `gtd = gᵀd < 0`) starting
    /// from step `t`, with at most `max_ls` evaluations.
    ///
    /// # Errors
    /// Whatever the objective returns.
    #[allow(clippy::too_many_arguments)]
    pub fn search<O: Objective + ?Sized>(
        &self,
        obj: &mut O,
        x: &[f64],
        t: f64,
        d: &[f64],
        f: f64,
        g: &[f64],
        gtd: f64,
        max_ls: usize,
        tolerance_change: f64,
    ) -> Result<LineStep> {
        match *self {
            LineSearch::Armijo { c1, shrink } => armijo(obj, x, t, d, f, gtd, c1, shrink, max_ls),
            LineSearch::StrongWolfe { c1, c2 } => {
                strong_wolfe(obj, x, t, d, f, g, gtd, c1, c2, max_ls, tolerance_change)
            }
        }
    }
}

/// The outcome of a line search.
#[derive(Debug, Clone, PartialEq)]
pub struct LineStep {
    /// The step length.
    pub t: f64,
    /// The loss at `x + t d`.
    pub f: f64,
    /// The gradient at `x + t d`.
    pub g: Vec<f64>,
    /// Evaluations of the objective spent.
    pub evals: usize,
    /// Whether the search's conditions hold at `t` (it may stop early on its budget or on a
    /// bracket narrower than `tolerance_change`, as PyTorch's does).
    pub satisfied: bool,
}

#[allow(clippy::too_many_arguments)]
fn armijo<O: Objective + ?Sized>(
    obj: &mut O,
    x: &[f64],
    mut t: f64,
    d: &[f64],
    f: f64,
    gtd: f64,
    c1: f64,
    shrink: f64,
    max_ls: usize,
) -> Result<LineStep> {
    let mut evals = 0;
    loop {
        let (f_new, g_new) = obj.value_grad(&moved(x, t, d))?;
        evals += 1;
        let satisfied = f_new.is_finite() && f_new <= f + c1 * t * gtd;
        if satisfied || evals >= max_ls {
            return Ok(LineStep {
                t,
                f: f_new,
                g: g_new,
                evals,
                satisfied,
            });
        }
        t *= shrink;
    }
}

/// The minimizer of the cubic through `(x1, f1)`, `(x2, f2)` with slopes `g1`, `g2`,
/// clamped to `bounds` (default: the interval between the points); the bounds' midpoint
/// when the cubic has no minimizer or an input is not finite.
fn cubic_interpolate(
    x1: f64,
    f1: f64,
    g1: f64,
    x2: f64,
    f2: f64,
    g2: f64,
    bounds: Option<(f64, f64)>,
) -> f64 {
    let (lo, hi) = bounds.unwrap_or(if x1 <= x2 { (x1, x2) } else { (x2, x1) });
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = d2_square.sqrt();
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        if min_pos.is_finite() {
            return min_pos.max(lo).min(hi);
        }
    }
    (lo + hi) / 2.0
}

/// One end of a bracket: step, loss, gradient, slope.
#[derive(Clone)]
struct Point {
    t: f64,
    f: f64,
    g: Vec<f64>,
    gtd: f64,
}

#[allow(clippy::too_many_arguments)]
fn strong_wolfe<O: Objective + ?Sized>(
    obj: &mut O,
    x: &[f64],
    mut t: f64,
    d: &[f64],
    f: f64,
    g: &[f64],
    gtd: f64,
    c1: f64,
    c2: f64,
    max_ls: usize,
    tolerance_change: f64,
) -> Result<LineStep> {
    let d_norm = max_abs(d);
    let mut eval = |t: f64| -> Result<Point> {
        let (f, g) = obj.value_grad(&moved(x, t, d))?;
        let gtd = dot(&g, d);
        // A NaN loss is "too far": as +inf it loses every comparison and brackets the step.
        Ok(Point {
            t,
            f: if f.is_nan() { f64::INFINITY } else { f },
            g,
            gtd,
        })
    };
    let mut new = eval(t)?;
    let mut evals = 1;
    let mut prev = Point {
        t: 0.0,
        f,
        g: g.to_vec(),
        gtd,
    };
    let armijo_fails = |p: &Point| !p.f.is_finite() || p.f > f + c1 * p.t * gtd;
    // Bracketing phase (Alg. 3.5): grow t until the minimizer is bracketed or Wolfe holds.
    let mut ls_iter = 0;
    let mut bracket: Vec<Point> = loop {
        if ls_iter >= max_ls {
            break vec![
                Point {
                    t: 0.0,
                    f,
                    g: g.to_vec(),
                    gtd,
                },
                new,
            ];
        }
        if armijo_fails(&new) || (ls_iter > 1 && new.f >= prev.f) {
            break vec![prev, new];
        }
        if new.gtd.abs() <= -c2 * gtd {
            return Ok(LineStep {
                t: new.t,
                f: new.f,
                g: new.g,
                evals,
                satisfied: true,
            });
        }
        if new.gtd >= 0.0 {
            break vec![prev, new];
        }
        let (min_step, max_step) = (t + 0.01 * (t - prev.t), t * 10.0);
        t = cubic_interpolate(
            prev.t,
            prev.f,
            prev.gtd,
            t,
            new.f,
            new.gtd,
            Some((min_step, max_step)),
        );
        prev = new;
        new = eval(t)?;
        evals += 1;
        ls_iter += 1;
    };
    // Zoom phase (Alg. 3.6): shrink the bracket by interpolation.
    let mut done = false;
    let mut insuf_progress = false;
    let (mut low, mut high) = if bracket[0].f <= bracket[1].f {
        (0, 1)
    } else {
        (1, 0)
    };
    while ls_iter < max_ls {
        let (b0, b1) = (bracket[0].t, bracket[1].t);
        if (b1 - b0).abs() * d_norm < tolerance_change {
            break;
        }
        t = cubic_interpolate(
            b0,
            bracket[0].f,
            bracket[0].gtd,
            b1,
            bracket[1].f,
            bracket[1].gtd,
            None,
        );
        // Safeguard (PyTorch's): keep t at least 10% of the bracket away from its ends.
        let (bmin, bmax) = (b0.min(b1), b0.max(b1));
        let eps = 0.1 * (bmax - bmin);
        if (bmax - t).min(t - bmin) < eps {
            if insuf_progress || t >= bmax || t <= bmin {
                t = if (t - bmax).abs() < (t - bmin).abs() {
                    bmax - eps
                } else {
                    bmin + eps
                };
                insuf_progress = false;
            } else {
                insuf_progress = true;
            }
        } else {
            insuf_progress = false;
        }
        let new = eval(t)?;
        evals += 1;
        ls_iter += 1;
        if armijo_fails(&new) || new.f >= bracket[low].f {
            bracket[high] = new;
            (low, high) = if bracket[0].f <= bracket[1].f {
                (0, 1)
            } else {
                (1, 0)
            };
        } else {
            if new.gtd.abs() <= -c2 * gtd {
                done = true;
            } else if new.gtd * (bracket[high].t - bracket[low].t) >= 0.0 {
                bracket[high] = bracket[low].clone();
            }
            bracket[low] = new;
        }
        if done {
            break;
        }
    }
    let best = bracket.swap_remove(low);
    Ok(LineStep {
        t: best.t,
        f: best.f,
        g: best.g,
        evals,
        satisfied: done,
    })
}

/// How a line-search method searches and when it stops: what steepest descent, CG, BFGS
/// and Newton share.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchConfig {
    /// The line search.
    pub line_search: LineSearch,
    /// Evaluations allowed per line search.
    pub max_ls: usize,
    /// Stopping tolerances.
    pub tolerances: StopTolerances,
}

impl SearchConfig {
    /// `line_search` with 25 evaluations per search and PyTorch's tolerances.
    pub fn new(line_search: LineSearch) -> Self {
        SearchConfig {
            line_search,
            max_ls: 25,
            tolerances: StopTolerances::default(),
        }
    }

    pub(crate) fn validate(&self, method: &'static str) -> Result<()> {
        let bad =
            |name: &str, value: String, why: &str| Err(Error::hyper(method, name, value, why));
        let (c1, c2) = match self.line_search {
            LineSearch::Armijo { shrink, .. } if !(shrink > 0.0 && shrink < 1.0) => {
                return bad("shrink", shrink.to_string(), "must be in (0, 1)")
            }
            LineSearch::Armijo { c1, .. } => (c1, 0.5),
            LineSearch::StrongWolfe { c1, c2 } => (c1, c2),
        };
        if !(c1 > 0.0 && c1 < c2 && c2 < 1.0) {
            return bad("c1/c2", format!("{c1}/{c2}"), "need 0 < c1 < c2 < 1");
        }
        if self.max_ls == 0 {
            return bad("max_ls", "0".into(), "must be at least 1");
        }
        self.tolerances.validate(method)?;
        Ok(())
    }
}

/// What distinguishes steepest descent, CG, BFGS and Newton: the direction, the first
/// trial step, and what is learned from an accepted step.
pub(crate) trait Direction<O: Objective + ?Sized> {
    /// The method's name, for errors.
    const NAME: &'static str;
    /// Its search and tolerances.
    fn search(&self) -> SearchConfig;
    /// Its cache of the last point's loss and gradient.
    fn cache(&mut self) -> &mut Cache;
    /// The search direction at `x` with gradient `g` (may count Hessian evaluations).
    fn direction(
        &mut self,
        x: &[f64],
        g: &[f64],
        obj: &mut O,
        report: &mut BatchReport,
    ) -> Result<Vec<f64>>;
    /// Forget curvature information: the next direction is the anti-gradient.
    fn reset(&mut self);
    /// The first trial step along `d` (loss `f`, slope `gtd`).
    fn initial_step(&mut self, f: f64, g: &[f64], gtd: f64) -> f64;
    /// Learns from the accepted step `s = t d` that changed the gradient by `y`.
    fn accepted(&mut self, s: &[f64], y: &[f64], f: f64);
}

/// The loss and gradient at the point the last iteration ended, so the next call need not
/// re-evaluate them (checked against `x`, so moving `x` between calls is safe).
#[derive(Debug, Clone, Default)]
pub(crate) struct Cache(Option<(Vec<f64>, f64, Vec<f64>)>);

impl Cache {
    fn get<O: Objective + ?Sized>(
        &mut self,
        method: &'static str,
        x: &[f64],
        obj: &mut O,
        report: &mut BatchReport,
    ) -> Result<(f64, Vec<f64>)> {
        match self.0.take() {
            Some((cx, f, g)) if cx.as_slice() == x => Ok((f, g)),
            _ => {
                report.function_evals += 1;
                report.gradient_evals += 1;
                evaluate(method, obj, x, 0, true)
            }
        }
    }
}

/// One iteration of a line-search method from `x`: direction, search, update. A direction
/// that is not a descent direction makes the method restart from the anti-gradient; a search
/// without sufficient decrease leaves `x` where it was and reports
/// [`StopReason::LineSearchFailed`].
pub(crate) fn iterate<O: Objective + ?Sized, M: Direction<O>>(
    m: &mut M,
    x: &mut [f64],
    obj: &mut O,
) -> Result<BatchReport> {
    let cfg = m.search();
    let mut cache = std::mem::take(m.cache());
    let r = iterate_with(m, &cfg, &mut cache, x, obj);
    *m.cache() = cache;
    r
}

fn iterate_with<O: Objective + ?Sized, M: Direction<O>>(
    m: &mut M,
    cfg: &SearchConfig,
    cache: &mut Cache,
    x: &mut [f64],
    obj: &mut O,
) -> Result<BatchReport> {
    let mut report = BatchReport::new(0.0, &[]);
    let (f, g) = cache.get(M::NAME, x, obj, &mut report)?;
    (report.loss, report.grad_max) = (f, max_abs(&g));
    if report.grad_max <= cfg.tolerances.tolerance_grad {
        report.reason = StopReason::GradientTolerance;
        cache.0 = Some((x.to_vec(), f, g));
        return Ok(report);
    }
    let mut d = m.direction(x, &g, obj, &mut report)?;
    let mut gtd = dot(&g, &d);
    if gtd.is_nan() || gtd >= 0.0 {
        m.reset(); // the method's next direction is the anti-gradient
        d = m.direction(x, &g, obj, &mut report)?;
        gtd = dot(&g, &d);
        if gtd.is_nan() || gtd >= 0.0 {
            report.reason = StopReason::NotDescent;
            cache.0 = Some((x.to_vec(), f, g));
            return Ok(report);
        }
    }
    let t0 = m.initial_step(f, &g, gtd);
    report.iterations = 1;
    let found = cfg.line_search.search(
        obj,
        x,
        t0,
        &d,
        f,
        &g,
        gtd,
        cfg.max_ls,
        cfg.tolerances.tolerance_change,
    )?;
    report.function_evals += found.evals;
    report.gradient_evals += found.evals;
    let c1 = match cfg.line_search {
        LineSearch::Armijo { c1, .. } | LineSearch::StrongWolfe { c1, .. } => c1,
    };
    let decreased = found.t > 0.0
        && found.f.is_finite()
        && found.g.iter().all(|v| v.is_finite())
        && found.f <= f + c1 * found.t * gtd;
    if !decreased {
        m.reset();
        report.reason = StopReason::LineSearchFailed;
        cache.0 = Some((x.to_vec(), f, g));
        return Ok(report);
    }
    let s: Vec<f64> = d.iter().map(|v| v * found.t).collect();
    let y: Vec<f64> = found.g.iter().zip(&g).map(|(a, b)| a - b).collect();
    axpy(x, 1.0, &s);
    m.accepted(&s, &y, f);
    (report.loss, report.grad_max) = (found.f, max_abs(&found.g));
    report.reason = cfg
        .tolerances
        .check(&found.g, max_abs(&s), f, found.f)
        .unwrap_or(StopReason::MaxIterations);
    cache.0 = Some((x.to_vec(), found.f, found.g));
    Ok(report)
}

/// N&W's (3.60) first trial step for methods whose direction is not scaled: assume the loss
/// drops as much as in the previous iteration, `t₀ = 2 (f − f_prev) / gᵀd`; the first time,
/// PyTorch's `min(1, 1/‖g‖₁)`.
pub(crate) fn interpolated_step(prev_f: Option<f64>, f: f64, g: &[f64], gtd: f64) -> f64 {
    let first = 1f64.min(1.0 / g.iter().map(|v| v.abs()).sum::<f64>());
    match prev_f {
        Some(pf) => {
            let t = 2.0 * (f - pf) / gtd;
            if t.is_finite() && t > 0.0 {
                t.min(1e10)
            } else {
                first
            }
        }
        None => first,
    }
}

#[cfg(test)]
mod tests {
    use super::cubic_interpolate;

    #[test]
    fn cubic_interpolation_is_exact_on_a_cubic() {
        // p(t) = t³ − 3t on [0, 2] has its minimum at t = 1.
        let p = |t: f64| t * t * t - 3.0 * t;
        let dp = |t: f64| 3.0 * t * t - 3.0;
        let t = cubic_interpolate(0.0, p(0.0), dp(0.0), 2.0, p(2.0), dp(2.0), None);
        assert!((t - 1.0).abs() < 1e-12, "{t}");
    }
}
