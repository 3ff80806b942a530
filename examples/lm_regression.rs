//! Fits a small tanh network (1 → 10 → 1, 31 parameters) to a 1-D regression with
//! Levenberg–Marquardt, L-BFGS and Adam, and compares iterations and wall time to reach a
//! training MSE in one table.
//!
//! ```sh
//! cargo run --release --example lm_regression -- [--target 1e-4] [--seed 0] [--json]
//! ```
//! LM sees the 64 residuals `net(xᵢ) − yᵢ` and their Jacobian from the tape; L-BFGS (strong
//! Wolfe, one iteration per `step` call, history kept; each call also evaluates its start
//! point, as PyTorch's does) and Adam (`lr=0.01`) see the loss
//! `mean (net(xᵢ) − yᵢ)²` and its gradient. Every method starts from the same seeded weights.

mod cli;

use clap::Parser;
use descent::autodiff::{Param, Tape, Var};
use descent::optim::{
    batch::{
        BatchMethod, BatchReport, Lbfgs, LbfgsConfig, LeastSquaresMethod, LevenbergMarquardt,
        LineSearch, LmConfig, StopTolerances, TapeObjective, TapeResiduals,
    },
    build,
};
use descent::tensor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

const HIDDEN: usize = 10;
const POINTS: usize = 64;
const PARAMS: usize = 3 * HIDDEN + 1;

/// The data: y = 0.8 sin(πx) + 0.3 x² on 64 points of [−1, 1].
fn data() -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..POINTS)
        .map(|i| -1.0 + 2.0 * i as f64 / (POINTS - 1) as f64)
        .collect();
    let y = x
        .iter()
        .map(|x| 0.8 * (std::f64::consts::PI * x).sin() + 0.3 * x * x)
        .collect();
    (x, y)
}

/// The residuals `net(x) − y` of the network whose weights are the flat vector `p`:
/// `[W₁ (10) | b₁ (10) | W₂ (10) | b₂ (1)]`.
fn residuals<'t>(tape: &'t Tape<f64>, p: Var<'t, f64>) -> descent::autodiff::Result<Var<'t, f64>> {
    let (x, y) = data();
    let h = HIDDEN as isize;
    let x = tape.constant(Tensor::from_vec(x, &[POINTS, 1])?);
    let w1 = p.narrow(0, 0, HIDDEN)?.reshape(&[1, h])?;
    let b1 = p.narrow(0, HIDDEN, HIDDEN)?;
    let w2 = p.narrow(0, 2 * HIDDEN, HIDDEN)?.reshape(&[h, 1])?;
    let b2 = p.narrow(0, 3 * HIDDEN, 1)?;
    let hidden = x.matmul(w1)?.add(b1)?.tanh()?;
    let out = hidden.matmul(w2)?.reshape(&[POINTS as isize])?.add(b2)?;
    out.sub(tape.constant(Tensor::from_vec(y, &[POINTS])?))
}

fn mse<'t>(tape: &'t Tape<f64>, p: Var<'t, f64>) -> descent::autodiff::Result<Var<'t, f64>> {
    residuals(tape, p)?.square()?.mean(&[], false)
}

/// One method's run to the target.
struct Run {
    method: &'static str,
    iterations: usize,
    evaluations: usize,
    jacobians: usize,
    mse: f64,
    millis: f64,
    reached: bool,
}

impl Run {
    fn new(method: &'static str) -> Self {
        Run {
            method,
            iterations: 0,
            evaluations: 0,
            jacobians: 0,
            mse: f64::NAN,
            millis: 0.0,
            reached: false,
        }
    }

    fn finish(&mut self, start: Instant, target: f64) {
        self.millis = start.elapsed().as_secs_f64() * 1e3;
        self.reached = self.mse <= target;
    }
}

/// Fits a 1 → 10 → 1 tanh network to 64 points of `0.8 sin(πx) + 0.3x²` with
/// Levenberg–Marquardt (on the residuals and their Jacobian), L-BFGS with a strong Wolfe
/// line search and Adam (on the mean squared error), all from the same seeded weights, and
/// prints each method's iterations, evaluations and time to reach the target MSE.
#[derive(Parser, Debug)]
#[command(version, long_about = None)]
struct Args {
    /// The training MSE each method runs to (a finite number ≥ 0; 0 runs each to its limit).
    #[arg(long, default_value_t = 1e-4, value_parser = parse_target)]
    target: f64,
    /// Seed for the starting weights.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object per method instead of the table.
    #[arg(long)]
    json: bool,
}

fn parse_target(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(t) if t >= 0.0 && t.is_finite() => Ok(t),
        _ => Err(format!("{s} is not a finite number >= 0")),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = run(args.target, args.seed).and_then(|runs| print(&runs, args.target, args.json));
    cli::finish("lm_regression", result.map(|()| ExitCode::SUCCESS))
}

fn run(target: f64, seed: u64) -> Result<Vec<Run>, Box<dyn std::error::Error>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let x0: Vec<f64> = (0..PARAMS).map(|_| rng.random_range(-1.0..1.0)).collect();
    let no_tolerance = StopTolerances {
        tolerance_grad: 0.0,
        tolerance_change: 0.0,
    };

    // Levenberg–Marquardt on the residuals (loss Σ r², so MSE = loss / 64).
    let mut lm = LevenbergMarquardt::new(LmConfig {
        tolerances: no_tolerance,
        ..Default::default()
    })?;
    let mut least_squares = TapeResiduals::new(residuals);
    let lm_run = batch(
        "Levenberg–Marquardt",
        |x| lm.step(x, &mut least_squares),
        &x0,
        POINTS as f64,
        target,
        500,
    )?;

    // L-BFGS (strong Wolfe) on the MSE, one iteration per call so the target is seen at once.
    let mut lbfgs = Lbfgs::new(LbfgsConfig {
        max_iter: 1,
        line_search: Some(LineSearch::WOLFE),
        tolerance_grad: 0.0,
        tolerance_change: 0.0,
        ..Default::default()
    })?;
    let mut loss = TapeObjective::new(mse);
    let lbfgs_run = batch(
        "L-BFGS (strong Wolfe)",
        |x| lbfgs.step(x, &mut loss),
        &x0,
        1.0,
        target,
        20_000,
    )?;

    // Adam (torch's defaults but lr = 0.01), one gradient per step.
    let mut adam_run = Run::new("Adam (lr=0.01)");
    let start = Instant::now();
    let mut w = Param::new(Tensor::from_vec(x0.clone(), &[PARAMS])?);
    let mut adam = build::<f64>("adam:lr=0.01")?;
    for _ in 0..100_000 {
        let tape = Tape::new();
        let loss = mse(&tape, tape.param(&w))?;
        adam_run.mse = loss.item()?;
        if adam_run.mse <= target {
            break;
        }
        adam.step(&mut [&mut w], &loss.backward()?)?;
        adam_run.iterations += 1;
        adam_run.evaluations += 1;
    }
    adam_run.finish(start, target);
    Ok(vec![lm_run, lbfgs_run, adam_run])
}

/// Calls `step` (a method's step on its objective) from `x0` until the MSE (its loss /
/// `per_mse`) reaches `target`, a stopping test fires, or `max_steps`.
fn batch(
    name: &'static str,
    mut step: impl FnMut(&mut [f64]) -> descent::optim::Result<BatchReport>,
    x0: &[f64],
    per_mse: f64,
    target: f64,
    max_steps: usize,
) -> Result<Run, Box<dyn std::error::Error>> {
    let mut run = Run::new(name);
    let start = Instant::now();
    let mut x = x0.to_vec();
    for _ in 0..max_steps {
        let r = step(&mut x)?;
        run.iterations += r.iterations;
        run.evaluations += r.function_evals;
        run.jacobians += r.hessian_evals;
        run.mse = r.loss / per_mse; // at the accepted point
        if run.mse <= target || r.reason.is_terminal() {
            break;
        }
    }
    run.finish(start, target);
    Ok(run)
}

fn print(runs: &[Run], target: f64, json: bool) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::io::stdout().lock();
    if json {
        for r in runs {
            writeln!(out,
                "{{\"method\":\"{}\",\"iterations\":{},\"evaluations\":{},\"jacobians\":{},\"mse\":{:e},\"millis\":{:.3},\"reached\":{},\"target\":{target:e}}}",
                r.method, r.iterations, r.evaluations, r.jacobians, r.mse, r.millis, r.reached
            )?;
        }
        return Ok(());
    }
    writeln!(out, "1-D regression, tanh MLP 1→{HIDDEN}→1 ({PARAMS} parameters), {POINTS} points; target MSE {target:e}")?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<24} {:>10} {:>12} {:>10} {:>12} {:>10}  reached",
        "method", "iterations", "evaluations", "Jacobians", "final MSE", "time (ms)"
    )?;
    for r in runs {
        writeln!(
            out,
            "{:<24} {:>10} {:>12} {:>10} {:>12.3e} {:>10.1}  {}",
            r.method,
            r.iterations,
            r.evaluations,
            r.jacobians,
            r.mse,
            r.millis,
            if r.reached { "yes" } else { "no" }
        )?;
    }
    Ok(())
}
