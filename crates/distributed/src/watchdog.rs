//! A deadline for calls that cannot be given one: a blocking MPI collective returns only
//! when every rank has taken part, so a thread watches it and, if it has not returned
//! within its timeout, runs the failure action (which reports the error and ends the
//! process). Arming and disarming are a few atomic stores, so the call being watched costs
//! what it costs alone; the thread wakes a few times a second and takes no lock.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the thread looks: a watched call fails at most this much after its timeout.
const TICK: Duration = Duration::from_millis(100);

pub(crate) struct Watchdog {
    shared: Arc<Shared>,
    seq: Cell<u64>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    // The armed call's number (0: nothing armed), its start and its timeout, in
    // nanoseconds since `epoch`. `armed` is written last and read first, so a start and a
    // timeout read after it belong to it or to a later call (then `armed` has moved on).
    armed: AtomicU64,
    start: AtomicU64,
    timeout: AtomicU64,
    stop: AtomicBool,
    epoch: Instant,
}

impl Watchdog {
    /// Starts the watching thread; `fire` gets the timeout that passed. It runs on that
    /// thread, while the watched call still blocks the caller's, so it must end the
    /// process (or make the call return).
    pub(crate) fn spawn(fire: impl Fn(Duration) + Send + 'static) -> std::io::Result<Watchdog> {
        let shared = Arc::new(Shared {
            armed: AtomicU64::new(0),
            start: AtomicU64::new(0),
            timeout: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            epoch: Instant::now(),
        });
        let watched = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("descent-dist-watchdog".into())
            .spawn(move || watch(&watched, fire))?;
        Ok(Watchdog {
            shared,
            seq: Cell::new(0),
            thread: Some(thread),
        })
    }

    /// Runs `call` under the deadline `timeout`.
    pub(crate) fn watch<T>(&self, timeout: Duration, call: impl FnOnce() -> T) -> T {
        let seq = self.seq.get() + 1;
        self.seq.set(seq);
        let s = &self.shared;
        s.start.store(nanos(s.epoch.elapsed()), Ordering::Relaxed);
        s.timeout.store(nanos(timeout), Ordering::Relaxed);
        s.armed.store(seq, Ordering::Release);
        let out = call();
        s.armed.store(0, Ordering::Release);
        out
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

fn watch(s: &Shared, fire: impl Fn(Duration)) {
    while !s.stop.load(Ordering::Acquire) {
        std::thread::park_timeout(TICK);
        let seq = s.armed.load(Ordering::Acquire);
        if seq == 0 {
            continue;
        }
        let (start, timeout) = (
            s.start.load(Ordering::Relaxed),
            s.timeout.load(Ordering::Relaxed),
        );
        let late = nanos(s.epoch.elapsed()).saturating_sub(start) > timeout;
        // Still the same call: one that returned and a next one armed since are not late.
        if late && s.armed.load(Ordering::Acquire) == seq {
            fire(Duration::from_nanos(timeout));
            return;
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn a_call_past_its_timeout_fires_once_and_a_prompt_one_never() {
        let (tx, rx) = mpsc::channel();
        let dog = Watchdog::spawn(move |t| tx.send(t).unwrap()).unwrap();
        // Prompt calls, many of them, each far within its timeout.
        for _ in 0..1000 {
            assert_eq!(dog.watch(Duration::from_millis(50), || 7), 7);
        }
        std::thread::sleep(4 * TICK);
        assert!(rx.try_recv().is_err(), "fired for calls that returned");
        // A call that blocks past its timeout: the action runs while it still blocks.
        let fired = dog.watch(Duration::from_millis(20), || {
            rx.recv_timeout(Duration::from_secs(60))
        });
        assert_eq!(fired, Ok(Duration::from_millis(20)));
        drop(dog); // joins the thread, which has ended
    }

    #[test]
    fn dropping_it_stops_the_thread() {
        let dog = Watchdog::spawn(|_| panic!("nothing was armed")).unwrap();
        drop(dog);
    }
}
