//! A size-bucketed buffer pool behind every tensor's storage.
//!
//! On the machines descent targets, a fresh allocation of ≥ 128 KB is served by new pages
//! from the kernel, and faulting and zeroing them dominates an eager framework's training
//! step (figures in `benches/README.md`). Tensors therefore take their buffers from here and
//! give them back when dropped, so a training loop in steady state asks the operating system
//! for no pages. Buckets are powers of two. Buffers under 256 elements bypass the pool: they
//! fit glibc's per-thread cache, which recycles them cheaply. Larger ones are pooled too:
//! otherwise even a 1000-element tensor on a tape goes through glibc's large-chunk path and
//! `malloc_consolidate` on every call.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Buffers below this many elements are left to the system allocator.
const MIN_POOLED: usize = 256;
/// Idle buffers kept per bucket.
const PER_BUCKET: usize = 16;
/// Idle bytes kept in all (per element type).
const MAX_IDLE_BYTES: usize = 1 << 30;

/// A pool of reusable `Vec<F>` buffers, one per element type.
pub struct Pool<F> {
    buckets: Mutex<Vec<Vec<Vec<F>>>>,
    idle_bytes: AtomicUsize,
    fresh: AtomicUsize,
    reused: AtomicUsize,
}

/// Counters for benchmarks: how many buffers were allocated fresh or reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Buffers taken from the system allocator (pooled sizes only).
    pub fresh: usize,
    /// Buffers handed out again from the pool.
    pub reused: usize,
    /// Bytes currently held idle.
    pub idle_bytes: usize,
}

/// The bucket of buffers with room for `capacity` elements, `None` past the largest power
/// of two (such a request goes straight to the allocator, which refuses it).
fn bucket_of(capacity: usize) -> Option<usize> {
    capacity
        .checked_next_power_of_two()
        .map(|p| p.trailing_zeros() as usize)
}

impl<F> Pool<F> {
    pub(crate) const fn new() -> Self {
        Pool {
            buckets: Mutex::new(Vec::new()),
            idle_bytes: AtomicUsize::new(0),
            fresh: AtomicUsize::new(0),
            reused: AtomicUsize::new(0),
        }
    }

    /// An empty vector with capacity for at least `len` elements.
    pub(crate) fn take(&self, len: usize) -> Vec<F> {
        let b = match bucket_of(len) {
            Some(b) if len >= MIN_POOLED => b,
            _ => return Vec::with_capacity(len),
        };
        if let Ok(mut buckets) = self.buckets.lock() {
            if let Some(v) = buckets.get_mut(b).and_then(Vec::pop) {
                self.idle_bytes
                    .fetch_sub(v.capacity() * size_of::<F>(), Ordering::Relaxed);
                self.reused.fetch_add(1, Ordering::Relaxed);
                return v;
            }
        }
        self.fresh.fetch_add(1, Ordering::Relaxed);
        Vec::with_capacity(1 << b)
    }

    /// Returns a buffer for reuse (dropped instead if the pool is full).
    pub(crate) fn give(&self, mut v: Vec<F>) {
        let cap = v.capacity();
        if cap < MIN_POOLED || !cap.is_power_of_two() {
            return;
        }
        let bytes = cap * size_of::<F>();
        if self.idle_bytes.load(Ordering::Relaxed) + bytes > MAX_IDLE_BYTES {
            return;
        }
        v.clear();
        if let (Ok(mut buckets), Some(b)) = (self.buckets.lock(), bucket_of(cap)) {
            if buckets.len() <= b {
                buckets.resize_with(b + 1, Vec::new);
            }
            if buckets[b].len() < PER_BUCKET {
                buckets[b].push(v);
                self.idle_bytes.fetch_add(bytes, Ordering::Relaxed);
            }
        }
    }

    /// Frees every idle buffer (call when a phase that used large tensors is over).
    pub fn release_idle(&self) {
        if let Ok(mut buckets) = self.buckets.lock() {
            buckets.clear();
            self.idle_bytes.store(0, Ordering::Relaxed);
        }
    }

    /// Allocation counters since the program started.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            fresh: self.fresh.load(Ordering::Relaxed),
            reused: self.reused.load(Ordering::Relaxed),
            idle_bytes: self.idle_bytes.load(Ordering::Relaxed),
        }
    }
}

/// A tensor's storage: a pooled vector that goes back to the pool when dropped.
pub(crate) struct Buffer<F: crate::Float>(pub(crate) Vec<F>);

impl<F: crate::Float> Drop for Buffer<F> {
    fn drop(&mut self) {
        F::pool().give(std::mem::take(&mut self.0));
    }
}

impl<F: crate::Float> Clone for Buffer<F> {
    fn clone(&self) -> Self {
        let mut v = F::pool().take(self.0.len());
        v.extend_from_slice(&self.0);
        Buffer(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_buffer_is_reused() {
        let pool: Pool<f32> = Pool::new();
        let v = pool.take(10_000);
        assert_eq!(v.capacity(), 16384);
        pool.give(v);
        let before = pool.stats();
        let w = pool.take(9_000);
        assert_eq!(w.capacity(), 16384);
        assert_eq!(pool.stats().reused, before.reused + 1);
        assert_eq!(pool.stats().fresh, before.fresh);
    }

    #[test]
    fn small_buffers_bypass_the_pool() {
        let pool: Pool<f64> = Pool::new();
        pool.give(pool.take(10));
        assert_eq!(pool.stats(), PoolStats::default());
    }
}
