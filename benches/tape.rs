//! How thin the tape is: a 100-op elementwise chain on 1000 elements, forward
//! plus backward, and one full-batch SGD step of a 2-16-16-1 tanh MLP on 256 points.
//! `benches/reference/tape_torch.py` times the same work in PyTorch eager; run both and
//! compare medians from the same run (figures in `benches/README.md`):
//!
//! ```sh
//! cargo bench --bench tape && python3 benches/reference/tape_torch.py
//! ```

use criterion::{criterion_group, criterion_main, Criterion};
use descent::autodiff::{Param, Result, Tape};
use descent::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::hint::black_box;

/// 100 ops cycling through ×1.01, +0.01, tanh, ×w, then a sum; returns the gradient.
fn chain(x: &Param<f32>, w: &Tensor<f32>) -> Result<Tensor<f32>> {
    let tape = Tape::new();
    let w = tape.constant(w.clone());
    let mut h = tape.param(x);
    for i in 0..100 {
        h = match i % 4 {
            0 => h.mul_scalar(1.01)?,
            1 => h.add_scalar(0.01)?,
            2 => h.tanh()?,
            _ => h.mul(w)?,
        };
    }
    let grads = h.sum(&[], false)?.backward()?;
    Ok(grads.get(x).cloned().unwrap_or_else(|| Tensor::zeros(&[0])))
}

/// A 2-16-16-1 tanh MLP.
struct Mlp {
    layers: Vec<(Param<f32>, Param<f32>)>,
}

impl Mlp {
    fn new(rng: &mut StdRng) -> Result<Self> {
        let mut layers = Vec::new();
        for (fan_in, fan_out) in [(2, 16), (16, 16), (16, 1)] {
            let bound = 1.0 / (fan_in as f32).sqrt();
            let w = Tensor::rand(&[fan_in, fan_out], -bound, bound, rng)?;
            let b = Tensor::rand(&[fan_out], -bound, bound, rng)?;
            layers.push((Param::new(w), Param::new(b)));
        }
        Ok(Mlp { layers })
    }

    /// One full-batch step of plain SGD on the mean squared error; returns the loss.
    fn step(&mut self, x: &Tensor<f32>, y: &Tensor<f32>, lr: f32) -> Result<f32> {
        let grads = {
            let tape = Tape::new();
            let mut h = tape.constant(x.clone());
            let last = self.layers.len() - 1;
            for (i, (w, b)) in self.layers.iter().enumerate() {
                h = h.matmul(tape.param(w))?.add(tape.param(b))?;
                if i < last {
                    h = h.tanh()?;
                }
            }
            let loss = h
                .sub(tape.constant(y.clone()))?
                .square()?
                .mean(&[], false)?;
            let value = loss.item()?;
            (loss.backward()?, value)
        };
        for (w, b) in &mut self.layers {
            for p in [w, b] {
                if let Some(g) = grads.0.get(p) {
                    p.value.axpy_inplace(-lr, g)?;
                }
            }
        }
        Ok(grads.1)
    }
}

fn benches(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(0);
    let x = Param::new(Tensor::<f32>::randn(&[1000], 0.0, 1.0, &mut rng).expect("valid shape"));
    let w = Tensor::<f32>::rand(&[1000], 0.9, 1.1, &mut rng).expect("valid bounds");
    c.bench_function("tape/chain_100_ops_1000_elems", |b| {
        b.iter(|| chain(black_box(&x), &w).expect("chain runs"))
    });
    // The same chain on one element: what remains is the per-op cost of the tape itself
    // (recording, the backward sweep, allocation), divided by 100 for nanoseconds per op.
    let x1 = Param::new(Tensor::<f32>::full(&[1], 0.5));
    let w1 = Tensor::<f32>::full(&[1], 1.01);
    c.bench_function("tape/chain_100_ops_1_elem", |b| {
        b.iter(|| chain(black_box(&x1), &w1).expect("chain runs"))
    });

    let points = Tensor::<f32>::rand(&[256, 2], -1.0, 1.0, &mut rng).expect("valid bounds");
    let targets = points
        .narrow(1, 0, 1)
        .and_then(|a| a.mul(&points.narrow(1, 1, 1)?))
        .expect("shapes agree");
    let mut mlp = Mlp::new(&mut rng).expect("valid shapes");
    c.bench_function("tape/mlp_2_16_16_1_sgd_step_256", |b| {
        b.iter(|| {
            mlp.step(black_box(&points), &targets, 0.1)
                .expect("step runs")
        })
    });
}

criterion_group!(tape, benches);
criterion_main!(tape);
