//! The thread pool the kernels share: its size, and how its idle workers wait.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

/// Sets the number of threads kernels use: `n`, or with `n = 0` the default, which follows
/// `RAYON_NUM_THREADS`, else the number of cores. Effective only before the first parallel
/// kernel runs; call it from the thread that will run the training loop.
///
/// With two or more threads the calling thread becomes one of them (rayon's
/// `use_current_thread`), so a kernel it starts splits its work in place instead of handing
/// it to the pool and sleeping until a worker is done: that hand-off costs a futex wake-up
/// both ways on every parallel kernel, a visible share of a two-thread training step.
/// Kernels called from other threads still run, on the other `n − 1` workers.
///
/// ```
/// descent_tensor::set_num_threads(2).unwrap();
/// assert_eq!(descent_tensor::num_threads(), 2);
/// assert!(descent_tensor::set_num_threads(2).is_err(), "the pool is built once");
/// ```
///
/// # Errors
/// Returns the message of rayon's error if the global pool was already started.
pub fn set_num_threads(n: usize) -> std::result::Result<(), String> {
    let n = if n == 0 { default_threads() } else { n };
    let builder = rayon::ThreadPoolBuilder::new().num_threads(n);
    // One thread gains nothing from joining the pool, and a pool made of the caller alone
    // could run no kernel started on another thread while the caller is busy elsewhere.
    let builder = if n >= 2 {
        builder.use_current_thread()
    } else {
        builder
    };
    builder.build_global().map_err(|e| e.to_string())
}

/// rayon's default thread count: `RAYON_NUM_THREADS` if set and positive, else the cores.
fn default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The number of threads kernels use.
pub fn num_threads() -> usize {
    rayon::current_num_threads()
}

/// Workers currently held awake by an [`AwakeWorkers`] guard.
static POLLING: AtomicUsize = AtomicUsize::new(0);

/// Keeps the pool's other workers polling for kernels until the returned guard is
/// dropped, as OpenMP's active wait policy keeps PyTorch's threads spinning.
///
/// A rayon worker that finds no work goes to sleep within microseconds, and waking it
/// costs tens of microseconds (a futex, and on a VM an interrupt to its core), paid by the
/// next kernel whose other half waits for it. A training step has a few such pauses; held
/// around a training loop with two threads, the guard removes most of the wake-ups (figures
/// in `benches/README.md`). The price is that the
/// other cores stay busy while the guard lives, also while the caller does serial work;
/// hold it around the loop, not the program. A worker that has found nothing for a few
/// microseconds yields its core to the OS between polls, so that threads with work get the
/// cores when there are more threads than cores or other processes share them (OpenMP's
/// spinning backs off the same way). With one thread it does nothing.
///
/// Call it after [`set_num_threads`] (it starts the pool). Kernels started from any
/// thread still run while it is held.
///
/// ```
/// let awake = descent_tensor::keep_workers_awake();
/// let x = descent_tensor::Tensor::<f32>::ones(&[256, 256]);
/// assert_eq!(x.matmul(&x)?.sum_all(), 256.0 * 256.0 * 256.0);
/// drop(awake); // the workers go back to sleeping when idle
/// # Ok::<(), descent_tensor::Error>(())
/// ```
#[must_use = "the workers sleep again as soon as the guard is dropped"]
pub fn keep_workers_awake() -> AwakeWorkers {
    let stop = Arc::new(AtomicBool::new(false));
    if rayon::current_num_threads() > 1 {
        // The caller, if it is a worker, runs kernels itself; its copy of the job returns.
        let caller = rayon::current_thread_index();
        let stop = stop.clone();
        rayon::spawn_broadcast(move |ctx| {
            if Some(ctx.index()) == caller {
                return;
            }
            POLLING.fetch_add(1, Ordering::SeqCst);
            let idle = crossbeam_utils::Backoff::new();
            while !stop.load(Ordering::Relaxed) {
                // Runs one pending job (a kernel's half) if there is one.
                if rayon::yield_now() == Some(rayon::Yield::Executed) {
                    idle.reset();
                } else {
                    idle.snooze();
                }
            }
            POLLING.fetch_sub(1, Ordering::SeqCst);
        });
    }
    AwakeWorkers { stop }
}

/// How many workers an [`AwakeWorkers`] guard holds awake right now (they start polling
/// shortly after the guard is made and stop shortly after it is dropped).
pub fn workers_awake() -> usize {
    POLLING.load(Ordering::SeqCst)
}

/// The guard of [`keep_workers_awake`]: the workers poll until it is dropped.
#[derive(Debug)]
pub struct AwakeWorkers {
    stop: Arc<AtomicBool>,
}

impl Drop for AwakeWorkers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
