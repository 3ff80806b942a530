//! Which examples each rank sees: PyTorch's `DistributedSampler` index arithmetic over the
//! epoch's order, and contiguous shards for full-batch methods.

use std::ops::Range;

use descent_data::Dataset;
use descent_tensor::Float;

use crate::error::{Error, Result};

/// Each rank's slice of an epoch, as `torch.utils.data.DistributedSampler` computes it:
/// the epoch's order (the same on every rank: same seed, same epoch) is padded by
/// repeating its head until it divides evenly — or, with `drop_last`, cut to a multiple
/// of the rank count — and rank `r` takes every `size`-th index from `r`. Every example is
/// seen exactly once per epoch across ranks, except the few repeated to pad.
///
/// Rank `r`'s `k`-th batch of `b` items then holds items `r, r + p, r + 2p, …` of the
/// global batch `order[k·b·p .. (k+1)·b·p]`: `p` ranks with batch `b` see, step for step,
/// the batches of one process with batch `b·p` over the same order.
///
/// ```
/// use descent_distributed::ShardedSampler;
/// let order: Vec<usize> = (0..10).collect();
/// let s = ShardedSampler::new(10, 3, 1, false)?;
/// assert_eq!(s.indices(&order)?, vec![1, 4, 7, 0]); // padded with 0, 1 to 12
/// let s = ShardedSampler::new(10, 3, 1, true)?;
/// assert_eq!(s.indices(&order)?, vec![1, 4, 7]); // cut to 9
/// # Ok::<(), descent_distributed::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardedSampler {
    len: usize,
    replicas: usize,
    rank: usize,
    drop_last: bool,
}

impl ShardedSampler {
    /// The sampler of rank `rank` of `replicas` over `len` examples.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `replicas` is 0, `rank ≥ replicas`, or `len` is 0
    /// (or, with `drop_last`, below `replicas`: no rank would get an example).
    pub fn new(len: usize, replicas: usize, rank: usize, drop_last: bool) -> Result<Self> {
        let bad = |arg, value: usize, why| Error::InvalidArgument {
            op: "ShardedSampler::new",
            arg,
            value: value.to_string(),
            why,
        };
        if replicas == 0 {
            return Err(bad(
                "replicas",
                replicas,
                "there must be at least one process",
            ));
        }
        if rank >= replicas {
            return Err(bad("rank", rank, "must be below the number of replicas"));
        }
        if len == 0 || (drop_last && len < replicas) {
            return Err(bad("len", len, "every rank needs at least one example"));
        }
        Ok(ShardedSampler {
            len,
            replicas,
            rank,
            drop_last,
        })
    }

    /// Examples per rank per epoch (torch's `num_samples`).
    pub fn num_samples(&self) -> usize {
        if self.drop_last && !self.len.is_multiple_of(self.replicas) {
            (self.len - self.replicas).div_ceil(self.replicas)
        } else {
            self.len.div_ceil(self.replicas)
        }
    }

    /// Examples per epoch across ranks, padding included (torch's `total_size`).
    pub fn total_size(&self) -> usize {
        self.num_samples() * self.replicas
    }

    /// This rank's indices for an epoch whose order (a permutation of `0..len`, the same
    /// on every rank) is `order`.
    ///
    /// # Errors
    /// [`Error::Length`] if `order` does not have `len` entries.
    pub fn indices(&self, order: &[usize]) -> Result<Vec<usize>> {
        if order.len() != self.len {
            return Err(Error::Length {
                op: "ShardedSampler::indices",
                what: "entries in the epoch's order",
                expected: self.len,
                got: order.len(),
            });
        }
        let total = self.total_size();
        // Padding repeats the order cyclically (torch's `indices * ceil(pad / len)` when the
        // padding is longer than the order).
        Ok((self.rank..total)
            .step_by(self.replicas)
            .map(|i| order[i % self.len])
            .collect())
    }
}

/// The contiguous shard of `0..len` that rank `rank` of `size` holds for a full-batch
/// method: the first `len % size` ranks get one example more (NumPy's `array_split`).
///
/// # Errors
/// [`Error::InvalidArgument`] if `size` is 0 or `rank ≥ size`.
pub fn shard_range(len: usize, size: usize, rank: usize) -> Result<Range<usize>> {
    if size == 0 || rank >= size {
        return Err(Error::InvalidArgument {
            op: "shard_range",
            arg: "rank",
            value: format!("{rank} of {size}"),
            why: "needs at least one process and rank < size",
        });
    }
    let (base, extra) = (len / size, len % size);
    let start = rank * base + rank.min(extra);
    Ok(start..start + base + usize::from(rank < extra))
}

/// This rank's local batches of one epoch: `indices` (from [`ShardedSampler::indices`])
/// cut into batches of `batch` (the last one shorter unless `drop_last`), each gathered
/// from `data` as `(items, labels)`.
///
/// # Errors
/// [`Error::InvalidArgument`] if `batch` is 0, [`Error::Length`] naming an index past the
/// data set's end.
pub fn local_batches<'a, F: Float>(
    data: &'a Dataset<F>,
    indices: &'a [usize],
    batch: usize,
    drop_last: bool,
) -> Result<impl Iterator<Item = Result<Dataset<F>>> + 'a> {
    if batch == 0 {
        return Err(Error::InvalidArgument {
            op: "local_batches",
            arg: "batch",
            value: "0".into(),
            why: "must be at least 1",
        });
    }
    if let Some(&bad) = indices.iter().find(|&&i| i >= data.len()) {
        return Err(Error::Length {
            op: "local_batches",
            what: "index into the data set (must be below its length)",
            expected: data.len(),
            got: bad,
        });
    }
    Ok(indices
        .chunks(batch)
        .filter(move |c| !drop_last || c.len() == batch)
        .map(move |c| Ok(data.subset(c)?)))
}
