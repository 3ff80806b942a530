//! The optimization lab: the lectures' experiments, each a subcommand with a table, its
//! numbers as JSON and its figures, seeded and deterministic.
//!
//! ```sh
//! cargo run --release --example lab -- step-size [--out lab-out] [--json] [--quick] [--seed 0]
//! ```
//! Every experiment prints a table and the claims it checks (`holds` / `FAILS`); `--json`
//! prints the same numbers as one JSON object instead; the figures (SVG and PNG) go into
//! `--out`.
//! `--quick` runs a smaller version in a few seconds (what the tests run). LAB.md shows the
//! figures and the lecture claim behind each.

#[path = "../cli/mod.rs"]
mod cli;

mod batch_size;
mod classify;
mod conditioning;
mod contour;
mod descend;
mod figure;
mod init;
mod kmeans;
mod linalg;
mod noise;
mod plot;
mod rates;
mod report;
mod rprop_minibatch;
mod step_size;
mod tracking;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

pub use report::{Error, Report};

/// The optimization lab: the lectures' experiments on SGD's noise, step sizes, averaging,
/// schedules, conditioning, batch size and initialization, each with a table, JSON numbers
/// and figures (SVG and PNG).
#[derive(Parser, Debug)]
#[command(version, long_about = None)]
struct Cli {
    #[command(subcommand)]
    experiment: Experiment,
    /// Directory for the figures (created if missing).
    #[arg(long, global = true, default_value = "lab-out")]
    out: PathBuf,
    /// Print the numbers as one JSON object instead of the table.
    #[arg(long, global = true)]
    json: bool,
    /// A small version that runs in seconds (for the tests).
    #[arg(long, global = true)]
    quick: bool,
    /// Seed of every random draw.
    #[arg(long, global = true, default_value_t = 0)]
    seed: u64,
}

#[derive(Subcommand, Debug)]
enum Experiment {
    /// Batch, online (η = 1/t per centre) and mini-batch K-means over random restarts.
    Kmeans(kmeans::Args),
    /// Deterministic vs noisy gradient paths: the saddle, the dependence on the start.
    Noise(noise::Args),
    /// Tracking a drifting mean: constant rate vs 1/t vs polynomial averaging, vs theory.
    Tracking(tracking::Args),
    /// SGD vs batch vs mini-batch on logistic regression: O(1/t), linear rates, averaging.
    Rates(rates::Args),
    /// Slow, oscillating and diverging steps on a quadratic; momentum's speed-up and damping.
    StepSize(step_size::Args),
    /// Linear regression on raw, standardized and whitened inputs: κ and iterations.
    Conditioning(conditioning::Args),
    /// Gradients +0.1 nine times, −0.9 once: Rprop drifts, SGD and RMSProp do not.
    RpropMinibatch(rprop_minibatch::Args),
    /// Initializations: activation variance through depth, and learning curves.
    Init(init::Args),
    /// Batch size at a fixed number of examples seen: accuracy, time, gradient variance.
    BatchSize(batch_size::Args),
}

/// What every experiment is given besides its own flags.
pub struct Common {
    /// Where the figures go.
    pub out: PathBuf,
    /// The small version.
    pub quick: bool,
    /// Seed of every random draw.
    pub seed: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Err(e) if e.is::<report::Usage>() => {
            eprintln!("lab: {e}");
            ExitCode::from(2)
        }
        result => cli::finish("lab", result),
    }
}

fn run(cli: &Cli) -> Result<ExitCode, Error> {
    let common = Common {
        out: cli.out.clone(),
        quick: cli.quick,
        seed: cli.seed,
    };
    // Flags are checked before the output directory is made or any work starts.
    match &cli.experiment {
        Experiment::Kmeans(a) => a.check()?,
        Experiment::Noise(a) => a.check()?,
        Experiment::Tracking(a) => a.check()?,
        Experiment::Rates(a) => a.check()?,
        Experiment::StepSize(a) => a.check()?,
        Experiment::Conditioning(a) => a.check()?,
        Experiment::RpropMinibatch(a) => a.check()?,
        Experiment::Init(a) => a.check()?,
        Experiment::BatchSize(a) => a.check()?,
    }
    std::fs::create_dir_all(&common.out)
        .map_err(|e| format!("--out {}: {e}", common.out.display()))?;
    let report = match &cli.experiment {
        Experiment::Kmeans(a) => kmeans::run(&common, a)?,
        Experiment::Noise(a) => noise::run(&common, a)?,
        Experiment::Tracking(a) => tracking::run(&common, a)?,
        Experiment::Rates(a) => rates::run(&common, a)?,
        Experiment::StepSize(a) => step_size::run(&common, a)?,
        Experiment::Conditioning(a) => conditioning::run(&common, a)?,
        Experiment::RpropMinibatch(a) => rprop_minibatch::run(&common, a)?,
        Experiment::Init(a) => init::run(&common, a)?,
        Experiment::BatchSize(a) => batch_size::run(&common, a)?,
    };
    let mut out = std::io::stdout().lock();
    if cli.json {
        report.write_json(&mut out)?;
    } else {
        report.write_table(&mut out)?;
    }
    Ok(ExitCode::SUCCESS)
}
