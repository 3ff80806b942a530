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

use descent::autodiff::{Tape, Var};
use descent::optim::curvature::{hessian_spectrum, lanczos};
use descent::optim::{BatchMethod, Newton, Objective, TapeObjective};
use descent::tensor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::process::ExitCode;

struct Args {
    dim: usize,
    kappa: f64,
    steps: usize,
    seed: u64,
    json: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        dim: 20,
        kappa: 100.0,
        steps: 100_000,
        seed: 0,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match flag.as_str() {
            "--dim" => {
                a.dim = value("--dim")?
                    .parse()
                    .map_err(|_| "--dim needs an integer >= 2")?
            }
            "--kappa" => {
                a.kappa = value("--kappa")?
                    .parse()
                    .map_err(|_| "--kappa needs a number >= 1")?
            }
            "--steps" => {
                a.steps = value("--steps")?
                    .parse()
                    .map_err(|_| "--steps needs an integer >= 10")?
            }
            "--seed" => {
                a.seed = value("--seed")?
                    .parse()
                    .map_err(|_| "--seed needs an unsigned integer")?
            }
            "--json" => a.json = true,
            other => {
                return Err(format!(
                    "unknown flag {other}; flags: --dim --kappa --steps --seed --json"
                ))
            }
        }
    }
    if a.dim < 2 || !(a.kappa >= 1.0 && a.kappa.is_finite()) || a.steps < 10 {
        return Err(format!(
            "need --dim >= 2, finite --kappa >= 1, --steps >= 10; got {}, {}, {}",
            a.dim, a.kappa, a.steps
        ));
    }
    Ok(a)
}

/// `Q diag(d) Q` for the Householder `Q = I − 2vvᵀ`, row-major.
fn reflect(v: &[f64], d: &[f64]) -> Vec<f64> {
    let m = v.len();
    let q = |i: usize, j: usize| f64::from(u8::from(i == j)) - 2.0 * v[i] * v[j];
    let mut out = vec![0.0; m * m];
    for i in 0..m {
        for j in 0..m {
            out[i * m + j] = (0..m).map(|k| q(i, k) * d[k] * q(k, j)).sum();
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
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("curvature: {e}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("curvature: {e}");
            ExitCode::FAILURE
        }
    }
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
    let spectrum = hessian_spectrum(&mut loss, &w0, 4096)?;
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

    if args.json {
        println!(
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
        );
        return Ok(());
    }
    println!(
        "L(w) = ½ wᵀAw − bᵀw, {m} parameters, eigenvalues evenly spaced in [1, {}]",
        args.kappa
    );
    println!();
    println!(
        "Hessian spectrum            λ₁ = {:.6}   λ_M = {:.6}   κ = {kappa:.4}",
        spectrum.smallest(),
        spectrum.largest()
    );
    println!(
        "Lanczos ({:>2} H·v products)  λ₁ ≈ {:.6}   λ_M ≈ {:.6}   κ ≈ {:.4}",
        extremes.steps,
        extremes.smallest,
        extremes.largest,
        extremes.condition_number().unwrap_or(f64::NAN)
    );
    println!();
    println!(
        "{:<30} {:>10} {:>14} {:>16} {:>18}",
        "method", "step", "rate (theory)", "rate (measured)", "steps to 1e-9·|e₀|"
    );
    println!(
        "{:<30} {:>10.6} {:>14.8} {:>16.8} {:>18}",
        "GD, α = 2/(λ₁+λ_M)", rates[0].0, theory, rates[0].1, rates[0].2
    );
    println!(
        "{:<30} {:>10.6} {:>14.8} {:>16.8} {:>18}",
        "GD, α = 1/λ_M",
        rates[1].0,
        1.0 - 1.0 / kappa,
        rates[1].1,
        rates[1].2
    );
    println!(
        "{:<30} {:>10} {:>14} {:>16} {:>18}",
        "Newton (exact Hessian)", "1", "-", "-", report.iterations
    );
    println!();
    println!("Newton after one step: |w − w*| = {newton_err:.3e}");
    Ok(())
}
