//! Batch size at a fixed number of examples seen. A net trained by plain SGD on `b`
//! examples per step takes `examples / b` steps: with one learning rate for every `b` the
//! large batches take too few steps to learn, while the linear scaling rule (the rate
//! multiplied by `b / b_min`) lets each step go as far as the `b / b_min` small steps it
//! replaces, which holds while the rate stays small enough to be stable (past that it
//! breaks down, and the report says at which batch size). Why it works: the
//! mini-batch gradient's variance around the full gradient is `tr Σ / b` (Σ the
//! per-example gradients' covariance, batches drawn with replacement), measured here at
//! the initial weights. Runs on MNIST when its files are given, else on the synthetic
//! mixture of `classify.rs`.

use crate::classify::{self, Act, DataArgs, Problem};
use crate::plot::{Chart, Series};
use crate::report::{num, usage, Rand};
use crate::{Common, Error, Report};
use descent::nn::Init;
use serde_json::json;

/// Flags of `batch-size`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    data: DataArgs,
    /// The smallest batch size; it is doubled up to --max-batch.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    min_batch: u64,
    /// The largest batch size (default 2048; 512 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    max_batch: Option<u64>,
    /// Training examples seen by every run (default: 60000 on MNIST, 40000 on the
    /// synthetic data; 10000 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    examples: Option<u64>,
    /// SGD's learning rate at the smallest batch: the fixed rate of every batch size, and
    /// the base of the linearly scaled one.
    #[arg(long, default_value_t = 0.02, allow_hyphen_values = true)]
    lr: f64,
    /// Hidden units of the one-hidden-layer ReLU net.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=4096))]
    hidden: u64,
    /// The training loss whose first crossing is timed (default 0.3 on MNIST, 0.7 on the
    /// synthetic data).
    #[arg(long, allow_hyphen_values = true)]
    target_loss: Option<f64>,
}

impl Args {
    /// The rate and the batch range, then the data directory.
    pub fn check(&self) -> Result<(), Error> {
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(usage(format!(
                "--lr {}: must be a finite rate > 0",
                self.lr
            )));
        }
        if let Some(t) = self.target_loss.filter(|t| !(*t > 0.0 && t.is_finite())) {
            return Err(usage(format!(
                "--target-loss {t}: must be a finite loss > 0"
            )));
        }
        if let Some(max) = self.max_batch {
            if max < self.min_batch {
                return Err(usage(format!(
                    "--max-batch {max}: below --min-batch {}",
                    self.min_batch
                )));
            }
        }
        self.data.check()
    }
}

/// Seed streams of the experiment's parts.
const INIT_STREAM: u64 = 1;
const ORDER_STREAM: u64 = 2;
const VARIANCE_STREAM: u64 = 3;

/// Runs the experiment.
pub fn run(common: &Common, args: &Args) -> Result<Report, Error> {
    let (n_synthetic, features) = if common.quick {
        (5_000, 32)
    } else {
        (20_000, 32)
    };
    let p = Problem::load(&args.data, common.seed, n_synthetic, features)?;
    let examples = args.examples.map_or(
        match (common.quick, p.synthetic) {
            (true, _) => 10_000,
            (false, true) => 40_000,
            (false, false) => 60_000,
        },
        |e| e as usize,
    );
    let max_batch = args
        .max_batch
        .unwrap_or(if common.quick { 512 } else { 2048 })
        .max(args.min_batch) as usize;
    let batches: Vec<usize> = std::iter::successors(Some(args.min_batch as usize), |b| {
        Some(b * 2).filter(|&n| n <= max_batch)
    })
    .collect();
    if batches.last().is_some_and(|&b| b > p.len()) {
        return Err(usage(format!(
            "--max-batch {max_batch}: above the {} training examples",
            p.len()
        )));
    }
    let target = args
        .target_loss
        .unwrap_or(if p.synthetic { 0.7 } else { 0.3 });
    let hidden = [args.hidden as usize];
    let init: Init = "lecun_uniform".parse()?;
    let fresh = || {
        let mut rng = Rand::new(common.seed, INIT_STREAM);
        classify::mlp(p.features(), &hidden, Act::Relu, init, false, &mut rng)
    };
    let n_eval = p.len().min(1000);
    let eval_x = p.train_x.narrow(0, 0, n_eval)?;
    let eval_y = &p.train_y[..n_eval];
    let mut report = Report::new(
        "batch-size",
        &[
            "batch",
            "rule",
            "lr",
            "steps",
            "test acc",
            "final loss",
            "examples to target",
            "s to target",
            "s total",
        ],
    );
    report.note(format!("data: {}", p.name));
    report.metric("data", p.name.clone());
    report.metric("synthetic", p.synthetic);
    report.metric("examples", examples as u64);
    report.metric("target_loss", target);
    let mut acc_chart = Chart::new(
        format!("test accuracy after {examples} examples"),
        "batch size",
        "test accuracy",
    )
    .log(true, false);
    let mut time_chart = Chart::new(
        format!("time to training loss {}", target),
        "batch size",
        "seconds",
    )
    .log(true, true);
    let mut curves = Chart::new(
        "training loss, linear scaling",
        "examples seen",
        "training loss",
    );
    let b0 = batches[0] as f64;
    let mut results = Vec::new();
    for (rule, scaled) in [("fixed", false), ("scaled", true)] {
        let (mut accs, mut times) = (Vec::new(), Vec::new());
        let (mut acc_by_b, mut loss_by_b) = (Vec::new(), Vec::new());
        for &b in &batches {
            let lr = if scaled {
                args.lr * b as f64 / b0
            } else {
                args.lr
            };
            let mut net = fresh()?;
            let run = classify::train(
                &mut net,
                &p,
                &format!("sgd:lr={lr}"),
                b,
                examples,
                examples / 20,
                (&eval_x, eval_y),
                Rand::new(common.seed, ORDER_STREAM),
            )?;
            let acc = if run.diverged {
                f64::NAN
            } else {
                classify::evaluate(&net, &p.test_x, &p.test_y)?.1
            };
            let reached = run.curve.iter().position(|&(_, l)| l <= target);
            let final_loss = run.curve.last().map_or(f64::NAN, |c| c.1);
            let total = run.seconds.last().copied().unwrap_or(0.0);
            report.row(vec![
                json!(b),
                json!(rule),
                num(lr),
                json!(examples.div_ceil(b)),
                if run.diverged {
                    json!("diverged")
                } else {
                    num(acc)
                },
                num(final_loss),
                reached.map_or(json!("—"), |i| num(run.curve[i].0)),
                reached.map_or(json!("—"), |i| num(run.seconds[i])),
                num(total),
            ]);
            acc_by_b.push(num(acc));
            loss_by_b.push(final_loss);
            accs.push((b as f64, acc));
            if let Some(i) = reached {
                times.push((b as f64, run.seconds[i]));
            }
            if scaled {
                curves = curves.with(Series::line(format!("b = {b}"), run.curve.clone()));
            }
        }
        report.metric(&format!("{rule}_accuracy"), acc_by_b);
        report.metric(
            &format!("{rule}_final_loss"),
            loss_by_b.iter().map(|&l| num(l)).collect::<Vec<_>>(),
        );
        acc_chart = acc_chart.with(Series::line(rule, accs.clone()));
        time_chart = time_chart.with(Series::line(rule, times));
        results.push((accs.iter().map(|a| a.1).collect::<Vec<_>>(), loss_by_b));
    }
    // The linear rule holds while the scaled rate is stable: the batch sizes whose scaled
    // run ends within twice the smallest batch's loss. Both rules are compared over those.
    let (fixed, scaled) = (&results[0], &results[1]);
    let trains: Vec<bool> = scaled.1.iter().map(|&l| l <= 2.0 * scaled.1[0]).collect();
    let upto = trains.iter().take_while(|&&t| t).count();
    let stable_b = batches[upto.max(1) - 1];
    report.metric("scaled_largest_stable_batch", stable_b as u64);
    report.metric("fixed_spread", num(spread(&fixed.0[..upto.max(1)])));
    report.metric("scaled_spread", num(spread(&scaled.0[..upto.max(1)])));
    if upto < batches.len() {
        report.note(format!(
            "the linear rule breaks down above b = {stable_b}: at rate {} the scaled run no \
             longer trains",
            args.lr * batches[upto] as f64 / b0
        ));
    }
    report.metric(
        "batches",
        batches.iter().map(|&b| b as u64).collect::<Vec<_>>(),
    );

    // The gradient's variance around the full gradient of a pool, at the initial weights.
    let net = fresh()?;
    let pool: Vec<usize> = (0..p.len().min(4096)).collect();
    let full = classify::gradient(&net, &p, &pool)?;
    let draws = if common.quick { 12 } else { 24 };
    let mut rng = Rand::new(common.seed, VARIANCE_STREAM);
    let mut var_points = Vec::new();
    let mut scaled_var = Vec::new();
    for &b in &batches {
        let mut sum = 0.0;
        for _ in 0..draws {
            let idx: Vec<usize> = (0..b).map(|_| pool[rng.index(pool.len())]).collect();
            let g = classify::gradient(&net, &p, &idx)?;
            sum += g
                .iter()
                .zip(&full)
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>();
        }
        let var = sum / draws as f64;
        var_points.push((b as f64, var));
        scaled_var.push(var * b as f64);
    }
    let mean_scaled = scaled_var.iter().sum::<f64>() / scaled_var.len() as f64;
    report.metric(
        "variance",
        var_points.iter().map(|v| num(v.1)).collect::<Vec<_>>(),
    );
    report.metric(
        "variance_times_batch",
        scaled_var.iter().map(|&v| num(v)).collect::<Vec<_>>(),
    );
    let worst = scaled_var
        .iter()
        .map(|v| (v / mean_scaled - 1.0).abs())
        .fold(0.0, f64::max);
    report.metric("variance_times_batch_worst_deviation", num(worst));
    report.note(format!(
        "b·E‖g_B − g‖² at the initial weights, b = {} … {}: {} (at most {:.1}% from the mean)",
        batches[0],
        batches[batches.len() - 1],
        scaled_var
            .iter()
            .map(|v| format!("{v:.4}"))
            .collect::<Vec<_>>()
            .join(", "),
        100.0 * worst
    ));
    let variance_chart = Chart::new(
        "mini-batch gradient variance at the initial weights",
        "batch size",
        "E‖g_B − g‖²",
    )
    .log(true, true)
    .with(Series::line("measured", var_points.clone()))
    .with(Series::reference(
        "tr Σ / b",
        batches
            .iter()
            .map(|&b| (b as f64, mean_scaled / b as f64))
            .collect(),
    ));
    for (stem, chart) in [
        ("batch-size-accuracy", &acc_chart),
        ("batch-size-time", &time_chart),
        ("batch-size-curves", &curves),
        ("batch-size-variance", &variance_chart),
    ] {
        report.figures.extend(chart.save(common, stem)?);
    }

    let metrics = report.metrics.clone();
    let m = |k: &str| metrics[k].as_f64().unwrap_or(f64::NAN);
    report.claim(
        "the mini-batch gradient's variance falls as 1/b: b·E‖g_B − g‖² within 20% of its mean at every b",
        worst < 0.2,
    );
    report.claim(
        format!(
            "up to b = {}, where the scaled rate still trains, linear learning-rate scaling keeps the test accuracy closer across batch sizes than one fixed rate",
            m("scaled_largest_stable_batch")
        ),
        m("scaled_spread") < m("fixed_spread"),
    );
    Ok(report)
}

/// `max − min` of `v`; NaN (a diverged run) counts as accuracy 0.
fn spread(v: &[f64]) -> f64 {
    let v: Vec<f64> = v
        .iter()
        .map(|&a| if a.is_finite() { a } else { 0.0 })
        .collect();
    let (lo, hi) = v
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &a| {
            (lo.min(a), hi.max(a))
        });
    hi - lo
}
