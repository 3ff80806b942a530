//! Curvature and convergence on the lectures' quadratic `L(w) = ½ wᵀAw − bᵀw`.
//!
//! The Hessian is `A`; its eigenvalues `λ₁ ≤ … ≤ λ_M` (dense, and the extremes again by
//! Lanczos on Hessian-vector products) give the condition number `κ = λ_M/λ₁`. Gradient
//! descent with the optimal step `2/(λ₁ + λ_M)` then shrinks the error by `(κ−1)/(κ+1)` per
//! step — measured here against that theory — while Newton's method, with the tape's exact
//! Hessian, lands on the minimum in one step.
//!
//! ```sh
//! cargo run --release --example curvature -- [--dim 20] [--kappa 100] [--steps 100000] [--seed 0] [--json]
//! ```
//! `A = Q diag(λ) Q` with `λ` evenly spaced in `[1, κ]` and `Q = I − 2vvᵀ` for a random unit
//! `v` (a Householder reflection: orthogonal and symmetric, so `A⁻¹ = Q diag(1/λ) Q`).

mod cli;

use clap::builder::RangedU64ValueParser;
use clap::Parser;
use descent::autodiff::{Tape, Var};
use descent::optim::batch::curvature::{hessian_spectrum, lanczos};
use descent::optim::batch::{Newton, Objective, TapeObjective};
use descent::tensor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::process::ExitCode;

/// The most parameters whose Hessian is built and decomposed densely.
const DENSE_LIMIT: u64 = 4096;

/// Builds the quadratic `½ wᵀAw − bᵀw` with eigenvalues evenly spaced in [1, κ], computes
/// its Hessian spectrum densely and by Lanczos, and compares gradient descent's measured
/// convergence rate with the theory `(κ−1)/(κ+1)` and with one step of Newton's method.
#[derive(Parser, Debug)]
#[command(version, long_about = None)]
struct Args {
    /// Parameters M (the Hessian is M × M, built densely: 2 to 4096).
    #[arg(long, default_value_t = 20, value_parser = RangedU64ValueParser::<usize>::new().range(2..=DENSE_LIMIT))]
    dim: usize,
    /// Condition number κ, the ratio of the largest to the smallest eigenvalue (finite, ≥ 1).
    #[arg(long, default_value_t = 100.0, value_parser = parse_kappa)]
    kappa: f64,
    /// Most gradient-descent steps per run (10 to 10000000).
    #[arg(long, default_value_t = 100_000, value_parser = RangedU64ValueParser::<usize>::new().range(10..=10_000_000))]
    steps: usize,
    /// Seed for the reflection, `b` and the Lanczos start vector.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    json: bool,
}

fn parse_kappa(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(k) if k >= 1.0 && k.is_finite() => Ok(k),
        _ => Err(format!("{s} is not a finite number >= 1")),
    }
}

/// `Q diag(d) Q` for the Householder `Q = I − 2vvᵀ`, row-major, in O(M²):
/// `diag(d) − 2v(dv)ᵀ − 2(dv)vᵀ + 4(vᵀdv)vvᵀ`, with `dv = d ⊙ v`.
fn reflect(v: &[f64], d: &[f64]) -> Vec<f64> {
    let m = v.len();
    let dv: Vec<f64> = d.iter().zip(v).map(|(d, v)| d * v).collect();
    let s: f64 = dv.iter().zip(v).map(|(a, b)| a * b).sum();
    let mut out = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..m {
            let diag = if i == j { d[i] } else { 0.0 };
            out[i * m + j] = diag - 2.0 * v[i] * dv[j] - 2.0 * dv[i] * v[j] + 4.0 * s * v[i] * v[j];
        }
    }
    out
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).powi(2))
        .sum::<f64>()
        .sqrt()
}

fn main() -> ExitCode {
    cli::finish("curvature", run(&Args::parse()).map(|()| ExitCode::SUCCESS))
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let m = args.dim;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut v: Vec<f64> = (0..m).map(|_| rng.random_range(-1.0..1.0)).collect();
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    v.iter_mut().for_each(|x| *x /= norm);
    let lambdas: Vec<f64> = (0..m)
        .map(|i| 1.0 + (args.kappa - 1.0) * i as f64 / (m - 1) as f64)
        .collect();
    let a = reflect(&v, &lambdas);
    let b: Vec<f64> = (0..m).map(|_| rng.random_range(-1.0..1.0)).collect();
    // w* = A⁻¹b = Q diag(1/λ) Q b.
    let inv = reflect(&v, &lambdas.iter().map(|l| 1.0 / l).collect::<Vec<_>>());
    let w_star: Vec<f64> = (0..m)
        .map(|i| (0..m).map(|j| inv[i * m + j] * b[j]).sum())
        .collect();

    let (a_t, b_t) = (Tensor::from_vec(a, &[m, m])?, Tensor::from_vec(b, &[m])?);
    let mut loss = TapeObjective::new(move |tape: &Tape<f64>, w: Var<'_, f64>| {
        let aw = tape
            .constant(a_t.clone())
            .matmul(w.reshape(&[m as isize, 1])?)?
            .reshape(&[m as isize])?;
        let quad = w.mul(aw)?.sum(&[], false)?.mul_scalar(0.5)?;
        quad.sub(w.mul(tape.constant(b_t.clone()))?.sum(&[], false)?)
    });
    let w0 = vec![0.0; m];

    // The Hessian's spectrum, dense and by Lanczos.
    let spectrum = hessian_spectrum(&mut loss, &w0, DENSE_LIMIT as usize)?;
    let kappa = spectrum
        .condition_number()
        .ok_or("the Hessian is not positive definite")?;
    let (step, theory) = spectrum
        .gradient_descent_rate()
        .ok_or("the Hessian is not positive definite")?;
    let extremes = lanczos(m, &mut |u| loss.hvp(&w0, u), m.min(40), args.seed)?;

    // Gradient descent at the optimal step, and at 1/λ_M for comparison: run until the error
    // has fallen by 1e-9 (before rounding takes over) or --steps, and measure the rate over
    // the last tenth of the run (after the faster eigen-components have died out).
    let mut rates = vec![];
    for alpha in [step, 1.0 / spectrum.largest()] {
        let mut w = w0.clone();
        let mut errs = vec![distance(&w, &w_star)];
        while errs.len() <= args.steps && errs[errs.len() - 1] > 1e-9 * errs[0] {
            let (_, g) = loss.value_grad(&w)?;
            w.iter_mut().zip(&g).for_each(|(wi, gi)| *wi -= alpha * gi);
            errs.push(distance(&w, &w_star));
        }
        let k = errs.len() - 1;
        let window = (k / 10).max(1);
        let measured = (errs[k] / errs[k - window]).powf(1.0 / window as f64);
        rates.push((alpha, measured, k));
    }

    // Newton: one step.
    let mut w = w0.clone();
    let report = Newton::default().step(&mut w, &mut loss)?;
    let newton_err = distance(&w, &w_star);

    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(
            out,
            "{{\"dim\":{m},\"lambda_min\":{},\"lambda_max\":{},\"kappa\":{kappa},\"lanczos_min\":{},\"lanczos_max\":{},\"lanczos_steps\":{},\"gd_step\":{step},\"gd_rate_theory\":{theory},\"gd_rate_measured\":{},\"gd_steps\":{},\"gd_rate_1_over_lmax\":{},\"gd_rate_1_over_lmax_theory\":{},\"newton_error_after_one_step\":{newton_err:e},\"newton_iterations\":{}}}",
            spectrum.smallest(),
            spectrum.largest(),
            extremes.smallest,
            extremes.largest,
            extremes.steps,
            rates[0].1,
            rates[0].2,
            rates[1].1,
            1.0 - 1.0 / kappa,
            report.iterations
        )?;
        return Ok(());
    }
    writeln!(
        out,
        "L(w) = ½ wᵀAw − bᵀw, {m} parameters, eigenvalues evenly spaced in [1, {}]",
        args.kappa
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "Hessian spectrum            λ₁ = {:.6}   λ_M = {:.6}   κ = {kappa:.4}",
        spectrum.smallest(),
        spectrum.largest()
    )?;
    writeln!(
        out,
        "Lanczos ({:>2} H·v products)  λ₁ ≈ {:.6}   λ_M ≈ {:.6}   κ ≈ {:.4}",
        extremes.steps,
        extremes.smallest,
        extremes.largest,
        extremes.condition_number().unwrap_or(f64::NAN)
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<30} {:>10} {:>14} {:>16} {:>18}",
        "method", "step", "rate (theory)", "rate (measured)", "steps to 1e-9·|e₀|"
    )?;
    writeln!(
        out,
        "{:<30} {:>10.6} {:>14.8} {:>16.8} {:>18}",
        "GD, α = 2/(λ₁+λ_M)", rates[0].0, theory, rates[0].1, rates[0].2
    )?;
    writeln!(
        out,
        "{:<30} {:>10.6} {:>14.8} {:>16.8} {:>18}",
        "GD, α = 1/λ_M",
        rates[1].0,
        1.0 - 1.0 / kappa,
        rates[1].1,
        rates[1].2
    )?;
    writeln!(
        out,
        "{:<30} {:>10} {:>14} {:>16} {:>18}",
        "Newton (exact Hessian)", "1", "-", "-", report.iterations
    )?;
    writeln!(out)?;
    writeln!(out, "Newton after one step: |w − w*| = {newton_err:.3e}")?;
    Ok(())
}
