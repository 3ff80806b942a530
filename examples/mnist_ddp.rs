//! Data-parallel training of the MNIST model (784-512-256-10 ReLU, Adam) across processes
//! over MPI: each process takes its slice of every global batch, gradients are averaged
//! after backward, and every process steps identically.
//!
//! ```sh
//! cargo run --release --example mnist_ddp -- --epochs 1                # one process
//! cargo build --release --features mpi --example mnist_ddp
//! mpirun -n 2 target/release/examples/mnist_ddp --distributed --epochs 1
//! mpirun -n 2 target/release/examples/mnist_ddp --distributed --synthetic 12800 --max-steps 100
//! ```
//!
//! With `--distributed` and `mpirun -n P`, each process computes `--batch / P` examples of
//! each global batch of `--batch` (PyTorch's `DistributedSampler` split of the same epoch
//! order), so a run sees the same batches as one process with the same `--batch`. Rank 0
//! prints progress and writes the checkpoint; the test accuracy is summed over shards of
//! the test set. The last line is JSON with `--json`.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::builder::RangedU64ValueParser;
use clap::Parser;
use descent::autodiff::Tape;
use descent::data::{mnist, DataLoader, Dataset, Mnist};
use descent::nn::activation::Relu;
use descent::nn::{self, loss, Linear, Mode, Module, Reduction, Sequential};
use descent::Tensor;
use descent_distributed::{self as dist, Comm, DataParallel, ShardedSampler};
use rand::rngs::StdRng;
use rand::SeedableRng;

type Error = Box<dyn std::error::Error>;

/// Trains the MNIST MLP data-parallel over MPI (`mpirun -n 2 … --distributed`), or in one
/// process without `--distributed`; same global batch either way.
#[derive(Parser, Debug)]
#[command(version, long_about = None)]
struct Args {
    /// Run across the processes of `mpirun` (needs the `mpi` cargo feature).
    #[arg(long)]
    distributed: bool,
    /// Directory with the four IDX files (else $MNIST_DIR, else the cache, else download).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Train on N random images of MNIST's shape instead of MNIST (for timing; no files).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=10_000_000))]
    synthetic: Option<usize>,
    /// Passes over the training set (1 to 1000).
    #[arg(long, default_value_t = 1, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1000))]
    epochs: usize,
    /// Stop after this many steps (for timing).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    max_steps: Option<usize>,
    /// The global batch, split evenly across processes (must divide by their number).
    #[arg(long, default_value_t = 128, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    batch: usize,
    /// Optimizer spec, as in the mnist example.
    #[arg(long, default_value = "adam:lr=1e-3")]
    optimizer: String,
    /// Seed of the initial weights (rank 0's are broadcast) and of the epoch order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Kernel threads per process.
    #[arg(long, default_value_t = 1, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024))]
    threads: usize,
    /// Write the weights (safetensors) here after training, from rank 0 only.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Start each bucket's allreduce as soon as its gradients are final, during backward
    /// (PyTorch DDP's overlap); needs more than one bucket (`--bucket-kb`).
    #[arg(long)]
    overlap: bool,
    /// Bucket size in KiB (default 25600, PyTorch DDP's 25 MB: one bucket for this model).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=4_194_304))]
    bucket_kb: Option<usize>,
    /// Print a JSON summary as the last line.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Err(e) = descent::optim::build::<f32>(&args.optimizer) {
        eprintln!("mnist_ddp: --optimizer: {e}");
        return ExitCode::from(2);
    }
    let comm = match if args.distributed {
        Comm::init_distributed()
    } else {
        Ok(Comm::local())
    } {
        Ok(c) => c,
        Err(e) => {
            eprintln!("mnist_ddp: {e}");
            return ExitCode::from(2);
        }
    };
    if args.batch % comm.size() != 0 {
        eprintln!(
            "mnist_ddp: --batch {} does not divide by the {} processes",
            args.batch,
            comm.size()
        );
        return ExitCode::from(2);
    }
    let result = run(&args, &comm);
    if let (Err(e), true) = (&result, comm.size() > 1) {
        // Stop every rank, not only this one (a peer may be waiting on us).
        eprintln!("mnist_ddp: rank {}: {e}", comm.rank());
        comm.abort(1);
    }
    cli::finish("mnist_ddp", result.map(|()| ExitCode::SUCCESS))
}

fn load(args: &Args) -> Result<(Dataset<f32>, Dataset<f32>), Error> {
    if let Some(n) = args.synthetic {
        let mut rng = StdRng::seed_from_u64(1);
        let make = |n: usize, rng: &mut StdRng| -> Result<Dataset<f32>, Error> {
            let x = Tensor::rand(&[n, 784], 0.0, 1.0, rng)?;
            Ok(Dataset::new(x, (0..n).map(|i| i % 10).collect())?)
        };
        return Ok((make(n, &mut rng)?, make(1000, &mut rng)?));
    }
    let (dir, _) = mnist::locate(args.data.as_deref())?;
    let Mnist { train, test } = Mnist::load(&dir)?;
    Ok((train.to_dataset()?, test.to_dataset()?))
}

fn model(seed: u64) -> Result<Sequential<f32>, Error> {
    let mut rng = StdRng::seed_from_u64(seed);
    Ok(Sequential::new()
        .add(Linear::new(784, 512, &mut rng)?)
        .add(Relu)
        .add(Linear::new(512, 256, &mut rng)?)
        .add(Relu)
        .add(Linear::new(256, 10, &mut rng)?))
}

fn run(args: &Args, comm: &Comm) -> Result<(), Error> {
    descent::tensor::set_num_threads(args.threads)?;
    let (train, test) = load(args)?;
    let (p, rank) = (comm.size(), comm.rank());
    let local = args.batch / p;
    // The seed differs per rank on purpose: the broadcast makes rank 0's weights everyone's.
    let mut net = model(args.seed + rank as u64)?;
    let mut ddp = DataParallel::new(comm, &mut net.params_mut())?;
    if let Some(kb) = args.bucket_kb {
        ddp.set_bucket_bytes(kb << 10)?;
    }
    ddp.set_overlap(args.overlap);
    let mut opt = descent::optim::build::<f32>(&args.optimizer)?;
    let loader = DataLoader::new(train.clone(), args.batch)?.shuffle(args.seed);
    let sampler = ShardedSampler::new(train.len(), p, rank, false)?;
    let _awake = descent::tensor::keep_workers_awake();
    let (mut steps, mut backward_seconds, start) = (0usize, 0.0f64, Instant::now());
    'epochs: for epoch in 0..args.epochs {
        let indices = sampler.indices(&loader.order(epoch as u64))?;
        let (mut loss_sum, mut batches) = (0.0f64, 0usize);
        for batch in dist::local_batches(&train, &indices, local, false)? {
            let batch = batch?;
            let (loss_value, grads) = {
                let tape = Tape::new();
                let logits =
                    net.forward(&tape, tape.constant(batch.images().clone()), Mode::Train)?;
                let loss = loss::cross_entropy(logits, batch.labels(), Reduction::Mean)?;
                let t = Instant::now();
                // Backward and the gradients' average (overlapped with --overlap).
                let grads = ddp.backward(comm, loss)?;
                backward_seconds += t.elapsed().as_secs_f64();
                (f64::from(loss.item()?), grads)
            };
            opt.step(&mut net.params_mut(), &grads)?;
            (loss_sum, batches, steps) = (loss_sum + loss_value, batches + 1, steps + 1);
            if args.max_steps.is_some_and(|m| steps >= m) {
                break 'epochs;
            }
        }
        let mut mean = [loss_sum / batches.max(1) as f64 / p as f64];
        comm.allreduce_sum(&mut mean, Default::default())?;
        if comm.is_root() {
            eprintln!(
                "epoch {}: mean training loss {:.4} ({} steps of {} × {local})",
                epoch + 1,
                mean[0],
                batches,
                p
            );
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    // Test accuracy: each rank its shard of the test set, the counts summed.
    let shard = dist::shard_range(test.len(), p, rank)?;
    let rows: Vec<usize> = shard.collect();
    let mut correct = [0.0f64];
    for chunk in rows.chunks(1000) {
        let part = test.subset(chunk)?;
        let tape = Tape::new();
        let logits =
            tape.no_grad(|| net.forward(&tape, tape.constant(part.images().clone()), Mode::Eval))?;
        let pred = logits.value()?.argmax(1)?;
        correct[0] += pred
            .iter()
            .zip(part.labels())
            .filter(|(a, b)| a == b)
            .count() as f64;
    }
    comm.allreduce_sum(&mut correct, Default::default())?;
    let accuracy = correct[0] / test.len() as f64;
    if let Some(path) = &args.checkpoint {
        comm.on_root(path, || nn::serialize::save(&net, path))?;
    }
    let steps_per_second = steps as f64 / seconds;
    if comm.is_root() {
        eprintln!(
            "{p} process(es) × {} thread(s): {steps} steps of global batch {} in {seconds:.1} s = {steps_per_second:.2} steps/s ({:.2} ms/step in backward and gradient averaging); test accuracy {:.4}",
            args.threads,
            args.batch,
            backward_seconds / steps.max(1) as f64 * 1e3,
            accuracy
        );
        if args.json {
            println!(
                "{{\"processes\":{p},\"threads\":{},\"overlap\":{},\"buckets\":{},\"steps\":{steps},\"steps_per_second\":{steps_per_second},\"backward_ms\":{},\"test_accuracy\":{accuracy}}}",
                args.threads,
                args.overlap,
                ddp.buckets().len(),
                backward_seconds / steps.max(1) as f64 * 1e3
            );
        }
    }
    Ok(())
}
