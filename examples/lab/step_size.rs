//! Step sizes on the lectures' quadratics `w₁² + 2w₂²` and `0.1w₁² + 2w₂²` (Hessian
//! eigenvalues 2, 4 and 0.2, 4): gradient descent contracts each eigen-direction by
//! `1 − αλ` per step, so α = 0.01 crawls, α = 0.48 oscillates (`1 − 0.48·4 = −0.92`) and
//! α = 0.51 diverges (`−1.04`), on either side of `2/λ_max = 0.5`. Then momentum (torch's
//! `v ← μv + g`, `w ← w − αv`): a constant gradient (a plateau) moves `α/(1−μ)` per step,
//! a gradient that flips sign every step (across a ravine) moves only `α/(1+μ)`.

use crate::descend::{descend, linear, quadratic};
use crate::plot::{Chart, Path2d, Series};
use crate::report::{num, usage};
use crate::{Common, Error, Report};
use serde_json::json;

/// Flags of `step-size`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Gradient-descent steps per path (default 100; 30 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=100_000))]
    steps: Option<u64>,
    /// Momentum μ for the plateau and ravine measurements, in [0, 1).
    #[arg(long, default_value_t = 0.9)]
    momentum: f64,
}

impl Args {
    /// Checks what clap cannot.
    pub fn check(&self) -> Result<(), Error> {
        if !(0.0..1.0).contains(&self.momentum) {
            return Err(usage(format!(
                "--momentum {}: must be in [0, 1)",
                self.momentum
            )));
        }
        Ok(())
    }
}

/// The step sizes the lecture shows.
const ALPHAS: [f64; 3] = [0.01, 0.48, 0.51];

/// The two quadratics as coefficients `c` of `Σ cᵢwᵢ²` (Hessian `2c`).
const FUNCTIONS: [(&str, [f64; 2]); 2] =
    [("w1^2+2w2^2", [1.0, 2.0]), ("0.1w1^2+2w2^2", [0.1, 2.0])];

/// Runs the experiment.
pub fn run(common: &Common, args: &Args) -> Result<Report, Error> {
    let steps = args
        .steps
        .map_or(if common.quick { 30 } else { 100 }, |s| s as usize);
    let mut report = Report::new(
        "step-size",
        &[
            "function",
            "alpha",
            "alpha*lmax",
            "theory |1-a*l2|",
            "measured w2 ratio/step",
            "w2 alternates",
            "final loss",
        ],
    );
    let w0 = [1.5, 1.0];
    let lambda_max = 4.0; // 2 · 2, for both functions
    let mut contraction_points = Vec::new();
    for (fi, (name, c)) in FUNCTIONS.iter().enumerate() {
        let mut curves =
            Chart::new(format!("gradient descent on {name}"), "step", "loss").log(false, true);
        let mut paths = Vec::new();
        for &alpha in &ALPHAS {
            let path = descend(&format!("sgd:lr={alpha}"), &w0, steps, |_, tape, w| {
                quadratic(tape, w, c)
            })?;
            let loss = |w: &[f64]| c[0] * w[0] * w[0] + c[1] * w[1] * w[1];
            let w2: Vec<f64> = path.iter().map(|w| w[1]).collect();
            let alternates = w2.windows(2).all(|p| p[0] * p[1] < 0.0);
            let ratio = (w2[w2.len() - 1].abs() / w2[0].abs()).powf(1.0 / (w2.len() - 1) as f64);
            let theory = (1.0 - alpha * 2.0 * c[1]).abs();
            let last = loss(&path[path.len() - 1]);
            let key = format!("f{}_alpha{alpha}", fi + 1);
            report.metric(&format!("{key}_w2_ratio"), num(ratio));
            report.metric(&format!("{key}_theory_ratio"), num(theory));
            report.metric(&format!("{key}_alternates"), alternates);
            report.metric(&format!("{key}_final_loss"), num(last));
            report.metric(&format!("{key}_w2"), json!(w2));
            report.row(vec![
                json!(name),
                num(alpha),
                num(alpha * lambda_max),
                num(theory),
                num(ratio),
                json!(alternates),
                num(last),
            ]);
            if fi == 0 {
                contraction_points.push((alpha, ratio));
            }
            curves = curves.with(Series::line(
                format!("α = {alpha}"),
                path.iter()
                    .enumerate()
                    .map(|(t, w)| (t as f64, loss(w)))
                    .collect(),
            ));
            paths.push(Path2d {
                label: format!("α = {alpha}"),
                points: path.iter().map(|w| (w[0], w[1])).collect(),
            });
        }
        report
            .figures
            .extend(curves.save(common, &format!("step-size-loss-f{}.svg", fi + 1))?);
        let f = |x: f64, y: f64| c[0] * x * x + c[1] * y * y;
        report.figures.extend(crate::plot::paths(
            common,
            &format!("step-size-paths-f{}.svg", fi + 1),
            &format!("paths on {name}"),
            &f,
            ((-2.0, 2.0), (-2.0, 2.0)),
            &paths,
        )?);
    }

    // The contraction of the steep direction against α, with the 2/λ_max line.
    let grid: Vec<f64> = (0..=120).map(|i| 0.6 * i as f64 / 120.0).collect();
    let chart = Chart::new(
        "per-step contraction of w₂ on w₁² + 2w₂²",
        "step size α",
        "|w₂(t+1)| / |w₂(t)|",
    )
    .with(Series::line(
        "theory |1 − 4α|",
        grid.iter().map(|&a| (a, (1.0 - 4.0 * a).abs())).collect(),
    ))
    .with(Series::dots("measured", contraction_points))
    .with(Series::reference(
        "α = 2/λ_max",
        vec![(0.5, 0.0), (0.5, 1.4)],
    ))
    .with(Series::reference(
        "1 (no progress)",
        vec![(0.0, 1.0), (0.6, 1.0)],
    ));
    report
        .figures
        .extend(chart.save(common, "step-size-contraction.svg")?);

    let (checks, momentum_figure) = momentum(common, args.momentum, steps.max(200))?;
    report.figures.extend(momentum_figure);
    for (k, v) in checks {
        report.metric(&k, num(v));
    }
    let metrics = report.metrics.clone();
    let m = |k: &str| metrics[k].as_f64().unwrap_or(f64::NAN);
    let mu = args.momentum;
    report.row(vec![
        json!(format!("plateau, μ={mu}")),
        num(0.01),
        json!("-"),
        num(1.0 / (1.0 - mu)),
        num(m("plateau_speedup")),
        json!("-"),
        json!("-"),
    ]);
    report.row(vec![
        json!(format!("ravine, μ={mu}")),
        num(0.01),
        json!("-"),
        num(1.0 / (1.0 + mu)),
        num(m("ravine_damping")),
        json!("-"),
        json!("-"),
    ]);

    let b = |k: &str| metrics[k].as_bool().unwrap_or(false);
    let slow = m("f1_alpha0.01_w2_ratio");
    report.claim(
        format!("α = 0.01 is slow: w₂ shrinks by only {slow:.3} per step, without changing sign"),
        slow > 0.9 && slow < 1.0 && !b("f1_alpha0.01_alternates"),
    );
    report.claim(
        "α = 0.48 < 2/λ_max oscillates: w₂ alternates in sign and shrinks",
        b("f1_alpha0.48_alternates") && m("f1_alpha0.48_w2_ratio") < 1.0,
    );
    report.claim(
        "α = 0.51 > 2/λ_max diverges: w₂ alternates in sign and grows",
        b("f1_alpha0.51_alternates") && m("f1_alpha0.51_w2_ratio") > 1.0,
    );
    report.claim(
        format!(
            "momentum moves α/(1−μ) = {:.3}·α on a plateau",
            1.0 / (1.0 - mu)
        ),
        (m("plateau_speedup") * (1.0 - mu) - 1.0).abs() < 0.01,
    );
    report.claim(
        format!(
            "momentum moves α/(1+μ) = {:.3}·α across a ravine",
            1.0 / (1.0 + mu)
        ),
        (m("ravine_damping") * (1.0 + mu) - 1.0).abs() < 0.01,
    );
    Ok(report)
}

/// The files a figure was written to (SVG and PNG).
type Files = Vec<std::path::PathBuf>;

/// The plateau (gradient 1 everywhere) and the ravine (gradient `(−1)ᵗ`) in one dimension,
/// with and without momentum: the distance moved per step over the last half, in units of
/// α (the ravine's: half the swing between consecutive iterates).
fn momentum(common: &Common, mu: f64, steps: usize) -> Result<(Vec<(String, f64)>, Files), Error> {
    let alpha = 0.01;
    let plateau = |spec: &str| descend(spec, &[0.0], steps, |_, tape, w| linear(tape, w, &[1.0]));
    let ravine = |spec: &str| {
        descend(spec, &[0.0], steps, |t, tape, w| {
            linear(tape, w, &[if t % 2 == 0 { 1.0 } else { -1.0 }])
        })
    };
    let with = format!("sgd:lr={alpha},momentum={mu}");
    let without = format!("sgd:lr={alpha}");
    let (p_mom, p_plain) = (plateau(&with)?, plateau(&without)?);
    let (r_mom, r_plain) = (ravine(&with)?, ravine(&without)?);
    let half = steps / 2;
    let speed = |p: &[Vec<f64>]| (p[half][0] - p[steps][0]) / (steps - half) as f64 / alpha;
    let swing = |p: &[Vec<f64>]| (p[steps][0] - p[steps - 1][0]).abs() / alpha;
    let checks = vec![
        ("plateau_speedup".to_string(), speed(&p_mom)),
        ("plateau_plain".to_string(), speed(&p_plain)),
        ("ravine_damping".to_string(), swing(&r_mom)),
        ("ravine_plain".to_string(), swing(&r_plain)),
    ];
    let series = |p: &[Vec<f64>]| {
        p.iter()
            .enumerate()
            .map(|(t, w)| (t as f64, w[0]))
            .collect()
    };
    let chart = Chart::new(
        format!("momentum μ = {mu}: plateau (constant gradient) and ravine (sign flips)"),
        "step",
        "w",
    )
    .with(Series::line("plateau, momentum", series(&p_mom)))
    .with(Series::line("plateau, plain", series(&p_plain)))
    .with(Series::line("ravine, momentum", series(&r_mom)))
    .with(Series::line("ravine, plain", series(&r_plain)));
    Ok((checks, chart.save(common, "step-size-momentum.svg")?))
}
