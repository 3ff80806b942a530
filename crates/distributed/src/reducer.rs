//! Gradient averaging for data-parallel training: one call after `backward` makes every
//! rank's gradients the average of all ranks', so any first-order optimizer then steps
//! identically everywhere.
//!
//! A gradient of at least [`OWN_MIN_BYTES`] is summed in its own storage, one allreduce of
//! its own (a large message already; copying it would cost more than the call); the
//! smaller ones are copied into one buffer, summed in as few calls as its size allows
//! (PyTorch DDP's buckets: a few large messages, never one per small tensor), and handed
//! back as views of it. So a step copies only the small gradients, and the `1/p` of the
//! average is a pass over the large ones in place, or nothing at all when
//! [`DataParallel::backward`] seeds the sweep with `1/p`. One arrival check (which names
//! a dead or hung rank) opens each step's series of blocking allreduces.
//!
//! With overlap on ([`DataParallel::set_overlap`]) every gradient is copied (times `1/p`)
//! into one flat buffer cut into buckets of at most `bucket_bytes`, laid out in reverse
//! parameter order, as DDP does, because that is the order backward produces them: a
//! bucket's non-blocking allreduce starts as soon as its gradients are final, while
//! backward computes the earlier layers'. The averaged gradients are views of the buffer
//! (DDP's `gradient_as_bucket_view`). Both buffers are allocated once and reused while no
//! gradient of an earlier step is kept.

use std::collections::HashMap;
use std::ops::Range;

use descent_autodiff::{BackwardOptions, Gradients, Param, ParamId, Var};
use descent_tensor::Tensor;

use crate::comm::{Comm, Pending, Reduction, Scalar};
use crate::error::{Error, Result};

/// PyTorch DDP's default bucket size (`bucket_cap_mb=25`).
pub const DEFAULT_BUCKET_BYTES: usize = 25 << 20;

/// The smallest gradient summed in its own storage by [`DataParallel::average`] (smaller
/// ones are copied into the shared buffer): at this size the message's transfer time is
/// well above a call's latency, on shared memory (about 5 µs) or a cluster network (tens).
pub const OWN_MIN_BYTES: usize = 256 << 10;

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
    index: HashMap<ParamId, usize>,
    shapes: Vec<Vec<usize>>,
    dims: Vec<Vec<isize>>,
    ranges: Vec<Range<usize>>,
    buckets: Vec<Range<usize>>,
    // Per parameter, the buckets its range touches; per bucket, how many parameters.
    spans: Vec<Range<usize>>,
    members: Vec<usize>,
    flat: Tensor<F>,
    // The blocking path: which parameters are summed in their own storage; the rest's
    // places in `small` (empty ranges for the own ones) and its calls.
    own: Vec<bool>,
    small_ranges: Vec<Range<usize>>,
    small_calls: Vec<Range<usize>>,
    small: Tensor<F>,
    // Elements per call (the bucket size).
    cap: usize,
    order: Reduction,
    overlap: bool,
    step: Step,
}

/// One step's bookkeeping, allocated with the reducer and reused.
#[derive(Default)]
struct Step {
    // Per bucket, the parameters not yet copied in; per parameter, whether it is.
    missing: Vec<usize>,
    filled: Vec<bool>,
    // Buckets started so far (always a prefix, so every rank starts them in one order).
    started: usize,
    pending: Vec<Pending>,
}

impl std::fmt::Debug for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Step({} buckets started)", self.started)
    }
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
        let ids: Vec<ParamId> = params.iter().map(|p| p.id()).collect();
        let own_min = OWN_MIN_BYTES / std::mem::size_of::<F>();
        let own: Vec<bool> = params.iter().map(|p| p.value.numel() >= own_min).collect();
        let mut small_ranges = vec![0..0; params.len()];
        let mut small_n = 0;
        for (i, p) in params.iter().enumerate().rev().filter(|(i, _)| !own[*i]) {
            small_ranges[i] = small_n..small_n + p.value.numel();
            small_n += p.value.numel();
        }
        let mut ddp = DataParallel {
            index: ids.iter().enumerate().map(|(i, &id)| (id, i)).collect(),
            ids,
            shapes: params.iter().map(|p| p.shape().to_vec()).collect(),
            dims: params
                .iter()
                .map(|p| p.shape().iter().map(|&d| d as isize).collect())
                .collect(),
            ranges,
            buckets: Vec::new(),
            spans: Vec::new(),
            members: Vec::new(),
            flat: Tensor::zeros(&[at]),
            own,
            small_ranges,
            small_calls: Vec::new(),
            small: Tensor::zeros(&[small_n]),
            cap: 0,
            order: Reduction::Mpi,
            overlap: false,
            step: Step::default(),
        };
        ddp.set_bucket_bytes(DEFAULT_BUCKET_BYTES)?;
        Ok(ddp)
    }

    /// Cuts the buffer into buckets of at most `bytes` (whole parameters, except that a
    /// parameter larger than a bucket is split); no allreduce sends more than that.
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
        // MPI counts elements in an `int`.
        let cap = cap.min(i32::MAX as usize);
        self.cap = cap;
        let small_n = self.small.numel();
        self.small_calls = (0..small_n)
            .step_by(cap)
            .map(|a| a..(a + cap).min(small_n))
            .collect();
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
        let buckets = &self.buckets;
        let first = |at: usize| buckets.partition_point(|b| b.end <= at);
        self.spans = self
            .ranges
            .iter()
            .map(|r| {
                first(r.start)..if r.is_empty() {
                    first(r.start)
                } else {
                    first(r.end - 1) + 1
                }
            })
            .collect();
        self.members = vec![0; self.buckets.len()];
        for span in &self.spans {
            self.members[span.clone()].iter_mut().for_each(|m| *m += 1);
        }
        self.step = Step {
            missing: self.members.clone(),
            filled: vec![false; self.ids.len()],
            started: 0,
            pending: Vec::with_capacity(self.buckets.len()),
        };
        Ok(())
    }

    /// Chooses how sums are ordered (see [`Reduction`]); `Reduction::Mpi` by default.
    pub fn set_reduction(&mut self, order: Reduction) {
        self.order = order;
    }

    /// Whether [`DataParallel::backward`] sends each bucket as soon as its gradients are
    /// final, overlapping communication with the rest of backward. Off by default: it pays
    /// only where the transfer can progress beside the compute (spare cores, a network
    /// card), and an MPI without a progress thread moves it only when this rank tests it;
    /// `benches/README.md` has the measurement. Needs more than one bucket to overlap
    /// anything ([`DataParallel::set_bucket_bytes`]).
    pub fn set_overlap(&mut self, on: bool) {
        self.overlap = on;
    }

    /// The buckets of the overlapped path, as element ranges of its flat buffer (one
    /// allreduce each).
    pub fn buckets(&self) -> &[Range<usize>] {
        &self.buckets
    }

    /// Replaces every gradient by its average over ranks. A parameter with no gradient on
    /// this rank counts as a zero gradient (and gets one), so all ranks step the same set.
    ///
    /// Each gradient is multiplied by `1/size` before the sum, as PyTorch DDP does, so the
    /// result is `Σᵣ gᵣ·(1/p)` in the reduction's order; for `p` a power of two that equals
    /// `(Σᵣ gᵣ)/p` bit for bit. Gradients of at least [`OWN_MIN_BYTES`] are scaled and
    /// summed in their own storage (a gradient whose storage is shared, with a clone the
    /// caller kept, is copied first, so the clone keeps its values); the smaller ones come
    /// back as views of the reducer's buffer: drop them before the next step (as a
    /// training loop does), or the next step copies the buffer instead of reusing it.
    ///
    /// # Errors
    /// [`Error::Tensor`] if a gradient's shape is not its parameter's (checked before any
    /// sum starts); communication errors (after one, the buffer in flight is leaked: MPI
    /// may still write to it, and the communicator is unusable).
    pub fn average(&mut self, comm: &Comm, grads: &mut Gradients<F>) -> Result<()> {
        self.reduce(comm, grads, false)
    }

    /// Replaces every gradient by its sum over ranks: [`DataParallel::average`] without the
    /// `1/p`, for gradients already scaled by it (of a loss multiplied by `1/p`, or from a
    /// sweep seeded with it, as [`DataParallel::backward`] does). With the scale gone, the
    /// step passes over the large gradients only inside MPI.
    ///
    /// # Errors
    /// As [`DataParallel::average`].
    pub fn sum(&mut self, comm: &Comm, grads: &mut Gradients<F>) -> Result<()> {
        self.reduce(comm, grads, true)
    }

    /// The blocking path of [`DataParallel::average`] (`scaled`: without the `1/p`).
    fn reduce(&mut self, comm: &Comm, grads: &mut Gradients<F>, scaled: bool) -> Result<()> {
        // Every check before the first sum: a rank that failed between two sums would
        // leave the others waiting in the next one.
        for (id, shape) in self.ids.iter().zip(&self.shapes) {
            match grads.by_id(*id) {
                Some(g) => check_shape(g, shape)?,
                None => grads.insert(*id, Tensor::zeros(shape)),
            }
        }
        if comm.size() == 1 {
            // The mean over one rank: nothing to copy or send.
            return Ok(());
        }
        if self.small.numel() != self.small_ranges.iter().map(|r| r.len()).sum::<usize>() {
            return Err(broken());
        }
        let scale = (!scaled).then(|| F::of(1.0 / comm.size() as f64));
        let small = self.small.data_mut();
        for (id, range) in self.ids.iter().zip(&self.small_ranges) {
            if range.is_empty() {
                continue;
            }
            let g = grads.by_id(*id).ok_or_else(broken)?;
            let dst = &mut small[range.clone()];
            match g.as_slice() {
                Some(s) => dst.copy_from_slice(s),
                None => dst.copy_from_slice(&g.to_vec()),
            }
            if let Some(c) = scale {
                dst.iter_mut().for_each(|x| *x *= c);
            }
        }
        if self.order == Reduction::Mpi {
            comm.arrive_step()?;
        }
        // Last parameter first, as backward produces them, then the small ones.
        for i in (0..self.ids.len()).rev().filter(|&i| self.own[i]) {
            let g = grads.by_id_mut(self.ids[i]).ok_or_else(broken)?;
            let data = g.data_mut();
            if let Some(c) = scale {
                data.iter_mut().for_each(|x| *x *= c);
            }
            let failed = data
                .chunks_mut(self.cap)
                .try_for_each(|chunk| sum_now(comm, F::wire(chunk), self.order));
            if let Err(e) = failed {
                // MPI may still write into this gradient.
                std::mem::forget(std::mem::replace(g, Tensor::zeros(&[0])));
                comm.poison(e.to_string());
                return Err(e);
            }
        }
        let small = self.small.data_mut();
        let failed = self
            .small_calls
            .iter()
            .try_for_each(|call| sum_now(comm, F::wire(&mut small[call.clone()]), self.order));
        if let Err(e) = failed {
            std::mem::forget(std::mem::replace(&mut self.small, Tensor::zeros(&[0])));
            comm.poison(e.to_string());
            return Err(e);
        }
        let places = self.ids.iter().zip(&self.dims).zip(&self.small_ranges);
        let small = places.filter(|(_, range)| !range.is_empty());
        insert_views(grads, &self.small, small)
    }

    /// Runs `loss.backward()` and averages the gradients over ranks, as [`average`] does.
    /// For `p` a power of two the sweep is seeded with `1/p` instead of 1, which gives the
    /// same bits as scaling its gradients afterwards (barring subnormal values) and saves
    /// that pass. With [`set_overlap`] on, each bucket's allreduce starts as soon as its gradients are
    /// final (buckets in reverse layer order, as PyTorch DDP sends them) and runs while
    /// backward computes the earlier layers'; all are waited for before this returns.
    ///
    /// ```
    /// use descent_autodiff::{Param, Tape};
    /// use descent_distributed::{Comm, DataParallel};
    /// use descent_tensor::Tensor;
    ///
    /// let comm = Comm::init()?;
    /// let mut w = Param::new(Tensor::<f32>::ones(&[3]));
    /// let mut ddp = DataParallel::new(&comm, &mut [&mut w])?;
    /// ddp.set_overlap(true);
    /// let tape = Tape::new();
    /// let grads = ddp.backward(&comm, tape.param(&w).square()?.sum(&[], false)?)?;
    /// assert_eq!(grads.get(&w).unwrap().to_vec(), vec![2.0; 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`average`]: DataParallel::average
    /// [`set_overlap`]: DataParallel::set_overlap
    ///
    /// # Errors
    /// As [`Var::backward`] and [`DataParallel::average`]; an error once a bucket has
    /// started leaves the communicator unusable.
    pub fn backward(&mut self, comm: &Comm, loss: Var<'_, F>) -> Result<Gradients<F>> {
        let p = comm.size();
        if p > 1 && !self.overlap && p.is_power_of_two() {
            let seed = Tensor::full(&loss.shape(), F::of(1.0 / p as f64));
            let mut grads = loss.backward_with(BackwardOptions {
                seed: Some(seed),
                ..BackwardOptions::default()
            })?;
            self.sum(comm, &mut grads)?;
            return Ok(grads);
        }
        if !self.overlap || p == 1 {
            let mut grads = loss.backward()?;
            self.average(comm, &mut grads)?;
            return Ok(grads);
        }
        self.begin()?;
        let swept = loss.backward_each(|id, g| match self.index.get(&id) {
            Some(&i) => self.ready(comm, i, Some(g)),
            None => Ok(()),
        });
        let mut grads = match swept {
            Ok(grads) => grads,
            Err(e) => return Err(self.fail(comm, e)),
        };
        for i in (0..self.ids.len()).rev() {
            if !self.step.filled[i] {
                if let Err(e) = self.ready(comm, i, None) {
                    return Err(self.fail(comm, e));
                }
            }
        }
        self.end(comm, &mut grads)?;
        Ok(grads)
    }

    /// Starts a step: the buffer made this reducer's alone (copied only if a view of the
    /// last step's is still alive), every bucket waiting for its parameters.
    fn begin(&mut self) -> Result<()> {
        if self.flat.numel() != self.ranges.iter().map(|r| r.len()).sum::<usize>() {
            return Err(broken());
        }
        self.flat.data_mut();
        let step = &mut self.step;
        step.missing.copy_from_slice(&self.members);
        step.filled.iter_mut().for_each(|f| *f = false);
        step.started = 0;
        step.pending.clear();
        Ok(())
    }

    /// Copies parameter `i`'s gradient (`None`: zero) into its place in the buffer, times
    /// `1/p`, then starts every bucket that is complete and next in order.
    fn ready(&mut self, comm: &Comm, i: usize, g: Option<&Tensor<F>>) -> Result<()> {
        if self.step.filled[i] {
            return Ok(());
        }
        let scale = F::of(1.0 / comm.size() as f64);
        let dst = &mut self.flat.data_mut()[self.ranges[i].clone()];
        match g {
            None => dst.fill(F::zero()),
            Some(g) => {
                check_shape(g, &self.shapes[i])?;
                match g.as_slice() {
                    Some(s) => dst.iter_mut().zip(s).for_each(|(d, &x)| *d = x * scale),
                    None => dst
                        .iter_mut()
                        .zip(g.to_vec())
                        .for_each(|(d, x)| *d = x * scale),
                }
            }
        }
        self.step.filled[i] = true;
        for b in self.spans[i].clone() {
            self.step.missing[b] -= 1;
        }
        let buf = self.flat.data_mut();
        while let Some(b) = self.buckets.get(self.step.started) {
            if self.step.missing[self.step.started] > 0 {
                break;
            }
            // SAFETY: the buffer is this reducer's alone (`begin`), is not written again
            // before `end` waits for the sum, and is leaked by `fail` if that goes wrong.
            let pending =
                unsafe { comm.allreduce_start(F::wire(&mut buf[b.clone()]), self.order)? };
            self.step.pending.push(pending);
            self.step.started += 1;
        }
        // Open MPI moves a started sum only inside MPI calls: give the oldest a turn.
        for p in &mut self.step.pending {
            if !comm.test(p) {
                break;
            }
        }
        Ok(())
    }

    /// Waits for every bucket, then hands the averaged gradients out as views of the buffer.
    fn end(&mut self, comm: &Comm, grads: &mut Gradients<F>) -> Result<()> {
        for k in 0..self.step.pending.len() {
            if let Err(e) = comm.wait(&mut self.step.pending[k]) {
                return Err(self.fail(comm, e));
            }
        }
        self.step.pending.clear();
        let places = self.ids.iter().zip(&self.dims).zip(&self.ranges);
        insert_views(grads, &self.flat, places)
    }

    /// After an error: if a bucket was started, MPI may still write to the buffer and the
    /// ranks may disagree on which collectives ran, so the buffer is leaked and the
    /// communicator marked unusable.
    fn fail(&mut self, comm: &Comm, e: Error) -> Error {
        if self.step.started > 0 {
            std::mem::forget(std::mem::replace(&mut self.flat, Tensor::zeros(&[0])));
            std::mem::forget(std::mem::take(&mut self.step.pending));
            comm.poison(e.to_string());
        }
        e
    }
}

/// Hands the gradients out as views of `buf`, each at its range and in its shape.
fn insert_views<'a, F: Scalar>(
    grads: &mut Gradients<F>,
    buf: &Tensor<F>,
    places: impl Iterator<Item = ((&'a ParamId, &'a Vec<isize>), &'a Range<usize>)>,
) -> Result<()> {
    for ((id, dims), range) in places {
        grads.insert(*id, buf.narrow(0, range.start, range.len())?.reshape(dims)?);
    }
    Ok(())
}

/// A step after one that failed mid-sum (its buffer was leaked).
fn broken() -> Error {
    Error::Broken {
        op: "DataParallel",
        first: "an earlier step failed while a bucket was being summed".into(),
    }
}

/// One sum of the blocking path, after the step's arrival check.
fn sum_now(comm: &Comm, buf: crate::comm::WireMut<'_>, order: Reduction) -> Result<()> {
    match order {
        Reduction::Mpi => comm.allreduce_now(buf),
        Reduction::RankOrder => comm.allreduce_wire(buf, order),
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
