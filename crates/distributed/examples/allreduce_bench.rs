//! The framework's cost over a raw `MPI_Allreduce` of the same bytes: per step of the MNIST
//! model (784-512-256-10, 535,818 `f32` parameters), `DataParallel::average` (copy into
//! the bucket and scale, the arrival check, the allreduce, the gradients rebuilt) against
//! one blocking `MPI_Allreduce` of 535,818 floats through rsmpi, alternated step by step.
//!
//! ```sh
//! cargo build --release -p descent-distributed --features mpi --example allreduce_bench
//! mpirun -n 2 target/release/examples/allreduce_bench [steps]
//! ```

use std::time::Instant;

use descent_autodiff::{Gradients, Param};
use descent_distributed::{Comm, DataParallel};
use descent_tensor::Tensor;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let steps: usize = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(200);
    let comm = Comm::init()?;
    let shapes: [&[usize]; 6] = [&[512, 784], &[512], &[256, 512], &[256], &[10, 256], &[10]];
    let mut params: Vec<Param<f32>> = shapes
        .iter()
        .map(|s| Param::new(Tensor::full(s, 0.5)))
        .collect();
    let n: usize = params.iter().map(|p| p.value.numel()).sum();
    let mut refs: Vec<&mut Param<f32>> = params.iter_mut().collect();
    let mut ddp = DataParallel::new(&comm, &mut refs)?;
    let mut grads = Gradients::new();
    for p in &params {
        grads.insert(p.id(), Tensor::full(p.shape(), 1.0 + comm.rank() as f32));
    }
    let (send, mut recv) = (vec![1.0f32; n], vec![0.0f32; n]);
    let (mut t_ddp, mut t_raw) = (0.0, 0.0);
    for step in 0..steps + 10 {
        comm.barrier()?;
        let t = Instant::now();
        ddp.average(&comm, &mut grads)?;
        let d = t.elapsed().as_secs_f64();
        comm.barrier()?;
        let t = Instant::now();
        raw_allreduce(&send, &mut recv);
        let r = t.elapsed().as_secs_f64();
        if step >= 10 {
            (t_ddp, t_raw) = (t_ddp + d, t_raw + r);
        }
    }
    if comm.is_root() {
        let (d, r) = (t_ddp / steps as f64 * 1e3, t_raw / steps as f64 * 1e3);
        println!(
            "{} processes, {n} f32 ({:.2} MB) per step, {steps} steps: raw MPI_Allreduce {r:.3} ms, DataParallel::average {d:.3} ms ({:+.1}%)",
            comm.size(),
            n as f64 * 4.0 / 1e6,
            (d / r - 1.0) * 100.0
        );
    }
    Ok(())
}

#[cfg(feature = "mpi")]
fn raw_allreduce(send: &[f32], recv: &mut [f32]) {
    use mpi::collective::{CommunicatorCollectives, SystemOperation};
    mpi::topology::SimpleCommunicator::world().all_reduce_into(send, recv, SystemOperation::sum());
}

#[cfg(not(feature = "mpi"))]
fn raw_allreduce(send: &[f32], recv: &mut [f32]) {
    recv.copy_from_slice(send);
}
