//! Named tensors in the [safetensors](https://huggingface.co/docs/safetensors) format, under
//! PyTorch's `state_dict` names, so weights move both ways between descent and PyTorch
//! (`safetensors.torch.save_file(model.state_dict(), path)` / `load_file`).
//!
//! Float tensors are stored as `F32` or `F64` (the model's element type); counts such as
//! BatchNorm's `num_batches_tracked` as 0-dim `I64`, as PyTorch stores them. Writes go to
//! `path.tmp`, are fsynced, then renamed over `path`, so a crash mid-save leaves the old
//! file. Loads check every tensor (present, no extras, dtype, shape, bytes) before touching
//! anything, so a failed load leaves the model as it was.

use crate::error::{Error, Result};
use crate::module::Module;
use descent_tensor::{Float, Tensor};
use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, View};
use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A named piece of a model's state, by value (tensors share storage, so this is cheap).
#[derive(Debug, Clone)]
pub enum Buffer<F: Float> {
    /// A float tensor (a parameter, a running mean or variance).
    Float(Tensor<F>),
    /// A count (BatchNorm's `num_batches_tracked`), stored as a 0-dim `I64`.
    Count(u64),
}

/// A named piece of a model's state, to be overwritten by a load.
#[derive(Debug)]
pub enum BufferMut<'a, F: Float> {
    /// A float tensor; the loaded tensor must have its current shape.
    Float(&'a mut Tensor<F>),
    /// A count, loaded from a 0-dim `I64`.
    Count(&'a mut u64),
}

/// The safetensors dtype of `F`.
fn dtype_of<F: Float>() -> Dtype {
    if F::DTYPE == "float32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

/// A [`Buffer`] as bytes, the way safetensors wants them (little-endian, row-major).
struct Bytes {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl<F: Float> From<&Buffer<F>> for Bytes {
    fn from(b: &Buffer<F>) -> Bytes {
        match b {
            Buffer::Float(t) => {
                let v = t.to_vec();
                let data = match dtype_of::<F>() {
                    Dtype::F32 => v
                        .iter()
                        .flat_map(|x| (x.as_f64() as f32).to_le_bytes())
                        .collect(),
                    _ => v.iter().flat_map(|x| x.as_f64().to_le_bytes()).collect(),
                };
                Bytes {
                    dtype: dtype_of::<F>(),
                    shape: t.shape().to_vec(),
                    data,
                }
            }
            // PyTorch's counts are int64; a u64 count above i64::MAX is not reachable.
            Buffer::Count(n) => Bytes {
                dtype: Dtype::I64,
                shape: vec![],
                data: (*n as i64).to_le_bytes().to_vec(),
            },
        }
    }
}

impl View for &Bytes {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// Writes named buffers to `path` in the safetensors format, atomically: the bytes go to
/// `path.tmp`, are fsynced, and the file is renamed over `path`.
///
/// # Errors
/// [`Error::Io`] if the file cannot be written; [`Error::Format`] for duplicate names.
pub fn save_buffers<F: Float>(
    path: impl AsRef<Path>,
    buffers: &[(String, Buffer<F>)],
) -> Result<()> {
    let path = path.as_ref();
    let bytes: Vec<(&str, Bytes)> = buffers
        .iter()
        .map(|(n, b)| (n.as_str(), Bytes::from(b)))
        .collect();
    for (i, (name, _)) in bytes.iter().enumerate() {
        if bytes[..i].iter().any(|(n, _)| n == name) {
            return Err(Error::Format {
                path: path.into(),
                why: format!("two tensors are named {name:?}"),
            });
        }
    }
    let data = safetensors::serialize(bytes.iter().map(|(n, b)| (*n, b)), None).map_err(|e| {
        Error::Format {
            path: path.into(),
            why: e.to_string(),
        }
    })?;
    write_atomically(path, &data)
}

/// Writes `data` to `path.tmp`, fsyncs it, renames it to `path` and fsyncs the directory.
fn write_atomically(path: &Path, data: &[u8]) -> Result<()> {
    let io = |source| Error::Io {
        path: path.into(),
        source,
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(".tmp");
    let tmp = PathBuf::from(tmp_name);
    let mut file = std::fs::File::create(&tmp).map_err(|source| Error::Io {
        path: tmp.clone(),
        source,
    })?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .map_err(|source| Error::Io {
            path: tmp.clone(),
            source,
        })?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(io)?;
    // Make the rename itself durable. Some file systems refuse to fsync a directory; the
    // data is already safe in the file then, so that refusal is not an error.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Reads every tensor of a safetensors file, sorted by name; all must have `F`'s dtype.
///
/// # Errors
/// [`Error::Io`], [`Error::Format`], [`Error::Truncated`], or [`Error::TensorDtype`] for a
/// tensor of another dtype.
pub fn load_tensors<F: Float>(path: impl AsRef<Path>) -> Result<Vec<(String, Tensor<F>)>> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let file = parse(path, &bytes)?;
    let mut names = file.names();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let view = file.tensor(name).map_err(|e| Error::Format {
                path: path.into(),
                why: e.to_string(),
            })?;
            check_dtype(path, name, dtype_of::<F>(), view.dtype())?;
            let t = Tensor::from_vec(decode::<F>(view.data()), view.shape())?;
            Ok((name.to_string(), t))
        })
        .collect()
}

/// Reads the tensors named in `expected` from the file at `path`, checking everything first:
/// each present with the dtype and shape of its `expected` entry, no file tensor left over.
/// Returns them in `expected`'s order.
///
/// # Errors
/// [`Error::Io`], [`Error::Format`], [`Error::Truncated`], [`Error::MissingTensor`],
/// [`Error::UnexpectedTensor`], [`Error::TensorDtype`], [`Error::TensorShape`].
pub fn read_state<F: Float>(
    path: impl AsRef<Path>,
    expected: &[(String, Buffer<F>)],
) -> Result<Vec<Buffer<F>>> {
    let path = path.as_ref();
    let bytes = read(path)?;
    let file = parse(path, &bytes)?;
    if let Some(extra) = file
        .names()
        .into_iter()
        .find(|n| !expected.iter().any(|(e, _)| e == n))
    {
        let names = expected
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(Error::UnexpectedTensor {
            path: path.into(),
            name: extra.to_string(),
            expected: names,
        });
    }
    expected
        .iter()
        .map(|(name, like)| {
            let (dtype, shape) = match like {
                Buffer::Float(t) => (dtype_of::<F>(), t.shape().to_vec()),
                Buffer::Count(_) => (Dtype::I64, vec![]),
            };
            let view = file.tensor(name).map_err(|_| {
                let mut found = file.names();
                found.sort();
                Error::MissingTensor {
                    path: path.into(),
                    name: name.clone(),
                    expected: format!("{dtype} {shape:?}"),
                    found: found.join(", "),
                }
            })?;
            check_dtype(path, name, dtype, view.dtype())?;
            if view.shape() != shape.as_slice() {
                return Err(Error::TensorShape {
                    path: path.into(),
                    name: name.clone(),
                    expected: shape,
                    found: view.shape().to_vec(),
                });
            }
            Ok(match like {
                Buffer::Float(_) => {
                    Buffer::Float(Tensor::from_vec(decode::<F>(view.data()), &shape)?)
                }
                Buffer::Count(_) => Buffer::Count(decode_count(view.data())),
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
    let mut values = read_state(path, &model.state_dict())?.into_iter();
    for (_, p) in model.named_params_mut() {
        if let Some(Buffer::Float(v)) = values.next() {
            p.value = v;
        }
    }
    for ((_, slot), value) in model.named_buffers_mut().into_iter().zip(values) {
        match (slot, value) {
            (BufferMut::Float(t), Buffer::Float(v)) => *t = v,
            (BufferMut::Count(c), Buffer::Count(v)) => *c = v,
            // read_state decoded each value as the kind state_dict reported for it.
            _ => {}
        }
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })
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

/// Parses the header and checks every tensor's bytes are present; a short file is reported
/// with the first tensor it cuts.
fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|e| match e {
        SafeTensorError::MetadataIncompleteBuffer => truncated(path, bytes),
        SafeTensorError::InvalidHeaderLength => Error::Format {
            path: path.into(),
            why: format!(
                "the header length field says {} bytes but the file has only {} bytes after it",
                header_len(bytes),
                bytes.len().saturating_sub(8)
            ),
        },
        e => Error::Format {
            path: path.into(),
            why: e.to_string(),
        },
    })
}

/// The header length the file's first 8 bytes declare (0 if it has fewer).
fn header_len(bytes: &[u8]) -> u64 {
    bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// The error for a file whose data section is shorter (or longer) than its header declares.
fn truncated(path: &Path, bytes: &[u8]) -> Error {
    let n = header_len(bytes) as usize;
    let found = bytes.len().saturating_sub(8 + n);
    let header_bytes = bytes.get(8..8 + n).unwrap_or_default();
    let header: serde_json::Result<serde_json::Map<String, serde_json::Value>> =
        serde_json::from_slice(header_bytes);
    let first_cut = header.ok().and_then(|h| {
        h.iter()
            .filter_map(|(name, info)| {
                let off = info.get("data_offsets")?.as_array()?;
                let (start, end) = (
                    off.first()?.as_u64()? as usize,
                    off.get(1)?.as_u64()? as usize,
                );
                Some((start, end, name.clone()))
            })
            .filter(|&(_, end, _)| end > found)
            .min()
    });
    match first_cut {
        Some((start, end, name)) => Error::Truncated {
            path: path.into(),
            name,
            start,
            end,
            found,
        },
        None => Error::Format {
            path: path.into(),
            why: format!("{found} data bytes follow the header, more than its tensors cover"),
        },
    }
}

/// Little-endian `f32`/`f64` bytes of `F`'s dtype to elements (the length was validated).
fn decode<F: Float>(data: &[u8]) -> Vec<F> {
    match dtype_of::<F>() {
        Dtype::F32 => data
            .chunks_exact(4)
            .map(|c| F::of(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64))
            .collect(),
        _ => data
            .chunks_exact(8)
            .map(|c| {
                F::of(f64::from_le_bytes([
                    c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
                ]))
            })
            .collect(),
    }
}

/// An `I64` count; a negative count (never written by PyTorch) reads as 0.
fn decode_count(data: &[u8]) -> u64 {
    data.get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, |b| i64::from_le_bytes(b).max(0) as u64)
}
