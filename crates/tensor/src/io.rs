//! Files: atomic writes, and named tensors in the
//! [safetensors](https://huggingface.co/docs/safetensors) format read with bounds.
//!
//! Model weights (`descent-nn`) and optimizer state (`descent-optim`) both go through here,
//! so both get the same guarantees:
//!
//! - [`write_atomic`]: the bytes go to `<path>.tmp` in the same directory, are fsynced,
//!   renamed over `<path>`, and the directory is fsynced, so a crash or `kill -9` leaves the
//!   old file or the new one, never a torn one. A temporary file left by a killed save is
//!   removed by the next save to that path, so at most one is ever left.
//! - [`read_safetensors`]: the 8-byte header length, the header, and the data size it
//!   declares are checked against the file's size before the data is read, so `/dev/zero`,
//!   a huge file or a lying header is an error naming the file and the byte offset, never
//!   an unbounded read.
//!
//! ```
//! use descent_tensor::io::{decode_safetensors, encode_safetensors, RawTensor};
//! use descent_tensor::Tensor;
//! use std::path::Path;
//! let x = Tensor::<f64>::from_vec(vec![0.5, -1.0], &[2])?;
//! let bytes = encode_safetensors(&[("x".into(), RawTensor::from_tensor(&x))], None, Path::new("mem"))?;
//! let file = decode_safetensors(&bytes, Path::new("mem"))?;
//! assert_eq!(file.tensors["x"].to_tensor::<f64>().unwrap().to_vec(), vec![0.5, -1.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::{Float, Tensor};
use safetensors::tensor::{Metadata, View};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

pub use safetensors::Dtype;

/// The largest header accepted (the safetensors crate's own limit).
pub const MAX_HEADER: u64 = 100_000_000;

/// What can go wrong reading or writing a file; every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// The operating system refused (open, read, write, fsync, rename).
    #[error("{}: {source}", path.display())]
    Os {
        /// The file (the target, not its temporary file).
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Bytes that are not a valid safetensors file.
    #[error("{}: not a valid safetensors file at byte offset {offset}: {why}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// Where in the file the problem is.
        offset: u64,
        /// What is wrong, with the numbers found and expected.
        why: String,
    },
    /// A file whose data section ends before a tensor's bytes do.
    #[error("{}: truncated: tensor {name:?} needs bytes {start}..{end} of the data section, but the file holds only {found} data bytes", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The first tensor cut short.
        name: String,
        /// Where its bytes start in the data section.
        start: usize,
        /// Where they should end.
        end: usize,
        /// The data bytes actually present.
        found: usize,
    },
}

fn os(path: &Path) -> impl FnOnce(std::io::Error) -> IoError + '_ {
    move |source| IoError::Os {
        path: path.to_path_buf(),
        source,
    }
}

fn format_err(path: &Path, offset: u64, why: impl Into<String>) -> IoError {
    IoError::Format {
        path: path.to_path_buf(),
        offset,
        why: why.into(),
    }
}

/// The temporary file [`write_atomic`] writes before renaming: `<path>.tmp`, in the same
/// directory (a rename is atomic only within one file system).
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Writes `bytes` to `path` atomically: removes a stale `<path>.tmp` left by a killed save,
/// writes and fsyncs `<path>.tmp`, renames it over `path`, and fsyncs the directory so the
/// rename itself survives a power cut. On error the temporary file is removed.
///
/// # Errors
/// [`IoError::Os`] naming `path` (not the temporary file) and the operating-system error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), IoError> {
    let tmp = temp_path(path);
    // A save killed between create and rename leaves the temporary file; it is never a
    // complete state anyone reads, so the next save to this target deletes it first.
    match std::fs::remove_file(&tmp) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(os(path)(e)),
        _ => {}
    }
    let written = File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(os(path)(e));
    }
    // Some file systems refuse to fsync a directory; the data is already safe in the file
    // then, so that refusal is not an error.
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Checks, before any work whose result would go to `path`, that the file can be created or
/// overwritten there: `path` is not a directory, its directory exists and takes a new file
/// (probed with a file created and removed at once), and an existing `path` opens for
/// writing. A long run then never fails at its end for want of a place to save.
///
/// # Errors
/// [`IoError::Os`] naming `path` and what is wrong.
pub fn check_writable(path: &Path) -> Result<(), IoError> {
    let refuse = |why: String| os(path)(std::io::Error::other(why));
    if path.is_dir() {
        return Err(refuse("is a directory".into()));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(refuse(format!(
            "the directory {} does not exist",
            dir.display()
        )));
    }
    let probe = dir.join(format!(".descent-write-probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| refuse(format!("cannot write in {}: {e}", dir.display())))?;
    let _ = std::fs::remove_file(&probe);
    if path.exists() {
        std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(os(path))?;
    }
    Ok(())
}

/// One tensor as safetensors stores it: dtype, shape and little-endian row-major bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct RawTensor {
    /// The element type.
    pub dtype: Dtype,
    /// The shape.
    pub shape: Vec<usize>,
    /// The elements, little-endian, row-major.
    pub data: Vec<u8>,
}

/// The safetensors dtype of `F` (`F32` or `F64`).
pub fn float_dtype<F: Float>() -> Dtype {
    if F::DTYPE == "float32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

impl RawTensor {
    /// A float tensor's bytes, as `F32` or `F64` after `F`.
    pub fn from_tensor<F: Float>(t: &Tensor<F>) -> RawTensor {
        let v = t.to_vec();
        let data = match float_dtype::<F>() {
            Dtype::F32 => v
                .iter()
                .flat_map(|x| (x.as_f64() as f32).to_le_bytes())
                .collect(),
            _ => v.iter().flat_map(|x| x.as_f64().to_le_bytes()).collect(),
        };
        RawTensor {
            dtype: float_dtype::<F>(),
            shape: t.shape().to_vec(),
            data,
        }
    }

    /// A 0-dim `I64` (PyTorch's counts, such as BatchNorm's `num_batches_tracked`).
    pub fn i64_scalar(v: i64) -> RawTensor {
        RawTensor {
            dtype: Dtype::I64,
            shape: vec![],
            data: v.to_le_bytes().to_vec(),
        }
    }

    /// The elements as a tensor of `F`, or `None` if the dtype is not `F`'s.
    pub fn to_tensor<F: Float>(&self) -> Option<Tensor<F>> {
        let v: Vec<F> = match self.dtype {
            Dtype::F32 if float_dtype::<F>() == Dtype::F32 => self
                .data
                .chunks_exact(4)
                .map(|c| F::of(f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]]))))
                .collect(),
            Dtype::F64 if float_dtype::<F>() == Dtype::F64 => self
                .data
                .chunks_exact(8)
                .map(|c| {
                    F::of(f64::from_le_bytes([
                        c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7],
                    ]))
                })
                .collect(),
            _ => return None,
        };
        // The decoder checked that the bytes match the shape.
        Tensor::from_vec(v, &self.shape).ok()
    }

    /// The value of a 0-dim `I64`, or `None` for anything else.
    pub fn to_i64(&self) -> Option<i64> {
        match (self.dtype, self.shape.as_slice(), self.data.as_slice()) {
            (Dtype::I64, [], &[a, b, c, d, e, f, g, h]) => {
                Some(i64::from_le_bytes([a, b, c, d, e, f, g, h]))
            }
            _ => None,
        }
    }
}

impl View for &RawTensor {
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

/// A decoded safetensors file: its string metadata and its tensors, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Safetensors {
    /// The `__metadata__` entries.
    pub metadata: BTreeMap<String, String>,
    /// The tensors, sorted by name.
    pub tensors: BTreeMap<String, RawTensor>,
}

/// The safetensors bytes of `tensors` (in any order; the format sorts them) and
/// `metadata`; `path` names the destination in errors.
///
/// # Errors
/// [`IoError::Format`] for two tensors of the same name, or one whose bytes do not match
/// its shape.
pub fn encode_safetensors(
    tensors: &[(String, RawTensor)],
    metadata: Option<HashMap<String, String>>,
    path: &Path,
) -> Result<Vec<u8>, IoError> {
    for (i, (name, _)) in tensors.iter().enumerate() {
        if tensors[..i].iter().any(|(n, _)| n == name) {
            return Err(format_err(
                path,
                0,
                format!("two tensors are named {name:?}"),
            ));
        }
    }
    safetensors::serialize(tensors.iter().map(|(n, t)| (n.as_str(), t)), metadata)
        .map_err(|e| format_err(path, 0, e.to_string()))
}

/// [`encode_safetensors`], then [`write_atomic`].
///
/// # Errors
/// As those two.
pub fn save_safetensors(
    path: &Path,
    tensors: &[(String, RawTensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<(), IoError> {
    write_atomic(path, &encode_safetensors(tensors, metadata, path)?)
}

/// Parses the `header` bytes of a safetensors file whose total size is `len` (its length
/// already checked by [`header_len`]), and checks the data size it declares against `len`,
/// so that no caller reads more than the file holds or allocates from a lying header.
fn parse_header(path: &Path, header: &[u8], len: u64) -> Result<Metadata, IoError> {
    let n = header.len() as u64;
    let meta: Metadata = serde_json::from_slice(header)
        .map_err(|e| format_err(path, 8, format!("the {n}-byte header does not parse: {e}")))?;
    let data = len.saturating_sub(8).saturating_sub(n);
    let declared = meta.data_len() as u64;
    if declared > data {
        let mut cut: Vec<(String, usize, usize)> = meta
            .tensors()
            .into_iter()
            .map(|(name, info)| (name, info.data_offsets.0, info.data_offsets.1))
            .filter(|&(_, _, end)| end as u64 > data)
            .collect();
        cut.sort_by_key(|&(_, start, _)| start);
        // The declared size is the last tensor's end, so at least one tensor is cut.
        let Some((name, start, end)) = cut.into_iter().next() else {
            return Err(format_err(path, len, "the data section is cut short"));
        };
        return Err(IoError::Truncated {
            path: path.to_path_buf(),
            name,
            start,
            end,
            found: data as usize,
        });
    }
    if declared < data {
        return Err(format_err(
            path,
            8 + n + declared,
            format!(
                "{} bytes follow the last tensor; the header declares {declared} data bytes \
                 and the file holds {data}",
                data - declared
            ),
        ));
    }
    Ok(meta)
}

/// Splits the header length off the first 8 bytes and checks it against the file size `len`.
fn header_len(path: &Path, first8: &[u8], len: u64) -> Result<u64, IoError> {
    let Ok(b) = <[u8; 8]>::try_from(first8) else {
        return Err(format_err(
            path,
            len,
            format!("the file ends after {len} bytes, inside the 8-byte header length"),
        ));
    };
    let n = u64::from_le_bytes(b);
    let after = len.saturating_sub(8);
    if n > MAX_HEADER || n > after {
        return Err(format_err(
            path,
            0,
            format!(
                "the header length field says {n} bytes but the file has only {after} bytes after \
                 it (and at most {MAX_HEADER} are accepted)"
            ),
        ));
    }
    Ok(n)
}

/// Decodes a whole safetensors file held in memory; `path` names it in errors.
///
/// # Errors
/// [`IoError::Format`] (with the byte offset) or [`IoError::Truncated`].
pub fn decode_safetensors(bytes: &[u8], path: &Path) -> Result<Safetensors, IoError> {
    let len = bytes.len() as u64;
    let n = header_len(path, bytes.get(..8).unwrap_or(bytes), len)? as usize;
    let meta = parse_header(path, &bytes[8..8 + n], len)?;
    let data = &bytes[8 + n..];
    let tensors = meta
        .tensors()
        .into_iter()
        .map(|(name, info)| {
            let (start, end) = info.data_offsets;
            let raw = RawTensor {
                dtype: info.dtype,
                shape: info.shape.clone(),
                data: data[start..end].to_vec(),
            };
            (name, raw)
        })
        .collect();
    let metadata = meta
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok(Safetensors { metadata, tensors })
}

/// Reads a safetensors file, checking the header and the sizes it declares against the
/// file's size before reading the data (see the module docs).
///
/// # Errors
/// [`IoError::Os`] if it cannot be read, [`IoError::Format`] for something that is not a
/// regular file or not valid safetensors (naming the byte offset), [`IoError::Truncated`]
/// naming the first tensor a short file cuts.
pub fn read_safetensors(path: &Path) -> Result<Safetensors, IoError> {
    let mut file = File::open(path).map_err(os(path))?;
    let info = file.metadata().map_err(os(path))?;
    if !info.is_file() {
        return Err(format_err(
            path,
            0,
            "not a regular file (a device or a pipe has no size to check a header against)",
        ));
    }
    let len = info.len();
    let mut first8 = Vec::with_capacity(8);
    (&mut file)
        .take(8)
        .read_to_end(&mut first8)
        .map_err(os(path))?;
    let n = header_len(path, &first8, len)?;
    let mut header = Vec::with_capacity(n as usize);
    (&mut file)
        .take(n)
        .read_to_end(&mut header)
        .map_err(os(path))?;
    if header.len() as u64 != n {
        return Err(format_err(path, 8, "the file shrank while it was read"));
    }
    let meta = parse_header(path, &header, len)?;
    // The sizes are now known to add up to the file's size: read exactly that, and no more
    // (the file may grow meanwhile).
    let mut bytes = Vec::with_capacity(len as usize);
    bytes.extend_from_slice(&first8);
    bytes.extend_from_slice(&header);
    (&mut file)
        .take(meta.data_len() as u64)
        .read_to_end(&mut bytes)
        .map_err(os(path))?;
    if bytes.len() as u64 != len {
        return Err(format_err(
            path,
            bytes.len() as u64,
            "the file shrank while it was read",
        ));
    }
    decode_safetensors(&bytes, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn valid() -> Vec<u8> {
        let x = Tensor::<f32>::from_vec(vec![1.0, -2.0, 3.5], &[3]).unwrap();
        let tensors = [
            ("a".to_string(), RawTensor::from_tensor(&x)),
            ("n".to_string(), RawTensor::i64_scalar(7)),
        ];
        let meta = HashMap::from([("k".to_string(), "v".to_string())]);
        encode_safetensors(&tensors, Some(meta), Path::new("t")).unwrap()
    }

    #[test]
    fn round_trip_with_metadata_and_counts() {
        let file = decode_safetensors(&valid(), Path::new("t")).unwrap();
        assert_eq!(file.metadata["k"], "v");
        assert_eq!(file.tensors["n"].to_i64(), Some(7));
        assert!(file.tensors["n"].to_tensor::<f32>().is_none());
        let a = file.tensors["a"].to_tensor::<f32>().unwrap();
        assert_eq!(a.to_vec(), vec![1.0, -2.0, 3.5]);
        assert!(file.tensors["a"].to_tensor::<f64>().is_none());
    }

    #[test]
    fn write_atomic_replaces_and_cleans_up() {
        let dir = std::env::temp_dir().join(format!("descent-io-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        std::fs::write(temp_path(&path), b"stale").unwrap();
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(!temp_path(&path).exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn check_writable_names_what_is_wrong_and_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("descent-io-w-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("out.svg");
        check_writable(&file).unwrap();
        assert!(!file.exists());
        std::fs::write(&file, b"old").unwrap();
        check_writable(&file).unwrap();
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"old",
            "an existing file is left as it was"
        );
        let e = check_writable(&dir).unwrap_err().to_string();
        assert_eq!(e, format!("{}: is a directory", dir.display()));
        let missing = dir.join("nope").join("out.svg");
        let e = check_writable(&missing).unwrap_err().to_string();
        assert!(e.ends_with("does not exist"), "{e}");
        assert!(e.starts_with(&missing.display().to_string()), "{e}");
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left,
            vec![std::ffi::OsString::from("out.svg")],
            "no probe file is left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            let _ = decode_safetensors(&bytes, Path::new("fuzz"));
        }

        #[test]
        fn mutated_files_never_panic(at in 0usize..200, v in any::<u8>(), cut in 0usize..200) {
            let mut b = valid();
            let n = b.len();
            b[at % n] = v;
            b.truncate(n - cut % n);
            let _ = decode_safetensors(&b, Path::new("fuzz"));
        }
    }
}
