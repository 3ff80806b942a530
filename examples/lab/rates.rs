//! Convergence rates on a strongly convex finite sum: L2-regularized logistic regression
//! `F(w) = (1/n) Σ log(1 + exp(−yᵢ xᵢᵀw)) + (λ/2)‖w‖²` (μ = λ, L ≤ λ_max(XᵀX)/4n + λ).
//! Batch gradient descent with step 1/L contracts the suboptimality by at least `1 − μ/L`
//! per epoch (a linear rate); SGD with `ηₜ = 1/(μ(t + L/μ))` reaches O(1/t) but gets there
//! with one pass over the data where batch GD has taken one step; with a constant step SGD
//! stalls at a noise floor, and averaging its iterates (polynomial decay, γ = 3) goes below.

use crate::linalg::solve;
use crate::plot::{Chart, Series};
use crate::report::{num, Rand};
use crate::{Common, Error, Report};
use descent::autodiff::Param;
use descent::optim::first_order::{Averager, Averaging};
use descent::tensor::Tensor;
use serde_json::json;
use std::time::Instant;

/// Flags of `rates`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Epochs (passes over the data) per method (default 30; 10 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=10_000))]
    epochs: Option<u64>,
    /// Mini-batch size for the mini-batch method.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    batch: u64,
}

impl Args {
    /// Nothing to check beyond clap's ranges.
    pub fn check(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// Features per example.
const D: usize = 5;
/// The L2 weight λ, which is also the strong-convexity constant μ.
const LAMBDA: f64 = 0.01;

/// The data set: rows `x` and labels `y ∈ {−1, 1}`.
struct Problem {
    x: Vec<[f64; D]>,
    y: Vec<f64>,
}

impl Problem {
    /// `n` standard-normal rows labelled by a logistic model with weights (1, −1, ½, 2, −½).
    fn new(n: usize, rng: &mut Rand) -> Problem {
        let truth = [1.0, -1.0, 0.5, 2.0, -0.5];
        let mut x = Vec::with_capacity(n);
        let mut y = Vec::with_capacity(n);
        for _ in 0..n {
            let row: [f64; D] = std::array::from_fn(|_| rng.normal());
            let p = 1.0 / (1.0 + (-dot(&row, &truth)).exp());
            y.push(if rng.uniform() < p { 1.0 } else { -1.0 });
            x.push(row);
        }
        Problem { x, y }
    }

    /// F(w).
    fn loss(&self, w: &[f64; D]) -> f64 {
        let data: f64 = self
            .x
            .iter()
            .zip(&self.y)
            .map(|(x, y)| softplus(-y * dot(x, w)))
            .sum::<f64>()
            / self.y.len() as f64;
        data + 0.5 * LAMBDA * dot(w, w)
    }

    /// The gradient of the examples `idx` (their mean) plus the regularizer's.
    fn grad(&self, w: &[f64; D], idx: impl Iterator<Item = usize>) -> [f64; D] {
        let mut g = [0.0; D];
        let mut count = 0;
        for i in idx {
            let (x, y) = (&self.x[i], self.y[i]);
            let s = -y / (1.0 + (y * dot(x, w)).exp());
            for k in 0..D {
                g[k] += s * x[k];
            }
            count += 1;
        }
        std::array::from_fn(|k| g[k] / count.max(1) as f64 + LAMBDA * w[k])
    }

    /// The Hessian at `w`.
    fn hessian(&self, w: &[f64; D]) -> [[f64; D]; D] {
        let n = self.y.len() as f64;
        let mut h = [[0.0; D]; D];
        for x in &self.x {
            let p = 1.0 / (1.0 + (-dot(x, w)).exp());
            let s = p * (1.0 - p) / n;
            for a in 0..D {
                for b in 0..D {
                    h[a][b] += s * x[a] * x[b];
                }
            }
        }
        for (a, row) in h.iter_mut().enumerate() {
            row[a] += LAMBDA;
        }
        h
    }

    /// An upper bound on the gradient's Lipschitz constant: `λ_max(XᵀX/n)/4 + λ`, with
    /// λ_max bounded by the trace.
    fn smoothness(&self) -> f64 {
        let n = self.y.len() as f64;
        self.x.iter().map(|x| dot(x, x)).sum::<f64>() / n / 4.0 + LAMBDA
    }

    /// The minimizer, by Newton's method to machine precision.
    fn optimum(&self) -> [f64; D] {
        let mut w = [0.0; D];
        for _ in 0..50 {
            let h: Vec<f64> = self.hessian(&w).iter().flatten().copied().collect();
            let step = solve(&h, &self.grad(&w, 0..self.y.len()));
            for k in 0..D {
                w[k] -= step[k];
            }
        }
        w
    }
}

fn dot(a: &[f64; D], b: &[f64; D]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// `log(1 + eᶻ)` without overflow.
fn softplus(z: f64) -> f64 {
    z.max(0.0) + (-z.abs()).exp().ln_1p()
}

/// A method's suboptimality `F(w) − F*` after each epoch (epoch 0: the start), the
/// seconds spent, and (constant-step SGD) the averaged iterate's suboptimality.
struct Curve {
    name: String,
    subopt: Vec<f64>,
    seconds: Vec<f64>,
    averaged: Vec<f64>,
}

/// How the step size is chosen for step `t` (from 0).
enum Step {
    /// `1/(μ(t + L/μ))`.
    Decaying,
    /// A constant.
    Constant(f64),
}

/// Runs mini-batch SGD with batches of `batch` examples in a seeded random order per epoch
/// (batch = n: gradient descent), recording once per epoch.
fn sgd(
    p: &Problem,
    name: &str,
    batch: usize,
    step: Step,
    epochs: usize,
    f_star: f64,
    rng: &mut Rand,
) -> Result<Curve, Error> {
    let n = p.y.len();
    let (l, mu) = (p.smoothness(), LAMBDA);
    let mut w = [0.0; D];
    let mut avg = Averager::<f64>::new(Averaging::Polynomial { gamma: 3.0 })?;
    let mut param = Param::new(Tensor::from_vec(w.to_vec(), &[D])?);
    let mut curve = Curve {
        name: name.to_string(),
        subopt: vec![p.loss(&w) - f_star],
        seconds: vec![0.0],
        averaged: vec![p.loss(&w) - f_star],
    };
    let start = Instant::now();
    let mut t = 0usize;
    let mut order: Vec<usize> = (0..n).collect();
    for _ in 0..epochs {
        for i in (1..n).rev() {
            order.swap(i, rng.index(i + 1));
        }
        for chunk in order.chunks(batch) {
            let eta = match step {
                Step::Decaying => 1.0 / (mu * (t as f64 + l / mu)),
                Step::Constant(eta) => eta,
            };
            let g = p.grad(&w, chunk.iter().copied());
            for k in 0..D {
                w[k] -= eta * g[k];
            }
            param.value = Tensor::from_vec(w.to_vec(), &[D])?;
            avg.update(&[&param])?;
            t += 1;
        }
        curve.seconds.push(start.elapsed().as_secs_f64());
        curve.subopt.push(p.loss(&w) - f_star);
        let a = avg
            .average(param.id())
            .map_or(w.to_vec(), |(_, a)| a.to_vec());
        curve
            .averaged
            .push(p.loss(&std::array::from_fn(|k| a[k])) - f_star);
    }
    Ok(curve)
}

/// Runs the experiment.
pub fn run(common: &Common, args: &Args) -> Result<Report, Error> {
    let epochs = args
        .epochs
        .map_or(if common.quick { 10 } else { 30 }, |e| e as usize);
    let n = if common.quick { 200 } else { 1000 };
    let p = Problem::new(n, &mut Rand::new(common.seed, 1));
    let w_star = p.optimum();
    let f_star = p.loss(&w_star);
    let (l, mu) = (p.smoothness(), LAMBDA);
    let batch = (args.batch as usize).min(n);
    let curves = vec![
        sgd(
            &p,
            "batch GD, step 1/L",
            n,
            Step::Constant(1.0 / l),
            epochs,
            f_star,
            &mut Rand::new(common.seed, 2),
        )?,
        sgd(
            &p,
            "SGD, 1/(μ(t+L/μ))",
            1,
            Step::Decaying,
            epochs,
            f_star,
            &mut Rand::new(common.seed, 3),
        )?,
        sgd(
            &p,
            &format!("mini-batch {batch}, 1/(μ(t+L/μ))"),
            batch,
            Step::Decaying,
            epochs,
            f_star,
            &mut Rand::new(common.seed, 4),
        )?,
        sgd(
            &p,
            "SGD, constant 0.5/L",
            1,
            Step::Constant(0.5 / l),
            epochs,
            f_star,
            &mut Rand::new(common.seed, 5),
        )?,
    ];
    let mut report = Report::new(
        "rates",
        &[
            "method",
            "after 1 epoch",
            "after all epochs",
            "averaged (γ=3)",
            "seconds",
        ],
    );
    for c in &curves {
        report.row(vec![
            json!(c.name),
            num(c.subopt[1]),
            num(c.subopt[epochs]),
            num(c.averaged[epochs]),
            num(c.seconds[epochs]),
        ]);
    }
    let keys = ["gd", "sgd", "minibatch", "sgd_constant"];
    for (k, c) in keys.iter().zip(&curves) {
        report.metric(&format!("{k}_subopt"), json!(c.subopt));
        report.metric(&format!("{k}_averaged"), json!(c.averaged));
    }
    report.metric("kappa", num(l / mu));
    report.metric("linear_rate_bound", num(1.0 - mu / l));
    report.metric("n", n);

    // Suboptimality against epochs (log y) and against examples (log-log), and time.
    let mut by_epoch = Chart::new(
        format!("logistic regression, n = {n}, κ ≤ {:.0}", l / mu),
        "epoch",
        "F(w) − F*",
    )
    .log(false, true);
    let mut by_examples = Chart::new("SGD's O(1/t)", "examples seen", "F(w) − F*").log(true, true);
    let mut by_time = Chart::new("against wall time", "seconds", "F(w) − F*").log(false, true);
    for c in &curves {
        let pts = |xs: &dyn Fn(usize) -> f64| -> Vec<(f64, f64)> {
            c.subopt
                .iter()
                .enumerate()
                .map(|(e, &s)| (xs(e), s))
                .collect()
        };
        by_epoch = by_epoch.with(Series::line(&c.name, pts(&|e| e as f64)));
        by_examples = by_examples.with(Series::line(&c.name, pts(&|e| (e * n) as f64)));
        by_time = by_time.with(Series::line(&c.name, pts(&|e| c.seconds[e])));
    }
    let last = &curves[3];
    by_epoch = by_epoch
        .with(Series::line(
            "SGD, constant step, averaged",
            last.averaged
                .iter()
                .enumerate()
                .map(|(e, &s)| (e as f64, s))
                .collect(),
        ))
        .with(Series::reference(
            "linear rate (1 − μ/L)ᵉ",
            (0..=epochs)
                .map(|e| {
                    (
                        e as f64,
                        curves[0].subopt[0] * (1.0 - mu / l).powi(e as i32),
                    )
                })
                .collect(),
        ));
    let s1 = curves[1].subopt[1];
    by_examples = by_examples.with(Series::reference(
        "O(1/t)",
        (1..=epochs)
            .map(|e| ((e * n) as f64, s1 / e as f64))
            .collect(),
    ));
    report
        .figures
        .extend(by_epoch.save(common, "rates-epochs.svg")?);
    report
        .figures
        .extend(by_examples.save(common, "rates-examples.svg")?);
    report
        .figures
        .extend(by_time.save(common, "rates-time.svg")?);

    let gd = &curves[0].subopt;
    let gd_rate = (gd[epochs] / gd[0]).powf(1.0 / epochs as f64);
    report.metric("gd_rate", num(gd_rate));
    report.claim(
        format!(
            "batch GD converges linearly, {gd_rate:.4} per epoch ≤ 1 − μ/L = {:.4}",
            1.0 - mu / l
        ),
        gd_rate <= 1.0 - mu / l,
    );
    report.claim(
        "after one epoch SGD is closer to the optimum than batch GD",
        curves[1].subopt[1] < gd[1],
    );
    let c = &curves[3];
    report.claim(
        "with a constant step, the averaged iterate is closer than the last one",
        c.averaged[epochs] < c.subopt[epochs],
    );
    let sgd = &curves[1].subopt;
    let slope = (sgd[epochs] / sgd[epochs / 2]).ln() / (epochs as f64 / (epochs / 2) as f64).ln();
    report.metric("sgd_slope", num(slope));
    report.claim(
        format!(
            "SGD's suboptimality falls like t^{slope:.2} over the second half (O(1/t) or faster)"
        ),
        slope < -0.5,
    );
    Ok(report)
}
