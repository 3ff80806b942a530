//! IDX files, the format MNIST ships in: bytes `00 00 type ndims`, then `ndims` big-endian
//! `u32` sizes, then the elements row-major and big-endian. Files may be gzip-compressed
//! (recognized by their first two bytes `1f 8b`, not by their name).
//!
//! Every header field is checked against the bytes that follow it before anything is
//! allocated from it, so a corrupt or hostile file gives an [`Error::Idx`] naming the
//! file and the byte offset, never a panic or a huge allocation.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use descent_tensor::{Float, Tensor};
use flate2::read::MultiGzDecoder;

use crate::error::{io_err, Error, Result};

/// The element type code (byte 2 of the magic number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdxType {
    /// `0x08`: unsigned byte (MNIST's pixels and labels).
    U8,
    /// `0x09`: signed byte.
    I8,
    /// `0x0B`: big-endian `i16`.
    I16,
    /// `0x0C`: big-endian `i32`.
    I32,
    /// `0x0D`: big-endian `f32`.
    F32,
    /// `0x0E`: big-endian `f64`.
    F64,
}

impl IdxType {
    /// The type for a code byte, if the format defines it.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0x08 => IdxType::U8,
            0x09 => IdxType::I8,
            0x0B => IdxType::I16,
            0x0C => IdxType::I32,
            0x0D => IdxType::F32,
            0x0E => IdxType::F64,
            _ => return None,
        })
    }

    /// The code byte written in the magic number.
    pub fn code(self) -> u8 {
        match self {
            IdxType::U8 => 0x08,
            IdxType::I8 => 0x09,
            IdxType::I16 => 0x0B,
            IdxType::I32 => 0x0C,
            IdxType::F32 => 0x0D,
            IdxType::F64 => 0x0E,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            IdxType::U8 | IdxType::I8 => 1,
            IdxType::I16 => 2,
            IdxType::I32 | IdxType::F32 => 4,
            IdxType::F64 => 8,
        }
    }

    /// Decodes one big-endian element (`bytes.len() == self.size()`).
    fn decode(self, b: &[u8]) -> f64 {
        let mut w = [0u8; 8];
        w[..b.len()].copy_from_slice(b);
        match self {
            IdxType::U8 => f64::from(w[0]),
            IdxType::I8 => f64::from(w[0] as i8),
            IdxType::I16 => f64::from(i16::from_be_bytes([w[0], w[1]])),
            IdxType::I32 => f64::from(i32::from_be_bytes([w[0], w[1], w[2], w[3]])),
            IdxType::F32 => f64::from(f32::from_be_bytes([w[0], w[1], w[2], w[3]])),
            IdxType::F64 => f64::from_be_bytes(w),
        }
    }
}

/// One IDX array: its element type, its dimensions and its raw (big-endian) element bytes.
///
/// ```
/// use descent_data::idx::{IdxArray, IdxType};
/// // Two 2x3 "images" of bytes, encoded and parsed back.
/// let a = IdxArray::new(IdxType::U8, vec![2, 2, 3], (0..12).collect())?;
/// let bytes = a.to_bytes();
/// assert_eq!(&bytes[..4], &[0, 0, 0x08, 3]);
/// let b = IdxArray::parse(bytes, "in-memory")?;
/// assert_eq!(b, a);
/// let t = b.to_tensor::<f32>()?;
/// assert_eq!(t.shape(), &[2, 2, 3]);
/// # Ok::<(), descent_data::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct IdxArray {
    /// The element type.
    pub dtype: IdxType,
    /// The sizes, outermost first (`[60000, 28, 28]` for MNIST's training images).
    pub dims: Vec<usize>,
    /// The element bytes, row-major, big-endian: `dims.product() * dtype.size()` of them.
    pub data: Vec<u8>,
}

/// Where the bytes came from, for error messages.
struct Origin<'a> {
    path: &'a Path,
    gzip: bool,
}

impl Origin<'_> {
    fn err(&self, offset: usize, what: String) -> Error {
        let what = if self.gzip {
            format!("{what} (offset in the decompressed stream)")
        } else {
            what
        };
        Error::Idx {
            path: self.path.to_path_buf(),
            offset: offset as u64,
            what,
        }
    }
}

impl IdxArray {
    /// An array from its parts.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `data` does not hold `dims.product()` elements or
    /// `dims` is empty.
    pub fn new(dtype: IdxType, dims: Vec<usize>, data: Vec<u8>) -> Result<Self> {
        let need = dims
            .iter()
            .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d));
        if dims.is_empty() || need != Some(data.len()) {
            return Err(Error::InvalidArgument {
                op: "IdxArray::new",
                arg: "data",
                value: format!("{} bytes", data.len()),
                why: match need {
                    Some(n) if !dims.is_empty() => {
                        format!("dims {dims:?} of {dtype:?} need {n} bytes")
                    }
                    Some(_) => "at least one dim is needed".to_string(),
                    None => format!(
                        "dims {dims:?} of {dtype:?} need more bytes than memory can address"
                    ),
                },
            });
        }
        Ok(IdxArray { dtype, dims, data })
    }

    /// Reads an IDX file, raw or gzip-compressed. The header is read first; then exactly
    /// the data bytes it declares (checked against the size of a raw file before reading),
    /// plus one to detect trailing data, so a small gzip that inflates to gigabytes is
    /// refused after the declared size, not after inflating everything.
    ///
    /// # Errors
    /// [`Error::Io`] if the file cannot be read, [`Error::Gzip`] if it starts like
    /// gzip but does not decompress, [`Error::Idx`] if the bytes are not a valid IDX array.
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(io_err(path))?;
        let len = file.metadata().map_err(io_err(path))?.len();
        read_stream(BufReader::new(file), len, path)
    }

    /// Parses the bytes of a file (gzip-compressed or not); `path` is used in errors only.
    /// Decompression stops after the size the header declares, as in [`IdxArray::read`].
    ///
    /// # Errors
    /// As [`IdxArray::read`], without the I/O.
    pub fn parse_file_bytes(raw: Vec<u8>, path: impl AsRef<Path>) -> Result<Self> {
        read_stream(raw.as_slice(), raw.len() as u64, path.as_ref())
    }

    /// Parses uncompressed IDX bytes; `name` is used in errors only.
    ///
    /// # Errors
    /// [`Error::Idx`] naming the byte offset of the first thing wrong: a magic number
    /// that is not `00 00 type ndims`, an unknown type code, zero dimensions, a header cut
    /// short, or a data section whose length is not the one the dimensions require.
    pub fn parse(bytes: Vec<u8>, name: impl AsRef<Path>) -> Result<Self> {
        parse(
            bytes,
            &Origin {
                path: name.as_ref(),
                gzip: false,
            },
        )
    }

    /// The encoded (uncompressed) file contents.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 4 * self.dims.len() + self.data.len());
        // `new` and `parse` keep ndims ≤ 255 and every dim ≤ u32::MAX.
        out.extend_from_slice(&[0, 0, self.dtype.code(), self.dims.len() as u8]);
        for &d in &self.dims {
            out.extend_from_slice(&(d as u32).to_be_bytes());
        }
        out.extend_from_slice(&self.data);
        out
    }

    /// The number of items (the outermost size).
    pub fn len(&self) -> usize {
        self.dims.first().copied().unwrap_or(0)
    }

    /// Whether the array holds no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements per item (the product of the inner sizes: 784 for MNIST images).
    pub fn item_numel(&self) -> usize {
        self.dims.iter().skip(1).product()
    }

    /// The elements as a tensor of shape `dims`, converted to `F`.
    ///
    /// # Errors
    /// Only a tensor shape error, which the invariants of `IdxArray` rule out.
    pub fn to_tensor<F: Float>(&self) -> Result<Tensor<F>> {
        let values: Vec<F> = if self.dtype == IdxType::U8 {
            self.data.iter().map(|&b| F::of(f64::from(b))).collect()
        } else {
            self.data
                .chunks_exact(self.dtype.size())
                .map(|c| F::of(self.dtype.decode(c)))
                .collect()
        };
        Ok(Tensor::from_vec(values, &self.dims)?)
    }

    /// The elements as `f64`, in order (for non-byte arrays and tests).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        self.data
            .chunks_exact(self.dtype.size())
            .map(|c| self.dtype.decode(c))
            .collect()
    }
}

/// The parsed header: element type, dims, header size and data size in bytes.
struct Header {
    dtype: IdxType,
    dims: Vec<usize>,
    len: usize,
    need: usize,
}

/// Parses the header at the start of `bytes` (which may hold more), checking every field.
fn header(bytes: &[u8], origin: &Origin) -> Result<Header> {
    if bytes.len() < 4 {
        return Err(origin.err(
            bytes.len(),
            format!(
                "the file ends after {} bytes, inside the 4-byte magic number",
                bytes.len()
            ),
        ));
    }
    let magic = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if magic[0] != 0 || magic[1] != 0 {
        return Err(origin.err(
            0,
            format!(
                "magic number is {:02x} {:02x} {:02x} {:02x}, expected 00 00 <type> <ndims> \
                 (images 00 00 08 03, labels 00 00 08 01)",
                magic[0], magic[1], magic[2], magic[3]
            ),
        ));
    }
    let dtype = IdxType::from_code(magic[2]).ok_or_else(|| {
        origin.err(
            2,
            format!(
                "unknown element type 0x{:02x}; allowed: 08 (u8), 09 (i8), 0b (i16), 0c (i32), \
                 0d (f32), 0e (f64)",
                magic[2]
            ),
        )
    })?;
    let ndims = usize::from(magic[3]);
    if ndims == 0 {
        return Err(origin.err(3, "zero dimensions; expected at least 1".into()));
    }
    let len = 4 + 4 * ndims;
    if bytes.len() < len {
        return Err(origin.err(
            bytes.len(),
            format!(
                "the file ends after {} bytes, inside the header of {ndims} sizes \
                 ({len} bytes)",
                bytes.len()
            ),
        ));
    }
    let dims: Vec<usize> = bytes[4..len]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let need = dims
        .iter()
        .try_fold(dtype.size(), |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            origin.err(
                4,
                format!("dims {dims:?} of {dtype:?} hold more bytes than memory can address"),
            )
        })?;
    Ok(Header {
        dtype,
        dims,
        len,
        need,
    })
}

/// The error for a data section of `have` bytes where `h.need` are declared; `exact` is
/// false when reading stopped one byte past the declared size (more may follow).
fn length_error(h: &Header, have: usize, exact: bool, origin: &Origin) -> Error {
    let (what, found) = match (have < h.need, exact) {
        (true, _) => ("the file is truncated", format!("found {have}")),
        (false, true) => ("the file has trailing bytes", format!("found {have}")),
        (false, false) => ("the file has trailing bytes", "found more".to_string()),
    };
    origin.err(
        h.len + have.min(h.need),
        format!(
            "{what}: dims {:?} of {:?} need {} data bytes after the {}-byte header, {found}",
            h.dims, h.dtype, h.need, h.len
        ),
    )
}

fn parse(mut bytes: Vec<u8>, origin: &Origin) -> Result<IdxArray> {
    let h = header(&bytes, origin)?;
    let have = bytes.len() - h.len;
    if have != h.need {
        return Err(length_error(&h, have, true, origin));
    }
    bytes.drain(..h.len);
    Ok(IdxArray {
        dtype: h.dtype,
        dims: h.dims,
        data: bytes,
    })
}

/// Deflate expands at most about 1032:1, so a gzip file of `n` bytes holds at most this
/// many decompressed bytes: a header declaring more is refused before inflating anything.
fn max_inflated(n: u64) -> u64 {
    n.saturating_mul(1032).saturating_add(1 << 16)
}

/// Reads an IDX stream of `len` (compressed or raw) bytes from `src`: the header first, then
/// at most the declared data size plus one byte.
fn read_stream(mut src: impl BufRead, len: u64, path: &Path) -> Result<IdxArray> {
    let head = src.fill_buf().map_err(io_err(path))?;
    let gzip = head.starts_with(&[0x1f, 0x8b]);
    let origin = Origin { path, gzip };
    let fail = |source: std::io::Error| match gzip {
        true => Error::Gzip {
            path: path.to_path_buf(),
            source,
        },
        false => io_err(path)(source),
    };
    let mut r: Box<dyn Read + '_> = match gzip {
        true => Box::new(MultiGzDecoder::new(src)),
        false => Box::new(src),
    };
    // Magic number, then the sizes it announces.
    let mut bytes = Vec::with_capacity(4 + 4 * 255);
    (&mut r).take(4).read_to_end(&mut bytes).map_err(fail)?;
    if let [0, 0, _, ndims] = bytes[..] {
        let more = 4 * u64::from(ndims);
        (&mut r).take(more).read_to_end(&mut bytes).map_err(fail)?;
    }
    let h = header(&bytes, &origin)?;
    let need = h.need as u64;
    if !gzip && len != h.len as u64 + need {
        let have = len.saturating_sub(h.len as u64);
        return Err(length_error(&h, have as usize, true, &origin));
    }
    if gzip && need > max_inflated(len) {
        return Err(origin.err(
            4,
            format!(
                "dims {:?} of {:?} need {need} data bytes, more than a {len}-byte gzip file \
                 can hold",
                h.dims, h.dtype
            ),
        ));
    }
    // Grow with what actually arrives: the declared size is only an upper bound here.
    let mut data = Vec::with_capacity(h.need.min(1 << 26));
    r.take(need + 1).read_to_end(&mut data).map_err(fail)?;
    if data.len() != h.need {
        return Err(length_error(&h, data.len(), false, &origin));
    }
    Ok(IdxArray {
        dtype: h.dtype,
        dims: h.dims,
        data,
    })
}
