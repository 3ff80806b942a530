//! The examples as command-line tools: `--help` describes and exits 0 without running, an
//! unknown flag or a bad value exits 2 naming the flag before any work, a failure while
//! working exits 1 in one line naming the file, and output cut short by the reader ends
//! quietly. Runs the example binaries of this test's profile.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use crate::common::{command, run, temp_dir, text};

/// Every example, with two flags its `--help` must list.
const EXAMPLES: [(&str, [&str; 2]); 9] = [
    ("bench", ["--json", "--threads"]),
    ("curvature", ["--dim", "--kappa"]),
    ("gradcheck", ["--json", "--seed"]),
    ("lab", ["--out", "--json"]),
    ("lm_regression", ["--target", "--seed"]),
    ("mlp_step", ["--steps", "--threads"]),
    ("mnist", ["--epochs", "--whiten"]),
    ("mnist_ddp", ["--distributed", "--batch"]),
    ("optimizers", ["--optimizer", "--steps"]),
];

#[test]
fn help_describes_the_example_and_exits_0() {
    for (name, flags) in EXAMPLES {
        let out = run(name, &["--help"]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{name} --help: {stdout}");
        assert!(stdout.contains("Usage:"), "{name} --help: {stdout}");
        for flag in flags {
            assert!(
                stdout.contains(flag),
                "{name} --help lists no {flag}: {stdout}"
            );
        }
        // The about paragraph is the example's own, not the package description.
        let about = stdout.lines().next().unwrap_or_default();
        assert!(
            !about.starts_with("A CPU deep-learning framework") && about.len() > 40,
            "{name} --help starts with {about:?}"
        );
    }
}

#[test]
fn an_unknown_flag_exits_2_with_the_usage() {
    for (name, _) in EXAMPLES {
        let out = run(name, &["--no-such-flag"]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(
            stderr.contains("--no-such-flag") && stderr.contains("Usage:"),
            "{name}: {stderr}"
        );
        assert!(
            out.stdout.is_empty(),
            "{name} printed {:?}",
            text(&out.stdout)
        );
    }
}

/// Values parsing refuses: exit 2, the first line naming the flag, nothing run.
#[test]
fn a_bad_value_exits_2_naming_the_flag() {
    let cases: &[(&str, &[&str], &str)] = &[
        ("mnist", &["--epochs", "0"], "--epochs"),
        ("mnist", &["--dropout", "1"], "--dropout"),
        ("mnist", &["--dropout", "NaN"], "--dropout"),
        ("mnist", &["--metrics-every", "0"], "--metrics-every"),
        ("mnist", &["--limit-train", "0"], "--limit-train"),
        ("mnist", &["--threads", "100000"], "--threads"),
        ("mnist", &["--optimizer", "adam:lr=-1"], "--optimizer"),
        ("mnist", &["--activation", "softmax"], "--activation"),
        ("mlp_step", &["--steps", "0"], "--steps"),
        ("mlp_step", &["--threads", "100000"], "--threads"),
        (
            "optimizers",
            &["--optimizer", "adam", "--steps", "18446744073709551615"],
            "--steps",
        ),
        (
            "optimizers",
            &["--optimizer", "adam", "--noise", "-1"],
            "--noise",
        ),
        (
            "optimizers",
            &["--optimizer", "adam", "--noise", "1", "--batch", "0"],
            "--batch",
        ),
        (
            "optimizers",
            &["--optimizer", "adam", "--plot", "paths.jpg"],
            "--plot",
        ),
        ("curvature", &["--dim", "5000"], "--dim"),
        ("curvature", &["--kappa", "0.5"], "--kappa"),
        ("lm_regression", &["--target", "nan"], "--target"),
        ("gradcheck", &["--seed", "x"], "--seed"),
        ("bench", &["--threads", "0"], "--threads"),
    ];
    for (name, args, flag) in cases {
        let out = run(name, args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name} {args:?}: {stderr}");
        let first = stderr.lines().next().unwrap_or_default();
        assert!(first.contains(flag), "{name} {args:?}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{name} {args:?} ran: {:?}",
            text(&out.stdout)
        );
    }
}

/// Flags the MNIST example refuses after parsing, before it looks for any data: exactly
/// one line naming the flag, exit 2.
#[test]
fn mnist_checks_every_flag_before_any_work() {
    let dir = temp_dir("cli-mnist-flags");
    let p = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let absent = p("no/such/dir/out");
    let (same, svg, ckpt) = (p("same"), p("curves.svg"), p("run.ckpt"));
    std::fs::write(&ckpt, b"a checkpoint").expect("write");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--checkpoint", &same, "--save", &same], "--checkpoint"),
        (vec!["--plot", &absent], "--plot"),
        (vec!["--save", &absent], "--save"),
        (vec!["--checkpoint", &absent], "--checkpoint"),
        (vec!["--metrics", &absent], "--metrics"),
        (vec!["--metrics", &svg, "--plot", &svg], "--metrics"),
        (vec!["--limit-train", "50", "--val", "50"], "--val"),
        (vec!["--resume", &absent], "--resume"),
        (vec!["--resume", &ckpt, "--save", &ckpt], "--resume"),
        (
            vec!["--schedule", "plateau:patience=2", "--schedule-per", "step"],
            "--schedule",
        ),
    ];
    for (args, flag) in &cases {
        let out = run("mnist", args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A missing data directory or a corrupt data file: one line naming it, exit 1.
#[test]
fn mnist_data_problems_are_one_line_naming_the_file() {
    let dir = temp_dir("cli-mnist-data");
    let missing = dir.join("absent");
    let out = run("mnist", &["--data", &missing.to_string_lossy()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains(&*missing.to_string_lossy()), "{stderr}");

    for name in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        std::fs::write(dir.join(name), b"not an IDX file").expect("write");
    }
    let out = run("mnist", &["--data", &dir.to_string_lossy()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("train-images-idx3-ubyte"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A reader that stops early (`| head -1`) ends the example quietly: exit 0, no panic.
#[test]
fn output_cut_short_by_the_reader_ends_quietly() {
    let mut child = command(
        "optimizers",
        &["--optimizer", "adam:lr=0.05", "--csv", "--steps", "100000"],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .expect("the example starts");
    let mut first = String::new();
    let stdout = child.stdout.take().expect("piped");
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a first line");
    assert_eq!(first, "step,x,y,loss\n");
    // The reader is gone: the rest of the 100001 rows meet a closed pipe.
    let out = child.wait_with_output().expect("exits");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// `mlp_step --json` reports the step's GFLOP/s as its products' operations over the
/// median (the MLP at batch 128: forward, weight gradients, and input gradients for all but
/// the first layer, two operations per multiply-add) and its share of the FMA peak it
/// measured (or `null` for both on a CPU without FMA).
#[test]
fn mlp_step_reports_its_gflops_against_the_fma_peak() {
    let out = run("mlp_step", &["--steps", "3", "--threads", "1", "--json"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let number = |key: &str| line[key].as_f64();
    let (ms, gflops) = (number("median_ms").unwrap(), number("gflops").unwrap());
    let flops = 2.0 * 128.0 * (2.0 * 784.0 * 512.0 + 3.0 * 512.0 * 256.0 + 3.0 * 256.0 * 10.0);
    // Both printed rounded: to 0.05 GFLOP/s and 0.5 µs.
    let tolerance = flops * (0.05 / gflops + 0.0005 / ms) * 1.01;
    assert!(
        (gflops * ms * 1e6 - flops).abs() <= tolerance,
        "{gflops} GFLOP/s over {ms} ms is not {flops} operations: {stdout}"
    );
    match (number("fma_peak_gflops"), number("of_fma_peak")) {
        (Some(peak), Some(of_peak)) => {
            assert!(peak > 0.0, "{stdout}");
            assert!(
                (of_peak - gflops / peak).abs() <= 0.0005 + 0.05 / peak * 1.01,
                "{stdout}"
            );
        }
        _ => assert!(
            line["fma_peak_gflops"].is_null() && line["of_fma_peak"].is_null(),
            "{stdout}"
        ),
    }
}
