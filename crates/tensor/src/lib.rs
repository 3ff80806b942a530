//! # descent-tensor
//!
//! N-dimensional `f32`/`f64` tensors: strided views over shared, pooled storage; NumPy
//! broadcasting; element-wise, reduction, softmax and matrix-product kernels that run in
//! parallel (rayon) above a size threshold. Every shape error is a [`TensorError`] naming
//! the op and the shapes; no public function panics on user input (the `+ - * /` operator
//! impls excepted, which forward to the methods and panic with their error).
//!
//! ```
//! use descent_tensor::Tensor;
//! let x = Tensor::<f32>::from_vec(vec![1., 2., 3., 4.], &[2, 2])?;
//! let b = Tensor::<f32>::from_vec(vec![10., 20.], &[2])?;
//! let y = x.add(&b)?.relu();                                  // broadcasting
//! assert_eq!(y.to_vec(), vec![11., 22., 13., 24.]);
//! let err = x.matmul(&Tensor::zeros(&[3, 1])).unwrap_err();
//! assert_eq!(err.to_string(), "matmul: inner dimensions differ: [2, 2] x [3, 1]");
//! # Ok::<(), descent_tensor::TensorError>(())
//! ```
#![warn(missing_docs)]

mod display;
mod error;
mod float;
pub mod layout;
mod math;
mod ops;
pub mod pool;
mod tensor;
mod views;

pub use error::{Result, Shape, TensorError};
pub use float::Float;
pub use tensor::{vectorized, Tensor, Vectorize};

/// Sets the number of threads kernels use: `n`, or with `n = 0` the default, which follows
/// `RAYON_NUM_THREADS`, else the number of cores. Effective only before the first parallel
/// kernel runs; call it from the thread that will run the training loop.
///
/// With two or more threads the calling thread becomes one of them (rayon's
/// `use_current_thread`), so a kernel it starts splits its work in place instead of handing
/// it to the pool and sleeping until a worker is done: that hand-off costs a futex wake-up
/// both ways on every parallel kernel, 13% of an MNIST training step with two threads.
/// Kernels called from other threads still run, on the other `n − 1` workers.
///
/// ```
/// descent_tensor::set_num_threads(2).unwrap();
/// assert_eq!(descent_tensor::num_threads(), 2);
/// assert!(descent_tensor::set_num_threads(2).is_err(), "the pool is built once");
/// ```
///
/// # Errors
/// Returns the message of rayon's error if the global pool was already started.
pub fn set_num_threads(n: usize) -> std::result::Result<(), String> {
    let n = if n == 0 { default_threads() } else { n };
    let builder = rayon::ThreadPoolBuilder::new().num_threads(n);
    // One thread gains nothing from joining the pool, and a pool made of the caller alone
    // could run no kernel started on another thread while the caller is busy elsewhere.
    let builder = if n >= 2 {
        builder.use_current_thread()
    } else {
        builder
    };
    builder.build_global().map_err(|e| e.to_string())
}

/// rayon's default thread count: `RAYON_NUM_THREADS` if set and positive, else the cores.
fn default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The number of threads kernels use.
pub fn num_threads() -> usize {
    rayon::current_num_threads()
}
