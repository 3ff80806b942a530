//! Criterion benchmarks of the tensor kernels: GEMM (square sizes and the MLP layers'
//! forward and backward products), the MNIST CNN's convolutions (forward, input and weight
//! gradients) beside the GEMM of the same FLOPs, element-wise maps, reductions, softmax,
//! pooling, and `einsum` against the `matmul` it lowers to.
//!
//! `cargo bench --bench tensor` (all), or e.g. `cargo bench --bench tensor -- sgemm/512`.
//! Thread count follows `RAYON_NUM_THREADS`. `examples/bench.rs` prints the same GEMM and
//! element-wise figures as JSON for comparison with NumPy.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use descent_tensor::{Float, Tensor};
use rand::{rngs::StdRng, SeedableRng};
use std::hint::black_box;
use std::time::Duration;

fn rng() -> StdRng {
    StdRng::seed_from_u64(0)
}

/// A `[r, c]` matrix of uniform values, or the transposed view of a stored `[c, r]` one.
fn matrix<F: Float>(r: usize, c: usize, transposed: bool, rng: &mut StdRng) -> Tensor<F> {
    let shape = if transposed { [c, r] } else { [r, c] };
    let m = Tensor::rand(&shape, F::of(-1.0), F::one(), rng).expect("valid bounds");
    if transposed {
        m.t().expect("2-D")
    } else {
        m
    }
}

/// A labelled `(m, k, n)` product and whether each operand is a transposed view.
type GemmCase = (String, (usize, usize, usize), bool, bool);

/// `m×k · k×n` products: square sizes, then each MLP layer's X·W, X·Wᵀ (`Linear`'s
/// forward, `W` stored `out×in`), dY·Wᵀ and Xᵀ·dY (the transposed operand a strided view,
/// as autodiff passes it).
fn gemm_cases() -> Vec<GemmCase> {
    let mut cases: Vec<_> = [64, 128, 256, 512, 1024]
        .iter()
        .map(|&s| (format!("{s}"), (s, s, s), false, false))
        .collect();
    for (b, i, o) in [(128, 784, 512), (128, 512, 256)] {
        cases.push((format!("{b}x{i}.{i}x{o}"), (b, i, o), false, false));
        cases.push((format!("{b}x{i}.({o}x{i})T"), (b, i, o), false, true));
        cases.push((format!("{b}x{o}.({i}x{o})T"), (b, o, i), false, true));
        cases.push((format!("({b}x{i})T.{b}x{o}"), (i, b, o), true, false));
    }
    cases
}

fn gemm<F: Float>(c: &mut Criterion, name: &str) {
    let mut group = c.benchmark_group(name);
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500));
    let mut rng = rng();
    for (label, (m, k, n), ta, tb) in gemm_cases() {
        if F::DTYPE == "float64" && m * n * k > 512 * 512 * 512 {
            continue; // dgemm at 1024³ adds little and takes long
        }
        let a = matrix::<F>(m, k, ta, &mut rng);
        let b = matrix::<F>(k, n, tb, &mut rng);
        group.throughput(Throughput::Elements(2 * (m * n * k) as u64));
        group.bench_function(BenchmarkId::from_parameter(label), |bench| {
            bench.iter(|| black_box(a.matmul(&b).expect("shapes agree")))
        });
    }
    group.finish();
}

fn sgemm(c: &mut Criterion) {
    gemm::<f32>(c, "sgemm");
}

fn dgemm(c: &mut Criterion) {
    gemm::<f64>(c, "dgemm");
}

fn elementwise(c: &mut Criterion) {
    let mut group = c.benchmark_group("elementwise");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500));
    let mut rng = rng();
    for n in [1 << 20, 1 << 24] {
        let x = Tensor::<f32>::rand(&[n], -1.0, 1.0, &mut rng).expect("valid bounds");
        let y = Tensor::<f32>::rand(&[n], -1.0, 1.0, &mut rng).expect("valid bounds");
        let label = format!("{}M", n >> 20);
        group.throughput(Throughput::Bytes(3 * 4 * n as u64));
        group.bench_function(BenchmarkId::new("add", &label), |b| {
            b.iter(|| black_box(x.add(&y).expect("same shape")))
        });
        group.bench_function(BenchmarkId::new("mul", &label), |b| {
            b.iter(|| black_box(x.mul(&y).expect("same shape")))
        });
        group.throughput(Throughput::Bytes(2 * 4 * n as u64));
        group.bench_function(BenchmarkId::new("exp", &label), |b| {
            b.iter(|| black_box(x.exp()))
        });
        group.bench_function(BenchmarkId::new("tanh", &label), |b| {
            b.iter(|| black_box(x.tanh()))
        });
        let side = (n as f64).sqrt() as isize;
        let square = x.reshape(&[side, side]).expect("n is a square");
        let transposed = square.t().expect("2-D");
        group.bench_function(BenchmarkId::new("contiguous_of_t", &label), |b| {
            b.iter(|| black_box(transposed.contiguous()))
        });
    }
    group.finish();
}

fn reductions(c: &mut Criterion) {
    let mut group = c.benchmark_group("reduce");
    group.sample_size(20);
    let mut rng = rng();
    for (rows, cols) in [(128, 1000), (4096, 1000)] {
        let x = Tensor::<f32>::rand(&[rows, cols], -1.0, 1.0, &mut rng).expect("valid bounds");
        let label = format!("{rows}x{cols}");
        group.throughput(Throughput::Bytes(4 * (rows * cols) as u64));
        group.bench_function(BenchmarkId::new("sum_all", &label), |b| {
            b.iter(|| black_box(x.sum_all()))
        });
        group.bench_function(BenchmarkId::new("sum_rows", &label), |b| {
            b.iter(|| black_box(x.sum(&[0], false).expect("valid axis")))
        });
        group.bench_function(BenchmarkId::new("max_over_rows", &label), |b| {
            b.iter(|| black_box(x.max(&[1], false).expect("valid axis")))
        });
        group.bench_function(BenchmarkId::new("softmax", &label), |b| {
            b.iter(|| black_box(x.softmax(-1).expect("valid axis")))
        });
        group.bench_function(BenchmarkId::new("log_softmax", &label), |b| {
            b.iter(|| black_box(x.log_softmax(-1).expect("valid axis")))
        });
    }
    group.finish();
}

/// `einsum` against the `matmul` it lowers to, on contractions that are one GEMM: a plain
/// product, one with a transposed operand (`ij,kj->ik`) and a batched one. The two should
/// take the same time: the lowering adds views, not copies.
fn einsum(c: &mut Criterion) {
    let mut group = c.benchmark_group("einsum");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500));
    let mut rng = rng();
    let cases: [(&str, &[usize], &[usize], bool); 3] = [
        ("ij,jk->ik", &[512, 512], &[512, 512], false),
        ("ij,kj->ik", &[512, 512], &[512, 512], true),
        ("bij,bjk->bik", &[16, 128, 128], &[16, 128, 128], false),
    ];
    for (spec, sa, sb, transposed) in cases {
        let a = Tensor::<f32>::rand(sa, -1.0, 1.0, &mut rng).expect("valid bounds");
        let b = Tensor::<f32>::rand(sb, -1.0, 1.0, &mut rng).expect("valid bounds");
        let bt = if transposed {
            b.t().expect("2-D")
        } else {
            b.clone()
        };
        let flops: usize = 2 * sa.iter().product::<usize>() * sb[sb.len() - 1];
        group.throughput(Throughput::Elements(flops as u64));
        group.bench_function(BenchmarkId::new("matmul", spec), |bench| {
            bench.iter(|| black_box(a.matmul(&bt).expect("shapes agree")))
        });
        group.bench_function(BenchmarkId::new("einsum", spec), |bench| {
            bench.iter(|| black_box(Tensor::einsum(spec, &[&a, &b]).expect("shapes agree")))
        });
    }
    group.finish();
}

/// The MNIST CNN's two convolutions at batch 64 (conv1 1→32 3×3 on 28×28, conv2 32→64
/// 3×3 on 26×26): forward, the input gradient (`conv_transpose2d`, conv2 only: conv1's
/// input needs none) and the weight gradient, each beside `matmul` of the GEMM with the
/// same FLOPs, and the 2×2 max pool after conv2 with its index.
fn conv(c: &mut Criterion) {
    use descent_tensor::{ConvOptions, Window2d};
    let mut group = c.benchmark_group("conv");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500));
    let mut rng = rng();
    let d = ConvOptions::default();
    let n = 64;
    for (layer, [ci, co, h]) in [("conv1", [1, 32, 28]), ("conv2", [32, 64, 26])] {
        let x = Tensor::<f32>::rand(&[n, ci, h, h], -1.0, 1.0, &mut rng).expect("valid bounds");
        let w = Tensor::<f32>::rand(&[co, ci, 3, 3], -0.1, 0.1, &mut rng).expect("valid bounds");
        let o = h - 2;
        let g = Tensor::<f32>::rand(&[n, co, o, o], -1.0, 1.0, &mut rng).expect("valid bounds");
        let (kk, l) = (ci * 9, n * o * o);
        group.throughput(Throughput::Elements(2 * (co * kk * l) as u64));
        group.bench_function(BenchmarkId::new("forward", layer), |b| {
            b.iter(|| black_box(x.conv2d(&w, None, d).expect("shapes agree")))
        });
        let (a, bm) = (
            matrix::<f32>(co, kk, false, &mut rng),
            matrix::<f32>(kk, l, false, &mut rng),
        );
        group.bench_function(BenchmarkId::new("forward_gemm", layer), |b| {
            b.iter(|| black_box(a.matmul(&bm).expect("shapes agree")))
        });
        if ci > 1 {
            group.bench_function(BenchmarkId::new("input_grad", layer), |b| {
                b.iter(|| {
                    black_box(
                        g.conv_transpose2d(&w, None, d, [0, 0])
                            .expect("shapes agree"),
                    )
                })
            });
        }
        group.bench_function(BenchmarkId::new("weight_grad", layer), |b| {
            b.iter(|| black_box(g.conv2d_weight_grad(&x, [3, 3], d).expect("shapes agree")))
        });
    }
    let x = Tensor::<f32>::rand(&[n, 64, 24, 24], -1.0, 1.0, &mut rng).expect("valid bounds");
    group.throughput(Throughput::Bytes(4 * x.numel() as u64));
    let win = Window2d::new([2, 2]).stride([2, 2]);
    group.bench_function("max_pool2d_with_indices/conv2", |b| {
        b.iter(|| black_box(x.max_pool2d_with_indices(win).expect("fits")))
    });
    group.finish();
}

criterion_group!(benches, sgemm, dgemm, conv, elementwise, reductions, einsum);
criterion_main!(benches);
