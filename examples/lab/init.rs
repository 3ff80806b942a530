//! Initialization and the variance of activations through depth. A fully connected net of
//! equal widths `m` (zero biases, so the weights alone carry the signal) is fed standard
//! normal inputs, and the variance of each layer's activations is measured for the
//! lecture's five schemes: N(0, 10⁻⁶) makes it vanish layer by layer (each multiplies it by
//! about `m·10⁻⁶`), N(0, 1) makes ReLU activations explode (× m/2 per layer) and tanh units
//! saturate at ±1; U(±1/√m) (PyTorch's `Linear` default, variance 1/(3m)) shrinks it by
//! about 3 per tanh layer and 6 per ReLU layer; He (for ReLU) keeps it constant and Xavier
//! (for tanh) lets it decay only slowly. The learning curves beside it train a deep net
//! (five hidden layers, zero biases) from each scheme with the same SGD on MNIST, or on the
//! synthetic mixture when no MNIST files are given: where the signal vanishes or
//! saturates, the gradient does too, and the net does not learn.

use crate::classify::{self, Act, DataArgs, Problem};
use crate::plot::{Chart, Series};
use crate::report::{num, Rand};
use crate::{Common, Error, Report};
use descent::nn::Init;
use descent::tensor::Tensor;
use serde_json::json;

/// Flags of `init`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Layers (default 10; 6 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100))]
    depth: Option<u64>,
    /// Units per layer (default 256; 128 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=4096))]
    width: Option<u64>,
    /// SGD steps (batches of 64) of each learning curve (default 600; 150 with --quick).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    steps: Option<u64>,
    #[command(flatten)]
    data: DataArgs,
}

impl Args {
    /// The data directory, if given.
    pub fn check(&self) -> Result<(), Error> {
        self.data.check()
    }
}

/// The learning curves' net: hidden layers and their width.
const CURVE_NET: [usize; 5] = [64; 5];
/// Their optimizer and batch size.
const CURVE_SGD: &str = "sgd:lr=0.01,momentum=0.9";
const CURVE_BATCH: usize = 64;

/// The schemes, as `Init` specs, with their names in the table.
const SCHEMES: [(&str, &str, &str); 5] = [
    ("N(0,1e-6)", "normal:std=0.001", "tiny"),
    ("N(0,1)", "normal:std=1", "unit"),
    ("U(±1/√m)", "lecun_uniform", "lecun"),
    ("Xavier", "xavier_uniform", "xavier"),
    ("He", "he_normal", "he"),
];

/// The variance of the activations after each layer (index 0: the input).
fn variances(
    init: Init,
    relu: bool,
    depth: usize,
    width: usize,
    batch: usize,
    rng: &mut Rand,
) -> Result<Vec<f64>, Error> {
    let mut h = Tensor::<f64>::randn(&[batch, width], 0.0, 1.0, rng.rng())?;
    let mut out = vec![h.var(&[], 0, false)?.item()?];
    for _ in 0..depth {
        let w = init.tensor::<f64>(&[width, width], rng.rng())?;
        let z = h.matmul(&w.t()?)?;
        h = if relu { z.relu() } else { z.tanh() };
        // The second moment: for ReLU the mean is not zero, and what propagates is E[h²].
        out.push(h.square().mean(&[], false)?.item()?);
    }
    Ok(out)
}

/// Runs the experiment.
pub fn run(common: &Common, args: &Args) -> Result<Report, Error> {
    let depth = args
        .depth
        .map_or(if common.quick { 6 } else { 10 }, |d| d as usize);
    let width = args
        .width
        .map_or(if common.quick { 128 } else { 256 }, |w| w as usize);
    let batch = if common.quick { 128 } else { 512 };
    let mut report = Report::new(
        "init",
        &["scheme", "measured", "first", "last", "last / first"],
    );
    for (act, relu) in [("tanh", false), ("relu", true)] {
        let mut chart = Chart::new(
            format!("{act} net, width {width}: activations through depth"),
            "layer",
            "E[h²]",
        )
        .log(false, true);
        for (s, (name, spec, key)) in SCHEMES.iter().enumerate() {
            let init: Init = spec.parse()?;
            let mut rng = Rand::new(common.seed, 10 * s as u64 + relu as u64);
            let v = variances(init, relu, depth, width, batch, &mut rng)?;
            let (first, last) = (v[1], v[depth]);
            report.row(vec![
                json!(name),
                json!(format!("{act}: E[h²], layer 1 → {depth}")),
                num(first),
                num(last),
                num(last / first),
            ]);
            report.metric(&format!("{act}_{key}_first"), num(first));
            report.metric(&format!("{act}_{key}_last"), num(last));
            report.metric(&format!("{act}_{key}_ratio"), num(last / first));
            chart = chart.with(Series::line(
                *name,
                v.iter()
                    .enumerate()
                    .skip(1)
                    .map(|(l, &x)| (l as f64, x))
                    .collect(),
            ));
        }
        report
            .figures
            .extend(chart.save(common, &format!("init-{act}.svg"))?);
    }
    curves(common, args, &mut report)?;
    let metrics = report.metrics.clone();
    let m = |k: &str| metrics[k].as_f64().unwrap_or(f64::NAN);
    report.claim(
        "N(0, 10⁻⁶) makes the activations vanish: E[h²] falls by over 10⁴ through the net (tanh and ReLU)",
        m("tanh_tiny_ratio") < 1e-4 && m("relu_tiny_ratio") < 1e-4,
    );
    report.claim(
        "N(0, 1) saturates tanh (E[h²] above 0.9) and makes ReLU explode (over 10³ growth)",
        m("tanh_unit_last") > 0.9 && m("relu_unit_ratio") > 1e3,
    );
    report.claim(
        "He keeps ReLU's E[h²] within a factor 2 through the net",
        (0.5..2.0).contains(&m("relu_he_ratio")),
    );
    report.claim(
        "with tanh, Xavier loses under 10× through the net where U(±1/√m) loses over 100×",
        m("tanh_xavier_ratio") > 0.1 && m("tanh_lecun_ratio") < 0.01,
    );
    report.claim(
        "in the deep tanh net, N(0, 10⁻⁶) barely learns (loss within 5% of its start) while Xavier's loss falls below 80% of its start",
        m("curve_tanh_tiny_last") > 0.95 * m("curve_tanh_tiny_first")
            && m("curve_tanh_xavier_last") < 0.8 * m("curve_tanh_xavier_first"),
    );
    report.claim(
        "in the deep ReLU net, He ends below U(±1/√m) and N(0, 10⁻⁶)",
        m("curve_relu_he_last") < m("curve_relu_lecun_last")
            && m("curve_relu_he_last") < m("curve_relu_tiny_last"),
    );
    Ok(report)
}

/// The learning curves: the training loss of the deep net from each scheme, tanh and
/// ReLU, under the same SGD and the same batches.
fn curves(common: &Common, args: &Args, report: &mut Report) -> Result<(), Error> {
    let steps = args
        .steps
        .map_or(if common.quick { 150 } else { 600 }, |s| s as usize);
    let n_synthetic = if common.quick { 4_000 } else { 20_000 };
    let p = Problem::load(&args.data, common.seed, n_synthetic, 32)?;
    report.note(format!("learning curves on {}", p.name));
    report.metric("curve_data", p.name.clone());
    let n_eval = p.len().min(1000);
    let eval_x = p.train_x.narrow(0, 0, n_eval)?;
    let eval_y = &p.train_y[..n_eval];
    for (act_name, act) in [("tanh", Act::Tanh), ("relu", Act::Relu)] {
        let mut chart = Chart::new(
            format!(
                "{act_name} net, {} × {} hidden: training loss",
                CURVE_NET.len(),
                CURVE_NET[0]
            ),
            "SGD step",
            "training loss",
        )
        .log(false, true);
        for (name, spec, key) in SCHEMES {
            let init: Init = spec.parse()?;
            let mut rng = Rand::new(common.seed, 100);
            let mut net = classify::mlp(p.features(), &CURVE_NET, act, init, true, &mut rng)?;
            let run = classify::train(
                &mut net,
                &p,
                CURVE_SGD,
                CURVE_BATCH,
                steps * CURVE_BATCH,
                (steps / 30).max(1) * CURVE_BATCH,
                (&eval_x, eval_y),
                Rand::new(common.seed, 101),
            )?;
            let first = run.curve[0].1;
            let last = if run.diverged {
                f64::NAN
            } else {
                run.curve.last().map_or(f64::NAN, |c| c.1)
            };
            report.metric(&format!("curve_{act_name}_{key}_first"), num(first));
            report.metric(&format!("curve_{act_name}_{key}_last"), num(last));
            report.row(vec![
                json!(name),
                json!(format!("{act_name}: training loss, step 0 → {steps}")),
                num(first),
                if run.diverged {
                    json!("diverged")
                } else {
                    num(last)
                },
                num(last / first),
            ]);
            let per_step = run
                .curve
                .iter()
                .map(|&(seen, l)| (seen / CURVE_BATCH as f64, l))
                .collect();
            chart = chart.with(Series::line(name, per_step));
        }
        report
            .figures
            .extend(chart.save(common, &format!("init-curves-{act_name}.svg"))?);
    }
    Ok(())
}
