//! # descent-nn
//!
//! Neural-network building blocks on the [`descent_autodiff`] tape, with PyTorch's names,
//! defaults and numbers: the [`Module`] trait and [`Sequential`]; [`Linear`],
//! [`BatchNorm1d`], [`Dropout`]; for images [`Dropout2d`], [`Conv2d`], [`MaxPool2d`], [`AvgPool2d`],
//! [`AdaptiveAvgPool2d`], [`Flatten`], [`BatchNorm2d`]; [`LayerNorm`]; [`activation`]s as functions and layers; [`loss`]es with
//! [`Reduction`]; [`init`]ializers; weights in safetensors, in files ([`save`], [`load`]) or in memory ([`to_bytes`],
//! [`load_bytes`], [`load_state_dict`]); gradient checks of whole modules ([`check`]).
//!
//! A forward pass is recorded on a tape in an explicit [`Mode`]; gradients come back as a
//! value keyed by parameter:
//!
//! ```
//! use descent_autodiff::Tape;
//! use descent_nn::{activation::Relu, loss, BatchNorm1d, Dropout, Init, Linear, Mode, Module, Reduction, Sequential};
//! use descent_tensor::Tensor;
//! use rand::{rngs::StdRng, SeedableRng};
//!
//! let mut rng = StdRng::seed_from_u64(0);
//! let init: Init = "he_uniform".parse()?;
//! let model = Sequential::new()
//!     .add(Linear::with_init(4, 16, init, &mut rng)?)
//!     .add(BatchNorm1d::new(16)?)
//!     .add(Relu)
//!     .add(Dropout::new(0.2, 7)?)
//!     .add(Linear::with_init(16, 3, init, &mut rng)?);
//!
//! let x = Tensor::<f32>::randn(&[8, 4], 0.0, 1.0, &mut rng)?;
//! let tape = Tape::new();
//! let logits = model.forward(&tape, tape.constant(x), Mode::Train)?;
//! let loss = loss::cross_entropy(logits, &[0, 1, 2, 0, 1, 2, 0, 1], Reduction::Mean)?;
//! let grads = loss.backward()?;
//! assert_eq!(grads.get(model.params()[0]).map(|g| g.shape().to_vec()), Some(vec![16, 4]));
//!
//! let path = std::env::temp_dir().join("descent-nn-doc.safetensors");
//! descent_nn::save(&model, &path)?;   // "0.weight", ..., "1.running_mean", ...
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), descent_nn::Error>(())
//! ```
#![warn(missing_docs)]

pub mod activation;
mod batchnorm;
pub mod check;
mod conv;
mod dropout;
mod error;
pub mod init;
mod linear;
pub mod loss;
mod module;
mod norm;
mod pool;
pub mod serialize;
mod state;

pub use batchnorm::BatchNorm1d;
pub use conv::Conv2d;
pub use dropout::{Dropout, Dropout2d};
pub use error::{Error, Result};
pub use init::Init;
pub use linear::Linear;
pub use loss::Reduction;
pub use module::{prefixed, Mode, Module, Sequential};
pub use norm::{BatchNorm2d, LayerNorm};
pub use pool::{AdaptiveAvgPool2d, AvgPool2d, Flatten, MaxPool2d};
pub use serialize::{load, load_bytes, load_state_dict, save, to_bytes};
pub use state::{Buffer, BufferMut, BufferSlot, ParamSlot};

/// What the [`params!`] and [`buffers!`] macros name from the caller's crate.
#[doc(hidden)]
pub mod __private {
    pub use descent_autodiff::Param;
}
