//! Saved optimizer state: named tensors plus string metadata, in the safetensors format (the
//! one model weights use), through [`descent_tensor::io`]: written atomically so a crash
//! never leaves half a file, read with the header and sizes checked against the file first.
//!
//! Layout: metadata `format = descent-optim-state/1`, `optimizer`, `dtype`, then what the
//! optimizer wrote (`groups`, `group.<g>.lr`, `params`, `param.<i>.step`, ...); tensors
//! `param.<i>.<buffer>` (torch's buffer names: `exp_avg`, `momentum_buffer`, ...). Numbers
//! in the metadata are written with Rust's shortest round-trip formatting, so loading
//! restores them bit for bit.

use crate::error::{Error, Result};
use descent_tensor::io::{self, RawTensor, Safetensors};
use descent_tensor::{Float, Tensor};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;
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
/// use descent_optim::first_order::StateDict;
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
    /// [`Error::Io`] if safetensors refuses the data (it does not for valid tensors).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.encode(Path::new("memory"))
    }

    fn encode(&self, path: &Path) -> Result<Vec<u8>> {
        let raws: Vec<(String, RawTensor)> = self
            .tensors
            .iter()
            .map(|(name, t)| (name.clone(), RawTensor::from_tensor(t)))
            .collect();
        let mut meta: HashMap<String, String> = self.meta.clone().into_iter().collect();
        meta.insert("format".into(), FORMAT.into());
        meta.insert("optimizer".into(), self.optimizer.clone());
        meta.insert("dtype".into(), F::DTYPE.into());
        Ok(io::encode_safetensors(&raws, Some(meta), path)?)
    }

    /// Parses safetensors bytes; `origin` (a path) names the source in errors.
    ///
    /// # Errors
    /// [`Error::Io`] if the bytes are not safetensors, [`Error::File`] if they are not a
    /// descent optimizer state of dtype `F` or hold a non-finite tensor.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self> {
        let file = io::decode_safetensors(bytes, Path::new(origin))?;
        StateDict::from_file(file, Path::new(origin))
    }

    fn from_file(file: Safetensors, origin: &Path) -> Result<Self> {
        let bad = |why: String| Error::File {
            path: origin.into(),
            why,
        };
        let mut meta = file.metadata;
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
        let mut tensors = BTreeMap::new();
        for (name, raw) in file.tensors {
            let t = raw.to_tensor::<F>().ok_or_else(|| {
                bad(format!(
                    "tensor `{name}` has dtype {}, expected {}",
                    raw.dtype,
                    F::DTYPE
                ))
            })?;
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

    /// Writes the state to `path` atomically (see [`descent_tensor::io::write_atomic`]).
    ///
    /// # Errors
    /// [`Error::Io`] naming `path` if it cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        Ok(io::write_atomic(path, &self.encode(path)?)?)
    }

    /// Reads a state written by [`StateDict::save`], checking the header and the sizes it
    /// declares against the file's size before reading the data.
    ///
    /// # Errors
    /// [`Error::Io`] if it cannot be read or is not safetensors, [`Error::File`] if it is
    /// not an optimizer state of dtype `F`.
    pub fn load(path: &Path) -> Result<Self> {
        StateDict::from_file(io::read_safetensors(path)?, path)
    }
}
