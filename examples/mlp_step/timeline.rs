//! `mlp_step --timeline`: where one step of the MLP's training goes. Two views, each a
//! median over the timed steps:
//!
//! - the tape step's phases as the training loop runs them: gathering a batch of 128 random
//!   rows from a 60,000-image set (what `DataLoader` does), the forward pass with the loss,
//!   the backward pass, the optimizer;
//! - every kernel of the step run alone, one after the other, with the shapes and layouts the
//!   tape gives it (`x·Wᵀ` with `W` transposed as `Linear` passes it, `gᵀ·x` for the weight
//!   gradients, ReLU's backward as one `g·slope(x)` pass), so that what is left of the tape
//!   step beside their sum is the tape's own work and the threads' hand-offs; the cost of one
//!   hand-off is measured as an empty `rayon::broadcast` (every worker runs a no-op). Each
//!   kernel runs on one thread (a pool of one) and on all of them, alternated step by step,
//!   and the speed-up is the one-thread CPU time over the wall time on all threads: a
//!   kernel near 1.0 runs serially, or its halves wait for each other.
//!
//! Each line gives wall-clock µs and the calling thread's CPU µs: on a machine shared with
//! other jobs the second leaves out the time the thread was not scheduled, so with one
//! thread it is the work itself.

use descent::autodiff::Tape;
use descent::nn::{loss, Mode, Module, Reduction, Sequential};
use descent::optim::Optimizer;
use descent::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;
use std::time::Instant;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Medians of named durations (wall clock, the caller's CPU), in the order first seen.
#[derive(Default)]
struct Phases(Vec<(&'static str, Vec<f64>, Vec<f64>)>);

impl Phases {
    /// Runs `f`, adding its durations in µs to `name`.
    fn time<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let (start, cpu) = (
            Instant::now(),
            super::cpu_seconds(super::Clock::Thread) * 1e6,
        );
        let out = f();
        let (us, cpu_us) = (
            start.elapsed().as_secs_f64() * 1e6,
            super::cpu_seconds(super::Clock::Thread) * 1e6 - cpu,
        );
        match self.0.iter_mut().find(|(n, ..)| *n == name) {
            Some((_, v, c)) => {
                v.push(us);
                c.push(cpu_us);
            }
            None => self.0.push((name, vec![us], vec![cpu_us])),
        }
        out
    }

    /// Name, median wall-clock µs, median CPU µs.
    fn medians(&self) -> Vec<(&'static str, f64, f64)> {
        let median = |v: &[f64]| {
            let mut v = v.to_vec();
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        self.0
            .iter()
            .map(|(n, v, c)| (*n, median(v), median(c)))
            .collect()
    }
}

/// Prints both views of the step (`step_us`: the median step measured before).
pub fn print(
    model: &mut Sequential<f32>,
    opt: &mut dyn Optimizer<f32>,
    batches: &[(Tensor<f32>, Vec<usize>)],
    steps: usize,
    step_us: f64,
    out: &mut impl Write,
) -> Res<()> {
    let mut rng = StdRng::seed_from_u64(1);
    let set = Tensor::<f32>::rand(&[60_000, 784], 0.0, 1.0, &mut rng)?;
    let batch = batches[0].0.shape()[0];

    // The tape step, phase by phase.
    let mut tape_phases = Phases::default();
    for step in 0..steps + 5 {
        let (_, labels) = &batches[step % batches.len()];
        let rows: Vec<usize> = (0..batch).map(|_| rng.random_range(0..60_000)).collect();
        let x = tape_phases.time("gather a batch (index_select)", || {
            set.index_select(0, &rows)
        })?;
        let grads = {
            let tape = Tape::new();
            let loss = tape_phases.time("forward + loss (tape)", || -> Res<_> {
                let logits = model.forward(&tape, tape.constant(x), Mode::Train)?;
                Ok(loss::cross_entropy(logits, labels, Reduction::Mean)?)
            })?;
            tape_phases.time("backward (tape)", || loss.backward())?
        };
        tape_phases.time("optimizer (Adam, checks included)", || {
            opt.step(&mut model.params_mut(), &grads)
        })?;
    }

    // Each kernel alone, step by step on one thread (a pool of one) and on all of them,
    // so that the two columns see the same load.
    let p: Vec<Tensor<f32>> = model.params().iter().map(|p| p.value.clone()).collect();
    let w = <[Tensor<f32>; 6]>::try_from(p).map_err(|_| "six params")?;
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let (mut k1, mut k) = (Phases::default(), Phases::default());
    for step in 0..steps + 5 {
        let (x, labels) = &batches[step % batches.len()];
        one.install(|| kernels(&mut k1, x, labels, &w).map_err(|e| e.to_string()))?;
        kernels(&mut k, x, labels, &w)?;
    }
    let mut hand_off = Phases::default();
    for _ in 0..1000 {
        hand_off.time("hand-off", || rayon::broadcast(|_| ()));
    }
    let (_, join_us, join_cpu) = hand_off.medians()[0];

    let threads = rayon::current_num_threads();
    writeln!(
        out,
        "# timeline, {threads} threads, batch {batch}: medians of {steps} steps, µs"
    )?;
    writeln!(out, "## the tape step by phase (step median {step_us:.0})")?;
    writeln!(out, "{:<40} {:>9} {:>9}", "", "wall", "CPU")?;
    let line = |out: &mut dyn Write, name: &str, us: f64, cpu: f64| {
        writeln!(out, "{name:<40} {us:>9.1} {cpu:>9.1}")
    };
    let tape = tape_phases.medians();
    for &(name, us, cpu) in &tape {
        line(out, name, us, cpu)?;
    }
    let sum = |v: &[(&str, f64, f64)]| v.iter().fold((0.0, 0.0), |(a, b), x| (a + x.1, b + x.2));
    let (w, c) = sum(&tape[1..]);
    line(out, "forward + backward + optimizer", w, c)?;
    writeln!(
        out,
        "## each kernel alone: one thread (CPU), {threads} threads (wall, CPU), speed-up"
    )?;
    let kernels = k.medians();
    let alone = k1.medians();
    for (&(name, us, cpu), &(_, _, cpu1)) in kernels.iter().zip(&alone) {
        writeln!(
            out,
            "{name:<40} {cpu1:>9.1} {us:>9.1} {cpu:>9.1} {:>6.2}",
            cpu1 / us
        )?;
    }
    let (products, other): (Vec<_>, Vec<_>) =
        kernels.into_iter().partition(|(n, ..)| n.contains('·'));
    let (products1, other1): (Vec<_>, Vec<_>) =
        alone.into_iter().partition(|(n, ..)| n.contains('·'));
    let ((gw, gc), (ow, oc)) = (sum(&products), sum(&other));
    let ((_, gc1), (_, oc1)) = (sum(&products1), sum(&other1));
    for (name, cpu1, w, c) in [
        ("sum of the products", gc1, gw, gc),
        ("sum of the element-wise work", oc1, ow, oc),
    ] {
        writeln!(
            out,
            "{name:<40} {cpu1:>9.1} {w:>9.1} {c:>9.1} {:>6.2}",
            cpu1 / w
        )?;
    }
    let (fw, fc) = sum(&tape[1..3]);
    line(
        out,
        "tape forward + backward − kernels",
        fw - gw - ow,
        fc - gc - oc,
    )?;
    line(
        out,
        "one hand-off (empty rayon::broadcast)",
        join_us,
        join_cpu,
    )?;
    Ok(())
}

/// Every kernel of the step once, in the tape's order, shapes and layouts, timed into `k`.
fn kernels(k: &mut Phases, x: &Tensor<f32>, labels: &[usize], w: &[Tensor<f32>; 6]) -> Res<()> {
    let [w1, b1, w2, b2, w3, b3] = w;
    let batch = x.shape()[0];
    let relu_slope = |g: f32, x: f32| if x <= 0.0 { 0.0 } else { g };
    let z1 = k.time("fwd1  x·W1ᵀ  128×784·784×512", || x.matmul(&w1.t()?))?;
    let a1 = k.time("      + b1", || z1.add(b1))?;
    let h1 = k.time("      relu", || a1.relu());
    let z2 = k.time("fwd2  h1·W2ᵀ 128×512·512×256", || h1.matmul(&w2.t()?))?;
    let a2 = k.time("      + b2", || z2.add(b2))?;
    let h2 = k.time("      relu ", || a2.relu());
    let z3 = k.time("fwd3  h2·W3ᵀ 128×256·256×10", || h2.matmul(&w3.t()?))?;
    let a3 = k.time("      + b3", || z3.add(b3))?;
    let logp = k.time("      log_softmax", || a3.log_softmax(-1))?;
    let onehot = Tensor::one_hot(labels, 10)?;
    let d3 = k.time("bwd   softmax − onehot, /N", || -> Res<_> {
        Ok(logp.exp().sub(&onehot)?.mul_scalar(1.0 / batch as f32))
    })?;
    let _dw3 = k.time("dW3   d3ᵀ·h2  10×128·128×256", || d3.t()?.matmul(&h2))?;
    let _db3 = k.time("db3   sum over the batch", || d3.sum(&[0], false))?;
    let dh2 = k.time("dh2   d3·W3   128×10·10×256", || d3.matmul(w3))?;
    let d2 = k.time("      relu backward", || {
        dh2.zip_map("times_slope", &a2, relu_slope)
    })?;
    let _dw2 = k.time("dW2   d2ᵀ·h1  256×128·128×512", || {
        d2.t()?.matmul(&h1)
    })?;
    let _db2 = k.time("db2   sum over the batch ", || d2.sum(&[0], false))?;
    let dh1 = k.time("dh1   d2·W2   128×256·256×512", || d2.matmul(w2))?;
    let d1 = k.time("      relu backward ", || {
        dh1.zip_map("times_slope", &a1, relu_slope)
    })?;
    let _dw1 = k.time("dW1   d1ᵀ·x   512×128·128×784", || d1.t()?.matmul(x))?;
    let _db1 = k.time("db1   sum over the batch  ", || d1.sum(&[0], false))?;
    Ok(())
}
