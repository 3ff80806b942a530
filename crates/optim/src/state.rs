//! Saved optimizer state: named tensors plus string metadata, in the safetensors format (the
//! one model weights use), written atomically so a crash never leaves half a file.
//!
//! Layout: metadata `format = descent-optim-state/1`, `optimizer`, `dtype`, then what the
//! optimizer wrote (`groups`, `group.<g>.lr`, `params`, `param.<i>.step`, ...); tensors
//! `param.<i>.<buffer>` (torch's buffer names: `exp_avg`, `momentum_buffer`, ...). Numbers
//! in the metadata are written with Rust's shortest round-trip formatting, so loading
//! restores them bit for bit.

use crate::error::{Error, Result};
use descent_tensor::{Float, Tensor};
use safetensors::tensor::{Dtype, SafeTensors, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

const FORMAT: &str = "descent-optim-state/1";

/// The largest step or iterate count a state may hold. Counts enter the updates as `f64`
/// (Adam's `βᵗ`, an average's `1/t`), exact up to 2⁵³; a count past it (a corrupt or
/// hostile file's `u64::MAX`) would wrap or lose the exactness resuming relies on.
pub const MAX_COUNT: u64 = 1 << 53;

/// `Ok(count)` if `1 ≤ count ≤` [`MAX_COUNT`]; else [`Error::State`] naming `key`. A saved
/// count is at least 1: a state exists only after a step.
pub(crate) fn check_count(key: &str, count: u64) -> Result<u64> {
    if (1..=MAX_COUNT).contains(&count) {
        Ok(count)
    } else {
        Err(Error::state(format!(
            "`{key}` = {count} is outside [1, 2^53]"
        )))
    }
}

/// [`Error::State`] naming the tensor if it holds NaN or infinity: a moment or an average
/// that is not finite would make every later step NaN.
pub(crate) fn check_finite<F: Float>(name: &str, t: &Tensor<F>) -> Result<()> {
    if t.has_non_finite() {
        return Err(Error::state(format!(
            "`{name}` (shape {:?}) holds NaN or infinity",
            t.shape()
        )));
    }
    Ok(())
}

/// A shape as metadata: its sizes comma-separated (`16,784`; empty for a scalar).
pub(crate) fn shape_to_meta(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    dims.join(",")
}

/// Parses [`shape_to_meta`]'s text, refusing sizes whose product overflows.
pub(crate) fn shape_from_meta(key: &str, v: &str) -> Result<Vec<usize>> {
    let bad = || Error::state(format!("metadata `{key}` = `{v}` is not a shape"));
    let dims = v
        .split(',')
        .filter(|d| !d.is_empty())
        .map(|d| d.trim().parse::<usize>().map_err(|_| bad()))
        .collect::<Result<Vec<usize>>>()?;
    dims.iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(bad)?;
    Ok(dims)
}

/// An optimizer's state as tensors and metadata, ready to save or just loaded.
///
/// ```
/// use descent_optim::StateDict;
/// use descent_tensor::Tensor;
/// let mut sd = StateDict::<f64>::new("sgd");
/// sd.set_meta("params", 1);
/// sd.tensors.insert("param.0.momentum_buffer".into(), Tensor::from_vec(vec![0.1, 0.2], &[2])?);
/// let back = StateDict::<f64>::from_bytes(&sd.to_bytes()?, "memory")?;
/// assert_eq!((back.optimizer.as_str(), &back.meta), ("sgd", &sd.meta));
/// assert_eq!(back.tensors["param.0.momentum_buffer"].to_vec(), vec![0.1, 0.2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct StateDict<F: Float> {
    /// The optimizer that wrote it (loading into another one is an error).
    pub optimizer: String,
    /// String metadata (step counts, learning rates, ...).
    pub meta: BTreeMap<String, String>,
    /// Named state tensors.
    pub tensors: BTreeMap<String, Tensor<F>>,
}

struct Raw {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn dtype_of<F: Float>() -> Dtype {
    if F::DTYPE == "float32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

impl<F: Float> StateDict<F> {
    /// An empty state written by `optimizer`.
    pub fn new(optimizer: &str) -> Self {
        StateDict {
            optimizer: optimizer.to_string(),
            meta: BTreeMap::new(),
            tensors: BTreeMap::new(),
        }
    }

    /// Sets a metadata entry.
    pub fn set_meta(&mut self, key: &str, value: impl Display) {
        self.meta.insert(key.to_string(), value.to_string());
    }

    /// A metadata entry.
    ///
    /// # Errors
    /// [`Error::State`] if it is missing.
    pub fn meta_str(&self, key: &str) -> Result<&str> {
        self.meta
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| Error::state(format!("`{key}` is missing from the metadata")))
    }

    /// A metadata entry parsed as `T`.
    ///
    /// # Errors
    /// [`Error::State`] if it is missing or does not parse.
    pub fn meta_parse<T: FromStr>(&self, key: &str) -> Result<T> {
        let v = self.meta_str(key)?;
        v.parse()
            .map_err(|_| Error::state(format!("metadata `{key}` = `{v}` does not parse")))
    }

    /// The safetensors bytes.
    ///
    /// # Errors
    /// [`Error::State`] if safetensors refuses the data (it does not for valid tensors).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let raws: Vec<(String, Raw)> = self
            .tensors
            .iter()
            .map(|(name, t)| {
                let mut bytes = Vec::with_capacity(t.numel() * std::mem::size_of::<F>());
                for x in t.to_vec() {
                    if dtype_of::<F>() == Dtype::F32 {
                        bytes.extend_from_slice(&(x.as_f64() as f32).to_le_bytes());
                    } else {
                        bytes.extend_from_slice(&x.as_f64().to_le_bytes());
                    }
                }
                let raw = Raw {
                    dtype: dtype_of::<F>(),
                    shape: t.shape().to_vec(),
                    bytes,
                };
                (name.clone(), raw)
            })
            .collect();
        let mut meta: HashMap<String, String> = self.meta.clone().into_iter().collect();
        meta.insert("format".into(), FORMAT.into());
        meta.insert("optimizer".into(), self.optimizer.clone());
        meta.insert("dtype".into(), F::DTYPE.into());
        safetensors::serialize(raws.iter().map(|(n, r)| (n.as_str(), r)), Some(meta))
            .map_err(|e| Error::state(format!("safetensors: {e}")))
    }

    /// Parses safetensors bytes; `origin` (a path) names the source in errors.
    ///
    /// # Errors
    /// [`Error::File`] if the bytes are not a descent optimizer state of dtype `F`.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self> {
        let bad = |why: String| Error::File {
            path: origin.into(),
            why,
        };
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
        let mut meta: BTreeMap<String, String> = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        if meta.remove("format").as_deref() != Some(FORMAT) {
            return Err(bad(format!(
                "not an optimizer state (metadata `format` is not `{FORMAT}`)"
            )));
        }
        let optimizer = meta
            .remove("optimizer")
            .ok_or_else(|| bad("metadata `optimizer` is missing".into()))?;
        let dtype = meta.remove("dtype").unwrap_or_default();
        if dtype != F::DTYPE {
            return Err(Error::state(format!(
                "the state holds {dtype} but is loaded as {}",
                F::DTYPE
            )));
        }
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(format!("{e}")))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != dtype_of::<F>() {
                return Err(bad(format!(
                    "tensor `{name}` has dtype {:?}, expected {}",
                    view.dtype(),
                    F::DTYPE
                )));
            }
            let data: Vec<F> = if view.dtype() == Dtype::F32 {
                view.data()
                    .chunks_exact(4)
                    .map(|c| F::of(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64))
                    .collect()
            } else {
                view.data()
                    .chunks_exact(8)
                    .map(|c| {
                        let mut b = [0u8; 8];
                        b.copy_from_slice(c);
                        F::of(f64::from_le_bytes(b))
                    })
                    .collect()
            };
            let t = Tensor::from_vec(data, view.shape())?;
            if t.has_non_finite() {
                return Err(bad(format!(
                    "tensor `{name}` (shape {:?}) holds NaN or infinity",
                    t.shape()
                )));
            }
            tensors.insert(name, t);
        }
        Ok(StateDict {
            optimizer,
            meta,
            tensors,
        })
    }

    /// Writes the state to `path` atomically (`path.tmp`, fsync, rename).
    ///
    /// # Errors
    /// [`Error::File`] if it cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = self.to_bytes()?;
        write_atomic(path, &bytes)
    }

    /// Reads a state written by [`StateDict::save`].
    ///
    /// # Errors
    /// [`Error::File`] if it cannot be read or is not an optimizer state of dtype `F`.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::File {
            path: path.to_path_buf(),
            why: e.to_string(),
        })?;
        StateDict::from_bytes(&bytes, &path.display().to_string())
    }
}

/// Writes `bytes` to `path.tmp`, syncs it to disk, then renames it over `path`, so readers
/// see the old file or the new one, never a torn one.
///
/// # Errors
/// [`Error::File`] naming the path and the operating-system error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let err = |e: std::io::Error| Error::File {
        path: path.to_path_buf(),
        why: e.to_string(),
    };
    let mut file = std::fs::File::create(&tmp).map_err(err)?;
    file.write_all(bytes).map_err(err)?;
    file.sync_all().map_err(err)?;
    drop(file);
    std::fs::rename(&tmp, path).map_err(err)
}
