//! "Chasing the latest input": online estimation of a mean θₜ that drifts as a random walk
//! (`θₜ = θₜ₋₁ + q·ξₜ`), seen through noisy samples `xₜ = θₜ + s·ζₜ`. A constant rate η
//! (`m ← m + η(x − m)`) forgets at a fixed speed and settles to a steady-state error
//! variance `V = ((1−η)²q² + η²s²) / (η(2−η))`; the rate 1/t (the running mean) and the
//! polynomial-decay average (γ = 3) of the constant-rate iterate remember ever longer, so
//! they beat the constant rate on a fixed mean and fall ever further behind a drifting one.

use crate::plot::{Chart, Series};
use crate::report::{num, usage, Rand};
use crate::{Common, Error, Report};
use descent::autodiff::Param;
use descent::optim::first_order::{Averager, Averaging};
use descent::tensor::Tensor;
use serde_json::json;

/// Flags of `tracking`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The constant rate η, in (0, 1].
    #[arg(long, default_value_t = 0.05)]
    rate: f64,
    /// The drift q: the standard deviation of the mean's step (≥ 0).
    #[arg(long, default_value_t = 0.01)]
    drift: f64,
    /// The sample noise s (> 0).
    #[arg(long, default_value_t = 1.0)]
    noise: f64,
}

impl Args {
    /// Checks the ranges.
    pub fn check(&self) -> Result<(), Error> {
        if !(self.rate > 0.0 && self.rate <= 1.0) {
            return Err(usage(format!("--rate {}: must be in (0, 1]", self.rate)));
        }
        if !(self.drift >= 0.0 && self.drift.is_finite()) {
            return Err(usage(format!(
                "--drift {}: must be finite and ≥ 0",
                self.drift
            )));
        }
        if !(self.noise > 0.0 && self.noise.is_finite()) {
            return Err(usage(format!(
                "--noise {}: must be finite and > 0",
                self.noise
            )));
        }
        Ok(())
    }
}

/// The estimators, in table order.
const NAMES: [&str; 3] = ["constant rate", "1/t", "polynomial average γ=3"];

/// Squared errors of the three estimators at every step of one run, and (for the figure)
/// the run's means, samples and estimates.
struct Run {
    sq_err: [Vec<f64>; 3],
    trace: Vec<[f64; 5]>,
}

/// One run of `steps` samples with drift `q`.
fn one_run(args: &Args, q: f64, steps: usize, rng: &mut Rand) -> Result<Run, Error> {
    let (eta, s) = (args.rate, args.noise);
    let mut averager = Averager::<f64>::new(Averaging::Polynomial { gamma: 3.0 })?;
    let mut m_const = Param::new(Tensor::from_vec(vec![0.0], &[1])?);
    let (mut theta, mut m_mean) = (0.0f64, 0.0f64);
    let mut sq_err: [Vec<f64>; 3] = Default::default();
    let mut trace = Vec::with_capacity(steps);
    for t in 1..=steps {
        theta += q * rng.normal();
        let x = theta + s * rng.normal();
        let m = m_const.value.item()?;
        m_const.value = Tensor::from_vec(vec![m + eta * (x - m)], &[1])?;
        m_mean += (x - m_mean) / t as f64;
        averager.update(&[&m_const])?;
        let avg = averager
            .average(m_const.id())
            .map_or(f64::NAN, |(_, a)| a.to_vec()[0]);
        let est = [m_const.value.item()?, m_mean, avg];
        for (k, e) in est.iter().enumerate() {
            sq_err[k].push((e - theta).powi(2));
        }
        trace.push([theta, x, est[0], est[1], est[2]]);
    }
    Ok(Run { sq_err, trace })
}

/// The mean squared error of each estimator at every step over `runs` runs.
fn mse(
    args: &Args,
    q: f64,
    steps: usize,
    runs: usize,
    rng: &mut Rand,
) -> Result<(Vec<[f64; 3]>, Run), Error> {
    let mut total = vec![[0.0; 3]; steps];
    let mut first = None;
    for _ in 0..runs {
        let run = one_run(args, q, steps, rng)?;
        for (t, row) in total.iter_mut().enumerate() {
            for (cell, errors) in row.iter_mut().zip(&run.sq_err) {
                *cell += errors[t] / runs as f64;
            }
        }
        first.get_or_insert(run);
    }
    Ok((total, first.expect("runs ≥ 1")))
}

/// The mean of `rows[k]` over the second half.
fn late(rows: &[[f64; 3]], k: usize) -> f64 {
    let half = &rows[rows.len() / 2..];
    half.iter().map(|r| r[k]).sum::<f64>() / half.len() as f64
}

/// Runs the experiment.
pub fn run(common: &Common, args: &Args) -> Result<Report, Error> {
    let (steps, runs) = if common.quick {
        (4000, 20)
    } else {
        (20000, 50)
    };
    let (eta, q, s) = (args.rate, args.drift, args.noise);
    let theory = ((1.0 - eta).powi(2) * q * q + eta * eta * s * s) / (eta * (2.0 - eta));
    let mut report = Report::new(
        "tracking",
        &[
            "estimator",
            "MSE, drifting (2nd half)",
            "MSE, fixed mean (2nd half)",
            "theory (constant rate)",
        ],
    );
    let (drifting, trace) = mse(args, q, steps, runs, &mut Rand::new(common.seed, 1))?;
    let (fixed, _) = mse(args, 0.0, steps, runs, &mut Rand::new(common.seed, 2))?;
    let theory_fixed = eta * s * s / (2.0 - eta);
    let keys = ["constant", "one_over_t", "polynomial"];
    for k in 0..3 {
        let t = if k == 0 {
            json!(format!("{theory:.4} / {theory_fixed:.4}"))
        } else {
            json!("-")
        };
        report.row(vec![
            json!(NAMES[k]),
            num(late(&drifting, k)),
            num(late(&fixed, k)),
            t,
        ]);
        report.metric(&format!("{}_drifting", keys[k]), num(late(&drifting, k)));
        report.metric(&format!("{}_fixed", keys[k]), num(late(&fixed, k)));
    }
    report.metric("theory_drifting", num(theory));
    report.metric("theory_fixed", num(theory_fixed));

    let every = (steps / 400).max(1);
    let t_of = |i: usize| (i + 1) as f64;
    let mut chart = Chart::new(
        format!("tracking a drifting mean (q = {q}, s = {s}, η = {eta})"),
        "sample t",
        "value",
    )
    .with(Series::dots(
        "samples",
        trace
            .trace
            .iter()
            .enumerate()
            .step_by(every)
            .map(|(i, r)| (t_of(i), r[1]))
            .collect(),
    ))
    .with(Series::reference(
        "true mean θ",
        trace
            .trace
            .iter()
            .enumerate()
            .map(|(i, r)| (t_of(i), r[0]))
            .collect(),
    ));
    for (k, name) in NAMES.iter().enumerate() {
        chart = chart.with(Series::line(
            *name,
            trace
                .trace
                .iter()
                .enumerate()
                .step_by(every)
                .map(|(i, r)| (t_of(i), r[2 + k]))
                .collect(),
        ));
    }
    report
        .figures
        .extend(chart.save(common, "tracking-trace.svg")?);
    let mut chart = Chart::new(
        format!("mean squared error over {runs} runs"),
        "sample t",
        "E(m − θ)²",
    )
    .log(true, true);
    for (k, name) in NAMES.iter().enumerate() {
        let pts = (0..steps)
            .filter(|i| i % every == 0)
            .map(|i| (t_of(i), drifting[i][k]))
            .collect();
        chart = chart.with(Series::line(format!("{name}, drifting"), pts));
    }
    chart = chart
        .with(Series::line(
            "1/t, fixed mean",
            (0..steps)
                .filter(|i| i % every == 0)
                .map(|i| (t_of(i), fixed[i][1]))
                .collect(),
        ))
        .with(Series::reference(
            "steady state, theory",
            vec![(1.0, theory), (steps as f64, theory)],
        ));
    report
        .figures
        .extend(chart.save(common, "tracking-mse.svg")?);

    let metrics = report.metrics.clone();

    let m = |k: &str| metrics[k].as_f64().unwrap_or(f64::NAN);
    report.claim(
        format!(
            "the constant rate's steady-state MSE {:.4} is within 15% of theory {theory:.4}",
            m("constant_drifting")
        ),
        (m("constant_drifting") / theory - 1.0).abs() < 0.15,
    );
    report.claim(
        "on a drifting mean, 1/t falls behind: its MSE is over 3× the constant rate's",
        m("one_over_t_drifting") > 3.0 * m("constant_drifting"),
    );
    report.claim(
        "on a fixed mean, 1/t and the polynomial average beat the constant rate",
        m("one_over_t_fixed") < m("constant_fixed") && m("polynomial_fixed") < m("constant_fixed"),
    );
    Ok(report)
}
