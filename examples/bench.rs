//! Throughput of the tensor kernels, for comparing with NumPy/OpenBLAS
//! (`benches/reference/numpy_gemm.py` prints the same lines).
//!
//! ```text
//! cargo run --release --example bench -- --json --threads 2
//! ```
//!
//! With `--json`, one JSON object per line:
//! `{"op":"sgemm","m":..,"n":..,"k":..,"trans":"NN","threads":..,"gflops":..}` for square
//! sizes 64–1024 and the MLP layers' forward and backward products (`trans` says which
//! operand is a transposed view: backward products take `Wᵀ` and `Xᵀ` without copying),
//! `{"op":"add","n":..,"threads":..,"gbps":..}` for add/mul/exp and a plain parallel copy on
//! 1M and 16M f32, and one `{"op":"pool",..}` line: buffer-pool allocations and page faults
//! per step of a steady-state MLP-sized loop. Then
//! `{"op":"conv2d_forward","layer":"conv2","batch":..,"gflops":..,"gemm_gflops":..,"ratio":..}`
//! for the MNIST CNN's convolutions (forward, `input_grad`, `weight_grad`) at batch 64 and
//! 128, each beside `matmul` of the GEMM with the same FLOPs (`ratio` = conv / GEMM);
//! `--conv` prints only those. Every figure is the median of repeated runs;
//! GEMM lines also give `gflops_per_cpu_s`, the work per CPU-second of all threads, which
//! swings much less than wall time when other processes share the cores.

use clap::builder::RangedU64ValueParser;
use clap::Parser;
use descent_tensor::{Float, Tensor};
use rand::{rngs::StdRng, SeedableRng};
use rayon::prelude::*;
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

/// Measures the tensor kernels' throughput: GEMM at square sizes and at the MNIST MLP's
/// forward and backward shapes, element-wise add, mul, exp and a plain parallel copy on 1M
/// and 16M floats, and the buffer pool's allocations per step of an MLP-like loop; the
/// lines match those of `benches/reference/numpy_gemm.py`.
#[derive(Parser)]
#[command(version, long_about = None)]
struct Args {
    /// Print one JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
    /// Kernel threads, 1 to 1024 (default: RAYON_NUM_THREADS, else every core).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024))]
    threads: Option<usize>,
    /// Only the CNN's convolutions (and the GEMMs of the same FLOPs).
    #[arg(long)]
    conv: bool,
    /// Minimum time spent timing each case, in milliseconds (1 to 600000).
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    millis: u64,
}

/// Writes one line to stdout; a reader that has gone (`| head`) ends the program quietly.
macro_rules! out {
    ($($t:tt)*) => {{
        let mut stdout = std::io::stdout().lock();
        if let Err(e) = writeln!(stdout, $($t)*) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("bench: writing to stdout: {e}");
            std::process::exit(1);
        }
    }};
}

/// Seconds per call of `f`: the median wall time over at least 5 calls and `budget`, after
/// two warm-ups, and the mean CPU time of all the process's threads (when readable).
fn time_calls(budget: Duration, mut f: impl FnMut()) -> (f64, Option<f64>) {
    f();
    f();
    let mut times = Vec::new();
    let cpu0 = cpu_secs();
    let start = Instant::now();
    while times.len() < 5 || (start.elapsed() < budget && times.len() < 10_000) {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64());
    }
    let cpu = cpu0
        .zip(cpu_secs())
        .map(|(a, b)| (b - a) / times.len() as f64);
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], cpu)
}

/// CPU seconds used so far by all threads of this process (Linux; `None` elsewhere). On a
/// shared machine wall time swings with the load; work per CPU-second much less.
fn cpu_secs() -> Option<f64> {
    let mut ns = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        ns += stat.split(' ').next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 * 1e-9)
}

/// A JSON number, or `null`.
fn num(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "null".into(), |x| format!("{x:.digits$}"))
}

/// A `[r, c]` matrix, or the transposed view of a stored `[c, r]` one.
fn matrix(r: usize, c: usize, transposed: bool, rng: &mut StdRng) -> Tensor<f32> {
    let shape = if transposed { [c, r] } else { [r, c] };
    let m = Tensor::rand(&shape, -1.0, 1.0, rng).expect("valid bounds");
    if transposed {
        m.t().expect("2-D")
    } else {
        m
    }
}

/// Minor page faults of this process so far (Linux; `None` elsewhere).
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; minflt is field 10 of the whole line.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(7)?.parse().ok()
}

struct Report {
    json: bool,
    threads: usize,
}

impl Report {
    fn gemm(&self, (m, k, n): (usize, usize, usize), trans: &str, (secs, cpu): (f64, Option<f64>)) {
        let gflop = 2.0 * (m * n * k) as f64 / 1e9;
        let (gflops, per_cpu) = (gflop / secs, cpu.map(|c| gflop / c));
        if self.json {
            out!(
                "{{\"op\":\"sgemm\",\"m\":{m},\"n\":{n},\"k\":{k},\"trans\":\"{trans}\",\"threads\":{},\"gflops\":{gflops:.1},\"gflops_per_cpu_s\":{}}}",
                self.threads,
                num(per_cpu, 1)
            );
        } else {
            out!(
                "sgemm {m:>5} x {k:>5} x {n:>5}  {trans}  {gflops:>8.1} GFLOP/s  ({} per CPU-second)",
                num(per_cpu, 1)
            );
        }
    }

    fn stream(&self, op: &str, n: usize, bytes: usize, (secs, _): (f64, Option<f64>)) {
        let gbps = bytes as f64 / secs / 1e9;
        if self.json {
            out!(
                "{{\"op\":\"{op}\",\"n\":{n},\"threads\":{},\"gbps\":{gbps:.2}}}",
                self.threads
            );
        } else {
            out!("{op:<5} n = {n:>9}            {gbps:>8.2} GB/s");
        }
    }
}

fn main() {
    let args = Args::parse();
    if let Err(e) = descent_tensor::set_num_threads(args.threads.unwrap_or(0)) {
        eprintln!("bench: --threads: {e}");
        std::process::exit(1);
    }
    let report = Report {
        json: args.json,
        threads: descent_tensor::num_threads(),
    };
    let budget = Duration::from_millis(args.millis);
    let mut rng = StdRng::seed_from_u64(0);

    conv_report(&report, budget, &mut rng);
    if args.conv {
        return;
    }

    // GEMM: square sizes, then each MLP layer's forward (X·W), and backward dX = dY·Wᵀ and
    // dW = Xᵀ·dY with the transposed operand as a strided view.
    let mut cases: Vec<((usize, usize, usize), bool, bool)> = [64, 128, 256, 512, 1024]
        .iter()
        .map(|&s| ((s, s, s), false, false))
        .collect();
    for (batch, fan_in, fan_out) in [(128, 784, 512), (128, 512, 256)] {
        cases.push(((batch, fan_in, fan_out), false, false));
        cases.push(((batch, fan_out, fan_in), false, true));
        cases.push(((fan_in, batch, fan_out), true, false));
    }
    cases.push(((128, 256, 10), false, false));
    for ((m, k, n), ta, tb) in cases {
        let a = matrix(m, k, ta, &mut rng);
        let b = matrix(k, n, tb, &mut rng);
        let secs = time_calls(budget, || {
            black_box(a.matmul(&b).expect("shapes agree"));
        });
        let trans = format!(
            "{}{}",
            if ta { 'T' } else { 'N' },
            if tb { 'T' } else { 'N' }
        );
        report.gemm((m, k, n), &trans, secs);
    }

    // Element-wise on 1M and 16M f32: bytes read and written per call.
    let f = std::mem::size_of::<f32>();
    for n in [1 << 20, 1 << 24] {
        let x = Tensor::<f32>::rand(&[n], -1.0, 1.0, &mut rng).expect("valid bounds");
        let y = Tensor::<f32>::rand(&[n], -1.0, 1.0, &mut rng).expect("valid bounds");
        let (src, mut dst) = (x.to_vec(), vec![0f32; n]);
        let chunk = n.div_ceil(report.threads);
        let secs = time_calls(budget, || {
            dst.par_chunks_mut(chunk)
                .zip(src.par_chunks(chunk))
                .for_each(|(d, s)| d.copy_from_slice(s));
            black_box(&dst);
        });
        report.stream("copy", n, 2 * n * f, secs);
        let secs = time_calls(budget, || _ = black_box(x.add(&y).expect("same shape")));
        report.stream("add", n, 3 * n * f, secs);
        let secs = time_calls(budget, || _ = black_box(x.mul(&y).expect("same shape")));
        report.stream("mul", n, 3 * n * f, secs);
        let secs = time_calls(budget, || _ = black_box(x.exp()));
        report.stream("exp", n, 2 * n * f, secs);
    }

    pool_report(&report, &mut rng);
}

/// A steady-state loop shaped like an MLP training step on MNIST (forward, softmax, and the
/// backward products), counting fresh buffer allocations and page faults per step after a
/// warm-up: the pool should serve every buffer, so both stay near zero.
fn pool_report(report: &Report, rng: &mut StdRng) {
    let x = Tensor::<f32>::rand(&[128, 784], 0.0, 1.0, rng).expect("valid bounds");
    let w1 = Tensor::<f32>::rand(&[784, 512], -0.05, 0.05, rng).expect("valid bounds");
    let w2 = Tensor::<f32>::rand(&[512, 10], -0.05, 0.05, rng).expect("valid bounds");
    let step = || -> descent_tensor::Result<f32> {
        let h = x.matmul(&w1)?.relu();
        let p = h.matmul(&w2)?.softmax(-1)?;
        let dh = p.matmul(&w2.t()?)?.mul(&h.heaviside())?;
        let dw1 = x.t()?.matmul(&dh)?;
        let dw2 = h.t()?.matmul(&p)?;
        Ok(dw1.sum_all() + dw2.sum_all())
    };
    for _ in 0..5 {
        black_box(step().expect("shapes agree"));
    }
    let pool = <f32 as Float>::pool();
    let (before, faults0) = (pool.stats(), minor_faults());
    let steps = 50;
    let t = Instant::now();
    for _ in 0..steps {
        black_box(step().expect("shapes agree"));
    }
    let ms = t.elapsed().as_secs_f64() * 1e3 / steps as f64;
    let after = pool.stats();
    let fresh = after.fresh - before.fresh;
    let reused = after.reused - before.reused;
    let faults = match (faults0, minor_faults()) {
        (Some(a), Some(b)) => format!("{:.1}", (b - a) as f64 / steps as f64),
        _ => "null".into(),
    };
    if report.json {
        out!(
            "{{\"op\":\"pool\",\"steps\":{steps},\"threads\":{},\"ms_per_step\":{ms:.2},\"fresh\":{fresh},\"reused\":{reused},\"page_faults_per_step\":{faults},\"idle_bytes\":{}}}",
            report.threads, after.idle_bytes
        );
    } else {
        out!(
            "pool  {steps} steps of {ms:.2} ms: {fresh} fresh buffers, {reused} reused, \
             {faults} page faults per step, {} idle bytes",
            after.idle_bytes
        );
    }
}

/// The MNIST CNN's convolutions (conv1 1→32 3×3 on 28×28, conv2 32→64 3×3 on 26×26) at
/// batch 64 and 128: forward, input gradient (conv2 only; conv1's input needs none) and
/// weight gradient, each against `matmul` of contiguous operands with the same `m×k·k×n`
/// (forward `[O, C·9]·[C·9, N·L]`, input gradient `[C·9, O]·[O, N·L]`, weight gradient
/// `[O, N·L]·[N·L, C·9]`).
fn conv_report(report: &Report, budget: Duration, rng: &mut StdRng) {
    use descent_tensor::ConvOptions;
    let d = ConvOptions::default();
    for n in [64, 128] {
        for (layer, [ci, co, h]) in [("conv1", [1usize, 32, 28]), ("conv2", [32, 64, 26])] {
            let o = h - 2;
            let x = Tensor::<f32>::rand(&[n, ci, h, h], -1.0, 1.0, rng).expect("valid bounds");
            let w = Tensor::<f32>::rand(&[co, ci, 3, 3], -0.1, 0.1, rng).expect("valid bounds");
            let g = Tensor::<f32>::rand(&[n, co, o, o], -1.0, 1.0, rng).expect("valid bounds");
            let (kk, l) = (ci * 9, n * o * o);
            type Run<'a> = Box<dyn Fn() + 'a>;
            let mut ops: Vec<(&str, (usize, usize, usize), Run)> = vec![(
                "conv2d_forward",
                (co, kk, l),
                Box::new(|| _ = black_box(x.conv2d(&w, None, d).expect("shapes agree"))),
            )];
            if ci > 1 {
                ops.push((
                    "conv2d_input_grad",
                    (kk, co, l),
                    Box::new(|| {
                        _ = black_box(g.conv_transpose2d(&w, None, d, [0, 0]).expect("shapes"))
                    }),
                ));
            }
            ops.push((
                "conv2d_weight_grad",
                (co, l, kk),
                Box::new(|| _ = black_box(g.conv2d_weight_grad(&x, [3, 3], d).expect("shapes"))),
            ));
            for (op, (m, k, nn), run) in ops {
                let gflop = 2.0 * (m * k * nn) as f64 / 1e9;
                let (secs, _) = time_calls(budget, run);
                let a = matrix(m, k, false, rng);
                let b = matrix(k, nn, false, rng);
                let (gemm_secs, _) = time_calls(budget, || {
                    black_box(a.matmul(&b).expect("shapes agree"));
                });
                let (gflops, gemm) = (gflop / secs, gflop / gemm_secs);
                if report.json {
                    out!(
                        "{{\"op\":\"{op}\",\"layer\":\"{layer}\",\"batch\":{n},\"m\":{m},\"k\":{k},\"n\":{nn},\"threads\":{},\"gflops\":{gflops:.1},\"gemm_gflops\":{gemm:.1},\"ratio\":{:.2}}}",
                        report.threads,
                        gflops / gemm
                    );
                } else {
                    out!(
                        "{op:<18} {layer} batch {n:>3}  {gflops:>6.1} GFLOP/s  GEMM {m}x{k}x{nn} {gemm:>6.1}  ratio {:.2}",
                        gflops / gemm
                    );
                }
            }
        }
    }
}
