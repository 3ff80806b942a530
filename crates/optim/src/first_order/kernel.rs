//! What the update rules share: torch's rounding helpers (`lerp`, `sign`, the L2 gradient),
//! the weight-decay split, and the parallel, SIMD-dispatched element loop.
//!
//! The element-wise formulas are written in the order torch's single-tensor implementation
//! (`foreach=False`) evaluates them, with the fused multiply-adds of its CPU kernels:
//! `x.add(y, alpha=c)` is `fma(c, y, x)` and `lerp` is `fma(w, b − a, a)` (from weight ½,
//! `fma(w − 1, b − a, b)`) and `addcmul` (`x + (c·a)·b`) is `fma(c·a, b, x)`, while
//! `addcdiv` (`x + (c·a)/b`) rounds every operation. With these, every rule gives torch's
//! trajectories bit for bit in `f64` and `f32` (`tests/optim/grid.rs`), up to torch's CPU
//! square root (MKL's), which is not correctly rounded: the rules that take one agree with
//! torch as shipped to about an ulp.

use descent_tensor::{vectorized, Float, Vectorize};

/// torch's `lerp(a, b, w)` on CPU, one rounding: `fma(w, b − a, a)` for `|w| < ½`, else
/// `fma(w − 1, b − a, b)` (the second form is exact at `w = 1`).
#[inline]
pub(crate) fn lerp<F: Float>(a: F, b: F, w: F) -> F {
    if w.abs() < F::of(0.5) {
        w.mul_add(b - a, a)
    } else {
        (w - F::one()).mul_add(b - a, b)
    }
}

/// torch's `sign`: −1, 0 or 1 (`signum` would give 1 for +0).
#[inline]
pub(crate) fn sign<F: Float>(x: F) -> F {
    if x > F::zero() {
        F::one()
    } else if x < F::zero() {
        -F::one()
    } else {
        F::zero()
    }
}

/// `−1` under `maximize`, else `1`: multiplying by it is exact, so the element loops have
/// no branch for it.
#[inline]
pub(crate) fn sign_of<F: Float>(maximize: bool) -> F {
    if maximize {
        -F::one()
    } else {
        F::one()
    }
}

/// The gradient torch's rules start from: `fma(λ, p, sign·g)` (`sign` from [`sign_of`]).
/// With λ = 0 it is `sign·g` itself, as torch skips `grad.add(p, alpha=λ)` then (so an
/// infinite parameter does not turn the gradient into NaN).
#[inline(always)]
pub(crate) fn grad_l2<F: Float>(g: F, p: F, sign: F, weight_decay: F) -> F {
    if weight_decay == F::zero() {
        g * sign
    } else {
        weight_decay.mul_add(p, g * sign)
    }
}

/// Splits weight decay λ into the L2 coefficient added to the gradient and, when
/// decoupled (AdamW), the factor `1 − lr·λ` the weights are multiplied by first.
#[inline]
pub(crate) fn weight_decay<F: Float>(lr: f64, wd: f64, decoupled: bool) -> (F, Option<F>) {
    if decoupled && wd != 0.0 {
        (F::zero(), Some(F::of(1.0 - lr * wd)))
    } else {
        (F::of(wd), None)
    }
}

/// Below this many elements an update (or the gradient's finiteness check) runs on one
/// thread (the tensor kernels' threshold).
pub(crate) const PAR_MIN: usize = 1 << 15;

/// Runs `kernel` on `p`, `g` and up to three state buffers (empty when unused) with
/// coefficients `c`, split into halves on rayon's threads while they are large (element-wise
/// updates give the same bits however they are split), each piece compiled for AVX2 where
/// the CPU has it: on AMD Zen 4 these loops run faster with AVX2 than at the SSE2 baseline,
/// and slower with AVX-512 (figures in `benches/README.md`).
pub(crate) fn in_parallel<F, C, K>(p: &mut [F], g: &[F], bufs: [&mut [F]; 3], c: &C, kernel: K)
where
    F: Float,
    C: Sync,
    K: ElementLoop<F, C>,
{
    if p.len() < 2 * PAR_MIN || rayon::current_num_threads() < 2 {
        return vectorized(Leaf {
            p,
            g,
            bufs,
            c,
            kernel,
        });
    }
    let mid = p.len() / 2;
    let (p1, p2) = p.split_at_mut(mid);
    let (g1, g2) = g.split_at(mid.min(g.len()));
    let [a, b, d] = bufs.map(|x| {
        if x.len() > mid {
            x.split_at_mut(mid)
        } else {
            (x, &mut [][..])
        }
    });
    rayon::join(
        || in_parallel(p1, g1, [a.0, b.0, d.0], c, kernel),
        || in_parallel(p2, g2, [a.1, b.1, d.1], c, kernel),
    );
}

/// One piece of [`in_parallel`]'s work, for [`vectorized`].
struct Leaf<'a, F, C, K> {
    p: &'a mut [F],
    g: &'a [F],
    bufs: [&'a mut [F]; 3],
    c: &'a C,
    kernel: K,
}

impl<F, C, K: ElementLoop<F, C>> Vectorize for Leaf<'_, F, C, K> {
    type Output = ();
    const AVX512: bool = false;

    #[inline(always)]
    fn run(self) {
        self.kernel.run(self.p, self.g, self.bufs, self.c)
    }
}

/// An update rule's element loop over `p`, `g` and up to three state buffers with
/// coefficients `C`, for [`in_parallel`]: a unit type whose `run` is `#[inline(always)]`,
/// so that it is compiled into each SIMD tier. (A closure or a fn item would be called
/// through a `Fn` shim that the compiler leaves uninlined, at the baseline tier.)
pub(crate) trait ElementLoop<F, C>: Copy + Sync {
    /// Updates `p` in place.
    fn run(self, p: &mut [F], g: &[F], bufs: [&mut [F]; 3], c: &C);
}
