//! The MPI transport (the `mpi` feature): collectives with a deadline, after a small
//! arrival exchange that names the ranks that never came.
//!
//! Every collective (or, for gradient averaging, every step's series of them) starts with
//! each rank sending its sequence number to every other rank (`p − 1` messages of 8
//! bytes). If those have not all arrived by the deadline, the ranks that sent nothing are
//! the dead or hung ones and the error names them. The sum itself is then the blocking
//! `MPI_Allreduce`, the library's fastest (Open MPI's non-blocking one runs another,
//! slower algorithm), under a [`Watchdog`] thread: past the timeout every rank has arrived,
//! so a peer died during the sum; the watchdog prints that and aborts the job. Broadcasts
//! and gathers (rare: at start and for checks) are non-blocking calls polled against the
//! deadline, and so are the overlapped buckets. After a failure the pending requests'
//! buffers are leaked (MPI may still write to them) and the communicator refuses further
//! collectives; dropping it then aborts the job so that the hung ranks stop too.

use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::os::raw::{c_char, c_int};
use std::time::{Duration, Instant};

use mpi::datatype::Equivalence;
use mpi::ffi;
use mpi::raw::AsRaw;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::Threading;

use crate::comm::WireMut;
use crate::error::{Error, Result};
use crate::watchdog::Watchdog;

const ARRIVE_TAG: c_int = 0x0de5;

pub(crate) struct World {
    world: SimpleCommunicator,
    // Dropped last: finalizes MPI (unless the communicator failed, then Drop aborts).
    universe: Option<mpi::environment::Universe>,
    seq: Cell<u64>,
    // The arrival exchange's buffers: one slot per rank. Boxed so a failure can leak them.
    arrivals: RefCell<Box<[u64]>>,
    // The address of the library's `MPI_IN_PLACE`, which the bindings do not export (see
    // `in_place`); an integer, so that the communicator stays `Send`.
    in_place: Option<usize>,
    // Without it, the allreduce's send copy, reused between calls.
    send: RefCell<Vec<u8>>,
    broken: RefCell<Option<String>>,
    // Watches the blocking allreduce; `None` in a world of one, or if the thread could not
    // start (the sums are then polled non-blocking calls).
    watchdog: Option<Watchdog>,
}

impl World {
    pub(crate) fn init() -> Result<World> {
        let (universe, _) =
            mpi::initialize_with_threading(Threading::Funneled).ok_or(Error::Launch {
                why: "MPI was already initialized in this process",
                how: "create one Comm per process (Comm::init once, at the start of main)",
            })?;
        let world = universe.world();
        let size = world.size() as usize;
        let rank = world.rank() as usize;
        let watchdog = (size > 1)
            .then(|| {
                Watchdog::spawn(move |timeout| {
                    let e = Error::Stalled {
                        op: "allreduce",
                        rank,
                        seconds: timeout.as_secs_f64(),
                    };
                    eprintln!("{e}; aborting the job");
                    // SAFETY: ends every process of the job; the main thread is blocked in
                    // the collective and never returns from it.
                    unsafe { ffi::MPI_Abort(ffi::RSMPI_COMM_WORLD, 1) };
                    std::process::abort();
                })
                .ok()
            })
            .flatten();
        Ok(World {
            world,
            universe: Some(universe),
            seq: Cell::new(0),
            arrivals: RefCell::new(vec![0u64; size].into_boxed_slice()),
            in_place: in_place(),
            send: RefCell::new(Vec::new()),
            broken: RefCell::new(None),
            watchdog,
        })
    }

    pub(crate) fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    pub(crate) fn size(&self) -> usize {
        self.world.size() as usize
    }

    pub(crate) fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }

    fn fail(&self, e: Error) -> Error {
        self.broken
            .borrow_mut()
            .get_or_insert_with(|| e.to_string());
        e
    }

    /// Checks the communicator is usable and that every rank reached this collective.
    fn arrive(&self, op: &'static str, timeout: Duration) -> Result<Instant> {
        if let Some(first) = self.broken.borrow().as_ref() {
            return Err(Error::Broken {
                op,
                first: first.clone(),
            });
        }
        let deadline = Instant::now() + timeout;
        let (rank, size) = (self.rank(), self.size());
        if size == 1 {
            return Ok(deadline);
        }
        let seq = self.seq.get() + 1;
        self.seq.set(seq);
        let mut slots = self.arrivals.borrow_mut();
        slots[rank] = seq;
        let send = slots[rank];
        let mut reqs = Vec::with_capacity(2 * size);
        let mut from = Vec::with_capacity(size);
        let comm = self.world.as_raw();
        let dtype = u64::equivalent_datatype().as_raw();
        // SAFETY: the buffers outlive the requests: on success every request completes below;
        // on failure the arrival slots are leaked (the send value is a copy in `sends`,
        // leaked too).
        let sends: &'static mut [u64] = Box::leak(vec![send; size].into_boxed_slice());
        for peer in (0..size).filter(|&p| p != rank) {
            let mut r = unsafe { ffi::RSMPI_REQUEST_NULL };
            let slot: *mut u64 = &mut slots[peer];
            unsafe {
                ffi::MPI_Irecv(
                    slot.cast(),
                    1,
                    dtype,
                    peer as c_int,
                    ARRIVE_TAG,
                    comm,
                    &mut r,
                )
            };
            reqs.push(r);
            from.push(Some(peer));
            let mut s = unsafe { ffi::RSMPI_REQUEST_NULL };
            let out: *mut u64 = &mut sends[peer];
            unsafe {
                ffi::MPI_Isend(
                    out.cast(),
                    1,
                    dtype,
                    peer as c_int,
                    ARRIVE_TAG,
                    comm,
                    &mut s,
                )
            };
            reqs.push(s);
            from.push(None);
        }
        if poll(&mut reqs, deadline) {
            // SAFETY: every request has completed; nothing refers to `sends` any more.
            drop(unsafe { Box::from_raw(sends as *mut [u64]) });
            return Ok(deadline);
        }
        let null = unsafe { ffi::RSMPI_REQUEST_NULL };
        let ranks: Vec<usize> = reqs
            .iter()
            .zip(&from)
            .filter_map(|(r, p)| p.filter(|_| *r != null))
            .collect();
        std::mem::forget(std::mem::take(&mut *slots));
        Err(self.fail(Error::RankLost {
            op,
            ranks,
            rank,
            seconds: timeout.as_secs_f64(),
        }))
    }

    fn finish(
        &self,
        op: &'static str,
        req: ffi::MPI_Request,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<()> {
        self.wait(
            op,
            &mut Pending {
                req,
                deadline,
                timeout,
            },
        )
    }

    /// Starts summing `buf` across ranks in place (after the arrival check) and returns the
    /// request; [`World::wait`] ends it. Without a known `MPI_IN_PLACE` the sum runs to the
    /// end here, from a send copy.
    ///
    /// # Safety
    /// `buf` must stay valid, unmoved and untouched until `wait` returns `Ok`; if `wait`
    /// fails or is never called, the buffer must be leaked (MPI may still write to it).
    pub(crate) unsafe fn allreduce_start(
        &self,
        buf: WireMut<'_>,
        timeout: Duration,
    ) -> Result<Pending> {
        let deadline = self.arrive("allreduce", timeout)?;
        // SAFETY: the caller's contract.
        unsafe { self.iallreduce(buf, deadline, timeout) }
    }

    /// The body of [`World::allreduce_start`], after the arrival check.
    ///
    /// # Safety
    /// As [`World::allreduce_start`].
    unsafe fn iallreduce(
        &self,
        buf: WireMut<'_>,
        deadline: Instant,
        timeout: Duration,
    ) -> Result<Pending> {
        let op = "allreduce";
        let (ptr, n, dtype) = raw(buf);
        let count_n = count(op, n)?;
        let mut send = self.send.borrow_mut();
        let from = self.send_from(&mut send, ptr, n, dtype);
        let mut pending = Pending {
            req: unsafe { ffi::RSMPI_REQUEST_NULL },
            deadline,
            timeout,
        };
        // SAFETY: `ptr` holds `n` elements, valid until `wait` (the caller's contract);
        // `send`, when used, is waited for below, and leaked if that fails.
        unsafe {
            ffi::MPI_Iallreduce(
                from,
                ptr,
                count_n,
                dtype,
                ffi::RSMPI_SUM,
                self.world.as_raw(),
                &mut pending.req,
            )
        };
        if self.in_place.is_some() {
            return Ok(pending);
        }
        let result = self.wait(op, &mut pending);
        if result.is_err() {
            std::mem::forget(std::mem::take(&mut *send));
        }
        result.map(|()| pending)
    }

    /// Where the allreduce reads from: `MPI_IN_PLACE`, or a copy of `n` elements at `ptr`
    /// in `send` when the library's sentinel is not known.
    fn send_from(
        &self,
        send: &mut Vec<u8>,
        ptr: *const c_void,
        n: usize,
        dtype: ffi::MPI_Datatype,
    ) -> *const c_void {
        if let Some(address) = self.in_place {
            return address as *const c_void;
        }
        let width = if dtype == f32::equivalent_datatype().as_raw() {
            4
        } else {
            8
        };
        if send.len() < n * width {
            send.resize(n * width, 0);
        }
        // SAFETY: `ptr` holds `n` elements of `width` bytes.
        send[..n * width]
            .copy_from_slice(unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), n * width) });
        send.as_ptr().cast()
    }

    /// Checks the communicator and that every rank reached this point: the start of a
    /// step's series of [`World::allreduce_now`] calls.
    pub(crate) fn arrive_step(&self, timeout: Duration) -> Result<()> {
        self.arrive("allreduce", timeout).map(|_| ())
    }

    /// Sums `buf` across ranks in place, with no arrival check of its own (see
    /// [`World::arrive_step`]): the blocking `MPI_Allreduce` under the watchdog, or without
    /// one a polled non-blocking call.
    pub(crate) fn allreduce_now(&self, buf: WireMut<'_>, timeout: Duration) -> Result<()> {
        let op = "allreduce";
        if let Some(first) = self.broken.borrow().as_ref() {
            return Err(Error::Broken {
                op,
                first: first.clone(),
            });
        }
        let Some(dog) = &self.watchdog else {
            if self.size() == 1 {
                return Ok(());
            }
            // SAFETY: `buf` is borrowed until `wait` returns; on its failure the caller
            // leaks it.
            let mut pending = unsafe { self.iallreduce(buf, Instant::now() + timeout, timeout)? };
            return self.wait(op, &mut pending);
        };
        let (ptr, n, dtype) = raw(buf);
        let count_n = count(op, n)?;
        let mut send = self.send.borrow_mut();
        let from = self.send_from(&mut send, ptr, n, dtype);
        // SAFETY: `ptr` holds `n` elements and `from` is it, or a copy; the call returns
        // only when the sum is complete (or never: the watchdog ends the process).
        dog.watch(timeout, || unsafe {
            ffi::MPI_Allreduce(
                from,
                ptr,
                count_n,
                dtype,
                ffi::RSMPI_SUM,
                self.world.as_raw(),
            )
        });
        Ok(())
    }

    /// Lets MPI progress the request (Open MPI moves non-blocking collectives only inside
    /// MPI calls); whether it has completed.
    pub(crate) fn test(&self, pending: &mut Pending) -> bool {
        let null = unsafe { ffi::RSMPI_REQUEST_NULL };
        if pending.req != null {
            let mut flag: c_int = 0;
            // SAFETY: a live request; MPI_Test sets it to MPI_REQUEST_NULL when complete.
            unsafe { ffi::MPI_Test(&mut pending.req, &mut flag, ffi::RSMPI_STATUS_IGNORE) };
        }
        pending.req == null
    }

    /// Waits for the request until its deadline.
    pub(crate) fn wait(&self, op: &'static str, pending: &mut Pending) -> Result<()> {
        if poll(std::slice::from_mut(&mut pending.req), pending.deadline) {
            return Ok(());
        }
        Err(self.fail(Error::Stalled {
            op,
            rank: self.rank(),
            seconds: pending.timeout.as_secs_f64(),
        }))
    }

    /// Marks the communicator unusable: a collective was started that not every rank may
    /// finish (its caller failed in between).
    pub(crate) fn poison(&self, why: String) {
        self.broken.borrow_mut().get_or_insert(why);
    }

    pub(crate) fn allreduce_sum(&self, buf: WireMut<'_>, timeout: Duration) -> Result<()> {
        self.arrive_step(timeout)?;
        self.allreduce_now(buf, timeout)
    }

    pub(crate) fn broadcast(&self, buf: WireMut<'_>, timeout: Duration) -> Result<()> {
        let op = "broadcast";
        let deadline = self.arrive(op, timeout)?;
        let (ptr, n, dtype) = raw(buf);
        let n = count(op, n)?;
        let mut req = unsafe { ffi::RSMPI_REQUEST_NULL };
        // SAFETY: as in `allreduce_sum`.
        unsafe { ffi::MPI_Ibcast(ptr, n, dtype, 0, self.world.as_raw(), &mut req) };
        self.finish(op, req, deadline, timeout)
    }

    pub(crate) fn allgather_u64(
        &self,
        mine: &[u64],
        all: &mut [u64],
        timeout: Duration,
    ) -> Result<()> {
        let op = "allgather";
        let deadline = self.arrive(op, timeout)?;
        let n = count(op, mine.len())?;
        let dtype = u64::equivalent_datatype().as_raw();
        let mut req = unsafe { ffi::RSMPI_REQUEST_NULL };
        // SAFETY: `mine` holds `n` elements and `all` `size * n`; valid until `finish` returns
        // (on its failure the caller leaks `all`; `mine` is a small copy the caller leaks too).
        let mine: &'static [u64] = Box::leak(mine.to_vec().into_boxed_slice());
        unsafe {
            ffi::MPI_Iallgather(
                mine.as_ptr().cast(),
                n,
                dtype,
                all.as_mut_ptr().cast(),
                n,
                dtype,
                self.world.as_raw(),
                &mut req,
            )
        };
        self.finish(op, req, deadline, timeout)?;
        // SAFETY: the request completed; nothing refers to `mine` any more.
        drop(unsafe { Box::from_raw(mine as *const [u64] as *mut [u64]) });
        Ok(())
    }

    /// Gathers every rank's `buf` into `scratch`, then sums in rank order into `buf`.
    pub(crate) fn rank_order_sum(
        &self,
        buf: WireMut<'_>,
        scratch: &mut Vec<u8>,
        timeout: Duration,
    ) -> Result<()> {
        let op = "allgather (rank-order sum)";
        let deadline = self.arrive(op, timeout)?;
        let size = self.size();
        let (ptr, n, dtype) = raw(buf);
        let width = match dtype {
            d if d == f32::equivalent_datatype().as_raw() => 4,
            _ => 8,
        };
        let bytes = n * size * width;
        if scratch.len() < bytes {
            scratch.resize(bytes, 0);
        }
        let count_n = count(op, n)?;
        let mut req = unsafe { ffi::RSMPI_REQUEST_NULL };
        // SAFETY: `scratch` holds `size * n` elements of the type; `ptr` holds `n`.
        unsafe {
            ffi::MPI_Iallgather(
                ptr,
                count_n,
                dtype,
                scratch.as_mut_ptr().cast(),
                count_n,
                dtype,
                self.world.as_raw(),
                &mut req,
            )
        };
        if let Err(e) = self.finish(op, req, deadline, timeout) {
            std::mem::forget(std::mem::take(scratch));
            return Err(e);
        }
        fn sum<T: Copy + std::ops::Add<Output = T>>(
            out: *mut T,
            all: &[u8],
            n: usize,
            size: usize,
        ) {
            // SAFETY: `out` holds `n` elements; `all` holds `size * n` of them, written by MPI.
            let out = unsafe { std::slice::from_raw_parts_mut(out, n) };
            let all = unsafe { std::slice::from_raw_parts(all.as_ptr().cast::<T>(), n * size) };
            out.copy_from_slice(&all[..n]);
            for r in 1..size {
                for (o, &x) in out.iter_mut().zip(&all[r * n..(r + 1) * n]) {
                    *o = *o + x;
                }
            }
        }
        match width {
            4 => sum(ptr.cast::<f32>(), scratch, n, size),
            _ if dtype == f64::equivalent_datatype().as_raw() => {
                sum(ptr.cast::<f64>(), scratch, n, size)
            }
            _ => sum(ptr.cast::<u64>(), scratch, n, size),
        }
        Ok(())
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if self.broken.borrow().is_some() {
            // Requests are pending on dead or hung peers: MPI_Finalize could wait forever.
            self.world.abort(1);
        }
        drop(self.universe.take());
    }
}

/// A started collective: its request and deadline.
pub(crate) struct Pending {
    req: ffi::MPI_Request,
    deadline: Instant,
    timeout: Duration,
}

/// The library's `MPI_IN_PLACE`, which rsmpi's bindings do not export: a sentinel address
/// fixed by each implementation's `mpi.h`, `(void *) 1` in Open MPI and `(void *) -1` in
/// MPICH and the MPIs built on it (Intel MPI, MVAPICH, Cray MPICH). Any other library gets
/// `None`, and the allreduce sends from a copy.
pub(crate) fn in_place() -> Option<usize> {
    let mut buf = vec![0 as c_char; ffi::MPI_MAX_LIBRARY_VERSION_STRING as usize + 1];
    let mut len: c_int = 0;
    // SAFETY: `buf` holds MPI_MAX_LIBRARY_VERSION_STRING characters, as the call requires.
    unsafe { ffi::MPI_Get_library_version(buf.as_mut_ptr(), &mut len) };
    let bytes: Vec<u8> = buf[..len.clamp(0, buf.len() as c_int) as usize]
        .iter()
        .map(|&c| c as u8)
        .collect();
    let version = String::from_utf8_lossy(&bytes);
    if version.contains("Open MPI") {
        Some(1)
    } else if ["MPICH", "Intel(R) MPI", "MVAPICH", "CRAY MPICH"]
        .iter()
        .any(|name| version.contains(name))
    {
        Some(usize::MAX)
    } else {
        None
    }
}

fn raw(buf: WireMut<'_>) -> (*mut std::ffi::c_void, usize, ffi::MPI_Datatype) {
    match buf {
        WireMut::F32(s) => (
            s.as_mut_ptr().cast(),
            s.len(),
            f32::equivalent_datatype().as_raw(),
        ),
        WireMut::F64(s) => (
            s.as_mut_ptr().cast(),
            s.len(),
            f64::equivalent_datatype().as_raw(),
        ),
        WireMut::U64(s) => (
            s.as_mut_ptr().cast(),
            s.len(),
            u64::equivalent_datatype().as_raw(),
        ),
    }
}

fn count(op: &'static str, n: usize) -> Result<c_int> {
    c_int::try_from(n).map_err(|_| Error::Length {
        op,
        what: "elements in one MPI call (at most 2^31 - 1; use smaller buckets)",
        expected: c_int::MAX as usize,
        got: n,
    })
}

/// How long `poll` spins before it starts yielding the core between tests.
const SPIN: Duration = Duration::from_millis(5);

/// Tests the requests until all complete (true) or the deadline passes (false; completed
/// ones are then `MPI_REQUEST_NULL`). Spins for [`SPIN`] first, as `MPI_Wait` does: a
/// yield on a loaded machine can cost a whole time slice, and a megabyte allreduce takes
/// about one millisecond. Past that it yields between rounds: with more processes than
/// cores, a spinning rank would take the core its peer needs.
fn poll(reqs: &mut [ffi::MPI_Request], deadline: Instant) -> bool {
    let null = unsafe { ffi::RSMPI_REQUEST_NULL };
    let start = Instant::now();
    let (mut spins, mut yielding) = (0u32, false);
    loop {
        let mut done = true;
        for r in reqs.iter_mut().filter(|r| **r != null) {
            let mut flag: c_int = 0;
            // SAFETY: a live request; MPI_Test sets it to MPI_REQUEST_NULL when complete.
            unsafe { ffi::MPI_Test(r, &mut flag, ffi::RSMPI_STATUS_IGNORE) };
            done &= flag != 0;
        }
        if done {
            return true;
        }
        spins += 1;
        if spins.is_multiple_of(64) {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            yielding = now - start >= SPIN;
        }
        if yielding {
            std::thread::yield_now();
        }
    }
}
