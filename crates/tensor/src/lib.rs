//! # descent-tensor
//!
//! N-dimensional `f32`/`f64` tensors: strided views over shared, pooled storage; NumPy
//! broadcasting; element-wise, reduction, softmax and matrix-product kernels that run in
//! parallel (rayon) above a size threshold. Every shape error is an [`enum@Error`] naming
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
//! # Ok::<(), descent_tensor::Error>(())
//! ```
#![warn(missing_docs)]

mod display;
mod error;
mod float;
pub mod io;
pub mod layout;
mod math;
mod ops;
pub mod pool;
mod tensor;
mod threads;
mod views;

#[allow(deprecated)]
pub use error::{Error, Result, Shape, TensorError};
pub use float::Float;
pub use ops::shape::{self, PadMode};
pub use ops::{einsum, ConvOptions, EinsumOperand, Window2d};
pub use tensor::{vectorized, Tensor, Vectorize};
pub use threads::{keep_workers_awake, num_threads, set_num_threads, workers_awake, AwakeWorkers};
