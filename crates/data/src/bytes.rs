//! Items kept as bytes, as image files hold them, and turned into floats one batch at a
//! time: a quarter of the memory of `f32` items (an eighth of `f64`), as PyTorch's
//! torchvision keeps MNIST as `uint8` and converts in the data loader.
//!
//! A byte becomes a float through a table of its 256 values (`decode`), then through
//! per-feature standardizations `(x − mean) / std` in the order they were added. These are
//! the operations, in the same order and precision, that building the float tensor first
//! and transforming it with [`Standardize::apply`] performs on each element, so a batch
//! decoded from bytes holds the same bits as the same rows of the float dataset.
//!
//! A table that is a division by a constant (pixels scaled to [0, 1]) is computed as one,
//! since a vectorized division is cheaper than a lookup per byte; that it gives the table's
//! bits is checked for all 256 bytes when the items are made. A batch is decoded a row at a
//! time, one pass per standardization over the row while it is in cache, its rows split
//! across the kernel threads when large: the batch is on the training step's critical path.

use std::mem::MaybeUninit;
use std::sync::Arc;

use rayon::prelude::*;

use descent_tensor::layout::checked_numel;
use descent_tensor::{Float, Tensor};

use crate::error::{check_indices, Error, Result};
use crate::transforms::Standardize;

/// Items `[N, ...]` stored as one byte per element, decoded to `F` when rows are read:
/// a table of each byte's value, then the per-feature standardizations added with
/// [`ByteImages::standardize`]. Cloning, [`ByteImages::narrow`] and a dataset's `take`
/// share the bytes.
///
/// ```
/// use descent_data::transforms::Standardize;
/// use descent_data::{ByteImages, Dataset};
/// use descent_tensor::Tensor;
/// // 3 items of 2 pixels, decoded to [0, 1] and standardized per pixel.
/// let bytes = vec![0, 255, 51, 0, 102, 255];
/// let unit = |b: u8| f64::from(b) / 255.0;
/// let items = ByteImages::<f64>::new(bytes.clone(), &[3, 2], unit)?;
/// let floats = Tensor::from_vec(bytes.iter().map(|&b| unit(b)).collect(), &[3, 2])?;
/// let s = Standardize::fit(&floats)?;
/// let data = Dataset::from_bytes(items.standardize(&s)?, vec![0, 1, 2])?;
/// let want = s.apply(&floats)?.index_select(0, &[2, 0])?;
/// let (x, labels) = data.batch(&[2, 0])?;
/// assert_eq!(labels, vec![2, 0]);
/// assert_eq!(x.to_vec(), want.to_vec()); // the same bits
/// # Ok::<(), descent_data::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ByteImages<F: Float> {
    /// All the bytes, item after item; this value sees items `first..first + shape[0]`.
    bytes: Arc<Vec<u8>>,
    first: usize,
    /// `[items, ...]`.
    shape: Vec<usize>,
    /// Elements per item.
    numel: usize,
    /// The value of each byte.
    table: Arc<[F]>,
    /// `Some(d)` if every byte's value in `table` is `F::of(b) / d`, bit for bit.
    divisor: Option<F>,
    /// The standardizations, applied in order.
    steps: Vec<PerFeature<F>>,
}

/// `(x − mean) / std` with `mean` and `std` given per feature (`numel` each).
#[derive(Debug, Clone)]
struct PerFeature<F> {
    mean: Arc<[F]>,
    std: Arc<[F]>,
}

impl<F: Float> ByteImages<F> {
    /// Items of shape `shape` (`[N, ...]`) from their bytes, row-major, each byte read as
    /// `decode(b)` rounded to `F` (`|b| f64::from(b) / 255.0` for pixels in [0, 1], as
    /// [`Split::to_dataset`](crate::mnist::Split::to_dataset) scales them).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the shape if it has no axis, if `bytes` does not
    /// hold its product, or if as many `F`s would not fit in memory.
    pub fn new(bytes: Vec<u8>, shape: &[usize], decode: impl Fn(u8) -> f64) -> Result<Self> {
        let bad = |why: String| Error::InvalidArgument {
            op: "ByteImages::new",
            arg: "bytes",
            value: format!("{} bytes for shape {shape:?}", bytes.len()),
            why,
        };
        if shape.is_empty() {
            return Err(bad("the shape needs an axis of items, [N, ...]".into()));
        }
        let numel = checked_numel("ByteImages::new", shape, size_of::<F>())
            .map_err(|e| bad(e.to_string()))?;
        if numel != bytes.len() {
            return Err(bad(format!(
                "the shape holds {numel} elements, one byte each"
            )));
        }
        let table: Vec<F> = (0..=u8::MAX).map(|b| F::of(decode(b))).collect();
        Ok(ByteImages {
            bytes: Arc::new(bytes),
            first: 0,
            numel: shape[1..].iter().product(),
            shape: shape.to_vec(),
            divisor: divisor_of(&table),
            table: table.into(),
            steps: Vec::new(),
        })
    }

    /// Adds `(x − s.mean) / s.std` per feature after the decoding (and after the
    /// standardizations added before), as [`Standardize::apply`] computes it on floats.
    /// `mean` and `std` may have any shape that broadcasts to one item's (per feature,
    /// or one value for all).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the shapes if `mean` or `std` does not broadcast
    /// to the item shape.
    pub fn standardize(mut self, s: &Standardize<F>) -> Result<Self> {
        let item = &self.shape[1..];
        let per_feature = |t: &Tensor<F>, arg: &'static str| -> Result<Arc<[F]>> {
            match t.broadcast_to(item) {
                Ok(b) => Ok(b.contiguous().to_vec().into()),
                Err(_) => Err(Error::InvalidArgument {
                    op: "ByteImages::standardize",
                    arg,
                    value: format!("shape {:?}", t.shape()),
                    why: format!(
                        "does not broadcast to the items' shape {item:?} (of {:?})",
                        self.shape
                    ),
                }),
            }
        };
        let step = PerFeature {
            mean: per_feature(&s.mean, "mean")?,
            std: per_feature(&s.std, "std")?,
        };
        self.steps.push(step);
        Ok(self)
    }

    /// The items' shape, `[N, ...]`.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.shape[0]
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes of item `i` (below `len`).
    fn item(&self, i: usize) -> &[u8] {
        let start = (self.first + i) * self.numel;
        &self.bytes[start..start + self.numel]
    }

    /// Items `start..start + n`, sharing the bytes.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the range and the shape if it runs past the end.
    pub fn narrow(&self, start: usize, n: usize) -> Result<Self> {
        self.check_range("ByteImages::narrow", start, n)?;
        let mut view = self.clone();
        view.first += start;
        view.shape[0] = n;
        Ok(view)
    }

    /// The items at `indices`, in that order, with their bytes copied (the others'
    /// can then be freed).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first index ≥ `len`.
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        self.check_indices("ByteImages::subset", indices)?;
        let mut bytes = Vec::with_capacity(indices.len() * self.numel);
        for &i in indices {
            bytes.extend_from_slice(self.item(i));
        }
        let mut shape = self.shape.clone();
        shape[0] = indices.len();
        Ok(ByteImages {
            bytes: Arc::new(bytes),
            first: 0,
            shape,
            ..self.clone()
        })
    }

    /// The items at `indices`, decoded, as a `[indices.len(), ...]` tensor.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first index ≥ `len`.
    pub fn gather(&self, indices: &[usize]) -> Result<Tensor<F>> {
        self.check_indices("ByteImages::gather", indices)?;
        self.decode(|k| indices[k], indices.len())
    }

    /// Items `start..start + n`, decoded.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the range and the shape if it runs past the end.
    pub fn rows(&self, start: usize, n: usize) -> Result<Tensor<F>> {
        self.check_range("ByteImages::rows", start, n)?;
        self.decode(|k| start + k, n)
    }

    /// Every item, decoded: the float tensor the bytes stand for.
    ///
    /// # Errors
    /// None in practice: [`ByteImages::new`] checked that the tensor fits.
    pub fn to_tensor(&self) -> Result<Tensor<F>> {
        self.rows(0, self.len())
    }

    /// Every item decoded, for [`Dataset::images`](crate::Dataset::images), which cannot
    /// fail: [`ByteImages::new`] checked that the tensor fits, and the lengths agree by
    /// construction.
    pub(crate) fn decode_all(&self) -> Tensor<F> {
        self.to_tensor()
            .expect("ByteImages::new checked that the decoded items fit")
    }

    /// Decodes items `item(0), …, item(n − 1)` into a tensor, row by row (in parallel for
    /// a large batch): each byte through the table, then each standardization in turn over
    /// the row (the rounding of `sub` then `div`, element by element).
    fn decode(&self, item: impl Fn(usize) -> usize + Sync, n: usize) -> Result<Tensor<F>> {
        let numel = self.numel;
        let mut shape = self.shape.clone();
        shape[0] = n;
        let mut out = Vec::with_capacity(n * numel);
        // Rows `first..` of the batch into `out`. A random row is a few cache lines in
        // memory: asking for the rows two ahead overlaps their loads with this row's work.
        let fill = |first: usize, out: &mut [MaybeUninit<F>]| {
            let rows = out.len() / numel.max(1);
            for (k, row) in out.chunks_mut(numel.max(1)).enumerate() {
                if k + 2 < rows {
                    prefetch(self.item(item(first + k + 2)));
                }
                self.decode_row(self.item(item(first + k)), row);
            }
        };
        let spare = &mut out.spare_capacity_mut()[..n * numel];
        if n * numel >= PAR_MIN && rayon::current_num_threads() > 1 {
            let per_task = n.div_ceil(2 * rayon::current_num_threads());
            spare
                .par_chunks_mut(per_task * numel)
                .enumerate()
                .for_each(|(c, out)| fill(c * per_task, out));
        } else {
            fill(0, spare);
        }
        // SAFETY: `fill` wrote every element of `spare`, the first `n * numel` of `out`.
        unsafe { out.set_len(n * numel) };
        Ok(Tensor::from_vec(out, &shape)?)
    }

    /// One item's bytes decoded into `out` (all of it written).
    fn decode_row(&self, bytes: &[u8], out: &mut [MaybeUninit<F>]) {
        match self.divisor {
            Some(d) => {
                for (y, &b) in out.iter_mut().zip(bytes) {
                    y.write(F::of(f64::from(b)) / d);
                }
            }
            None => {
                for (y, &b) in out.iter_mut().zip(bytes) {
                    y.write(self.table[usize::from(b)]);
                }
            }
        }
        // SAFETY: every element was written just above (`decode` passes one item's bytes,
        // `numel` of them, and a row of `numel`), and `MaybeUninit<F>` has the layout of `F`.
        let out =
            unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<F>(), out.len()) };
        for step in &self.steps {
            for ((y, &m), &s) in out.iter_mut().zip(&step.mean[..]).zip(&step.std[..]) {
                *y = (*y - m) / s;
            }
        }
    }

    fn check_indices(&self, op: &'static str, indices: &[usize]) -> Result<()> {
        check_indices(op, indices, self.len(), || {
            format!("the items have shape {:?}", self.shape)
        })
    }

    fn check_range(&self, op: &'static str, start: usize, n: usize) -> Result<()> {
        match start.checked_add(n) {
            Some(end) if end <= self.len() => Ok(()),
            _ => Err(Error::InvalidArgument {
                op,
                arg: "range",
                value: format!("{start}..{start}+{n}"),
                why: format!("the items have shape {:?}", self.shape),
            }),
        }
    }
}

/// Asks the caches for `bytes` ahead of their use (a hint; nothing off x86-64).
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch never faults, whatever the address, and SSE is part of x86-64.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Elements of a batch from which its rows are decoded on several threads.
const PAR_MIN: usize = 1 << 15;

/// `Some(d)` if `table[b]` is `F::of(b) / d` for every byte `b`, bit for bit, with `d` the
/// rounded reciprocal of `table[1]`.
fn divisor_of<F: Float>(table: &[F]) -> Option<F> {
    let d = F::of((1.0 / table.get(1)?.as_f64()).round());
    let same = |b: usize, x: F| (F::of_usize(b) / d).as_f64().to_bits() == x.as_f64().to_bits();
    (d.as_f64().is_normal() && table.iter().enumerate().all(|(b, &x)| same(b, x))).then_some(d)
}
