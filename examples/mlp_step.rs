//! Milliseconds per training step of the MNIST models (the 784-512-256-10 ReLU MLP, or with
//! `--model cnn` PyTorch's classic MNIST CNN; cross-entropy, Adam lr 1e-3, batch 128 unless
//! `--batch`) on synthetic data, the step's GFLOP/s as a fraction of this machine's `f32`
//! FMA peak on the same threads (measured after the steps), and the process's peak memory,
//! to compare with PyTorch eager, whose scripts for the same work are
//! `benches/reference/mlp_step_torch.py` and `benches/reference/cnn_torch.py`. Run both one
//! after the other (figures in `benches/README.md`):
//!
//! ```sh
//! cargo run --release --example mlp_step -- --threads 2 --json
//! python3 benches/reference/mlp_step_torch.py --threads 2
//! cargo run --release --example mlp_step -- --model cnn --batch 64 --threads 1 --json
//! # where a step's time goes
//! cargo run --release --example mlp_step -- --threads 2 --timeline
//! # one epoch of real MNIST, against mnist_torch.py and mnist_jax.py
//! cargo run --release --example mlp_step -- --data "$MNIST_DIR" --threads 2 --json
//! python3 benches/reference/cnn_torch.py --batch 64 --threads 1
//! ```

mod cli;
#[path = "mlp_step/epochs.rs"]
mod epochs;
#[path = "mlp_step/peak.rs"]
mod peak;
#[path = "mlp_step/timeline.rs"]
mod timeline;

use clap::builder::RangedU64ValueParser;
use clap::Parser;
use descent::autodiff::Tape;
use descent::nn::{
    activation::Relu, loss, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Mode, Module, Reduction,
    Sequential,
};
use descent::tensor::ConvOptions;
use descent::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

/// Times training steps of an MNIST model (784-512-256-10 ReLU MLP, or PyTorch's classic
/// MNIST CNN; cross-entropy, Adam lr 1e-3) on synthetic data after 20 warm-up steps, and
/// prints the median milliseconds per step, samples per second, the step's GFLOP/s (its
/// products and convolutions) against this machine's f32 FMA peak on the same threads, and
/// the process's peak memory.
#[derive(Parser, Debug)]
#[command(version, long_about = None)]
struct Args {
    /// Kernel threads (1 to 1024).
    #[arg(long, default_value_t = 2, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024))]
    threads: usize,
    /// Timed steps (1 to 1000000).
    #[arg(long, default_value_t = 200, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    steps: usize,
    /// The model: `mlp` (784-512-256-10 ReLU) or `cnn` (conv 1→32 3×3, ReLU, conv 32→64
    /// 3×3, ReLU, max-pool 2, dropout 0.25, flatten, linear 9216→128, ReLU, dropout 0.5,
    /// linear 128→10).
    #[arg(long, value_enum, default_value_t = Model::Mlp)]
    model: Model,
    /// Images per step (1 to 65536).
    #[arg(long, default_value_t = 128, value_parser = RangedU64ValueParser::<usize>::new().range(1..=65_536))]
    batch: usize,
    /// Print one JSON object instead of a sentence.
    #[arg(long)]
    json: bool,
    /// Also print where one step's time goes (MLP only): the tape step's phases and each
    /// kernel of the step run alone with the same shapes and layouts, medians in µs.
    #[arg(long)]
    timeline: bool,
    /// Instead of synthetic steps, train the MLP for `--epochs` on the MNIST files in this
    /// directory, as `benches/reference/mnist_torch.py` does (shuffled batches, Adam lr 1e-3
    /// with cosine annealing per epoch, nothing else per step), and print the training
    /// samples per second, the evaluation time and the test accuracy.
    #[arg(long)]
    data: Option<std::path::PathBuf>,
    /// With `--data`: keep the training images as bytes, decoded per batch (as the `mnist`
    /// example keeps them), instead of as `f32`.
    #[arg(long)]
    bytes: bool,
    /// Epochs with `--data` (1 to 1000).
    #[arg(long, default_value_t = 1, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    epochs: usize,
}

/// `--model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Model {
    /// The 784-512-256-10 ReLU MLP.
    Mlp,
    /// PyTorch's classic MNIST CNN.
    Cnn,
}

fn main() -> ExitCode {
    cli::finish("mlp_step", run(&Args::parse()).map(|()| ExitCode::SUCCESS))
}

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let (threads, steps, json, batch) = (args.threads, args.steps, args.json, args.batch);
    descent::tensor::set_num_threads(threads)?;
    if let Some(dir) = &args.data {
        if args.model != Model::Mlp || args.timeline {
            return Err("--data: only for --model mlp, without --timeline".into());
        }
        return epochs::run(dir, args.epochs, batch, args.bytes, json);
    }
    if args.bytes {
        return Err("--bytes: only with --data".into());
    }
    let mut out = std::io::stdout().lock();

    let mut rng = StdRng::seed_from_u64(0);
    let (mut model, name, input) = match args.model {
        Model::Mlp => (
            Sequential::new()
                .add(Linear::<f32>::new(784, 512, &mut rng)?)
                .add(Relu)
                .add(Linear::new(512, 256, &mut rng)?)
                .add(Relu)
                .add(Linear::new(256, 10, &mut rng)?),
            "mlp_step_784_512_256_10_adam",
            vec![batch, 784],
        ),
        Model::Cnn => (
            Sequential::new()
                .add(Conv2d::<f32>::new(
                    1,
                    32,
                    [3, 3],
                    ConvOptions::default(),
                    &mut rng,
                )?)
                .add(Relu)
                .add(Conv2d::new(
                    32,
                    64,
                    [3, 3],
                    ConvOptions::default(),
                    &mut rng,
                )?)
                .add(Relu)
                .add(MaxPool2d::new([2, 2]))
                .add(Dropout::new(0.25, 1)?)
                .add(Flatten::default())
                .add(Linear::new(9216, 128, &mut rng)?)
                .add(Relu)
                .add(Dropout::new(0.5, 2)?)
                .add(Linear::new(128, 10, &mut rng)?),
            "cnn_step_mnist_adam",
            vec![batch, 1, 28, 28],
        ),
    };
    let mut opt = descent::optim::build::<f32>("adam:lr=1e-3")?;
    let batches: Vec<(Tensor<f32>, Vec<usize>)> = (0..8)
        .map(|_| {
            Ok((
                Tensor::rand(&input, 0.0, 1.0, &mut rng)?,
                (0..batch).map(|_| rng.random_range(0..10)).collect(),
            ))
        })
        .collect::<Result<_, descent::tensor::Error>>()?;

    let mut times = Vec::with_capacity(steps);
    let warmup = 20;
    // As the MNIST example trains: the other workers poll between kernels.
    let awake = descent::tensor::keep_workers_awake();
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
    if args.timeline {
        if args.model != Model::Mlp {
            return Err("--timeline: only for --model mlp".into());
        }
        timeline::print(
            &mut model,
            opt.as_mut(),
            &batches,
            steps,
            median * 1e3,
            &mut out,
        )?;
    }
    // `null` in JSON (and `?` in the sentence) where the peak is not known.
    let peak_mb = peak_rss_kb().map_or("null".to_string(), |kb| {
        format!("{:.0}", kb as f64 / 1024.0)
    });
    let gflops = step_flops(args.model, batch) / median / 1e6;
    // The polling workers would take the cores from the peak's threads.
    drop(awake);
    let fma_peak = peak::fma_gflops(threads);
    if json {
        let (fma_peak, of_peak) = match fma_peak {
            Some(p) => (format!("{p:.1}"), format!("{:.3}", gflops / p)),
            None => ("null".to_string(), "null".to_string()),
        };
        writeln!(
            out,
            r#"{{"bench":"{name}_b{batch}","framework":"descent","threads":{threads},"median_ms":{median:.3},"samples_per_second":{:.0},"gflops":{gflops:.1},"fma_peak_gflops":{fma_peak},"of_fma_peak":{of_peak},"peak_rss_mb":{peak_mb}}}"#,
            batch as f64 / median * 1e3
        )?;
    } else {
        let of_peak = fma_peak.map_or(String::new(), |p| {
            format!(
                " ({:.0}% of the FMA peak, {p:.0} GFLOP/s on {threads} threads)",
                100.0 * gflops / p
            )
        });
        writeln!(out, "{name}, batch {batch}, {threads} threads: {median:.3} ms/step (median of {steps}), {:.0} samples/s, {gflops:.1} GFLOP/s{of_peak}, peak RSS {peak_mb} MB", batch as f64 / median * 1e3)?;
    }
    Ok(())
}

/// The floating-point operations of one training step of `model` on `batch` images: its
/// products and convolutions, each multiply-add two, run forward, for the weights' gradient
/// and (all but the first layer) for the input's gradient; the element-wise work and the
/// optimizer are left out.
fn step_flops(model: Model, batch: usize) -> f64 {
    // (multiply-adds of the forward per image, whether the input's gradient is formed)
    let layers: &[(usize, bool)] = match model {
        Model::Mlp => &[(784 * 512, false), (512 * 256, true), (256 * 10, true)],
        Model::Cnn => &[
            (26 * 26 * 32 * 9, false),
            (24 * 24 * 64 * 32 * 9, true),
            (9216 * 128, true),
            (128 * 10, true),
        ],
    };
    let per_image: usize = layers
        .iter()
        .map(|&(mul_adds, input_grad)| 2 * mul_adds * (2 + usize::from(input_grad)))
        .sum();
    (per_image * batch) as f64
}

/// Whose CPU time [`cpu_seconds`] reads.
#[derive(Clone, Copy)]
enum Clock {
    /// All the process's threads (`CLOCK_PROCESS_CPUTIME_ID`).
    Process = 2,
    /// The calling thread (`CLOCK_THREAD_CPUTIME_ID`).
    Thread = 3,
}

/// CPU seconds used so far (0 where not Linux): on a machine shared with other jobs it
/// leaves out the time the threads waited to be scheduled, which wall-clock time includes.
fn cpu_seconds(clock: Clock) -> f64 {
    #[cfg(target_os = "linux")]
    {
        #[repr(C)]
        struct Timespec {
            sec: i64,
            nsec: i64,
        }
        extern "C" {
            fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
        }
        let mut t = Timespec { sec: 0, nsec: 0 };
        // SAFETY: libc's clock_gettime writes one timespec (two 64-bit fields on 64-bit
        // Linux) through a valid pointer.
        unsafe { clock_gettime(clock as i32, &mut t) };
        t.sec as f64 + t.nsec as f64 * 1e-9
    }
    #[cfg(not(target_os = "linux"))]
    {
        _ = clock;
        0.0
    }
}

/// The process's peak resident set (`VmHWM` in /proc/self/status), where Linux provides it.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
