//! One optimizer step over the parameters of a 784-512-256-10 MLP (535,818 f32 values), the
//! MNIST example's model.

use criterion::{criterion_group, criterion_main, Criterion};
use descent_autodiff::{Gradients, Param};
use descent_optim::build;
use descent_tensor::Tensor;

fn mlp_params() -> (Vec<Param<f32>>, Gradients<f32>) {
    let shapes: [&[usize]; 6] = [&[512, 784], &[512], &[256, 512], &[256], &[10, 256], &[10]];
    let params: Vec<Param<f32>> = shapes
        .iter()
        .map(|s| Param::new(Tensor::full(s, 0.01)))
        .collect();
    let mut grads = Gradients::new();
    for p in &params {
        grads.insert(p.id(), Tensor::full(p.shape(), 1e-3));
    }
    (params, grads)
}

fn bench(c: &mut Criterion) {
    for spec in [
        "sgd:lr=0.01,momentum=0.9",
        "adam:lr=1e-3",
        "adamw:lr=1e-3,amsgrad=true",
        "rmsprop:centered=true",
        "rprop",
    ] {
        let (mut params, grads) = mlp_params();
        let mut opt = build::<f32>(spec).unwrap();
        c.bench_function(&format!("step {spec} (535,818 f32)"), |b| {
            b.iter(|| {
                let mut refs: Vec<&mut Param<f32>> = params.iter_mut().collect();
                opt.step(&mut refs, &grads).unwrap();
            })
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
