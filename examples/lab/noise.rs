//! Deterministic against stochastic gradients. The noise is additive and Gaussian, `g + σξ`
//! (a loss `f(w) + σ ξᵀw` on the tape, so the library's SGD sees it as any gradient): on the
//! lecture's 2-D functions the noisy paths wander around the deterministic ones; started
//! exactly on the saddle's stable line, gradient descent walks into the saddle point and
//! stays, while any noise pushes it off and it escapes; and on a tilted double well, noise
//! that is annealed to zero makes the end point depend far less on the start: most starts
//! end in the deeper well, where deterministic descent ends in whichever well it began in.

use crate::descend::descend;
use crate::plot::{Chart, Path2d, Series};
use crate::report::{num, usage, Rand};
use crate::{Common, Error, Report};
use descent::autodiff::{Tape, Var};
use descent::optim::functions::TestFunction;
use descent::tensor::Tensor;
use serde_json::json;

/// Flags of `noise`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The gradient noise σ of the paths and the saddle (≥ 0).
    #[arg(long, default_value_t = 1.0, allow_hyphen_values = true)]
    sigma: f64,
    /// The double well's noise σ₀, held for 60% of the steps, then annealed to 0 (≥ 0).
    #[arg(long, default_value_t = 3.2, allow_hyphen_values = true)]
    anneal_sigma: f64,
}

impl Args {
    /// Checks the ranges.
    pub fn check(&self) -> Result<(), Error> {
        for (flag, v) in [
            ("--sigma", self.sigma),
            ("--anneal-sigma", self.anneal_sigma),
        ] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(usage(format!(
                    "{flag} {v}: a noise level must be finite and ≥ 0"
                )));
            }
        }
        Ok(())
    }
}

/// `f(w) + σ ξᵀw` with a fresh standard normal ξ: the gradient of `f` plus noise.
fn noisy<'t>(
    tape: &'t Tape<f64>,
    w: Var<'t, f64>,
    f: Var<'t, f64>,
    sigma: f64,
    rng: &mut Rand,
) -> Result<Var<'t, f64>, Error> {
    if sigma == 0.0 {
        return Ok(f);
    }
    let xi: Vec<f64> = (0..2).map(|_| sigma * rng.normal()).collect();
    let xi = tape.constant(Tensor::from_vec(xi, &[2])?);
    Ok(f.add(w.mul(xi)?.sum(&[], false)?)?)
}

/// The functions, with a step size, a step count and a start each.
fn functions() -> Vec<(TestFunction, &'static str, f64, usize, [f64; 2])> {
    vec![
        (TestFunction::Beale, "Beale", 0.01, 1000, [1.0, 1.5]),
        (
            TestFunction::Rosenbrock,
            "Rosenbrock's valley",
            0.001,
            2000,
            [-1.5, 2.0],
        ),
        (
            TestFunction::Saddle,
            "the saddle x² − y²",
            0.05,
            60,
            [-1.5, 0.01],
        ),
        (
            TestFunction::Quadratic { a: 1.0, b: 20.0 },
            "the bowl ½(x² + 20y²)",
            0.05,
            200,
            [-1.8, 1.2],
        ),
    ]
}

/// The tilted double well `(x² − 1)² + 0.5x + y²`: a shallow well near x = 0.93 (a barrier
/// of 0.55 to cross) and a deeper one near x = −1.06 (a barrier of 1.55).
fn double_well<'t>(w: Var<'t, f64>) -> Result<Var<'t, f64>, Error> {
    let (x, y) = (w.narrow(0, 0, 1)?, w.narrow(0, 1, 1)?);
    let wells = x.square()?.add_scalar(-1.0)?.square()?;
    Ok(wells
        .add(x.mul_scalar(0.5)?)?
        .add(y.square()?)?
        .sum(&[], false)?)
}

/// Runs the experiment.
pub fn run(common: &Common, args: &Args) -> Result<Report, Error> {
    let scale = if common.quick { 0.5 } else { 1.0 };
    let seeds = if common.quick { 3 } else { 5 };
    let mut report = Report::new(
        "noise",
        &[
            "function",
            "σ",
            "final loss, deterministic",
            "final loss, noisy (mean)",
        ],
    );

    // Paths on the lecture's functions.
    for (fi, (f, name, lr, steps, start)) in functions().into_iter().enumerate() {
        let steps = ((steps as f64) * scale) as usize;
        let spec = format!("sgd:lr={lr}");
        let det = descend(&spec, &start, steps, |_, _, w| Ok(f.eval(w)?))?;
        let mut paths = vec![Path2d {
            label: "deterministic".into(),
            points: det.iter().map(|w| (w[0], w[1])).collect(),
        }];
        let mut noisy_final = 0.0;
        for s in 0..seeds {
            let mut rng = Rand::new(common.seed, 100 * fi as u64 + s as u64);
            let path = descend(&spec, &start, steps, |_, tape, w| {
                noisy(tape, w, f.eval(w)?, args.sigma, &mut rng)
            })?;
            let last = &path[path.len() - 1];
            noisy_final += f.value(last[0], last[1]) / seeds as f64;
            paths.push(Path2d {
                label: format!("σ = {}, seed {s}", args.sigma),
                points: path.iter().map(|w| (w[0], w[1])).collect(),
            });
        }
        let last = &det[det.len() - 1];
        report.row(vec![
            json!(name),
            num(args.sigma),
            num(f.value(last[0], last[1])),
            num(noisy_final),
        ]);
        report.figures.extend(crate::plot::paths(
            common,
            &format!(
                "noise-paths-{}.svg",
                ["beale", "rosenbrock", "saddle", "bowl"][fi]
            ),
            &format!("SGD (lr = {lr}) on {name}, deterministic and noisy"),
            &|x, y| f.value(x, y),
            f.view(),
            &paths,
        )?);
    }

    // The saddle from exactly its stable line y = 0.
    let saddle = TestFunction::Saddle;
    let steps = if common.quick { 60 } else { 100 };
    let start = [-1.5, 0.0];
    let det = descend("sgd:lr=0.05", &start, steps, |_, _, w| Ok(saddle.eval(w)?))?;
    let last = &det[det.len() - 1];
    report.metric(
        "saddle_deterministic_loss",
        num(saddle.value(last[0], last[1])),
    );
    report.metric("saddle_deterministic_y", num(last[1]));
    let sigma = args.sigma.max(1e-3);
    let mut escaped = Vec::new();
    for s in 0..seeds {
        let mut rng = Rand::new(common.seed, 1000 + s as u64);
        let path = descend("sgd:lr=0.05", &start, steps, |_, tape, w| {
            noisy(tape, w, saddle.eval(w)?, sigma, &mut rng)
        })?;
        let last = &path[path.len() - 1];
        escaped.push(saddle.value(last[0], last[1]));
    }
    let worst = escaped.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
    report.metric("saddle_noisy_worst_loss", num(worst));
    report.row(vec![
        json!("saddle from (−1.5, 0)"),
        num(sigma),
        num(saddle.value(last[0], last[1])),
        num(worst),
    ]);

    // The double well from a grid of starts: deterministic against annealed noise.
    let (per_side, steps) = if common.quick { (4, 1500) } else { (8, 3000) };
    let starts: Vec<[f64; 2]> = (0..per_side * per_side)
        .map(|i| {
            let (a, b) = ((i % per_side) as f64, (i / per_side) as f64);
            let u = |v: f64| (v + 0.5) / per_side as f64;
            [-2.0 + 4.0 * u(a), -1.0 + 2.0 * u(b)]
        })
        .collect();
    let lr = 0.05;
    // σ₀ for the first 60% of the steps (Langevin temperature ασ₀²/2), then down linearly
    // to 0 at 80%, then plain descent into the well it is in.
    let anneal = |t: usize| {
        let f = t as f64 / steps as f64;
        args.anneal_sigma * ((0.8 - f) / 0.2).clamp(0.0, 1.0)
    };
    let mut ends: [Vec<[f64; 2]>; 2] = Default::default();
    for (i, s) in starts.iter().enumerate() {
        let det = descend(&format!("sgd:lr={lr}"), s, steps, |_, _, w| double_well(w))?;
        ends[0].push([det[det.len() - 1][0], det[det.len() - 1][1]]);
        let mut rng = Rand::new(common.seed, 5000 + i as u64);
        let path = descend(&format!("sgd:lr={lr}"), s, steps, |t, tape, w| {
            noisy(tape, w, double_well(w)?, anneal(t), &mut rng)
        })?;
        ends[1].push([path[path.len() - 1][0], path[path.len() - 1][1]]);
    }
    let mut chart = Chart::new(
        "tilted double well: where each start ends",
        "start x",
        "final x",
    );
    for (k, key) in ["deterministic", "annealed_noise"].iter().enumerate() {
        let xs: Vec<f64> = ends[k].iter().map(|e| e[0]).collect();
        let deep = xs.iter().filter(|&&x| x < 0.0).count() as f64 / xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let spread = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
        report.metric(&format!("{key}_deep_fraction"), num(deep));
        report.metric(&format!("{key}_spread"), num(spread));
        report.row(vec![
            json!(format!(
                "double well, {key}: deep-well fraction / spread of final x"
            )),
            num(if k == 0 { 0.0 } else { args.anneal_sigma }),
            json!(""),
            json!(format!("{deep:.3} / {spread:.3}")),
        ]);
        chart = chart.with(Series::dots(
            key.replace('_', " "),
            starts.iter().zip(&xs).map(|(s, &x)| (s[0], x)).collect(),
        ));
    }
    report
        .figures
        .extend(chart.save(common, "noise-double-well.svg")?);

    let metrics = report.metrics.clone();

    let m = |k: &str| metrics[k].as_f64().unwrap_or(f64::NAN);
    report.claim(
        "without noise, descent from the saddle's stable line ends at the saddle (y stays 0, loss → 0)",
        m("saddle_deterministic_y") == 0.0 && m("saddle_deterministic_loss").abs() < 1e-4,
    );
    report.claim(
        "with noise, every run escapes the saddle (final loss below −1)",
        m("saddle_noisy_worst_loss") < -1.0,
    );
    report.claim(
        "annealed noise makes the end less dependent on the start: more starts end in the deep well, with a smaller spread",
        m("annealed_noise_deep_fraction") >= m("deterministic_deep_fraction") + 0.2
            && m("annealed_noise_spread") < m("deterministic_spread"),
    );
    Ok(report)
}
