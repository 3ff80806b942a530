//! The communicator: rank, size and the few collectives data parallelism needs, each with a
//! deadline. Without the `mpi` feature (or outside `mpirun`) it is a world of one process,
//! where every collective is the identity, so the same training code runs on a laptop.

use std::cell::RefCell;
use std::time::Duration;

use descent_tensor::Float;

use crate::error::{Error, Result};

/// The element types that cross the network: `f32` and `f64` (and `u64` for checksums).
pub trait Scalar: Float {
    #[doc(hidden)]
    fn wire(s: &mut [Self]) -> WireMut<'_>;
}

impl Scalar for f32 {
    fn wire(s: &mut [Self]) -> WireMut<'_> {
        WireMut::F32(s)
    }
}

impl Scalar for f64 {
    fn wire(s: &mut [Self]) -> WireMut<'_> {
        WireMut::F64(s)
    }
}

/// A typed buffer handed to the transport.
#[doc(hidden)]
#[derive(Debug)]
pub enum WireMut<'a> {
    /// Single precision.
    F32(&'a mut [f32]),
    /// Double precision.
    F64(&'a mut [f64]),
    /// Checksums and counts.
    U64(&'a mut [u64]),
}

/// A sum across ranks started by [`Comm::allreduce_start`]: `None` when it already ended.
pub(crate) struct Pending(
    #[cfg(feature = "mpi")] Option<crate::mpi_world::Pending>,
    #[cfg(not(feature = "mpi"))] Option<std::convert::Infallible>,
);

/// How a sum across ranks is ordered.
///
/// `Mpi` is `MPI_Allreduce`: the fastest, but the library picks the bracketing (it may
/// depend on the process count and message size), so sums of three or more ranks can
/// differ from a serial sum in the last bits. `RankOrder` gathers every rank's buffer and
/// adds them in rank order, `((x₀ + x₁) + x₂) + …`, on every rank: bit-reproducible and
/// equal to the same serial loop, at `p` times the bytes received. With two ranks the two
/// agree bit for bit (`a + b = b + a`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// `MPI_Allreduce` with `MPI_SUM`.
    #[default]
    Mpi,
    /// All-gather, then a serial sum in rank order.
    RankOrder,
}

/// The default time a collective waits for its peers before naming the missing ranks.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// A handle on the processes of one job. Cheap to pass by reference; collectives take
/// `&self`.
pub struct Comm {
    backend: Backend,
    rank: usize,
    size: usize,
    timeout: Duration,
    #[cfg_attr(not(feature = "mpi"), allow(dead_code))]
    scratch: RefCell<Vec<u8>>,
}

enum Backend {
    Local,
    #[cfg(feature = "mpi")]
    Mpi(crate::mpi_world::World),
}

impl std::fmt::Debug for Comm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.backend {
            Backend::Local => "local",
            #[cfg(feature = "mpi")]
            Backend::Mpi(_) => "mpi",
        };
        write!(f, "Comm({kind}, rank {} of {})", self.rank, self.size)
    }
}

/// Whether this process was started by an MPI launcher (`mpirun`, `mpiexec`, `srun`).
pub fn launched_by_mpi() -> bool {
    [
        "OMPI_COMM_WORLD_SIZE",
        "PMI_SIZE",
        "PMIX_RANK",
        "MPI_LOCALNRANKS",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some())
}

const HOW: &str = "build with `--features mpi` (needs Open MPI: apt-get install openmpi-bin libopenmpi-dev libclang-dev) and launch with `mpirun -n 2 <program> --distributed`";

impl Comm {
    /// A world of one process: every collective is the identity.
    pub fn local() -> Comm {
        Comm {
            backend: Backend::Local,
            rank: 0,
            size: 1,
            timeout: DEFAULT_TIMEOUT,
            scratch: RefCell::new(Vec::new()),
        }
    }

    /// The job's processes: MPI's world when built with the `mpi` feature and started by
    /// `mpirun`, else a world of one. The timeout is `DESCENT_DIST_TIMEOUT` seconds if set,
    /// else [`DEFAULT_TIMEOUT`].
    ///
    /// # Errors
    /// [`Error::Launch`] when started by `mpirun` but built without the `mpi` feature
    /// (every process would silently train alone), or if MPI was already initialized.
    pub fn init() -> Result<Comm> {
        if !launched_by_mpi() {
            return Ok(Comm::local().with_env_timeout());
        }
        Self::init_mpi()
    }

    /// As [`Comm::init`], for a program run with `--distributed`: a launch without
    /// `mpirun` is an error saying how to launch, not a quiet world of one.
    ///
    /// # Errors
    /// [`Error::Launch`] without the `mpi` feature or without `mpirun`.
    pub fn init_distributed() -> Result<Comm> {
        if !cfg!(feature = "mpi") {
            return Err(Error::Launch {
                why: "this program was built without the `mpi` feature",
                how: HOW,
            });
        }
        if !launched_by_mpi() {
            return Err(Error::Launch {
                why: "it was not started by mpirun",
                how: "launch it as `mpirun -n 2 <program> --distributed` (add `--hostfile FILE` for several machines)",
            });
        }
        Self::init_mpi()
    }

    #[cfg(feature = "mpi")]
    fn init_mpi() -> Result<Comm> {
        let world = crate::mpi_world::World::init()?;
        let (rank, size) = (world.rank(), world.size());
        Ok(Comm {
            backend: Backend::Mpi(world),
            rank,
            size,
            timeout: DEFAULT_TIMEOUT,
            scratch: RefCell::new(Vec::new()),
        }
        .with_env_timeout())
    }

    #[cfg(not(feature = "mpi"))]
    fn init_mpi() -> Result<Comm> {
        Err(Error::Launch {
            why: "it was started by mpirun but built without the `mpi` feature (each process would train alone)",
            how: HOW,
        })
    }

    fn with_env_timeout(mut self) -> Self {
        if let Some(s) = std::env::var("DESCENT_DIST_TIMEOUT")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0)
        {
            self.timeout = Duration::from_secs_f64(s);
        }
        self
    }

    /// Sets how long a collective waits for its peers before failing with
    /// [`Error::RankLost`] (a dead or hung rank never makes the others hang forever).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// This process's rank, `0..size`.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of processes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether this is rank 0, the one that writes checkpoints and prints progress.
    pub fn is_root(&self) -> bool {
        self.rank == 0
    }

    /// Sums `buf` element-wise across ranks, in place, in the given order.
    ///
    /// # Errors
    /// [`Error::RankLost`] / [`Error::Stalled`] past the timeout, [`Error::Broken`] after an
    /// earlier failure.
    pub fn allreduce_sum<T: Scalar>(&self, buf: &mut [T], order: Reduction) -> Result<()> {
        self.allreduce_wire(T::wire(buf), order)
    }

    #[cfg_attr(not(feature = "mpi"), allow(unused_variables))]
    pub(crate) fn allreduce_wire(&self, buf: WireMut<'_>, order: Reduction) -> Result<()> {
        match &self.backend {
            Backend::Local => Ok(()),
            #[cfg(feature = "mpi")]
            Backend::Mpi(w) => match order {
                Reduction::Mpi => w.allreduce_sum(buf, self.timeout),
                Reduction::RankOrder => {
                    w.rank_order_sum(buf, &mut self.scratch.borrow_mut(), self.timeout)
                }
            },
        }
    }

    /// Checks that every rank reached the start of a series of [`Comm::allreduce_now`]
    /// calls (one gradient-averaging step), naming the ranks that did not.
    ///
    /// # Errors
    /// [`Error::RankLost`] past the timeout, [`Error::Broken`] after an earlier failure.
    pub(crate) fn arrive_step(&self) -> Result<()> {
        match &self.backend {
            Backend::Local => Ok(()),
            #[cfg(feature = "mpi")]
            Backend::Mpi(w) => w.arrive_step(self.timeout),
        }
    }

    /// Sums `buf` across ranks in place, in `MPI_Allreduce`'s order, with no arrival check
    /// of its own: call [`Comm::arrive_step`] first. A sum that outlives the timeout ends
    /// the job with [`Error::Stalled`]'s message.
    ///
    /// # Errors
    /// [`Error::Broken`] after an earlier failure.
    #[cfg_attr(not(feature = "mpi"), allow(unused_variables))]
    pub(crate) fn allreduce_now(&self, buf: WireMut<'_>) -> Result<()> {
        match &self.backend {
            Backend::Local => Ok(()),
            #[cfg(feature = "mpi")]
            Backend::Mpi(w) => w.allreduce_now(buf, self.timeout),
        }
    }

    /// Starts an in-place sum of `buf` across ranks; [`Comm::wait`] ends it. Only
    /// `Reduction::Mpi` runs in the background: the rank-order sum, a world of one, or an
    /// MPI without a known `MPI_IN_PLACE` finish here.
    ///
    /// # Safety
    /// `buf` must stay valid, unmoved and untouched until `wait` returns `Ok`; after an
    /// error from either call, or without a `wait`, the buffer must be leaked (MPI may
    /// still write to it).
    #[cfg_attr(not(feature = "mpi"), allow(unused_variables))]
    pub(crate) unsafe fn allreduce_start(
        &self,
        buf: WireMut<'_>,
        order: Reduction,
    ) -> Result<Pending> {
        match (&self.backend, order) {
            #[cfg(feature = "mpi")]
            (Backend::Mpi(w), Reduction::Mpi) => {
                // SAFETY: the caller's contract is the transport's.
                Ok(Pending(Some(unsafe {
                    w.allreduce_start(buf, self.timeout)?
                })))
            }
            _ => self.allreduce_wire(buf, order).map(|()| Pending(None)),
        }
    }

    /// Lets MPI progress a started sum; whether it has completed.
    pub(crate) fn test(&self, pending: &mut Pending) -> bool {
        match (&self.backend, &mut pending.0) {
            #[cfg(feature = "mpi")]
            (Backend::Mpi(w), Some(p)) => w.test(p),
            _ => true,
        }
    }

    /// Waits for a started sum until the timeout.
    ///
    /// # Errors
    /// [`Error::Stalled`] past the timeout.
    pub(crate) fn wait(&self, pending: &mut Pending) -> Result<()> {
        match (&self.backend, &mut pending.0) {
            #[cfg(feature = "mpi")]
            (Backend::Mpi(w), Some(p)) => w.wait("allreduce", p),
            _ => Ok(()),
        }
    }

    /// Marks the communicator unusable, so that the next collective fails at once (and
    /// dropping it ends the job): for a caller that started collectives some ranks may
    /// never finish.
    #[cfg_attr(not(feature = "mpi"), allow(unused_variables))]
    pub(crate) fn poison(&self, why: String) {
        #[cfg(feature = "mpi")]
        if let Backend::Mpi(w) = &self.backend {
            w.poison(why);
        }
    }

    /// Overwrites `buf` with rank 0's.
    ///
    /// # Errors
    /// As [`Comm::allreduce_sum`].
    pub fn broadcast<T: Scalar>(&self, buf: &mut [T]) -> Result<()> {
        self.broadcast_wire(T::wire(buf))
    }

    #[cfg_attr(not(feature = "mpi"), allow(unused_variables))]
    pub(crate) fn broadcast_wire(&self, buf: WireMut<'_>) -> Result<()> {
        match &self.backend {
            Backend::Local => Ok(()),
            #[cfg(feature = "mpi")]
            Backend::Mpi(w) => w.broadcast(buf, self.timeout),
        }
    }

    /// Every rank's `mine`, in rank order (`size * mine.len()` values).
    ///
    /// # Errors
    /// As [`Comm::allreduce_sum`].
    pub fn allgather_u64(&self, mine: &[u64]) -> Result<Vec<u64>> {
        let mut all = vec![0u64; mine.len() * self.size];
        all[self.rank * mine.len()..(self.rank + 1) * mine.len()].copy_from_slice(mine);
        match &self.backend {
            Backend::Local => {}
            #[cfg(feature = "mpi")]
            Backend::Mpi(w) => {
                if let Err(e) = w.allgather_u64(mine, &mut all, self.timeout) {
                    std::mem::forget(all); // MPI may still write into it
                    return Err(e);
                }
            }
        }
        Ok(all)
    }

    /// Waits for every rank.
    ///
    /// # Errors
    /// As [`Comm::allreduce_sum`].
    pub fn barrier(&self) -> Result<()> {
        self.allgather_u64(&[]).map(|_| ())
    }

    /// Runs `f` on rank 0 only (writing a checkpoint, printing a metric), then waits for
    /// every rank, so that what rank 0 wrote is there when the others go on to read it.
    /// Rank 0's error, if any, reaches every rank.
    ///
    /// # Errors
    /// [`Error::Checkpoint`] with `f`'s error on every rank if it failed on rank 0, or a
    /// communication error.
    pub fn on_root<E: std::fmt::Display>(
        &self,
        what: &std::path::Path,
        f: impl FnOnce() -> std::result::Result<(), E>,
    ) -> Result<()> {
        let failed = if self.is_root() {
            f().err().map(|e| e.to_string())
        } else {
            None
        };
        let mut flag = [u64::from(failed.is_some())];
        self.broadcast_wire(WireMut::U64(&mut flag))?;
        match (failed, flag[0]) {
            (Some(why), _) => Err(Error::Checkpoint {
                path: what.to_path_buf(),
                why,
            }),
            (None, 1) => Err(Error::Checkpoint {
                path: what.to_path_buf(),
                why: "rank 0 failed to write it (its error is on rank 0's output)".into(),
            }),
            _ => Ok(()),
        }
    }

    /// Ends every process of the job with `code` (MPI_Abort); in a world of one, exits.
    /// For the error path: after [`Error::RankLost`] the hung ranks are stopped too.
    pub fn abort(&self, code: i32) -> ! {
        match &self.backend {
            Backend::Local => std::process::exit(code),
            #[cfg(feature = "mpi")]
            Backend::Mpi(w) => w.abort(code),
        }
    }
}
