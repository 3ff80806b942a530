//! `C = A·B` for `f32` operands that both run along `k` (A row-major, B = Wᵀ of a row-major
//! W: `x·Wᵀ`, as `Linear` multiplies): each output is a dot product of two contiguous rows,
//! computed in 16 lanes straight from the operands, with no transposed copy and no packing.
//! matrixmultiply packs A by columns and B by rows, so for this layout it needs both
//! operands copied transposed first; on the MNIST model's first layer (128×784·784×512)
//! this kernel is about 1.2× faster (figures in `benches/README.md`). AVX-512 only; other
//! CPUs keep matrixmultiply.
//!
//! Every output is summed the same way wherever it falls: 16 lane sums over `k` in order
//! (the last, partial chunk masked), then one fixed tree over the lanes. So the result does
//! not depend on the tiling, the thread split or the other rows of the batch.

use super::OutPtr;
use crate::tensor::{simd_level, SimdLevel};
use rayon::prelude::*;

/// Rows of A per tile.
const ROWS: usize = 4;
/// Rows of W (columns of C) per tile: 4 × 6 accumulators, 6 W vectors and one of A fill
/// the 32 vector registers. W's six rows stay in L1 while every row of A streams past.
const COLS: usize = 6;
/// How far ahead (in elements) the rows of A are prefetched: measured 1.2× against none.
const PREFETCH: usize = 64;

/// Whether this kernel runs here (`DESCENT_SIMD` below `avx512` turns it off).
pub(super) fn available() -> bool {
    simd_level() == SimdLevel::Avx512
}

/// One `m×k · k×n` product with `A[i, p] = a[i·lda + p]` and `B[p, j] = w[j·ldw + p]`.
#[derive(Clone, Copy)]
pub(super) struct Nt {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub lda: isize,
    pub ldw: isize,
}

/// `C = A·B` into the row-major `m×n` `c`, split into `threads` blocks of whole tiles
/// along the longer side; `then(rows, cols)` runs on each block once it is written (the
/// bias of `linear`).
///
/// # Safety
/// [`available`] must have returned true; `a` and `w` must be valid for the matrices `g`
/// describes and `c` for `m·n` writes.
pub(super) unsafe fn gemm(
    g: Nt,
    a: *const f32,
    w: *const f32,
    c: *mut f32,
    threads: usize,
    then: impl Fn(std::ops::Range<usize>, std::ops::Range<usize>) + Sync,
) {
    let (a, w, c) = (OutPtr(a.cast_mut()), OutPtr(w.cast_mut()), OutPtr(c));
    let by_cols = g.n.div_ceil(COLS) >= g.m.div_ceil(ROWS);
    let (len, unit) = if by_cols { (g.n, COLS) } else { (g.m, ROWS) };
    let block = len
        .div_ceil(threads.max(1))
        .next_multiple_of(unit)
        .max(unit);
    let run = |b: usize| {
        let part = b * block..(b * block + block).min(len);
        let (rows, cols) = if by_cols {
            (0..g.m, part)
        } else {
            (part, 0..g.n)
        };
        // SAFETY: the caller's guarantees; blocks write disjoint parts of C.
        unsafe { block_avx512(g, a.get(), w.get(), c.get(), rows.clone(), cols.clone()) };
        then(rows, cols);
    };
    let blocks = len.div_ceil(block);
    if blocks > 1 {
        (0..blocks).into_par_iter().for_each(run);
    } else {
        (0..blocks).for_each(run);
    }
}

/// The outputs `rows × cols` of C, tile by tile: for each six rows of W, every four rows
/// of A.
///
/// # Safety
/// As [`gemm`].
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
unsafe fn block_avx512(
    g: Nt,
    a: *const f32,
    w: *const f32,
    c: *mut f32,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
) {
    let mut j = cols.start;
    while j < cols.end {
        let nj = (cols.end - j).min(COLS);
        let wj = w.offset(j as isize * g.ldw);
        let mut i = rows.start;
        while i < rows.end {
            let mi = (rows.end - i).min(ROWS);
            let (ai, ci) = (a.offset(i as isize * g.lda), c.add(i * g.n + j));
            if mi == ROWS && nj == COLS {
                tile::<ROWS, COLS>(ai, g.lda, wj, g.ldw, g.k, ci, g.n);
            } else {
                for r in 0..mi {
                    for q in 0..nj {
                        let (ar, wq) =
                            (ai.offset(r as isize * g.lda), wj.offset(q as isize * g.ldw));
                        tile::<1, 1>(ar, g.lda, wq, g.ldw, g.k, ci.add(r * g.n + q), g.n);
                    }
                }
            }
            i += ROWS;
        }
        j += COLS;
    }
}

/// `c[r·ldc + q] = Σ_p a[r·lda + p] · w[q·ldw + p]` for `r < R`, `q < Q`.
///
/// # Safety
/// AVX-512F; the `R` rows of `a` and `Q` rows of `w` valid for `k` elements, `c` for the
/// writes.
#[inline(always)]
unsafe fn tile<const R: usize, const Q: usize>(
    a: *const f32,
    lda: isize,
    w: *const f32,
    ldw: isize,
    k: usize,
    c: *mut f32,
    ldc: usize,
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_ps(); Q]; R];
    let mut p = 0;
    while p + 16 <= k {
        let wv: [__m512; Q] =
            std::array::from_fn(|q| _mm512_loadu_ps(w.offset(q as isize * ldw).add(p)));
        for (r, acc) in acc.iter_mut().enumerate() {
            let row = a.offset(r as isize * lda);
            // A hint only: an address past the row is never read.
            _mm_prefetch::<_MM_HINT_T0>(row.wrapping_add(p + PREFETCH).cast());
            let av = _mm512_loadu_ps(row.add(p));
            for (x, &wq) in acc.iter_mut().zip(&wv) {
                *x = _mm512_fmadd_ps(av, wq, *x);
            }
        }
        p += 16;
    }
    if p < k {
        // Masked lanes load nothing (and do not fault) and add 0·0.
        let mask = ((1u32 << (k - p)) - 1) as __mmask16;
        let wv: [__m512; Q] =
            std::array::from_fn(|q| _mm512_maskz_loadu_ps(mask, w.offset(q as isize * ldw).add(p)));
        for (r, acc) in acc.iter_mut().enumerate() {
            let av = _mm512_maskz_loadu_ps(mask, a.offset(r as isize * lda).add(p));
            for (x, &wq) in acc.iter_mut().zip(&wv) {
                *x = _mm512_fmadd_ps(av, wq, *x);
            }
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        for (q, &x) in acc.iter().enumerate() {
            *c.add(r * ldc + q) = _mm512_reduce_add_ps(x);
        }
    }
}
