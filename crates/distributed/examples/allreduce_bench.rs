//! The framework's cost over a raw `MPI_Allreduce` of the same bytes: per step of the MNIST
//! model (784-512-256-10, 535,818 `f32` parameters), `DataParallel::sum` (what
//! `DataParallel::backward` does after a sweep seeded with `1/p`: the arrival check, the two
//! weight gradients summed in their own storage, the small ones copied into one buffer,
//! summed and handed back as views) and `DataParallel::average` (the same plus the `1/p`
//! pass) against one blocking `MPI_Allreduce` of 535,818 floats through rsmpi (separate
//! send and receive buffers), the same in place (`MPI_IN_PLACE`: no copy of the input into
//! the output first), the same in place in the pieces `DataParallel` sends (each gradient
//! of at least `OWN_MIN_BYTES` alone, the rest in one call: what the framework adds to
//! the calls it makes) and through `MPI_Iallreduce` and `MPI_Wait`, alternated step by
//! step, each after a barrier. The gradients are fresh tensors every
//! step, as backward hands them over.
//! Prints the medians (and quartiles) of the three, the load average before and after, and how
//! many pooled buffers were allocated after the first step.
//!
//! ```sh
//! cargo build --release -p descent-distributed --features mpi --example allreduce_bench
//! mpirun -n 2 target/release/examples/allreduce_bench [steps] [bucket_bytes]
//! ```

use std::time::Instant;

use descent_autodiff::{Gradients, Param};
use descent_distributed::{Comm, DataParallel, OWN_MIN_BYTES};
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
    // The gradients backward would hand over: fresh tensors each step, each its own storage.
    let fresh_grads = || {
        let mut g = Gradients::new();
        for p in &params {
            g.insert(p.id(), Tensor::full(p.shape(), 1.0 + comm.rank() as f32));
        }
        g
    };
    let (send, mut recv) = (vec![1.0f32; n], vec![0.0f32; n]);
    let (mut t_ddp, mut t_raw) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    let (mut t_iraw, mut t_sum) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    let (mut t_place, mut t_split) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    let mut place = vec![1.0f32; n];
    // DataParallel's pieces: the large gradients alone, the small ones together.
    let mut pieces: Vec<usize> = params
        .iter()
        .map(|p| p.value.numel())
        .filter(|&k| k * 4 >= OWN_MIN_BYTES)
        .collect();
    pieces.push(n - pieces.iter().sum::<usize>());
    let mut fresh_after_first = 0;
    for step in 0..steps + 10 {
        let mut grads = fresh_grads();
        comm.barrier()?;
        let t = Instant::now();
        ddp.average(&comm, &mut grads)?;
        let d = t.elapsed().as_secs_f64();
        drop(grads);
        let mut grads = fresh_grads();
        comm.barrier()?;
        let t = Instant::now();
        ddp.sum(&comm, &mut grads)?;
        let s = t.elapsed().as_secs_f64();
        drop(grads);
        comm.barrier()?;
        let t = Instant::now();
        raw_allreduce(&send, &mut recv);
        let r = t.elapsed().as_secs_f64();
        comm.barrier()?;
        let t = Instant::now();
        raw_iallreduce(&send, &mut recv);
        let ri = t.elapsed().as_secs_f64();
        place.fill(1.0);
        comm.barrier()?;
        let t = Instant::now();
        raw_allreduce_in_place(&mut place);
        let rp = t.elapsed().as_secs_f64();
        place.fill(1.0);
        comm.barrier()?;
        let t = Instant::now();
        let mut rest = &mut place[..];
        for &k in &pieces {
            let (piece, tail) = rest.split_at_mut(k);
            raw_allreduce_in_place(piece);
            rest = tail;
        }
        let rs = t.elapsed().as_secs_f64();
        if step == 0 {
            fresh_after_first = f32::pool().stats().fresh;
        }
        if step >= 10 {
            t_ddp.push(d * 1e3);
            t_raw.push(r * 1e3);
            t_iraw.push(ri * 1e3);
            t_sum.push(s * 1e3);
            t_place.push(rp * 1e3);
            t_split.push(rs * 1e3);
        }
    }
    let fresh = f32::pool().stats().fresh - fresh_after_first;
    if comm.is_root() {
        let (d, r) = (quartiles(&mut t_ddp), quartiles(&mut t_raw));
        println!(
            "{} processes, {n} f32 ({:.2} MB) per step, {steps} steps, load average {} -> {}",
            comm.size(),
            n as f64 * 4.0 / 1e6,
            load_before,
            load_average()
        );
        println!(
            "  raw MPI_Allreduce        median {:.3} ms (quartiles {:.3}-{:.3})",
            r[1], r[0], r[2]
        );
        let rp = quartiles(&mut t_place);
        println!(
            "  raw MPI_Allreduce, in place  median {:.3} ms (quartiles {:.3}-{:.3})",
            rp[1], rp[0], rp[2]
        );
        let rs = quartiles(&mut t_split);
        println!(
            "  raw, in place, {} calls  median {:.3} ms (quartiles {:.3}-{:.3})",
            pieces.len(),
            rs[1],
            rs[0],
            rs[2]
        );
        let ri = quartiles(&mut t_iraw);
        println!(
            "  raw MPI_Iallreduce+Wait  median {:.3} ms (quartiles {:.3}-{:.3})",
            ri[1], ri[0], ri[2]
        );
        println!(
            "  DataParallel::average    median {:.3} ms (quartiles {:.3}-{:.3}), {:+.1}% over raw, {:+.1}% over raw in place",
            d[1],
            d[0],
            d[2],
            (d[1] / r[1] - 1.0) * 100.0,
            (d[1] / rp[1] - 1.0) * 100.0
        );
        let s = quartiles(&mut t_sum);
        println!(
            "  DataParallel::sum        median {:.3} ms (quartiles {:.3}-{:.3}), {:+.1}% over raw, {:+.1}% over raw in place, {:+.1}% over its calls raw",
            s[1],
            s[0],
            s[2],
            (s[1] / r[1] - 1.0) * 100.0,
            (s[1] / rp[1] - 1.0) * 100.0,
            (s[1] / rs[1] - 1.0) * 100.0
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

/// The same in place, from `MPI_IN_PLACE` (from a copy where its address is unknown).
#[cfg(feature = "mpi")]
fn raw_allreduce_in_place(buf: &mut [f32]) {
    use mpi::datatype::Equivalence;
    use mpi::raw::AsRaw;
    let world = mpi::topology::SimpleCommunicator::world();
    let Some(address) = descent_distributed::mpi_in_place_address() else {
        let send = buf.to_vec();
        return raw_allreduce(&send, buf);
    };
    // SAFETY: `buf` holds `buf.len()` floats; the call reads and writes only them.
    unsafe {
        mpi::ffi::MPI_Allreduce(
            address as *const std::ffi::c_void,
            buf.as_mut_ptr().cast(),
            buf.len() as std::os::raw::c_int,
            f32::equivalent_datatype().as_raw(),
            mpi::ffi::RSMPI_SUM,
            world.as_raw(),
        );
    }
}

#[cfg(not(feature = "mpi"))]
fn raw_allreduce_in_place(_buf: &mut [f32]) {}

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
