//! In-memory datasets and mini-batches: a [`Dataset`] pairs a tensor of items with their
//! targets — class labels (`Vec<usize>`), float targets (a `Tensor` whose first axis
//! indexes the items: regression, multi-output), or any type that implements [`Targets`];
//! a [`DataLoader`] cuts it into batches, in a fresh seeded order each epoch.
//!
//! The order of epoch `e` is a pure function of `(seed, e)`, so a run resumed at epoch `e`
//! sees exactly the batches an uninterrupted run would: the loader has no hidden RNG state
//! to checkpoint.
//!
//! The items are a float tensor ([`Dataset::new`]) or bytes decoded one batch at a time
//! ([`Dataset::from_bytes`], a [`ByteImages`]): the batches hold the same values either way.
//!
//! ```
//! use descent_data::{DataLoader, Dataset};
//! use descent_tensor::Tensor;
//! // Regression: 6 items of 2 features, each with 2 float targets.
//! let x = Tensor::<f64>::arange(0., 12., 1.)?.reshape(&[6, 2])?;
//! let y = x.mul_scalar(10.0);
//! let loader = DataLoader::new(Dataset::new(x, y)?, 4)?.shuffle(3);
//! for (xb, yb) in loader.epoch(0) {
//!     assert_eq!(yb.shape(), xb.shape());                  // targets stay with their rows
//!     assert_eq!(yb.to_vec(), xb.mul_scalar(10.0).to_vec());
//! }
//! # Ok::<(), descent_data::Error>(())
//! ```

use std::sync::OnceLock;

use descent_tensor::{Float, Tensor};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use crate::bytes::ByteImages;
use crate::error::{check_indices, Error, Result};
use crate::transforms::{Rows, Standardize};

/// What a [`Dataset`] pairs with its items: one target per item, gathered into batches
/// alongside them. Implemented for class labels (`Vec<usize>`) and for float targets
/// (`Tensor<F>` with the items on its first axis); implement it for any other kind.
pub trait Targets<F: Float>: Clone {
    /// The number of items the targets describe.
    fn count(&self) -> usize;

    /// The targets of items `indices`, in that order (each index is below `count()`).
    ///
    /// # Errors
    /// Any error of the gather (a tensor op's, for tensor targets).
    fn gather(&self, indices: &[usize]) -> Result<Self>;

    /// How the targets read in an error message (`"3 labels"`, `"targets of shape [3, 2]"`).
    fn describe(&self) -> String {
        format!("{} targets", self.count())
    }

    /// The targets of items `start..end`; a view where the type allows it.
    ///
    /// # Errors
    /// As [`Targets::gather`].
    fn range(&self, start: usize, end: usize) -> Result<Self> {
        self.gather(&(start..end).collect::<Vec<_>>())
    }
}

/// Class labels, one per item.
impl<F: Float> Targets<F> for Vec<usize> {
    fn count(&self) -> usize {
        self.len()
    }
    fn describe(&self) -> String {
        format!("{} labels", self.len())
    }
    fn gather(&self, indices: &[usize]) -> Result<Self> {
        Ok(indices.iter().map(|&i| self[i]).collect())
    }
    fn range(&self, start: usize, end: usize) -> Result<Self> {
        Ok(self[start..end].to_vec())
    }
}

/// Float targets `[N, ...]` (a 1-d tensor is one scalar per item).
impl<F: Float> Targets<F> for Tensor<F> {
    fn count(&self) -> usize {
        self.shape().first().copied().unwrap_or(0)
    }
    fn describe(&self) -> String {
        format!("targets of shape {:?}", self.shape())
    }
    fn gather(&self, indices: &[usize]) -> Result<Self> {
        Ok(self.index_select(0, indices)?)
    }
    fn range(&self, start: usize, end: usize) -> Result<Self> {
        Ok(self.narrow(0, start, end - start)?)
    }
}

/// Items (a tensor whose first axis indexes them, or [`ByteImages`]) and one target per
/// item: class labels by default (`Dataset<F>` is `Dataset<F, Vec<usize>>`), float targets
/// with `Dataset<F, Tensor<F>>`.
#[derive(Debug, Clone)]
pub struct Dataset<F: Float, Y = Vec<usize>> {
    images: Items<F>,
    labels: Y,
}

/// How a [`Dataset`] holds its items.
#[derive(Debug, Clone)]
enum Items<F: Float> {
    /// Floats, contiguous.
    Tensor(Tensor<F>),
    /// Bytes, decoded per batch; `all` is every item decoded, made only if asked for.
    Bytes {
        bytes: ByteImages<F>,
        all: OnceLock<Tensor<F>>,
    },
}

impl<F: Float> Items<F> {
    fn bytes(bytes: ByteImages<F>) -> Self {
        Items::Bytes {
            bytes,
            all: OnceLock::new(),
        }
    }

    fn shape(&self) -> &[usize] {
        match self {
            Items::Tensor(t) => t.shape(),
            Items::Bytes { bytes, .. } => bytes.shape(),
        }
    }

    /// Items `start..start + n` (indices checked by the caller): a view of a tensor, a
    /// decoded copy of bytes.
    fn rows(&self, start: usize, n: usize) -> Result<Tensor<F>> {
        match self {
            Items::Tensor(t) => Ok(t.narrow(0, start, n)?),
            Items::Bytes { bytes, .. } => bytes.rows(start, n),
        }
    }

    /// The items at `indices` (checked by the caller), copied. `index_select` copies whole
    /// rows into a pooled buffer (a loop of equal batches reuses memory) without
    /// zero-filling it first.
    fn gather(&self, indices: &[usize]) -> Result<Tensor<F>> {
        match self {
            Items::Tensor(t) => Ok(t.index_select(0, indices)?),
            Items::Bytes { bytes, .. } => bytes.gather(indices),
        }
    }
}

/// A dataset's items, read in chunks of rows: statistics fitted on a byte-backed dataset
/// decode one chunk at a time.
impl<F: Float, Y> Rows<F> for Dataset<F, Y> {
    fn shape(&self) -> &[usize] {
        self.images.shape()
    }
    fn rows(&self, start: usize, n: usize) -> Result<Tensor<F>> {
        self.images.rows(start, n)
    }
}

impl<F: Float, Y: Targets<F>> Dataset<F, Y> {
    /// Pairs `images` (`[N, ...]`) with `targets` (`N` of them: a `Vec<usize>` of labels,
    /// or a `[N, ...]` tensor). The items are made contiguous.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `images` is 0-d or the counts differ, naming the
    /// images' shape and the targets' count or shape.
    pub fn new(images: Tensor<F>, targets: Y) -> Result<Self> {
        if images.shape().first() != Some(&targets.count()) {
            return Err(Error::InvalidArgument {
                op: "Dataset::new",
                arg: "targets",
                value: targets.describe(),
                why: format!("images of shape {:?} need one per item", images.shape()),
            });
        }
        Ok(Dataset {
            images: Items::Tensor(images.contiguous()),
            labels: targets,
        })
    }

    /// Pairs items kept as bytes with `targets` (`N` of them): the items are decoded one
    /// batch at a time, into the same values a float dataset of
    /// [`ByteImages::to_tensor`] would give.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the counts differ, naming the items' shape and the
    /// targets' count or shape.
    pub fn from_bytes(images: ByteImages<F>, targets: Y) -> Result<Self> {
        if images.len() != targets.count() {
            return Err(Error::InvalidArgument {
                op: "Dataset::from_bytes",
                arg: "targets",
                value: targets.describe(),
                why: format!("items of shape {:?} need one per item", images.shape()),
            });
        }
        Ok(Dataset {
            images: Items::bytes(images),
            labels: targets,
        })
    }

    /// The number of items.
    pub fn len(&self) -> usize {
        self.labels.count()
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The shape of the items, `[len, ...]` (without decoding bytes).
    pub fn shape(&self) -> &[usize] {
        self.images.shape()
    }

    /// Whether the items are kept as bytes ([`Dataset::from_bytes`]).
    pub fn is_bytes(&self) -> bool {
        matches!(self.images, Items::Bytes { .. })
    }

    /// The items, `[len, ...]`, contiguous. Items kept as bytes are all decoded on the
    /// first call and kept: the float copy the bytes exist to avoid, so a training loop
    /// reads batches ([`DataLoader`], [`Dataset::batch`]) instead.
    pub fn images(&self) -> &Tensor<F> {
        match &self.images {
            Items::Tensor(t) => t,
            Items::Bytes { bytes, all } => all.get_or_init(|| bytes.decode_all()),
        }
    }

    /// The items at `indices` and their targets, in that order (copied, decoded if bytes):
    /// one batch.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first index ≥ `len`.
    pub fn batch(&self, indices: &[usize]) -> Result<(Tensor<F>, Y)> {
        self.check_indices("Dataset::batch", indices)?;
        Ok((self.images.gather(indices)?, self.labels.gather(indices)?))
    }

    /// The targets, one per item.
    pub fn targets(&self) -> &Y {
        &self.labels
    }

    /// Replaces the items by `f(items)` (a transform), keeping the targets.
    ///
    /// # Errors
    /// `f`'s error, or as [`Dataset::new`] if `f` changed the number of items.
    pub fn map_images(self, f: impl FnOnce(&Tensor<F>) -> Result<Tensor<F>>) -> Result<Self> {
        let images = f(self.images())?;
        Dataset::new(images, self.labels)
    }

    /// `(x − s.mean) / s.std` on the items ([`Standardize::apply`]); items kept as bytes
    /// stay bytes and are standardized as each batch is decoded, to the same values.
    ///
    /// # Errors
    /// A broadcast error if `s` was fitted on other features.
    pub fn standardize(self, s: &Standardize<F>) -> Result<Self> {
        match self.images {
            Items::Tensor(_) => self.map_images(|x| s.apply(x)),
            Items::Bytes { bytes, .. } => Dataset::from_bytes(bytes.standardize(s)?, self.labels),
        }
    }

    /// The items at `indices`, in that order (copied).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] naming the first index ≥ `len`.
    pub fn subset(&self, indices: &[usize]) -> Result<Self> {
        self.check_indices("Dataset::subset", indices)?;
        let images = match &self.images {
            Items::Tensor(t) => Items::Tensor(t.index_select(0, indices)?),
            Items::Bytes { bytes, .. } => Items::bytes(bytes.subset(indices)?),
        };
        let labels = self.labels.gather(indices)?;
        Ok(Dataset { images, labels })
    }

    /// [`Error::InvalidArgument`] naming `op` and the first index ≥ `len`.
    fn check_indices(&self, op: &'static str, indices: &[usize]) -> Result<()> {
        check_indices(op, indices, self.len(), || {
            format!("the dataset holds {} items", self.len())
        })
    }

    /// The first `n` items (all of them if there are fewer), sharing storage.
    ///
    /// # Errors
    /// Only a tensor view error, which the invariants rule out.
    pub fn take(&self, n: usize) -> Result<Self> {
        let n = n.min(self.len());
        let images = match &self.images {
            Items::Tensor(t) => Items::Tensor(t.narrow(0, 0, n)?),
            Items::Bytes { bytes, .. } => Items::bytes(bytes.narrow(0, n)?),
        };
        Ok(Dataset {
            images,
            labels: self.labels.range(0, n)?,
        })
    }

    /// Holds out `n_val` items chosen at random (seeded) as a validation set; returns
    /// `(train, validation)`, each in the original relative order.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `n_val > len`.
    pub fn split(&self, n_val: usize, seed: u64) -> Result<(Self, Self)> {
        if n_val > self.len() {
            return Err(Error::InvalidArgument {
                op: "Dataset::split",
                arg: "n_val",
                value: n_val.to_string(),
                why: format!("the dataset holds only {} items", self.len()),
            });
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let (val, train) = order.split_at_mut(n_val);
        val.sort_unstable();
        train.sort_unstable();
        Ok((self.subset(train)?, self.subset(val)?))
    }
}

impl<F: Float> Dataset<F> {
    /// The class labels, one per item.
    pub fn labels(&self) -> &[usize] {
        &self.labels
    }
}

/// Mini-batches over a [`Dataset`]: `batch_size` items at a time, optionally shuffled with
/// a seeded RNG (a new order every epoch), optionally dropping a short last batch.
///
/// ```
/// use descent_data::{DataLoader, Dataset};
/// use descent_tensor::Tensor;
/// let x = Tensor::<f32>::arange(0., 10., 1.)?.reshape(&[5, 2])?;
/// let data = Dataset::new(x, vec![0, 1, 2, 3, 4])?;
/// let loader = DataLoader::new(data, 2)?.shuffle(7).drop_last(true);
/// assert_eq!(loader.num_batches(), 2);
/// for (xb, yb) in loader.epoch(0) {
///     assert_eq!(xb.shape(), &[2, 2]);
///     assert_eq!(xb.get(&[0, 0])?, 2.0 * yb[0] as f32); // rows stay with their labels
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DataLoader<F: Float, Y = Vec<usize>> {
    data: Dataset<F, Y>,
    batch_size: usize,
    seed: Option<u64>,
    drop_last: bool,
}

impl<F: Float, Y: Targets<F>> DataLoader<F, Y> {
    /// Batches of `batch_size` in the dataset's order, the last one possibly shorter.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `batch_size` is 0.
    pub fn new(data: Dataset<F, Y>, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::InvalidArgument {
                op: "DataLoader::new",
                arg: "batch_size",
                value: "0".into(),
                why: "must be at least 1".into(),
            });
        }
        Ok(DataLoader {
            data,
            batch_size,
            seed: None,
            drop_last: false,
        })
    }

    /// Visits the items in a random order each epoch, drawn from `StdRng` seeded by
    /// `seed` and the epoch number.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Whether to skip the last batch when it is shorter than `batch_size` (keeps every
    /// batch the same shape, e.g. for batch norm).
    pub fn drop_last(mut self, drop: bool) -> Self {
        self.drop_last = drop;
        self
    }

    /// The dataset batched over.
    pub fn dataset(&self) -> &Dataset<F, Y> {
        &self.data
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Batches per epoch.
    pub fn num_batches(&self) -> usize {
        if self.drop_last {
            self.data.len() / self.batch_size
        } else {
            self.data.len().div_ceil(self.batch_size)
        }
    }

    /// Items visited per epoch.
    pub fn num_samples(&self) -> usize {
        if self.drop_last {
            self.num_batches() * self.batch_size
        } else {
            self.data.len()
        }
    }

    /// The item order of epoch `epoch` (identity when not shuffling).
    pub fn order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.data.len()).collect();
        if let Some(seed) = self.seed {
            // Mix the epoch in (a SplitMix64 step) so nearby seeds and epochs are unrelated.
            let mix = epoch.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            order.shuffle(&mut StdRng::seed_from_u64(seed ^ mix));
        }
        order
    }

    /// The batches of epoch `epoch`: `(items [B, ...], targets of those B)`. The same
    /// epoch number always gives the same batches.
    pub fn epoch(&self, epoch: u64) -> Batches<'_, F, Y> {
        Batches {
            loader: self,
            order: if self.seed.is_some() {
                Some(self.order(epoch))
            } else {
                None
            },
            next: 0,
            end: self.num_samples(),
        }
    }
}

/// The iterator of one epoch's batches; see [`DataLoader::epoch`].
#[derive(Debug)]
pub struct Batches<'a, F: Float, Y = Vec<usize>> {
    loader: &'a DataLoader<F, Y>,
    order: Option<Vec<usize>>,
    next: usize,
    end: usize,
}

impl<F: Float, Y: Targets<F>> Iterator for Batches<'_, F, Y> {
    type Item = (Tensor<F>, Y);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        let start = self.next;
        let stop = (start + self.loader.batch_size).min(self.end);
        self.next = stop;
        let data = &self.loader.data;
        match &self.order {
            Some(order) => {
                let indices = &order[start..stop];
                let x = data.images.gather(indices).ok()?;
                Some((x, data.labels.gather(indices).ok()?))
            }
            // In order: a view of the dataset's rows (of a tensor; bytes are decoded).
            None => {
                let x = data.images.rows(start, stop - start).ok()?;
                Some((x, data.labels.range(start, stop).ok()?))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.end - self.next).div_ceil(self.loader.batch_size);
        (left, Some(left))
    }
}

impl<F: Float, Y: Targets<F>> ExactSizeIterator for Batches<'_, F, Y> {}
