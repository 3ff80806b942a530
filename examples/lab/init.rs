//! Initialization and the variance of activations through depth. A fully connected net of
//! equal widths `m` (zero biases, so the weights alone carry the signal) is fed standard
//! normal inputs, and the variance of each layer's activations is measured for the
//! lecture's five schemes: N(0, 10⁻⁶) makes it vanish layer by layer (each multiplies it by
//! about `m·10⁻⁶`), N(0, 1) makes ReLU activations explode (× m/2 per layer) and tanh units
//! saturate at ±1; U(±1/√m) (PyTorch's `Linear` default, variance 1/(3m)) shrinks it by
//! about 3 per tanh layer and 6 per ReLU layer; He (for ReLU) keeps it constant and Xavier
//! (for tanh) lets it decay only slowly. The learning curves on MNIST that the lecture
//! pairs with this are not part of the lab yet.

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
}

impl Args {
    /// Nothing to check beyond clap's ranges.
    pub fn check(&self) -> Result<(), Error> {
        Ok(())
    }
}

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
        &[
            "scheme",
            "units",
            "E[h²] layer 1",
            "E[h²] last layer",
            "last / first",
        ],
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
                json!(act),
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
            .push(chart.save(common, &format!("init-{act}.svg"))?);
    }
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
    Ok(report)
}
