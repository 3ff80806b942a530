//! Conditioning sets gradient descent's speed. Least squares on centred inputs,
//! `F(w) = ‖Xw − y‖² / 2(n−1)`, has the input covariance `C` as its Hessian; gradient
//! descent with the best fixed step `2/(λ_max + λ_min)` shrinks the error by
//! `(κ−1)/(κ+1)` per iteration, κ = λ_max/λ_min. Standardizing the features lowers κ;
//! PCA or ZCA whitening makes `C = I`, κ = 1, and one step lands on the solution. Then the
//! same effect inside a network: a BatchNorm layer in front of a linear model trains at a
//! learning rate that makes the raw model diverge.

use crate::plot::{Chart, Series};
use crate::report::{num, Rand};
use crate::{Common, Error, Report};
use descent::autodiff::Tape;
use descent::data::transforms::{Standardize, Whiten, Whitening};
use descent::nn::{loss, BatchNorm1d, Linear, Mode, Module, Reduction, Sequential};
use descent::tensor::Tensor;
use serde_json::json;

/// Flags of `conditioning`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Relative error ‖w − w*‖/‖w*‖ at which gradient descent stops, in (0, 1).
    #[arg(long, default_value_t = 1e-6)]
    tol: f64,
    /// Learning rate of the BatchNorm comparison (SGD on the mean squared error).
    #[arg(long, default_value_t = 0.05)]
    lr: f64,
}

impl Args {
    /// Checks the ranges.
    pub fn check(&self) -> Result<(), Error> {
        if !(self.tol > 0.0 && self.tol < 1.0) {
            return Err(crate::report::usage(format!(
                "--tol {}: must be in (0, 1)",
                self.tol
            )));
        }
        if !(self.lr > 0.0 && self.lr.is_finite()) {
            return Err(crate::report::usage(format!(
                "--lr {}: must be finite and > 0",
                self.lr
            )));
        }
        Ok(())
    }
}

/// Features per example.
const D: usize = 4;

/// `n` rows of correlated features on scales 1 to 10 (`x = A z`, z standard normal), and
/// targets `y = xᵀw + noise`.
fn data(n: usize, rng: &mut Rand) -> Result<(Tensor<f64>, Tensor<f64>), Error> {
    let a = [
        [10.0, 0.0, 0.0, 0.0],
        [3.0, 1.0, 0.0, 0.0],
        [0.0, 0.5, 0.3, 0.0],
        [1.0, 0.0, 0.2, 2.0],
    ];
    let w = [0.3, -1.0, 2.0, 0.5];
    let mut xs = Vec::with_capacity(n * D);
    let mut ys = Vec::with_capacity(n);
    for _ in 0..n {
        let z: [f64; D] = std::array::from_fn(|_| rng.normal());
        let x: [f64; D] = std::array::from_fn(|r| (0..D).map(|c| a[r][c] * z[c]).sum());
        ys.push((0..D).map(|k| w[k] * x[k]).sum::<f64>() + 0.1 * rng.normal());
        xs.extend_from_slice(&x);
    }
    Ok((
        Tensor::from_vec(xs, &[n, D])?,
        Tensor::from_vec(ys, &[n, 1])?,
    ))
}

/// Gradient descent on `‖Xw − y‖²/2(n−1)` for centred `x`: the covariance's eigenvalues
/// (largest first), κ, and the iterations to `tol` with the step `2/(λ_max + λ_min)`
/// together with the error after each.
struct Descent {
    eigenvalues: Vec<f64>,
    kappa: f64,
    iterations: usize,
    errors: Vec<f64>,
}

fn descend(x: &Tensor<f64>, y: &Tensor<f64>, tol: f64) -> Result<Descent, Error> {
    let n = x.shape()[0];
    let fit = Whitening::fit(x, Whiten::Pca, 0.0)?;
    let eigenvalues = fit.eigenvalues.clone();
    let (hi, lo) = (eigenvalues[0], eigenvalues[D - 1]);
    let xc = x.sub(&fit.mean)?;
    let yc = y.add_scalar(-y.mean(&[], false)?.item()?);
    let scale = 1.0 / (n - 1) as f64;
    let h = xc.t()?.matmul(&xc)?.mul_scalar(scale).to_vec(); // [D, D], row-major
    let b = xc.t()?.matmul(&yc)?.mul_scalar(scale).to_vec(); // [D]
    let w_star = crate::linalg::solve(&h, &b);
    let norm = |v: &[f64]| v.iter().map(|a| a * a).sum::<f64>().sqrt();
    let alpha = 2.0 / (hi + lo);
    let mut w = [0.0; D];
    let mut errors = vec![1.0];
    let limit = 100_000;
    while *errors.last().unwrap_or(&0.0) > tol && errors.len() <= limit {
        let g: Vec<f64> = (0..D)
            .map(|r| (0..D).map(|c| h[r * D + c] * w[c]).sum::<f64>() - b[r])
            .collect();
        for k in 0..D {
            w[k] -= alpha * g[k];
        }
        let diff: Vec<f64> = (0..D).map(|k| w[k] - w_star[k]).collect();
        errors.push(norm(&diff) / norm(&w_star));
    }
    Ok(Descent {
        kappa: hi / lo,
        eigenvalues,
        iterations: errors.len() - 1,
        errors,
    })
}

/// Runs the experiment.
pub fn run(common: &Common, args: &Args) -> Result<Report, Error> {
    let n = if common.quick { 200 } else { 2000 };
    let (x, y) = data(n, &mut Rand::new(common.seed, 1))?;
    let standardized = Standardize::fit(&x)?.apply(&x)?;
    let pca = Whitening::fit(&x, Whiten::Pca, 0.0)?.apply(&x)?;
    let zca = Whitening::fit(&x, Whiten::Zca, 0.0)?.apply(&x)?;
    let inputs = [
        ("raw", &x),
        ("standardized", &standardized),
        ("PCA-whitened", &pca),
        ("ZCA-whitened", &zca),
    ];
    let mut report = Report::new(
        "conditioning",
        &[
            "inputs",
            "λ_max",
            "λ_min",
            "κ",
            "(κ−1)/(κ+1)",
            "iterations",
            "theory bound",
        ],
    );
    let mut chart = Chart::new(
        format!(
            "gradient descent, step 2/(λ_max+λ_min), to ‖w−w*‖/‖w*‖ ≤ {:e}",
            args.tol
        ),
        "iteration",
        "‖w − w*‖ / ‖w*‖",
    )
    .log(false, true);
    let keys = ["raw", "standardized", "pca", "zca"];
    for ((name, x), key) in inputs.iter().zip(keys) {
        let d = descend(x, &y, args.tol)?;
        let rate = (d.kappa - 1.0) / (d.kappa + 1.0);
        let bound = if rate <= 1e-6 {
            1.0
        } else {
            (args.tol.ln() / rate.ln()).ceil().max(1.0)
        };
        report.row(vec![
            json!(name),
            num(d.eigenvalues[0]),
            num(d.eigenvalues[D - 1]),
            num(d.kappa),
            num(rate),
            json!(d.iterations),
            num(bound),
        ]);
        report.metric(&format!("{key}_kappa"), num(d.kappa));
        report.metric(&format!("{key}_iterations"), d.iterations);
        report.metric(&format!("{key}_bound"), num(bound));
        let pts: Vec<(f64, f64)> = d
            .errors
            .iter()
            .enumerate()
            .map(|(i, &e)| (i as f64, e.max(1e-17)))
            .collect();
        chart = chart.with(Series::line(format!("{name}, κ = {:.3}", d.kappa), pts));
        if *name == "raw" {
            chart = chart.with(Series::reference(
                "((κ−1)/(κ+1))ᵗ, raw",
                (0..=d.iterations)
                    .map(|i| (i as f64, rate.powi(i as i32)))
                    .collect(),
            ));
        }
    }
    report
        .figures
        .extend(chart.save(common, "conditioning-gd.svg")?);

    // BatchNorm: SGD on the mean squared error at one learning rate, with and without it.
    let epochs = if common.quick { 2 } else { 5 };
    let mut bn_chart = Chart::new(
        format!("SGD at lr = {} on raw inputs", args.lr),
        "step",
        "training loss (mean squared error)",
    )
    .log(false, true);
    for (key, with_bn) in [("plain", false), ("batchnorm", true)] {
        let mut rng = Rand::new(common.seed, 2);
        let mut model = Sequential::<f64>::new();
        if with_bn {
            model.push(BatchNorm1d::new(D)?);
        }
        model.push(Linear::new(D, 1, rng.rng())?);
        let mut opt = descent::optim::build::<f64>(&format!("sgd:lr={}", args.lr))?;
        let mse = |model: &Sequential<f64>,
                   x: &Tensor<f64>,
                   y: &Tensor<f64>|
         -> Result<(f64, descent::autodiff::Gradients<f64>), Error> {
            let tape = Tape::new();
            let pred = model.forward(&tape, tape.constant(x.clone()), Mode::Train)?;
            let l = loss::mse_loss(pred, tape.constant(y.clone()), Reduction::Mean)?;
            Ok((l.item()?, l.backward()?))
        };
        let first = mse(&model, &x, &y)?.0;
        let mut curve = vec![(0.0, first)];
        let batch = 50;
        let mut step = 0;
        'train: for _ in 0..epochs {
            for start in (0..n).step_by(batch) {
                let len = batch.min(n - start);
                let (l, grads) = mse(&model, &x.narrow(0, start, len)?, &y.narrow(0, start, len)?)?;
                if !l.is_finite() || l > 1e12 {
                    break 'train;
                }
                opt.step(&mut model.params_mut(), &grads)?;
                step += 1;
                curve.push((step as f64, l));
            }
        }
        let last = mse(&model, &x, &y)?.0;
        report.metric(&format!("{key}_initial_loss"), num(first));
        report.metric(&format!("{key}_final_loss"), num(last));
        report.row(vec![
            json!(format!("SGD lr={} {key}", args.lr)),
            json!("-"),
            json!("-"),
            json!("-"),
            json!(format!("loss {first:.3e} →")),
            json!(format!("{last:.3e}")),
            json!("-"),
        ]);
        bn_chart = bn_chart.with(Series::line(
            if with_bn {
                "BatchNorm → Linear"
            } else {
                "Linear"
            },
            curve,
        ));
    }
    report
        .figures
        .extend(bn_chart.save(common, "conditioning-batchnorm.svg")?);

    let metrics = report.metrics.clone();

    let m = |k: &str| metrics[k].as_f64().unwrap_or(f64::NAN);
    let it = |k: &str| metrics[k].as_u64().unwrap_or(u64::MAX);
    report.claim(
        "whitening makes κ = 1 ± 1e-6 and gradient descent converges in 1 iteration",
        (m("pca_kappa") - 1.0).abs() < 1e-6
            && (m("zca_kappa") - 1.0).abs() < 1e-6
            && it("pca_iterations") == 1
            && it("zca_iterations") == 1,
    );
    report.claim(
        "standardizing lowers κ and the iteration count below the raw inputs'",
        m("standardized_kappa") < m("raw_kappa")
            && it("standardized_iterations") < it("raw_iterations"),
    );
    report.claim(
        "every count is within the (κ−1)/(κ+1) bound",
        keys.iter()
            .all(|k| it(&format!("{k}_iterations")) as f64 <= m(&format!("{k}_bound"))),
    );
    report.claim(
        format!(
            "at lr = {}, the linear model diverges and BatchNorm → Linear trains",
            args.lr
        ),
        // A loss that overflowed to a non-finite number is reported as null: diverged too.
        (m("plain_final_loss").is_nan() || m("plain_final_loss") >= m("plain_initial_loss"))
            && m("batchnorm_final_loss") < 0.5 * m("batchnorm_initial_loss"),
    );
    Ok(report)
}
