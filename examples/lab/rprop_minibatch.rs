//! The lectures' counter-example for Rprop on mini-batches: one weight whose mini-batch
//! gradients are +0.1 nine times and −0.9 once per cycle, so the full-batch gradient is
//! zero and the weight should stay put. SGD adds the gradients (their sum is 0) and stays;
//! RMSProp divides them all by about the same running RMS and nearly stays; Rprop keeps
//! only their signs, so nine steps one way and one the other make it drift linearly.

use crate::descend::{descend, linear};
use crate::plot::{Chart, Series};
use crate::report::num;
use crate::{Common, Error, Report};
use serde_json::json;

/// Flags of `rprop-minibatch`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Cycles of ten mini-batches (default 200; 40 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=1_000_000))]
    cycles: Option<u64>,
}

impl Args {
    /// Nothing to check beyond clap's ranges.
    pub fn check(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// The optimizers compared, with their learning rates: torch's defaults for Rprop and
/// RMSProp, and the same rate for SGD.
const OPTIMIZERS: [(&str, &str); 3] = [
    ("sgd", "sgd:lr=0.01"),
    ("rmsprop", "rmsprop:lr=0.01"),
    ("rprop", "rprop:lr=0.01"),
];

/// The gradient of the `t`-th mini-batch (t from 0).
fn gradient(t: usize) -> f64 {
    if t % 10 == 9 {
        -0.9
    } else {
        0.1
    }
}

/// Runs the experiment.
pub fn run(common: &Common, args: &Args) -> Result<Report, Error> {
    let cycles = args
        .cycles
        .map_or(if common.quick { 40 } else { 200 }, |c| c as usize);
    let steps = 10 * cycles;
    let mut report = Report::new(
        "rprop-minibatch",
        &[
            "optimizer",
            "w after half",
            "w at end",
            "max |w|",
            "drift per cycle (last quarter)",
        ],
    );
    let mut chart = Chart::new(
        "mini-batch gradients +0.1 ×9, −0.9 ×1 (full gradient 0)",
        "mini-batch step",
        "w",
    );
    for (name, spec) in OPTIMIZERS {
        let path = descend(spec, &[0.0], steps, |t, tape, w| {
            linear(tape, w, &[gradient(t)])
        })?;
        let w: Vec<f64> = path.iter().map(|p| p[0]).collect();
        let at = |q: usize| w[cycles * q / 4 * 10];
        let (half, three_quarters, end) = (at(2), at(3), w[steps]);
        let max = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let drift = (end - three_quarters) / (cycles - cycles * 3 / 4) as f64;
        report.row(vec![json!(name), num(half), num(end), num(max), num(drift)]);
        report.metric(&format!("{name}_half"), num(half));
        report.metric(&format!("{name}_three_quarters"), num(three_quarters));
        report.metric(&format!("{name}_end"), num(end));
        report.metric(&format!("{name}_max_abs"), num(max));
        report.metric(&format!("{name}_drift_per_cycle"), num(drift));
        chart = chart.with(Series::line(
            spec,
            w.iter().enumerate().map(|(t, &v)| (t as f64, v)).collect(),
        ));
    }
    report
        .figures
        .extend(chart.save(common, "rprop-minibatch.svg")?);
    let metrics = report.metrics.clone();
    let m = |k: &str| metrics[k].as_f64().unwrap_or(f64::NAN);
    let (q2, q3, q4) = (m("rprop_half"), m("rprop_three_quarters"), m("rprop_end"));
    report.claim(
        format!(
            "Rprop drifts linearly: as far in the last quarter as in the third ({:.1} vs {:.1})",
            q4 - q3,
            q3 - q2
        ),
        ((q4 - q3) / (q3 - q2) - 1.0).abs() < 0.1 && q4.abs() > 1.0,
    );
    report.claim(
        "SGD stays within one cycle's excursion (|w| ≤ 9 · 0.1 · lr)",
        m("sgd_max_abs") <= 0.009 + 1e-12,
    );
    report.claim(
        "RMSProp's drift per cycle is under 5% of Rprop's",
        m("rmsprop_drift_per_cycle").abs() < 0.05 * m("rprop_drift_per_cycle").abs(),
    );
    Ok(report)
}
