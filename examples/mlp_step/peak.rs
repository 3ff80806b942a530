//! This machine's `f32` FMA peak, so that a step's speed reads as a fraction of what the
//! cores can do: twelve independent fused multiply-add chains (more than the FMA units'
//! latency × width needs) at the widest vector the CPU has, on `threads` threads at once.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::Instant;

/// Chains per thread: each FMA waits for its chain's previous one, so the units stay full
/// only with at least latency × units chains (4 × 2 on current x86 cores).
const CHAINS: usize = 12;

/// Steps of every chain per timed run (about 50 ms at 3 GHz and two FMAs a cycle).
const STEPS: usize = 25_000_000;

/// GFLOP/s of `threads` threads running FMA chains together (an FMA counted as two
/// operations), the best of five runs (a neighbour on a shared host only ever slows a run
/// down); `None` on a CPU without FMA (or not x86-64). More threads than cores share the
/// cores' peak, so no more threads than cores run.
pub fn fma_gflops(threads: usize) -> Option<f64> {
    let lanes = lanes()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = threads.min(cores);
    let barrier = Barrier::new(threads);
    let best = (0..5)
        .map(|_| {
            let slowest = std::thread::scope(|s| {
                let runs: Vec<_> = (0..threads)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            let start = Instant::now();
                            black_box(chains(lanes));
                            start.elapsed().as_secs_f64()
                        })
                    })
                    .collect();
                runs.into_iter()
                    .map(|r| r.join().unwrap_or(f64::INFINITY))
                    .fold(0.0, f64::max)
            });
            (threads * CHAINS * STEPS * lanes * 2) as f64 / slowest / 1e9
        })
        .fold(0.0, f64::max);
    Some(best)
}

/// The `f32` lanes of the widest FMA the CPU has.
fn lanes() -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            return Some(16);
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Some(8);
        }
    }
    None
}

/// Runs the chains `lanes` wide (as [`lanes`] found), returning a sum of their ends so that
/// none is optimized away.
fn chains(lanes: usize) -> f32 {
    match lanes {
        // SAFETY: `lanes` reports the features each width needs.
        #[cfg(target_arch = "x86_64")]
        16 => unsafe { x86::avx512() },
        #[cfg(target_arch = "x86_64")]
        8 => unsafe { x86::avx2() },
        _ => 0.0,
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{CHAINS, STEPS};
    use std::arch::x86_64::*;

    /// `a ← a·x + y` on every chain: it converges to `y / (1 − x)`, so no value overflows
    /// or turns subnormal.
    macro_rules! run {
        ($set:ident, $fma:ident, $reduce:expr) => {{
            let (x, y) = ($set(0.999_9), $set(1e-4));
            let mut acc = [$set(0.5); CHAINS];
            for _ in 0..STEPS {
                for a in &mut acc {
                    *a = $fma(*a, x, y);
                }
            }
            acc.iter().map(|&a| $reduce(a)).sum()
        }};
    }

    /// # Safety
    /// AVX-512F must be available.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avx512() -> f32 {
        run!(_mm512_set1_ps, _mm512_fmadd_ps, |a| _mm512_reduce_add_ps(a))
    }

    /// # Safety
    /// AVX2 and FMA must be available.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2() -> f32 {
        run!(_mm256_set1_ps, _mm256_fmadd_ps, |a| _mm256_cvtss_f32(a))
    }
}
