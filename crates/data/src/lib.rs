//! # descent-data
//!
//! Getting data into a training loop: the IDX file format (raw or gzip) with validation of
//! every header field, MNIST and datasets in its layout (Fashion-MNIST) found locally or
//! downloaded with SHA-256 verification, a [`DataLoader`] of seeded shuffled mini-batches
//! over items held as floats or as bytes ([`ByteImages`], decoded per batch), and
//! normalization transforms (scaling, standardization, PCA and ZCA whitening).
//!
//! Features (both on by default): `download` fetches missing files over HTTPS (without it,
//! a file missing from the cache is an error saying how to provide it), `progress` draws
//! progress bars while downloading. A library that brings its own data turns them off with
//! `default-features = false` and depends on no HTTP client, TLS or terminal crate.
//!
//! Bad input — a missing, truncated or corrupt file, a label ≥ 10, a download with the
//! wrong checksum — is an [`enum@Error`] naming the file and what is wrong, never a panic.
//!
//! ```
//! use descent_data::{DataLoader, Dataset};
//! use descent_tensor::Tensor;
//! let x = Tensor::<f32>::zeros(&[10, 784]);
//! let loader = DataLoader::new(Dataset::new(x, vec![3; 10])?, 4)?.shuffle(0);
//! let sizes: Vec<usize> = loader.epoch(0).map(|(xb, _)| xb.shape()[0]).collect();
//! assert_eq!(sizes, vec![4, 4, 2]);
//! # Ok::<(), descent_data::Error>(())
//! ```
#![warn(missing_docs)]

mod bytes;
mod error;
pub mod idx;
pub mod loader;
pub mod mnist;
pub mod transforms;

pub use bytes::ByteImages;
#[allow(deprecated)]
pub use error::{DataError, Error, Result};
pub use loader::{Batches, DataLoader, Dataset, Targets};
pub use mnist::Mnist;
