//! The optimization lab's claims, each checked on its `--quick` run through the `--json`
//! numbers against the lectures' formulas (computed here, not read back from the program),
//! with a margin; and its handling of bad input.

use crate::common::{command, run, temp_dir, text};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Runs `lab <experiment> --quick --json` into a fresh directory (without MNIST: the
/// experiments that train on it use their synthetic data); the parsed report.
fn quick(experiment: &str, extra: &[&str]) -> Value {
    // Tests of one experiment run side by side: each run gets its own directory.
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let dir = temp_dir(&format!("lab-{experiment}-{n}"));
    let out = dir.to_string_lossy().into_owned();
    let mut args = vec![experiment, "--quick", "--json", "--out", &out];
    args.extend_from_slice(extra);
    let result = command("lab", &args)
        .env_remove("MNIST_DIR")
        .output()
        .expect("lab starts");
    let stdout = text(&result.stdout);
    assert_eq!(
        result.status.code(),
        Some(0),
        "lab {args:?}: {stdout}{}",
        text(&result.stderr)
    );
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let figures = report["figures"].as_array().expect("figures");
    for figure in figures {
        let path = figure.as_str().expect("a path");
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        if path.ends_with(".png") {
            assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "{path}");
            // Each PNG is the same drawing as the SVG beside it.
            let svg = path.replace(".png", ".svg");
            assert!(figures.iter().any(|f| f.as_str() == Some(&svg)), "{path}");
        } else {
            let svg = String::from_utf8_lossy(&bytes);
            assert!(
                svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
                "{path}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
    report
}

/// A number among the report's metrics.
fn metric(report: &Value, name: &str) -> f64 {
    report["metrics"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("no number {name} in {}", report["metrics"]))
}

#[test]
fn step_size_slow_oscillating_diverging_and_momentum() {
    let r = quick("step-size", &[]);
    let w2 = |alpha: &str| -> Vec<f64> {
        let key = format!("f1_alpha{alpha}_w2");
        r["metrics"][&key]
            .as_array()
            .unwrap_or_else(|| panic!("no {key}"))
            .iter()
            .map(|v| v.as_f64().expect("a number"))
            .collect()
    };
    // On w₁² + 2w₂² the steep coordinate is multiplied by 1 − 4α each step.
    for (alpha, factor) in [("0.01", 0.96), ("0.48", -0.92), ("0.51", -1.04)] {
        let w = w2(alpha);
        for pair in w.windows(2) {
            let ratio = pair[1] / pair[0];
            assert!(
                (ratio - factor).abs() < 1e-9,
                "α = {alpha}: {ratio} vs {factor}"
            );
        }
        let alternates = w.windows(2).all(|p| p[0] * p[1] < 0.0);
        assert_eq!(alternates, factor < 0.0, "α = {alpha}: {w:?}");
    }
    let (ok, bad) = (w2("0.48"), w2("0.51"));
    assert!(ok[ok.len() - 1].abs() < 0.5 * ok[0].abs(), "{ok:?}");
    assert!(bad[bad.len() - 1].abs() > 2.0 * bad[0].abs(), "{bad:?}");
    // Momentum 0.9: 1/(1 − μ) = 10 on a plateau, 1/(1 + μ) across a ravine.
    assert!((metric(&r, "plateau_speedup") - 10.0).abs() < 0.1);
    assert!((metric(&r, "ravine_damping") - 1.0 / 1.9).abs() < 0.005);
    assert!((metric(&r, "plateau_plain") - 1.0).abs() < 1e-9);
}

#[test]
fn rprop_drifts_linearly_where_sgd_and_rmsprop_stay() {
    let r = quick("rprop-minibatch", &[]);
    let (q2, q3, q4) = (
        metric(&r, "rprop_half"),
        metric(&r, "rprop_three_quarters"),
        metric(&r, "rprop_end"),
    );
    assert!(q4.abs() > 10.0, "Rprop ends at {q4}");
    // Linear: the third and the last quarter drift equally far, the same way.
    assert!(
        ((q4 - q3) / (q3 - q2) - 1.0).abs() < 0.1,
        "{q2}, {q3}, {q4}"
    );
    // SGD: nine steps of 0.1·lr, then one back of 0.9·lr.
    assert!(metric(&r, "sgd_max_abs") <= 9.0 * 0.1 * 0.01 + 1e-12);
    assert!(metric(&r, "sgd_end").abs() < 1e-9);
    let rms = metric(&r, "rmsprop_drift_per_cycle").abs();
    assert!(
        rms < 0.05 * metric(&r, "rprop_drift_per_cycle").abs(),
        "{rms}"
    );
}

#[test]
fn tracking_matches_the_steady_state_theory() {
    let r = quick("tracking", &[]);
    // The defaults: η = 0.05, drift q = 0.01, noise s = 1.
    let (eta, q, s) = (0.05f64, 0.01f64, 1.0f64);
    let theory = ((1.0 - eta).powi(2) * q * q + eta * eta * s * s) / (eta * (2.0 - eta));
    let measured = metric(&r, "constant_drifting");
    assert!(
        (measured / theory - 1.0).abs() < 0.15,
        "{measured} vs {theory}"
    );
    assert!(metric(&r, "one_over_t_drifting") > 3.0 * measured);
    assert!(metric(&r, "one_over_t_fixed") < metric(&r, "constant_fixed"));
    assert!(metric(&r, "polynomial_fixed") < metric(&r, "constant_fixed"));
}

#[test]
fn rates_linear_for_batch_and_averaging_helps_sgd() {
    let r = quick("rates", &[]);
    let series = |k: &str| -> Vec<f64> {
        r["metrics"][k]
            .as_array()
            .unwrap_or_else(|| panic!("no {k}"))
            .iter()
            .map(|v| v.as_f64().expect("a number"))
            .collect()
    };
    let gd = series("gd_subopt");
    let bound = 1.0 - 1.0 / metric(&r, "kappa");
    for pair in gd.windows(2) {
        assert!(
            pair[1] <= bound * pair[0] * (1.0 + 1e-9),
            "{gd:?} vs {bound}"
        );
    }
    assert!(
        series("sgd_subopt")[1] < gd[1],
        "one epoch of SGD vs one GD step"
    );
    let (last, avg) = (
        series("sgd_constant_subopt"),
        series("sgd_constant_averaged"),
    );
    let n = last.len() - 1;
    assert!(
        avg[n] < 0.5 * last[n],
        "averaged {} vs last {}",
        avg[n],
        last[n]
    );
}

#[test]
fn online_kmeans_spreads_more_than_batch() {
    let r = quick("kmeans", &[]);
    let (online, batch) = (
        metric(&r, "online_centre_median"),
        metric(&r, "batch_centre_median"),
    );
    assert!(
        online > 1e-3 && batch < 1e-9,
        "online {online}, batch {batch}"
    );
    assert!(metric(&r, "online_error_mean") >= metric(&r, "best_error"));
}

#[test]
fn whitening_makes_kappa_one_and_one_iteration() {
    let r = quick("conditioning", &[]);
    for key in ["pca", "zca"] {
        let kappa = metric(&r, &format!("{key}_kappa"));
        assert!((kappa - 1.0).abs() < 1e-6, "{key}: κ = {kappa}");
        assert_eq!(metric(&r, &format!("{key}_iterations")), 1.0, "{key}");
    }
    let (raw, std) = (
        metric(&r, "raw_iterations"),
        metric(&r, "standardized_iterations"),
    );
    assert!(raw > std && std > 1.0, "raw {raw}, standardized {std}");
    // The count is within the worst case ln(tol)/ln((κ−1)/(κ+1)) for tol = 1e-6.
    let kappa = metric(&r, "raw_kappa");
    let worst = (1e-6f64.ln() / ((kappa - 1.0) / (kappa + 1.0)).ln()).ceil();
    assert!(raw <= worst, "{raw} > {worst}");
    let plain = r["metrics"]["plain_final_loss"].as_f64();
    assert!(
        plain.is_none_or(|p| p >= metric(&r, "plain_initial_loss")),
        "{plain:?}"
    );
    assert!(metric(&r, "batchnorm_final_loss") < 0.5 * metric(&r, "batchnorm_initial_loss"));
}

#[test]
fn noise_escapes_the_saddle_and_reduces_dependence_on_the_start() {
    let r = quick("noise", &[]);
    assert_eq!(metric(&r, "saddle_deterministic_y"), 0.0);
    assert!(metric(&r, "saddle_deterministic_loss").abs() < 1e-4);
    assert!(metric(&r, "saddle_noisy_worst_loss") < -1.0);
    let (det, noisy) = (
        metric(&r, "deterministic_deep_fraction"),
        metric(&r, "annealed_noise_deep_fraction"),
    );
    assert!(noisy >= det + 0.2, "deep-well fraction {det} → {noisy}");
    assert!(metric(&r, "annealed_noise_spread") < metric(&r, "deterministic_spread"));
}

#[test]
fn lab_help_lists_every_experiment() {
    let out = run("lab", &["--help"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for name in [
        "kmeans",
        "noise",
        "tracking",
        "rates",
        "step-size",
        "conditioning",
        "rprop-minibatch",
        "init",
        "batch-size",
    ] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(name)),
            "--help lists no {name}: {stdout}"
        );
    }
}

/// Unknown experiments and out-of-range values: exit 2, the first line naming the flag,
/// nothing run.
#[test]
fn lab_refuses_bad_input_with_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["no-such-experiment"], "no-such-experiment"),
        (
            &["kmeans", "--clusters", "600", "--points", "500"],
            "--clusters",
        ),
        (&["kmeans", "--points", "0"], "--points"),
        (&["noise", "--sigma", "-1"], "--sigma"),
        (&["rates", "--batch", "0"], "--batch"),
        (&["tracking", "--rate", "1.5"], "--rate"),
        (&["step-size", "--momentum", "1"], "--momentum"),
        (&["conditioning", "--tol", "0"], "--tol"),
        (&["init", "--depth", "0"], "--depth"),
        (&["init", "--steps", "0"], "--steps"),
        (&["init", "--data", "/no/such/dir"], "--data"),
        (&["batch-size", "--min-batch", "0"], "--min-batch"),
        (
            &["batch-size", "--max-batch", "4", "--min-batch", "8"],
            "--max-batch",
        ),
        (&["batch-size", "--lr", "-0.1"], "--lr"),
        (&["batch-size", "--lr", "nan"], "--lr"),
        (&["batch-size", "--examples", "0"], "--examples"),
        (&["batch-size", "--target-loss", "0"], "--target-loss"),
        (&["batch-size", "--data", "/no/such/dir"], "--data"),
    ];
    let dir = temp_dir("lab-bad");
    let out_dir = dir.join("never-made");
    for (args, flag) in cases {
        let mut args = args.to_vec();
        let out = out_dir.to_string_lossy().into_owned();
        args.extend_from_slice(&["--out", &out]);
        let result = run("lab", &args);
        let stderr = text(&result.stderr);
        assert_eq!(result.status.code(), Some(2), "{args:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.contains(flag), "{args:?}: {stderr}");
        assert!(result.stdout.is_empty(), "{args:?} ran");
        assert!(!out_dir.exists(), "{args:?} made the output directory");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// The final `x y loss` of the `optimizers` example's summary line.
fn optimizers_end(args: &[&str]) -> [f64; 3] {
    let out = run("optimizers", args);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{args:?}: {}",
        text(&out.stderr)
    );
    let words: Vec<&str> = stdout.split_whitespace().collect();
    let after = |key: &str| -> f64 {
        let i = words.iter().position(|w| *w == key).expect(key);
        words[i + 1].parse().expect("a number")
    };
    [after("x"), after("y"), after("loss")]
}

/// `--batch 100` takes every term of the finite sum, whose noise terms are centred: the
/// path is the noise-free one; fewer terms, or fresh noise, move it.
#[test]
fn optimizers_noise_and_its_finite_sum() {
    let base = [
        "--function",
        "quadratic:a=1,b=10",
        "--optimizer",
        "sgd:lr=0.05",
        "--steps",
        "50",
        "--dtype",
        "f64",
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        optimizers_end(&args)
    };
    let clean = with(&[]);
    let full = with(&["--noise", "0.5", "--batch", "100"]);
    for k in 0..2 {
        assert!((full[k] - clean[k]).abs() < 1e-12, "{full:?} vs {clean:?}");
    }
    let sampled = with(&["--noise", "0.5", "--batch", "5"]);
    let fresh = with(&["--noise", "0.5"]);
    for noisy in [sampled, fresh] {
        assert!(
            (noisy[0] - clean[0]).abs() + (noisy[1] - clean[1]).abs() > 1e-4,
            "{noisy:?}"
        );
    }
    // Seeded: the same run twice gives the same bits.
    assert_eq!(fresh, with(&["--noise", "0.5"]));
}

#[test]
fn init_vanishing_exploding_and_preserved_variance() {
    let r = quick("init", &[]);
    // --quick: 6 layers of 128 units. N(0, 1e-6) multiplies E[h²] by about 128·1e-6 per
    // layer; N(0, 1) with ReLU by about 128/2.
    assert!(metric(&r, "relu_tiny_ratio") < 1e-12);
    assert!(metric(&r, "tanh_tiny_ratio") < 1e-12);
    assert!(metric(&r, "relu_unit_ratio") > 1e6);
    assert!(
        metric(&r, "tanh_unit_last") > 0.9,
        "saturated tanh: |h| near 1"
    );
    let he = metric(&r, "relu_he_ratio");
    assert!((0.5..2.0).contains(&he), "He with ReLU: {he}");
    // U(±1/√m) with ReLU: E[h²] × m·(1/3m)·½ = 1/6 per layer, five times from layer 1.
    let lecun = metric(&r, "relu_lecun_ratio");
    let expected = (1.0f64 / 6.0).powi(5);
    assert!(
        lecun > expected / 3.0 && lecun < expected * 3.0,
        "{lecun} vs {expected}"
    );
    assert!(metric(&r, "tanh_xavier_ratio") > 0.1);
}

/// The numbers of a metric that is a list.
fn series(report: &Value, name: &str) -> Vec<f64> {
    report["metrics"][name]
        .as_array()
        .unwrap_or_else(|| panic!("no list {name} in {}", report["metrics"]))
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN))
        .collect()
}

/// Without MNIST files the report's first note says the synthetic data stood in.
fn says_synthetic(report: &Value) {
    let note = report["notes"][0].as_str().unwrap_or_default();
    assert!(
        note.contains("synthetic"),
        "says which data: {}",
        report["notes"]
    );
}

#[test]
fn init_learning_curves_tiny_weights_do_not_learn() {
    let r = quick("init", &[]);
    says_synthetic(&r);
    // Ten balanced classes: an untrained net with tiny weights predicts uniformly, loss ln 10.
    let tiny = metric(&r, "curve_tanh_tiny_last");
    assert!((tiny - 10f64.ln()).abs() < 0.05, "{tiny}");
    let (first, last) = (
        metric(&r, "curve_tanh_xavier_first"),
        metric(&r, "curve_tanh_xavier_last"),
    );
    assert!(last < 0.8 * first, "Xavier, tanh: {first} → {last}");
    assert!(metric(&r, "curve_relu_he_last") < metric(&r, "curve_relu_tiny_last"));
}

#[test]
fn batch_size_variance_falls_as_one_over_b_and_linear_scaling_helps() {
    let r = quick("batch-size", &[]);
    says_synthetic(&r);
    let batches = series(&r, "batches");
    let var = series(&r, "variance");
    assert_eq!(batches.len(), var.len());
    // With replacement, E‖g_B − g‖² = tr Σ / b exactly: b·variance is one constant.
    let scaled: Vec<f64> = batches.iter().zip(&var).map(|(b, v)| b * v).collect();
    let mean = scaled.iter().sum::<f64>() / scaled.len() as f64;
    for (b, s) in batches.iter().zip(&scaled) {
        assert!((s / mean - 1.0).abs() < 0.2, "b = {b}: {s} vs {mean}");
    }
    // Least-squares slope of log variance against log b: −1.
    let n = batches.len() as f64;
    let (lx, ly): (Vec<f64>, Vec<f64>) = batches
        .iter()
        .zip(&var)
        .map(|(b, v)| (b.ln(), v.ln()))
        .unzip();
    let (mx, my) = (lx.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
    let slope = lx
        .iter()
        .zip(&ly)
        .map(|(x, y)| (x - mx) * (y - my))
        .sum::<f64>()
        / lx.iter().map(|x| (x - mx) * (x - mx)).sum::<f64>();
    assert!((slope + 1.0).abs() < 0.1, "slope {slope}");
    // Accuracy across batch sizes: the linearly scaled rate keeps it closer than a fixed
    // rate, with which the largest batch, taking the fewest steps, is the worst.
    let spread = |v: &[f64]| {
        let v: Vec<f64> = v
            .iter()
            .map(|a| if a.is_finite() { *a } else { 0.0 })
            .collect();
        v.iter().copied().fold(f64::MIN, f64::max) - v.iter().copied().fold(f64::MAX, f64::min)
    };
    let (fixed, scaled_acc) = (series(&r, "fixed_accuracy"), series(&r, "scaled_accuracy"));
    assert!(
        spread(&scaled_acc) < spread(&fixed),
        "{scaled_acc:?} vs {fixed:?}"
    );
    assert!(fixed[fixed.len() - 1] < fixed[0] - 0.05, "{fixed:?}");
}

/// `--plot` writes the figure in the format its extension names, the summary line printed
/// as well; a path that leaves the view is said so in the legend.
#[test]
fn optimizers_plot_writes_svg_and_png() {
    let dir = temp_dir("optimizers-plot");
    for (file, magic) in [
        ("paths.svg", &b"<svg"[..]),
        ("paths.png", &b"\x89PNG\r\n\x1a\n"[..]),
    ] {
        let path = dir.join(file).to_string_lossy().into_owned();
        let args = [
            "--function",
            "rosenbrock",
            "--optimizer",
            "adam:lr=0.05",
            "--optimizer",
            "sgd:lr=0.01",
            "--steps",
            "50",
            "--plot",
            &path,
        ];
        let out = run("optimizers", &args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        assert_eq!(
            text(&out.stdout).lines().count(),
            2,
            "{}",
            text(&out.stdout)
        );
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(bytes.starts_with(magic), "{path}");
        if file.ends_with(".svg") {
            // sgd at lr 0.01 diverges on Rosenbrock from (−1.5, 2) within a few steps.
            assert!(text(&bytes).contains("left the view"), "{path}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
