//! `mlp_step --data DIR`: the 784-512-256-10 MLP trained on the real MNIST files with the
//! work of `benches/reference/mnist_torch.py` and `mnist_jax.py` and nothing more per step
//! (no loss read back, no accuracy counted, no progress bar), so that the three epochs
//! compare the frameworks rather than the programs around them. Samples per CPU-second
//! (all threads, spinning workers included) beside samples per second: under load the first
//! moves much less. `gather_ms_per_step` is the wall time spent waiting for the loader's
//! next batch (gathering its random rows), part of `ms_per_step`; `median_step_ms` is the
//! median of the steps' wall times (batch included), which leaves out the first steps'
//! allocations and the steps a busy machine preempted, to set beside the synthetic step's
//! median. With `bytes` the training images are kept as bytes and decoded per batch, as the
//! `mnist` example keeps them.

use descent::autodiff::Tape;
use descent::data::{DataLoader, Mnist};
use descent::nn::{activation::Relu, loss, Linear, Mode, Module, Reduction, Sequential};
use descent::optim::first_order::Scheduler;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// Trains for `epochs` epochs of `batch` and prints the throughput (one JSON line with
/// `json`).
pub fn run(
    dir: &Path,
    epochs: usize,
    batch: usize,
    bytes: bool,
    json: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let mnist = Mnist::load(dir)?;
    let test = mnist.test.to_dataset::<f32>()?;
    let train = if bytes {
        mnist.train.into_byte_dataset::<f32>()?
    } else {
        mnist.train.to_dataset::<f32>()?
    };
    let mut rng = StdRng::seed_from_u64(0);
    let mut model = Sequential::new()
        .add(Linear::<f32>::new(784, 512, &mut rng)?)
        .add(Relu)
        .add(Linear::new(512, 256, &mut rng)?)
        .add(Relu)
        .add(Linear::new(256, 10, &mut rng)?);
    let mut opt = descent::optim::build::<f32>("adam:lr=1e-3")?;
    let mut schedule = Scheduler::new(&format!("cosine:T_max={epochs}"), opt.as_mut())?;
    let loader = DataLoader::new(train, batch)?.shuffle(0);
    let test_loader = DataLoader::new(test.clone(), 1000)?;
    let (mut seconds, mut cpu_seconds, mut samples, mut steps) = (0.0, 0.0, 0, 0);
    let (mut eval_seconds, mut accuracy, mut gather_seconds) = (0.0, 0.0, 0.0);
    let mut step_ms = Vec::with_capacity(epochs * loader.num_batches());
    let mut out = std::io::stdout().lock();
    let _awake = descent::tensor::keep_workers_awake();
    for epoch in 0..epochs {
        // The epoch's order is drawn before the clock starts, as the scripts draw theirs.
        let mut batches = loader.epoch(epoch as u64);
        let (start, cpu) = (Instant::now(), super::cpu_seconds(super::Clock::Process));
        loop {
            let started = Instant::now();
            let Some((x, y)) = batches.next() else { break };
            gather_seconds += started.elapsed().as_secs_f64();
            let grads = {
                let tape = Tape::new();
                let logits = model.forward(&tape, tape.constant(x), Mode::Train)?;
                loss::cross_entropy(logits, &y, Reduction::Mean)?.backward()?
            };
            opt.step(&mut model.params_mut(), &grads)?;
            step_ms.push(started.elapsed().as_secs_f64() * 1e3);
            samples += y.len();
            steps += 1;
        }
        let took = start.elapsed().as_secs_f64();
        seconds += took;
        cpu_seconds += super::cpu_seconds(super::Clock::Process) - cpu;
        schedule.step(opt.as_mut())?;
        let start = Instant::now();
        let mut correct = 0;
        for (x, y) in test_loader.epoch(0) {
            let tape = Tape::new();
            let logits = tape.no_grad(|| model.forward(&tape, tape.constant(x), Mode::Eval))?;
            let pred = logits.value()?.argmax(1)?;
            correct += pred.iter().zip(&y).filter(|(p, l)| p == l).count();
        }
        eval_seconds = start.elapsed().as_secs_f64();
        accuracy = correct as f64 / test.len() as f64;
        if !json {
            writeln!(
                out,
                "epoch {}: {took:.2}s, {:.0} samples/s, evaluation {:.0} ms, test accuracy {:.2}%",
                epoch + 1,
                loader.num_samples() as f64 / took,
                eval_seconds * 1e3,
                accuracy * 100.0
            )?;
        }
    }
    let threads = descent::tensor::num_threads();
    step_ms.sort_by(f64::total_cmp);
    writeln!(
        out,
        r#"{{"framework":"descent","threads":{threads},"bytes":{bytes},"samples_per_second":{:.1},"samples_per_cpu_second":{:.1},"ms_per_step":{:.3},"median_step_ms":{:.3},"cpu_ms_per_step":{:.3},"gather_ms_per_step":{:.3},"eval_ms":{:.1},"test_accuracy":{accuracy:.6}}}"#,
        samples as f64 / seconds,
        samples as f64 / cpu_seconds,
        seconds * 1e3 / steps as f64,
        step_ms.get(step_ms.len() / 2).copied().unwrap_or(0.0),
        cpu_seconds * 1e3 / steps as f64,
        gather_seconds * 1e3 / steps as f64,
        eval_seconds * 1e3
    )?;
    Ok(())
}
