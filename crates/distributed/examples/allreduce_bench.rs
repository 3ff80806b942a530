//! The framework's cost over a raw `MPI_Allreduce` of the same bytes: per step of the MNIST
//! model (784-512-256-10, 535,818 `f32` parameters), `DataParallel::average` (the copy into
//! the bucket times `1/p`, the arrival check, the in-place allreduce, the gradients handed
//! back as views) against one blocking `MPI_Allreduce` of 535,818 floats through rsmpi
//! (separate send and receive buffers) and the same through `MPI_Iallreduce` and `MPI_Wait`,
//! alternated step by step, each after a barrier.
//! Prints the medians (and quartiles) of the three, the load average before and after, and how
//! many pooled buffers were allocated after the first step.
//!
//! ```sh
//! cargo build --release -p descent-distributed --features mpi --example allreduce_bench
//! mpirun -n 2 target/release/examples/allreduce_bench [steps] [bucket_bytes]
//! ```

use std::time::Instant;

use descent_autodiff::{Gradients, Param};
use descent_distributed::{Comm, DataParallel};
use descent_tensor::{Float, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let steps: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(300);
    let bucket: Option<usize> = args.next().map(|s| s.parse()).transpose()?;
    let comm = Comm::init()?;
    let load_before = load_average();
    let shapes: [&[usize]; 6] = [&[512, 784], &[512], &[256, 512], &[256], &[10, 256], &[10]];
    let mut params: Vec<Param<f32>> = shapes
        .iter()
        .map(|s| Param::new(Tensor::full(s, 0.5)))
        .collect();
    let n: usize = params.iter().map(|p| p.value.numel()).sum();
    let mut refs: Vec<&mut Param<f32>> = params.iter_mut().collect();
    let mut ddp = DataParallel::new(&comm, &mut refs)?;
    if let Some(b) = bucket {
        ddp.set_bucket_bytes(b)?;
    }
    // The gradients backward would hand over: fresh tensors each step (clones share them).
    let mut base = Gradients::new();
    for p in &params {
        base.insert(p.id(), Tensor::full(p.shape(), 1.0 + comm.rank() as f32));
    }
    let (send, mut recv) = (vec![1.0f32; n], vec![0.0f32; n]);
    let (mut t_ddp, mut t_raw) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    let mut t_iraw = Vec::with_capacity(steps);
    let mut fresh_after_first = 0;
    for step in 0..steps + 10 {
        let mut grads = base.clone();
        comm.barrier()?;
        let t = Instant::now();
        ddp.average(&comm, &mut grads)?;
        let d = t.elapsed().as_secs_f64();
        drop(grads);
        comm.barrier()?;
        let t = Instant::now();
        raw_allreduce(&send, &mut recv);
        let r = t.elapsed().as_secs_f64();
        comm.barrier()?;
        let t = Instant::now();
        raw_iallreduce(&send, &mut recv);
        let ri = t.elapsed().as_secs_f64();
        if step == 0 {
            fresh_after_first = f32::pool().stats().fresh;
        }
        if step >= 10 {
            t_ddp.push(d * 1e3);
            t_raw.push(r * 1e3);
            t_iraw.push(ri * 1e3);
        }
    }
    let fresh = f32::pool().stats().fresh - fresh_after_first;
    if comm.is_root() {
        let (d, r) = (quartiles(&mut t_ddp), quartiles(&mut t_raw));
        println!(
            "{} processes, {n} f32 ({:.2} MB) per step in {} bucket(s), {steps} steps, load average {} -> {}",
            comm.size(),
            n as f64 * 4.0 / 1e6,
            ddp.buckets().len(),
            load_before,
            load_average()
        );
        println!(
            "  raw MPI_Allreduce        median {:.3} ms (quartiles {:.3}-{:.3})",
            r[1], r[0], r[2]
        );
        let ri = quartiles(&mut t_iraw);
        println!(
            "  raw MPI_Iallreduce+Wait  median {:.3} ms (quartiles {:.3}-{:.3})",
            ri[1], ri[0], ri[2]
        );
        println!(
            "  DataParallel::average    median {:.3} ms (quartiles {:.3}-{:.3}), {:+.1}% over raw",
            d[1],
            d[0],
            d[2],
            (d[1] / r[1] - 1.0) * 100.0
        );
        println!("  pooled f32 buffers allocated after the first step: {fresh}");
    }
    Ok(())
}

fn quartiles(v: &mut [f64]) -> [f64; 3] {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    [at(0.25), at(0.5), at(0.75)]
}

/// The 1-minute load average (Linux), for the record beside the figures.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(String::from))
        .unwrap_or_else(|| "?".into())
}

#[cfg(feature = "mpi")]
fn raw_allreduce(send: &[f32], recv: &mut [f32]) {
    use mpi::collective::{CommunicatorCollectives, SystemOperation};
    mpi::topology::SimpleCommunicator::world().all_reduce_into(send, recv, SystemOperation::sum());
}

/// The same through the non-blocking call and `MPI_Wait`, the kind `DataParallel` uses.
#[cfg(feature = "mpi")]
fn raw_iallreduce(send: &[f32], recv: &mut [f32]) {
    use mpi::collective::{CommunicatorCollectives, SystemOperation};
    let world = mpi::topology::SimpleCommunicator::world();
    mpi::request::scope(|scope| {
        world
            .immediate_all_reduce_into(scope, send, recv, SystemOperation::sum())
            .wait();
    });
}

#[cfg(not(feature = "mpi"))]
fn raw_iallreduce(send: &[f32], recv: &mut [f32]) {
    recv.copy_from_slice(send);
}

#[cfg(not(feature = "mpi"))]
fn raw_allreduce(send: &[f32], recv: &mut [f32]) {
    recv.copy_from_slice(send);
}
