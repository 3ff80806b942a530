//! Gradient averaging for data-parallel training: one call after `backward` makes every
//! rank's gradients the average of all ranks', so any first-order optimizer then steps
//! identically everywhere.
//!
//! Gradients are copied into one flat buffer, cut into buckets of at most `bucket_bytes`,
//! and each bucket is one allreduce (PyTorch DDP's design: a few large messages, never one
//! per tensor). Parameters are laid out in reverse order, as DDP does, because that is the
//! order backward produces them. The buffer is allocated once, at construction, and
//! reused every step.

use std::ops::Range;

use descent_autodiff::{Gradients, Param, ParamId};
use descent_tensor::Tensor;

use crate::comm::{Comm, Reduction, Scalar};
use crate::error::{Error, Result};

/// PyTorch DDP's default bucket size (`bucket_cap_mb=25`).
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

/// Averages gradients across ranks; built once per model.
///
/// ```
/// use descent_autodiff::{Param, Tape};
/// use descent_distributed::{Comm, DataParallel};
/// use descent_tensor::Tensor;
///
/// let comm = Comm::init()?; // a world of one outside mpirun
/// let mut w = Param::new(Tensor::<f32>::ones(&[3]));
/// let mut ddp = DataParallel::new(&comm, &mut [&mut w])?; // rank 0's values everywhere
/// let tape = Tape::new();
/// let mut grads = tape.param(&w).square()?.sum(&[], false)?.backward()?;
/// ddp.average(&comm, &mut grads)?; // the mean over ranks
/// assert_eq!(grads.get(&w).unwrap().to_vec(), vec![2.0; 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct DataParallel<F: Scalar> {
    ids: Vec<ParamId>,
    shapes: Vec<Vec<usize>>,
    ranges: Vec<Range<usize>>,
    buckets: Vec<Range<usize>>,
    flat: Vec<F>,
    order: Reduction,
}

impl<F: Scalar> DataParallel<F> {
    /// Checks that every rank holds the same model ([`check_replicas`]), copies rank 0's
    /// parameter values to every rank ([`broadcast_params`]), and allocates the buffer.
    ///
    /// # Errors
    /// [`Error::Mismatch`] if the ranks' parameter counts or shapes differ; communication
    /// errors.
    pub fn new(comm: &Comm, params: &mut [&mut Param<F>]) -> Result<Self> {
        let refs: Vec<&Param<F>> = params.iter().map(|p| &**p).collect();
        check_replicas(comm, &refs, false)?;
        broadcast_params(comm, params)?;
        let mut ranges = vec![0..0; params.len()];
        let mut at = 0;
        for (i, p) in params.iter().enumerate().rev() {
            ranges[i] = at..at + p.value.numel();
            at += p.value.numel();
        }
        let mut ddp = DataParallel {
            ids: params.iter().map(|p| p.id()).collect(),
            shapes: params.iter().map(|p| p.shape().to_vec()).collect(),
            ranges,
            buckets: Vec::new(),
            flat: vec![F::zero(); at],
            order: Reduction::Mpi,
        };
        ddp.set_bucket_bytes(DEFAULT_BUCKET_BYTES)?;
        Ok(ddp)
    }

    /// Cuts the buffer into buckets of at most `bytes` (whole parameters, except that a
    /// parameter larger than a bucket is split).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `bytes` holds no element.
    pub fn set_bucket_bytes(&mut self, bytes: usize) -> Result<()> {
        let cap = bytes / std::mem::size_of::<F>();
        if cap == 0 {
            return Err(Error::InvalidArgument {
                op: "DataParallel::set_bucket_bytes",
                arg: "bytes",
                value: bytes.to_string(),
                why: "a bucket must hold at least one element",
            });
        }
        let mut ends: Vec<usize> = self.ranges.iter().map(|r| r.end).collect();
        ends.sort_unstable();
        self.buckets.clear();
        let mut open = 0..0;
        for end in ends {
            if end - open.start > cap && !open.is_empty() {
                self.buckets.push(open.clone());
                open = open.end..open.end;
            }
            while end - open.start > cap {
                self.buckets.push(open.start..open.start + cap);
                open = open.start + cap..open.start + cap;
            }
            open.end = end;
        }
        if !open.is_empty() {
            self.buckets.push(open);
        }
        Ok(())
    }

    /// Chooses how sums are ordered (see [`Reduction`]); `Reduction::Mpi` by default.
    pub fn set_reduction(&mut self, order: Reduction) {
        self.order = order;
    }

    /// The buckets, as element ranges of the flat buffer (one allreduce each).
    pub fn buckets(&self) -> &[Range<usize>] {
        &self.buckets
    }

    /// Replaces every gradient by its average over ranks. A parameter with no gradient on
    /// this rank counts as a zero gradient (and gets one), so all ranks step the same set.
    ///
    /// Each gradient is multiplied by `1/size` before the sum, as PyTorch DDP does (it
    /// divides while copying into its bucket), so the result is `Σᵣ gᵣ·(1/p)` in the
    /// reduction's order; for `p` a power of two that equals `(Σᵣ gᵣ)/p` bit for bit.
    ///
    /// # Errors
    /// [`Error::Tensor`] if a gradient's shape is not its parameter's; communication
    /// errors (after one, the buffer is leaked: MPI may still write to it).
    pub fn average(&mut self, comm: &Comm, grads: &mut Gradients<F>) -> Result<()> {
        if comm.size() == 1 {
            // The mean over one rank: nothing to copy or send; only the missing gradients.
            for (id, shape) in self.ids.iter().zip(&self.shapes) {
                match grads.by_id(*id) {
                    Some(g) => check_shape(g, shape)?,
                    None => grads.insert(*id, Tensor::zeros(shape)),
                }
            }
            return Ok(());
        }
        let scale = F::of(1.0 / comm.size() as f64);
        for ((id, shape), range) in self.ids.iter().zip(&self.shapes).zip(&self.ranges) {
            let dst = &mut self.flat[range.clone()];
            match grads.by_id(*id) {
                None => dst.fill(F::zero()),
                Some(g) => {
                    check_shape(g, shape)?;
                    match g.as_slice() {
                        Some(s) => dst.iter_mut().zip(s).for_each(|(d, &x)| *d = x * scale),
                        None => dst
                            .iter_mut()
                            .zip(g.to_vec())
                            .for_each(|(d, x)| *d = x * scale),
                    }
                }
            }
        }
        for b in &self.buckets {
            let wire = F::wire(&mut self.flat[b.clone()]);
            if let Err(e) = comm.allreduce_wire(wire, self.order) {
                std::mem::forget(std::mem::take(&mut self.flat));
                return Err(e);
            }
        }
        for ((id, shape), range) in self.ids.iter().zip(&self.shapes).zip(&self.ranges) {
            grads.insert(*id, Tensor::from_slice(&self.flat[range.clone()], shape)?);
        }
        Ok(())
    }
}

fn check_shape<F: Scalar>(g: &Tensor<F>, shape: &[usize]) -> Result<()> {
    if g.shape() == shape {
        return Ok(());
    }
    Err(descent_tensor::Error::ShapeMismatch {
        op: "DataParallel::average (gradient vs parameter)",
        expected: shape.into(),
        got: g.shape().into(),
    }
    .into())
}

/// Copies rank 0's parameter values to every rank, so all replicas start identical.
///
/// # Errors
/// Communication errors; [`Error::Mismatch`] is not checked here (see [`check_replicas`]).
pub fn broadcast_params<F: Scalar>(comm: &Comm, params: &mut [&mut Param<F>]) -> Result<()> {
    if comm.size() == 1 {
        return Ok(());
    }
    let mut flat: Vec<F> = params.iter().flat_map(|p| p.value.to_vec()).collect();
    comm.broadcast(&mut flat)?;
    let mut at = 0;
    for p in params.iter_mut() {
        let n = p.value.numel();
        p.value = Tensor::from_slice(&flat[at..at + n], p.value.shape())?;
        at += n;
    }
    Ok(())
}

/// Checks, before training, that every rank holds a model of the same parameter count and
/// shapes (and, with `values`, the same initial values): a checksum of each, compared with
/// rank 0's, so a mismatch is a clear error instead of a crash or silent garbage inside
/// the first allreduce.
///
/// # Errors
/// [`Error::Mismatch`] naming the first rank that differs and both values.
pub fn check_replicas<F: Scalar>(comm: &Comm, params: &[&Param<F>], values: bool) -> Result<()> {
    let numel: usize = params.iter().map(|p| p.value.numel()).sum();
    let mut shapes = Fnv::new();
    let mut vals = Fnv::new();
    for p in params {
        shapes.write(&(p.shape().len() as u64).to_le_bytes());
        for &d in p.shape() {
            shapes.write(&(d as u64).to_le_bytes());
        }
        if values {
            for x in p.value.to_vec() {
                vals.write(&x.as_f64().to_bits().to_le_bytes());
            }
        }
    }
    let mine = [params.len() as u64, numel as u64, shapes.0, vals.0];
    let all = comm.allgather_u64(&mine)?;
    let root = &all[..4];
    for (rank, theirs) in all.chunks(4).enumerate().skip(1) {
        let what = [
            "parameter count",
            "number of values",
            "shapes checksum",
            "initial values checksum",
        ];
        if let Some(i) = (0..4).find(|&i| theirs[i] != root[i]) {
            let show = |v: &[u64]| match i {
                0 | 1 => v[i].to_string(),
                _ => format!("{:016x} ({} tensors, {} values)", v[i], v[0], v[1]),
            };
            return Err(Error::Mismatch {
                rank,
                what: what[i],
                root: show(root),
                theirs: show(theirs),
            });
        }
    }
    Ok(())
}

/// FNV-1a, 64 bits: a checksum, not a defence against an adversary.
struct Fnv(u64);

impl Fnv {
    fn new() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}
