//! Milliseconds per training step of the MNIST model (784-512-256-10 ReLU MLP, cross-entropy,
//! Adam lr 1e-3, batch 128) on synthetic data, and the process's peak memory, to compare
//! with PyTorch eager, whose script for the same work is
//! `benches/reference/mlp_step_torch.py`. Run both one after the other (figures in
//! `benches/README.md`):
//!
//! ```sh
//! cargo run --release --example mlp_step -- --threads 2 --json
//! python3 benches/reference/mlp_step_torch.py --threads 2
//! ```

mod cli;

use clap::builder::RangedU64ValueParser;
use clap::Parser;
use descent::autodiff::Tape;
use descent::nn::{activation::Relu, loss, Linear, Mode, Module, Reduction, Sequential};
use descent::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

/// Times training steps of the MNIST model (784-512-256-10 ReLU MLP, cross-entropy, Adam lr
/// 1e-3, batch 128) on synthetic data after 20 warm-up steps, and prints the median
/// milliseconds per step, samples per second and the process's peak memory.
#[derive(Parser, Debug)]
#[command(version, long_about = None)]
struct Args {
    /// Kernel threads (1 to 1024).
    #[arg(long, default_value_t = 2, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024))]
    threads: usize,
    /// Timed steps (1 to 1000000).
    #[arg(long, default_value_t = 200, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    steps: usize,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    cli::finish("mlp_step", run(&Args::parse()).map(|()| ExitCode::SUCCESS))
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let (threads, steps, json) = (args.threads, args.steps, args.json);
    descent::tensor::set_num_threads(threads)?;
    let mut out = std::io::stdout().lock();

    let mut rng = StdRng::seed_from_u64(0);
    let mut model = Sequential::new()
        .add(Linear::<f32>::new(784, 512, &mut rng)?)
        .add(Relu)
        .add(Linear::new(512, 256, &mut rng)?)
        .add(Relu)
        .add(Linear::new(256, 10, &mut rng)?);
    let mut opt = descent::optim::build::<f32>("adam:lr=1e-3")?;
    let batches: Vec<(Tensor<f32>, Vec<usize>)> = (0..8)
        .map(|_| {
            Ok((
                Tensor::rand(&[128, 784], 0.0, 1.0, &mut rng)?,
                (0..128).map(|_| rng.random_range(0..10)).collect(),
            ))
        })
        .collect::<Result<_, descent::tensor::Error>>()?;

    let mut times = Vec::with_capacity(steps);
    let warmup = 20;
    // As the MNIST example trains: the other workers poll between kernels.
    let _awake = descent::tensor::keep_workers_awake();
    for step in 0..warmup + steps {
        let (x, labels) = &batches[step % batches.len()];
        let start = Instant::now();
        let grads = {
            let tape = Tape::new();
            let logits = model.forward(&tape, tape.constant(x.clone()), Mode::Train)?;
            loss::cross_entropy(logits, labels, Reduction::Mean)?.backward()?
        };
        opt.step(&mut model.params_mut(), &grads)?;
        if step >= warmup {
            times.push(start.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    // `null` in JSON (and `?` in the sentence) where the peak is not known.
    let peak_mb = peak_rss_kb().map_or("null".to_string(), |kb| {
        format!("{:.0}", kb as f64 / 1024.0)
    });
    if json {
        writeln!(
            out,
            r#"{{"bench":"mlp_step_784_512_256_10_adam_b128","framework":"descent","threads":{threads},"median_ms":{median:.3},"samples_per_second":{:.0},"peak_rss_mb":{peak_mb}}}"#,
            128.0 / median * 1e3
        )?;
    } else {
        writeln!(out, "784-512-256-10 MLP, Adam, batch 128, {threads} threads: {median:.3} ms/step (median of {steps}), {:.0} samples/s, peak RSS {peak_mb} MB", 128.0 / median * 1e3)?;
    }
    Ok(())
}

/// The process's peak resident set (`VmHWM` in /proc/self/status), where Linux provides it.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
