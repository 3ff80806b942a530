//! The multi-process tests, run under `mpirun` by `tests/run_mpi.sh` (they need MPI, so
//! they cannot be `cargo test`s): `mpi_checks <case>` exits 0 when the case holds on every
//! rank and 1 naming what failed. Without the `mpi` feature every case runs as a world of
//! one, where it must hold too.
//!
//! Cases: `ddp` (data-parallel SGD/Adam vs one process on the same global batch; large
//! gradients summed in their own storage vs naive sums), `batch`
//! (L-BFGS, CG and LM on a sharded regression vs one process), `sampler` (every example
//! once per epoch across ranks), `checkpoint DIR` (written by rank 0 only), `mismatch`
//! (rank 1's model differs: a clear error at start), `hang` (the last rank stops
//! answering: the others name it within the timeout), `die` (the last rank exits
//! mid-run: the job ends).

use descent_autodiff::{Gradients, Param, Tape, Var};
use descent_distributed::{
    check_replicas, shard_range, Comm, DataParallel, Distributed, Error, Reduction, Scalar,
    ShardedSampler, OWN_MIN_BYTES,
};
use descent_optim::batch::{
    BatchMethod, BatchReport, ConjugateGradient, Lbfgs, LeastSquares, LeastSquaresMethod,
    LevenbergMarquardt, Objective,
};
use descent_tensor::{Float, Tensor};
use nalgebra::{DMatrix, DVector};
use rand::rngs::StdRng;
use rand::SeedableRng;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let comm = match Comm::init() {
        Ok(c) => c,
        Err(e) => {
            say_err(&format!("mpi_checks: {e}"));
            std::process::exit(2);
        }
    };
    let case = args.first().map(String::as_str).unwrap_or("");
    let result = match case {
        "ddp" => ddp(&comm),
        "batch" => batch(&comm),
        "sampler" => sampler(&comm),
        "checkpoint" => checkpoint(&comm, args.get(1).map(String::as_str).unwrap_or("")),
        "mismatch" => mismatch(&comm),
        "hang" => hang(&comm),
        "die" => die(&comm),
        _ => Err("usage: mpi_checks ddp|batch|sampler|checkpoint DIR|mismatch|hang|die".into()),
    };
    match result {
        Ok(()) => {
            if comm.is_root() {
                println!("mpi_checks {case}: ok on {} process(es)", comm.size());
            }
        }
        Err(e) => {
            say_err(&format!("mpi_checks {case}: rank {}: {e}", comm.rank()));
            comm.abort(1);
        }
    }
}

/// Writes `line` to stderr in one `write` call. `eprintln!` writes each piece of its format
/// separately, so when two ranks fail at once mpirun's merged stderr interleaves their
/// messages mid-word and the line naming the lost rank is never whole.
fn say_err(line: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("{line}\n").as_bytes());
}

// ----- data-parallel first-order training ---------------------------------------------------

const N: usize = 384; // examples
const D: usize = 6; // features
const H: usize = 16; // hidden units
const STEPS: usize = 12;

/// A 6-16-1 tanh network's parameters, seeded per rank so that only the broadcast makes
/// them equal.
fn model<F: Scalar>(seed: u64) -> Res<Vec<Param<F>>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let s = F::of(0.5);
    Ok(vec![
        Param::new(Tensor::randn(&[D, H], F::zero(), s, &mut rng)?),
        Param::new(Tensor::randn(&[H], F::zero(), s, &mut rng)?),
        Param::new(Tensor::randn(&[H, 1], F::zero(), s, &mut rng)?),
        Param::new(Tensor::randn(&[1], F::zero(), s, &mut rng)?),
    ])
}

fn data<F: Scalar>() -> Res<(Tensor<F>, Tensor<F>)> {
    let mut rng = StdRng::seed_from_u64(99);
    let x = Tensor::randn(&[N, D], F::zero(), F::one(), &mut rng)?;
    let y = x.sum(&[1], true)?.map(|v| v.sin());
    Ok((x, y))
}

/// The mean squared error on rows `rows` and its gradients.
fn grads<F: Scalar>(
    ps: &[Param<F>],
    x: &Tensor<F>,
    y: &Tensor<F>,
    rows: &[usize],
) -> Res<Gradients<F>> {
    loss_grads(ps, x, y, rows, |loss| Ok(loss.backward()?))
}

/// The mean squared error on rows `rows`, differentiated by `backward` (plain, or
/// `DataParallel::backward`).
fn loss_grads<F: Scalar>(
    ps: &[Param<F>],
    x: &Tensor<F>,
    y: &Tensor<F>,
    rows: &[usize],
    backward: impl FnOnce(Var<'_, F>) -> Res<Gradients<F>>,
) -> Res<Gradients<F>> {
    let (xb, yb) = (x.index_select(0, rows)?, y.index_select(0, rows)?);
    let tape = Tape::new();
    let h = tape
        .constant(xb)
        .matmul(tape.param(&ps[0]))?
        .add(tape.param(&ps[1]))?
        .tanh()?;
    let out = h.matmul(tape.param(&ps[2]))?.add(tape.param(&ps[3]))?;
    let loss = out.sub(tape.constant(yb))?.square()?.mean(&[], false)?;
    backward(loss)
}

fn max_diff<F: Scalar>(a: &[Param<F>], b: &[Param<F>]) -> f64 {
    a.iter()
        .zip(b)
        .flat_map(|(p, q)| p.value.to_vec().into_iter().zip(q.value.to_vec()))
        .map(|(u, v)| (u.as_f64() - v.as_f64()).abs())
        .fold(0.0, f64::max)
}

/// Trains `STEPS` steps three ways and compares: data-parallel (each rank its slice of
/// each global batch, gradients averaged), the same sums in rank order computed by one
/// process (must be equal bit for bit), and one process on the whole global batch (equal
/// up to the order of the batch sum).
fn train<F: Scalar>(comm: &Comm, spec: &str, local_batch: usize, tol: f64) -> Res<()> {
    let p = comm.size();
    let global = local_batch * p;
    let (x, y) = data::<F>()?;
    let order: Vec<usize> = (0..N).map(|i| (i * 37) % N).collect(); // a fixed permutation
    let samplers: Vec<ShardedSampler> = (0..p)
        .map(|r| ShardedSampler::new(N, p, r, true))
        .collect::<Result<_, _>>()?;
    let shards: Vec<Vec<usize>> = samplers
        .iter()
        .map(|s| s.indices(&order))
        .collect::<Result<_, _>>()?;
    let steps = STEPS.min(shards[0].len() / local_batch);

    let mut ddp_ps = model::<F>(1000 + comm.rank() as u64)?; // differs until broadcast
    let mut refs: Vec<&mut Param<F>> = ddp_ps.iter_mut().collect();
    let mut ddp = DataParallel::new(comm, &mut refs)?;
    ddp.set_reduction(Reduction::RankOrder);
    // The same, with each bucket (of 40 bytes: five f64 or ten f32) sent during backward.
    let mut ovl_ps = model::<F>(1000 + comm.rank() as u64)?;
    let mut refs: Vec<&mut Param<F>> = ovl_ps.iter_mut().collect();
    let mut ovl = DataParallel::new(comm, &mut refs)?;
    ovl.set_reduction(Reduction::RankOrder);
    ovl.set_bucket_bytes(40)?;
    ovl.set_overlap(true);
    let mut emul_ps = model::<F>(1000)?; // rank 0's initial values
    let mut single_ps = model::<F>(1000)?;
    let (mut o1, mut o2, mut o3, mut o4) = (
        descent_optim::build::<F>(spec)?,
        descent_optim::build::<F>(spec)?,
        descent_optim::build::<F>(spec)?,
        descent_optim::build::<F>(spec)?,
    );
    let scale = F::of(1.0 / p as f64);
    for k in 0..steps {
        let batch = |r: usize| shards[r][k * local_batch..(k + 1) * local_batch].to_vec();
        // Data-parallel.
        let mut g = grads(&ddp_ps, &x, &y, &batch(comm.rank()))?;
        ddp.average(comm, &mut g)?;
        o1.step(&mut ddp_ps.iter_mut().collect::<Vec<_>>(), &g)?;
        // Data-parallel, overlapped with backward.
        let g = loss_grads(&ovl_ps, &x, &y, &batch(comm.rank()), |loss| {
            Ok(ovl.backward(comm, loss)?)
        })?;
        o4.step(&mut ovl_ps.iter_mut().collect::<Vec<_>>(), &g)?;
        // One process, the same sums in rank order: Σᵣ gᵣ·(1/p), a naive loop.
        let per_rank: Vec<Gradients<F>> = (0..p)
            .map(|r| grads(&emul_ps, &x, &y, &batch(r)))
            .collect::<Result<_, _>>()?;
        let mut sum = Gradients::new();
        for q in &emul_ps {
            let mut acc = vec![F::zero(); q.value.numel()];
            for g in &per_rank {
                for (a, v) in acc.iter_mut().zip(g.get(q).ok_or("no gradient")?.to_vec()) {
                    *a += v * scale;
                }
            }
            sum.insert(q.id(), Tensor::from_vec(acc, q.shape())?);
        }
        o2.step(&mut emul_ps.iter_mut().collect::<Vec<_>>(), &sum)?;
        // One process, the whole global batch (its rows in the order the ranks interleave).
        let rows: Vec<usize> = order[k * global..(k + 1) * global].to_vec();
        let g = grads(&single_ps, &x, &y, &rows)?;
        o3.step(&mut single_ps.iter_mut().collect::<Vec<_>>(), &g)?;
    }
    let exact = max_diff(&ddp_ps, &emul_ps).max(max_diff(&ovl_ps, &emul_ps));
    let close = max_diff(&ddp_ps, &single_ps);
    if comm.is_root() {
        println!(
            "  {} {spec}: {steps} steps, global batch {global}: |ddp (plain and overlapped) - rank-order reference| = {exact:e}, |ddp - one process| = {close:e} (bound {tol:e})",
            F::DTYPE
        );
    }
    if exact != 0.0 {
        return Err(format!(
            "{spec} ({}): data-parallel differs from the rank-order sum by {exact:e}",
            F::DTYPE
        )
        .into());
    }
    if close > tol {
        return Err(format!(
            "{spec} ({}): data-parallel differs from one process by {close:e} > {tol:e}",
            F::DTYPE
        )
        .into());
    }
    // Every rank holds the same bits.
    check_replicas(comm, &ddp_ps.iter().collect::<Vec<_>>(), true)?;
    Ok(())
}

fn ddp(comm: &Comm) -> Res<()> {
    for spec in ["sgd:lr=0.05,momentum=0.9", "adam:lr=0.01"] {
        // One process sums the global batch's loss in another order than the ranks do
        // (one sum of 8p terms vs p sums of 8), so each gradient entry differs by a few
        // ulps and 12 steps carry that into the parameters (|w| ≈ 1): measured at most
        // 5e-16 in f64 and 3e-7 (2.5 f32 ulps) in f32 with 1-4 processes; the bounds are
        // 2000x and 7x that.
        train::<f64>(comm, spec, 8, 1e-12)?;
        train::<f32>(comm, spec, 8, 2e-6)?;
    }
    // The default MPI_Allreduce order: every rank still holds the same bits.
    let mut ps = model::<f32>(7 + comm.rank() as u64)?;
    let mut refs: Vec<&mut Param<f32>> = ps.iter_mut().collect();
    let mut ddp = DataParallel::new(comm, &mut refs)?;
    let (x, y) = data::<f32>()?;
    let mut opt = descent_optim::build::<f32>("adam:lr=0.01")?;
    for k in 0..5 {
        let rows: Vec<usize> = (0..8)
            .map(|i| (k * 8 * comm.size() + i * comm.size() + comm.rank()) % N)
            .collect();
        let mut g = grads(&ps, &x, &y, &rows)?;
        ddp.average(comm, &mut g)?;
        opt.step(&mut ps.iter_mut().collect::<Vec<_>>(), &g)?;
    }
    check_replicas(comm, &ps.iter().collect::<Vec<_>>(), true)?;
    no_buffer_allocated_after_the_first_step(comm)?;
    large_gradients_in_their_own_storage(comm)?;
    Ok(())
}

/// Gradients of at least `OWN_MIN_BYTES` are summed in their own storage, in pieces of at
/// most a bucket, the small ones in the shared buffer: `average`, `sum` and `backward`
/// (seeded with `1/p` for `p` a power of two) against naive loops over every rank's known
/// gradients, `Σᵣ gᵣ·(1/p)` in rank order. Exact in rank order; with `MPI_Allreduce`
/// exact for up to two ranks (one addition per element) and within a few ulps of sums of
/// magnitude ≤ 8 beyond (its bracketing). A clone of a gradient kept by the caller keeps
/// its values.
fn large_gradients_in_their_own_storage(comm: &Comm) -> Res<()> {
    let p = comm.size();
    let big = OWN_MIN_BYTES / 4 + 3; // f32 elements: just over the threshold
    let shapes: [&[usize]; 4] = [&[big], &[5], &[2, big / 2 + 7], &[3, 2]];
    let mut ps: Vec<Param<f32>> = shapes
        .iter()
        .map(|s| Param::new(Tensor::zeros(s)))
        .collect();
    let mut refs: Vec<&mut Param<f32>> = ps.iter_mut().collect();
    let mut ddp = DataParallel::new(comm, &mut refs)?;
    ddp.set_bucket_bytes(100_000)?; // the large gradients go in three calls each
                                    // Rank r's gradient of parameter k, element i: small integers times 0.37, so that
                                    // sums of up to four of them are close to exact.
    let value = |r: usize, k: usize, i: usize| ((r * 7 + k * 3 + i) % 11) as f32 * 0.37 - 1.3;
    let mine = |r: usize| -> Res<Gradients<f32>> {
        let mut g = Gradients::new();
        for (k, q) in ps.iter().enumerate() {
            let v: Vec<f32> = (0..q.value.numel()).map(|i| value(r, k, i)).collect();
            g.insert(q.id(), Tensor::from_vec(v, q.shape())?);
        }
        Ok(g)
    };
    let scale = 1.0 / p as f32;
    let expected = |k: usize, i: usize, scaled: bool| {
        (0..p).fold(0.0f32, |a, r| {
            a + if scaled {
                value(r, k, i)
            } else {
                value(r, k, i) * scale
            }
        })
    };
    for order in [Reduction::RankOrder, Reduction::Mpi] {
        ddp.set_reduction(order);
        let tol = if order == Reduction::Mpi && p > 2 {
            4e-6
        } else {
            0.0
        };
        for how in ["average", "sum", "backward"] {
            let mut g = mine(comm.rank())?;
            let kept = g.get(&ps[0]).ok_or("no gradient")?.clone();
            match how {
                "average" => ddp.average(comm, &mut g)?,
                "sum" => ddp.sum(comm, &mut g)?,
                _ => {
                    // Σ w·gᵣ: its gradient is gᵣ, averaged over ranks.
                    let tape = Tape::new();
                    let mut loss = tape.constant(Tensor::scalar(0.0));
                    for q in &ps {
                        let c = tape.constant(g.get(q).ok_or("no gradient")?.clone());
                        loss = loss.add(tape.param(q).mul(c)?.sum(&[], false)?)?;
                    }
                    g = ddp.backward(comm, loss)?;
                }
            }
            if kept.to_vec()
                != mine(comm.rank())?
                    .get(&ps[0])
                    .ok_or("no gradient")?
                    .to_vec()
            {
                return Err(format!("{how}: the caller's clone of a gradient changed").into());
            }
            for (k, q) in ps.iter().enumerate() {
                let got = g.get(q).ok_or("no gradient")?.to_vec();
                let worst = got
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| (x - expected(k, i, how == "sum")).abs())
                    .fold(0.0f32, f32::max);
                if worst > tol {
                    return Err(format!(
                        "{how} ({order:?}), parameter {k} ({} values): off the naive sum by {worst:e} > {tol:e}",
                        got.len()
                    )
                    .into());
                }
            }
        }
    }
    if comm.is_root() {
        println!(
            "  gradients of {big} and {} f32 in their own storage, 2 small ones bucketed: average, sum and backward equal the naive sums",
            2 * (big / 2 + 7)
        );
    }
    Ok(())
}

/// After the first step, averaging allocates no buffer: the pool hands out no fresh one,
/// plain or overlapped (a model whose buffer and gradients are large enough to be pooled).
fn no_buffer_allocated_after_the_first_step(comm: &Comm) -> Res<()> {
    let mut rng = StdRng::seed_from_u64(5);
    let mut ps: Vec<Param<f32>> = [&[64usize, 32][..], &[32], &[32, 8], &[8]]
        .iter()
        .map(|s| Ok(Param::new(Tensor::randn(s, 0.0, 0.3, &mut rng)?)))
        .collect::<Res<_>>()?;
    let x = Tensor::randn(&[16, 64], 0.0, 1.0, &mut rng)?;
    let mut refs: Vec<&mut Param<f32>> = ps.iter_mut().collect();
    let mut ddp = DataParallel::new(comm, &mut refs)?;
    ddp.set_bucket_bytes(4096)?;
    let mut opt = descent_optim::build::<f32>("sgd:lr=0.01")?;
    let mut fresh = 0;
    for step in 0..8 {
        ddp.set_overlap(step % 2 == 1);
        let g = {
            let tape = Tape::new();
            let h = tape
                .constant(x.clone())
                .matmul(tape.param(&ps[0]))?
                .add(tape.param(&ps[1]))?
                .relu()?;
            let out = h.matmul(tape.param(&ps[2]))?.add(tape.param(&ps[3]))?;
            ddp.backward(comm, out.square()?.mean(&[], false)?)?
        };
        opt.step(&mut ps.iter_mut().collect::<Vec<_>>(), &g)?;
        drop(g);
        if step == 1 {
            fresh = f32::pool().stats().fresh;
        }
    }
    let more = f32::pool().stats().fresh - fresh;
    if comm.is_root() {
        println!(
            "  {} buckets, 2344 f32: pooled buffers allocated after the first steps: {more}",
            ddp.buckets().len()
        );
    }
    if more != 0 {
        return Err(format!("{more} buffers allocated after the first steps").into());
    }
    Ok(())
}

// ----- full-batch methods on a sharded data set ---------------------------------------------

/// `rᵢ(w) = tanh(xᵢ·w) − yᵢ` over rows `rows` of a fixed data set; the loss `Σ rᵢ²`.
struct Regression {
    x: Vec<[f64; 4]>,
    y: Vec<f64>,
}

impl Regression {
    fn rows(rows: std::ops::Range<usize>) -> Self {
        let mut s = 2024u64;
        let mut u = || {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        let all: Vec<([f64; 4], f64)> = (0..203)
            .map(|_| {
                let x = [u(), u(), u(), u()];
                let y = (0.8 * x[0] - 0.5 * x[1] + 0.3 * x[2] - 1.1 * x[3]).tanh() + 0.1 * u();
                (x, y)
            })
            .collect();
        let (x, y) = all[rows].iter().copied().unzip();
        Regression { x, y }
    }
}

impl Objective for Regression {
    fn value_grad(&mut self, w: &[f64]) -> descent_optim::Result<(f64, Vec<f64>)> {
        let mut f = 0.0;
        let mut g = vec![0.0; 4];
        for (x, y) in self.x.iter().zip(&self.y) {
            let t = (0..4).map(|k| x[k] * w[k]).sum::<f64>().tanh();
            f += (t - y) * (t - y);
            for k in 0..4 {
                g[k] += 2.0 * (t - y) * (1.0 - t * t) * x[k];
            }
        }
        Ok((f, g))
    }
}

impl LeastSquares for Regression {
    fn residuals(&mut self, w: &[f64]) -> descent_optim::Result<(DVector<f64>, DMatrix<f64>)> {
        let n = self.x.len();
        let (mut r, mut j) = (DVector::zeros(n), DMatrix::zeros(n, 4));
        for (i, (x, y)) in self.x.iter().zip(&self.y).enumerate() {
            let t = (0..4).map(|k| x[k] * w[k]).sum::<f64>().tanh();
            r[i] = t - y;
            for k in 0..4 {
                j[(i, k)] = (1.0 - t * t) * x[k];
            }
        }
        Ok((r, j))
    }
}

fn batch(comm: &Comm) -> Res<()> {
    let shard = shard_range(203, comm.size(), comm.rank())?;
    /// A fresh method by name, run for `iters` steps on a least-squares objective.
    fn minimize(
        name: &str,
        x: &mut [f64],
        obj: &mut dyn LeastSquares,
        iters: usize,
    ) -> descent_optim::Result<BatchReport> {
        match name {
            "lbfgs" => Lbfgs::default().minimize(x, obj, iters),
            "cg" => ConjugateGradient::default().minimize(x, obj, iters),
            _ => LevenbergMarquardt::default().minimize(x, obj, iters),
        }
    }
    let methods: [(&str, usize, f64); 3] =
        [("lbfgs", 3, 1e-10), ("cg", 40, 1e-10), ("lm", 30, 1e-9)];
    for (name, iters, tol) in methods {
        let mut single = vec![0.0; 4];
        minimize(name, &mut single, &mut Regression::rows(0..203), iters)?;
        let mut x = vec![0.0; 4];
        comm.broadcast(&mut x)?;
        let mut obj = Distributed::new(comm, Regression::rows(shard.clone()));
        let report = minimize(name, &mut x, &mut obj, iters);
        if let Some(e) = obj.take_error() {
            return Err(e.into());
        }
        report?;
        let diff = single
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        if comm.is_root() {
            println!("  {name} on {} shards of 203 rows: |distributed - one process| = {diff:e} (bound {tol:e}), w = {x:.6?}", comm.size());
        }
        if diff > tol {
            return Err(format!(
                "{name}: distributed differs from one process by {diff:e} > {tol:e}"
            )
            .into());
        }
        let mut bits: Vec<u64> = x.iter().map(|v| v.to_bits()).collect();
        let all = comm.allgather_u64(&bits)?;
        bits.clear();
        if all.chunks(4).any(|c| c != &all[..4]) {
            return Err(format!("{name}: ranks ended at different points").into());
        }
    }
    Ok(())
}

// ----- sampler, checkpoints -----------------------------------------------------------------

fn sampler(comm: &Comm) -> Res<()> {
    let loader_order = descent_data::DataLoader::new(
        descent_data::Dataset::new(Tensor::<f32>::zeros(&[103, 1]), vec![0; 103])?,
        4,
    )?
    .shuffle(5)
    .order(3);
    for drop in [false, true] {
        let s = ShardedSampler::new(103, comm.size(), comm.rank(), drop)?;
        let mine: Vec<u64> = s
            .indices(&loader_order)?
            .iter()
            .map(|&i| i as u64)
            .collect();
        let all = comm.allgather_u64(&mine)?;
        let mut seen = vec![0usize; 103];
        all.iter().for_each(|&i| seen[i as usize] += 1);
        let once = seen.iter().filter(|&&c| c == 1).count();
        let want_once = if drop {
            s.total_size()
        } else {
            103 - (s.total_size() - 103)
        };
        if once != want_once || (!drop && seen.contains(&0)) || seen.iter().any(|&c| c > 2) {
            return Err(format!("drop_last {drop}: examples seen {seen:?}").into());
        }
    }
    Ok(())
}

fn checkpoint(comm: &Comm, dir: &str) -> Res<()> {
    if dir.is_empty() {
        return Err("checkpoint needs a directory".into());
    }
    let path = std::path::Path::new(dir).join("model.txt");
    let mut ps = model::<f32>(comm.rank() as u64)?;
    let mut refs: Vec<&mut Param<f32>> = ps.iter_mut().collect();
    DataParallel::new(comm, &mut refs)?;
    // create_new: a second writer would fail (and the error reach every rank).
    let text = format!("rank {}: {:?}", comm.rank(), ps[3].value.to_vec());
    comm.on_root(&path, || {
        std::fs::File::create_new(&path).and_then(|_| std::fs::write(&path, &text))
    })?;
    let read = std::fs::read_to_string(&path)?;
    if read != format!("rank 0: {:?}", ps[3].value.to_vec()) {
        return Err(format!("checkpoint holds {read:?}").into());
    }
    Ok(())
}

// ----- bad input ----------------------------------------------------------------------------

fn mismatch(comm: &Comm) -> Res<()> {
    let mut ps = model::<f32>(1)?;
    if comm.rank() == 1 {
        ps[2] = Param::new(Tensor::zeros(&[H + 1, 1])); // one row too many
    }
    let mut refs: Vec<&mut Param<f32>> = ps.iter_mut().collect();
    match DataParallel::new(comm, &mut refs) {
        Err(e @ Error::Mismatch { rank: 1, .. }) => {
            if comm.is_root() {
                println!("  expected error: {e}");
            }
            Ok(())
        }
        Ok(_) if comm.size() == 1 => Ok(()),
        other => Err(format!("expected a mismatch error naming rank 1, got {other:?}").into()),
    }
}

fn hang(comm: &Comm) -> Res<()> {
    let last = comm.size() - 1;
    let mut ps = model::<f32>(1)?;
    let mut refs: Vec<&mut Param<f32>> = ps.iter_mut().collect();
    let mut ddp = DataParallel::new(comm, &mut refs)?;
    let (x, y) = data::<f32>()?;
    for step in 0..4 {
        if step == 2 && comm.rank() == last && last > 0 {
            std::thread::sleep(std::time::Duration::from_secs(600)); // hung: never answers
        }
        let mut g = grads(&ps, &x, &y, &[comm.rank(), comm.rank() + 8])?;
        match ddp.average(comm, &mut g) {
            Ok(()) => {}
            Err(e @ Error::RankLost { .. }) => {
                // The expected end: print it and stop the job (the hung rank too).
                say_err(&format!("rank {}: {e}", comm.rank()));
                comm.abort(3);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

fn die(comm: &Comm) -> Res<()> {
    let last = comm.size() - 1;
    let mut ps = model::<f32>(1)?;
    let mut refs: Vec<&mut Param<f32>> = ps.iter_mut().collect();
    let mut ddp = DataParallel::new(comm, &mut refs)?;
    let (x, y) = data::<f32>()?;
    for step in 0..4 {
        if step == 2 && comm.rank() == last && last > 0 {
            std::process::exit(9); // dies mid-run without MPI_Finalize
        }
        let mut g = grads(&ps, &x, &y, &[comm.rank()])?;
        ddp.average(comm, &mut g)?;
    }
    Ok(())
}
