//! Named tensors in the [safetensors](https://huggingface.co/docs/safetensors) format, under
//! PyTorch's `state_dict` names, so weights move both ways between descent and PyTorch
//! (`safetensors.torch.save_file(model.state_dict(), path)` / `load_file`).
//!
//! Float tensors are stored as `F32` or `F64` (the model's element type); counts such as
//! BatchNorm's `num_batches_tracked` as 0-dim `I64`, as PyTorch stores them. Files are
//! written and read by [`descent_tensor::io`] (the optimizer's state uses it too): writes
//! are atomic, so a crash mid-save leaves the old file; reads check the header and the
//! sizes it declares against the file's size before reading the data. Loads check every
//! tensor (present, no extras, dtype, shape, bytes) before touching anything, so a failed
//! load leaves the model as it was.

use crate::error::{Error, Result};
use crate::module::Module;
pub use crate::state::{Buffer, BufferMut};
use descent_tensor::io::{self, float_dtype, Dtype, IoError, RawTensor, Safetensors};
use descent_tensor::{Float, Tensor};
use std::path::Path;

impl<F: Float> From<&Buffer<F>> for RawTensor {
    fn from(b: &Buffer<F>) -> RawTensor {
        match b {
            Buffer::Float(t) => RawTensor::from_tensor(t),
            // PyTorch's counts are int64; a u64 count above i64::MAX is not reachable.
            Buffer::Count(n) => RawTensor::i64_scalar(i64::try_from(*n).unwrap_or(i64::MAX)),
        }
    }
}

/// The nn error for a file error: the same file, offset and tensor.
fn from_io(e: IoError) -> Error {
    match e {
        IoError::Os { path, source } => Error::Io { path, source },
        IoError::Truncated {
            path,
            name,
            start,
            end,
            found,
        } => Error::Truncated {
            path,
            name,
            start,
            end,
            found,
        },
        IoError::Format { path, offset, why } => Error::Format {
            path,
            why: format!("at byte offset {offset}: {why}"),
        },
        other => Error::Format {
            path: Default::default(),
            why: other.to_string(),
        },
    }
}

/// Writes named buffers to `path` in the safetensors format, atomically (see
/// [`descent_tensor::io::write_atomic`]).
///
/// # Errors
/// [`Error::Io`] if the file cannot be written; [`Error::Format`] for duplicate names.
pub fn save_buffers<F: Float>(
    path: impl AsRef<Path>,
    buffers: &[(String, Buffer<F>)],
) -> Result<()> {
    let raws: Vec<(String, RawTensor)> = buffers
        .iter()
        .map(|(n, b)| (n.clone(), RawTensor::from(b)))
        .collect();
    io::save_safetensors(path.as_ref(), &raws, None).map_err(from_io)
}

/// Reads every tensor of a safetensors file, sorted by name; all must have `F`'s dtype.
///
/// # Errors
/// [`Error::Io`], [`Error::Format`] (also for NaN or infinity), [`Error::Truncated`], or
/// [`Error::TensorDtype`] for a tensor of another dtype.
pub fn load_tensors<F: Float>(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor<F>)>> {
    let path = path.as_ref();
    let file = io::read_safetensors(path).map_err(from_io)?;
    file.tensors
        .into_iter()
        .map(|(name, raw)| {
            check_dtype(path, &name, float_dtype::<F>(), raw.dtype)?;
            let t = decode_float::<F>(path, &name, &raw)?;
            Ok((name, t))
        })
        .collect()
}

/// Reads the tensors named in `expected` from the file at `path`, checking everything first:
/// each present with the dtype and shape of its `expected` entry, no file tensor left over.
/// Returns them in `expected`'s order.
///
/// # Errors
/// [`Error::Io`], [`Error::Format`] (also for NaN or infinity, or a negative count),
/// [`Error::Truncated`], [`Error::MissingTensor`], [`Error::UnexpectedTensor`],
/// [`Error::TensorDtype`], [`Error::TensorShape`].
pub fn read_state<F: Float>(
    path: impl AsRef<Path>,
    expected: &[(String, Buffer<F>)],
) -> Result<Vec<Buffer<F>>> {
    let path = path.as_ref();
    let file = io::read_safetensors(path).map_err(from_io)?;
    check_state(path, &file, expected)
}

/// The tensors of `file` named in `expected`, each checked as [`read_state`] says; `path`
/// names the source in errors (a file, or `<bytes>` / `<state dict>` in memory).
fn check_state<F: Float>(
    path: &Path,
    file: &Safetensors,
    expected: &[(String, Buffer<F>)],
) -> Result<Vec<Buffer<F>>> {
    if let Some(extra) = file
        .tensors
        .keys()
        .find(|n| !expected.iter().any(|(e, _)| e == *n))
    {
        let names = expected
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::UnexpectedTensor {
            path: path.into(),
            name: extra.clone(),
            expected: names,
        });
    }
    expected
        .iter()
        .map(|(name, like)| {
            let (dtype, shape) = match like {
                Buffer::Float(t) => (float_dtype::<F>(), t.shape().to_vec()),
                Buffer::Count(_) => (Dtype::I64, vec![]),
            };
            let raw = file.tensors.get(name).ok_or_else(|| {
                let found: Vec<&str> = file.tensors.keys().map(String::as_str).collect();
                Error::MissingTensor {
                    path: path.into(),
                    name: name.clone(),
                    expected: format!("{dtype} {shape:?}"),
                    found: found.join(", "),
                }
            })?;
            check_dtype(path, name, dtype, raw.dtype)?;
            if raw.shape != shape {
                return Err(Error::TensorShape {
                    path: path.into(),
                    name: name.clone(),
                    expected: shape,
                    found: raw.shape.clone(),
                });
            }
            Ok(match like {
                Buffer::Float(_) => Buffer::Float(decode_float(path, name, raw)?),
                Buffer::Count(_) => match raw.to_i64().map(u64::try_from) {
                    Some(Ok(n)) => Buffer::Count(n),
                    // PyTorch never writes a negative count.
                    _ => {
                        return Err(Error::Format {
                            path: path.into(),
                            why: format!("count {name:?} is negative"),
                        })
                    }
                },
            })
        })
        .collect()
}

/// Writes a model's parameters and buffers ([`Module::state_dict`]) to `path` under
/// PyTorch's names, atomically. PyTorch reads it with
/// `model.load_state_dict(safetensors.torch.load_file(path))`.
///
/// # Errors
/// As [`save_buffers`].
pub fn save<F: Float, M: Module<F> + ?Sized>(model: &M, path: impl AsRef<Path>) -> Result<()> {
    save_buffers(path, &model.state_dict())
}

/// Loads a model's parameters and buffers from `path` (written by [`save`], or by PyTorch
/// with `safetensors.torch.save_file(model.state_dict(), path)`). Every tensor is checked
/// before any is written: on error the model is unchanged. Parameters keep their ids, so
/// optimizer state stays attached.
///
/// # Errors
/// As [`read_state`].
pub fn load<F: Float, M: Module<F> + ?Sized>(model: &mut M, path: impl AsRef<Path>) -> Result<()> {
    let values = read_state(path, &model.state_dict())?;
    apply_state(model, values);
    Ok(())
}

/// The name in-memory weights go by in error messages, where a file's path would be.
const BYTES: &str = "<bytes>";
/// The name of a state dict given in memory, in error messages.
const STATE_DICT: &str = "<state dict>";

/// A model's parameters and buffers ([`Module::state_dict`]) as the bytes of a safetensors
/// file, in memory: what [`save`] writes, for a buffer, a database or a network.
///
/// ```
/// use descent_nn::{Linear, Module};
/// use rand::{rngs::StdRng, SeedableRng};
/// let mut rng = StdRng::seed_from_u64(0);
/// let trained = Linear::<f32>::new(3, 2, &mut rng)?;
/// let bytes = descent_nn::to_bytes(&trained)?;
/// let mut fresh = Linear::<f32>::new(3, 2, &mut rng)?;
/// descent_nn::load_bytes(&mut fresh, &bytes)?;
/// assert_eq!(fresh.weight.value.to_vec(), trained.weight.value.to_vec());
/// # Ok::<(), descent_nn::Error>(())
/// ```
///
/// # Errors
/// [`Error::Format`] for two parameters or buffers of the same name.
pub fn to_bytes<F: Float, M: Module<F> + ?Sized>(model: &M) -> Result<Vec<u8>> {
    let raws: Vec<(String, RawTensor)> = model
        .state_dict()
        .iter()
        .map(|(n, b)| (n.clone(), RawTensor::from(b)))
        .collect();
    io::encode_safetensors(&raws, None, Path::new(BYTES)).map_err(from_io)
}

/// Loads a model's parameters and buffers from the bytes of a safetensors file (from
/// [`to_bytes`], or a file's contents), with every check of [`load`]; errors name the
/// source `<bytes>`. On error the model is unchanged.
///
/// # Errors
/// As [`read_state`].
pub fn load_bytes<F: Float, M: Module<F> + ?Sized>(model: &mut M, bytes: &[u8]) -> Result<()> {
    let path = Path::new(BYTES);
    let file = io::decode_safetensors(bytes, path).map_err(from_io)?;
    let values = check_state(path, &file, &model.state_dict())?;
    apply_state(model, values);
    Ok(())
}

/// Loads a model's parameters and buffers from a state dict in memory — another model's
/// [`Module::state_dict`], or best weights kept during training — with every check of
/// [`load`] (each name present once, none extra, shapes and kinds as the model's, values
/// finite); errors name the source `<state dict>`. On error the model is unchanged.
/// PyTorch's `model.load_state_dict(state)` with `strict=True`.
///
/// ```
/// use descent_nn::{Linear, Module};
/// use rand::{rngs::StdRng, SeedableRng};
/// let mut rng = StdRng::seed_from_u64(0);
/// let mut model = Linear::<f64>::new(3, 2, &mut rng)?;
/// let best = model.state_dict();                   // tensors share storage: cheap
/// model.weight.value = model.weight.value.mul_scalar(2.0);
/// descent_nn::load_state_dict(&mut model, &best)?;  // back to the best weights
/// assert_eq!(model.state_dict()[0].0, "weight");
/// # Ok::<(), descent_nn::Error>(())
/// ```
///
/// # Errors
/// As [`read_state`], and [`Error::Format`] for a name given twice.
pub fn load_state_dict<F: Float, M: Module<F> + ?Sized>(
    model: &mut M,
    state: &[(String, Buffer<F>)],
) -> Result<()> {
    let path = Path::new(STATE_DICT);
    let mut file = Safetensors::default();
    for (name, buffer) in state {
        if file
            .tensors
            .insert(name.clone(), RawTensor::from(buffer))
            .is_some()
        {
            return Err(Error::Format {
                path: path.into(),
                why: format!("tensor {name:?} is given twice"),
            });
        }
    }
    let values = check_state(path, &file, &model.state_dict())?;
    apply_state(model, values);
    Ok(())
}

/// Writes checked values (in [`Module::state_dict`] order) into the model: parameters keep
/// their ids, so optimizer state stays attached.
fn apply_state<F: Float, M: Module<F> + ?Sized>(model: &mut M, values: Vec<Buffer<F>>) {
    let mut values = values.into_iter();
    for (_, p) in model.named_params_mut() {
        if let Some(Buffer::Float(v)) = values.next() {
            p.value = v;
        }
    }
    for ((_, slot), value) in model.named_buffers_mut().into_iter().zip(values) {
        match (slot, value) {
            (BufferMut::Float(t), Buffer::Float(v)) => *t = v,
            (BufferMut::Count(c), Buffer::Count(v)) => *c = v,
            // check_state decoded each value as the kind state_dict reported for it.
            _ => {}
        }
    }
}

fn check_dtype(path: &Path, name: &str, expected: Dtype, found: Dtype) -> Result<()> {
    if expected == found {
        return Ok(());
    }
    Err(Error::TensorDtype {
        path: path.into(),
        name: name.to_string(),
        expected: expected.to_string(),
        found: found.to_string(),
    })
}

/// A float tensor whose dtype was checked to be `F`'s; NaN or infinity is refused, naming
/// the tensor (a model loaded with one would turn every output NaN).
fn decode_float<F: Float>(path: &Path, name: &str, raw: &RawTensor) -> Result<Tensor<F>> {
    let t = raw.to_tensor::<F>().ok_or_else(|| Error::TensorDtype {
        path: path.into(),
        name: name.to_string(),
        expected: float_dtype::<F>().to_string(),
        found: raw.dtype.to_string(),
    })?;
    if t.has_non_finite() {
        return Err(Error::Format {
            path: path.into(),
            why: format!(
                "tensor {name:?} (shape {:?}) holds NaN or infinity",
                t.shape()
            ),
        });
    }
    Ok(t)
}
