//! The `f32` GEMM on CPUs whose widest vectors are AVX2's: 6×16 tiles (twelve accumulators,
//! two loads of B and six broadcasts of A per step of depth), with packing written for
//! both layouts of each operand (8×8 in-register transposes for an operand laid out
//! against its panels), where matrixmultiply's 8×8 kernel builds its tiles with shuffles
//! and packs such operands element by element.
//!
//! It forms every sum as `matrixmultiply::sgemm` does, so the results keep their bits:
//! the depth is cut into blocks of [`KC`] from the start, each output's block sum is one
//! FMA chain from zero over the depth in order, and the first block writes
//! `C = ab + β·C` (`C` not read when `β = 0`), later ones `C = ab + 1·C`. Tile shapes and
//! loop orders change none of that, with one exception kept as well: matrixmultiply
//! writes the outputs in the last `m % 8` rows and `n % 8` columns (its partial 8×8
//! tiles) as `β·C + (ab + 0)`, which differs from `ab + β·C` when `ab` is −0 (products
//! that underflow) and `β·C` is −0. Only `α = 1` (all that descent passes) and unit
//! column stride of `C` are covered; everything else goes to matrixmultiply.

use std::cell::RefCell;

/// Rows of a tile (and of a packed panel of A).
const MR: usize = 6;
/// Columns of a tile (and of a packed panel of B): two vectors.
const NR: usize = 16;
/// matrixmultiply's depth block: where each output's sum is cut, so it fixes the bits.
const KC: usize = 256;
/// Rows of A packed at once (24 panels, 144 KiB at full depth: in L2).
const MC: usize = 144;
/// Columns of B packed at once (3 MiB at full depth: in L3).
const NC: usize = 3072;

/// Whether [`sgemm`] runs its own kernel for `f32` on this CPU (AVX2+FMA, no AVX-512: with
/// AVX-512 matrixmultiply's 16×16 kernel is twice as wide).
pub(super) fn available<F: crate::Float>() -> bool {
    super::conv_direct::available::<F>()
}

/// The tile's width, for splitting a product's columns across threads in whole tiles.
pub(super) const TILE_COLUMNS: usize = NR;
/// The tile's height, for splitting a product's rows across threads in whole tiles.
pub(super) const TILE_ROWS: usize = MR;

thread_local! {
    /// The packing buffers of A and B, reused by every call on the thread.
    static BUFFERS: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
    /// The packed A that [`sgemm_par`]'s threads share, owned by the thread that calls it.
    static SHARED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// `C ← α·A·B + β·C`, as `matrixmultiply::sgemm` (same arguments, same bits).
///
/// # Safety
/// As `matrixmultiply::sgemm`: the pointers and strides describe valid `m×k`, `k×n` and
/// `m×n` matrices, and `c` aliases neither `a` nor `b`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm(
    m: usize,
    k: usize,
    n: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
) {
    let covered = alpha == 1.0 && csc == 1 && m > 0 && k > 0 && n > 0 && available::<f32>();
    // The buffers are borrowed for the call; a nested call (none is made) would fall back.
    let done = covered
        && BUFFERS.with(|buffers| {
            let Ok(mut buffers) = buffers.try_borrow_mut() else {
                return false;
            };
            let (pa, pb) = &mut *buffers;
            let kc = k.min(KC);
            let pa = aligned(pa, m.min(MC).next_multiple_of(MR) * kc);
            let pb = aligned(pb, n.min(NC).next_multiple_of(NR) * kc);
            #[cfg(target_arch = "x86_64")]
            // SAFETY: the features were checked (`available`); the buffers hold a block of
            // each operand; the caller vouches for the matrices.
            avx2::run(
                [m, k, n],
                (a, rsa, csa),
                (b, rsb, csb),
                beta,
                (c, rsc),
                pa,
                pb,
            );
            true
        });
    if !done {
        matrixmultiply::sgemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc);
    }
}

/// `C = A·B` as [`sgemm`] computes it (`α = 1`, `β = 0`, `C` row-major with row stride
/// `rsc`), on up to `threads` threads of the current pool, where [`sgemm`] run once per
/// thread on a block of columns would pack all of A on every thread and leave the blocks
/// to finish apart. A is packed once, into one buffer the threads share, each panel by
/// the first thread that needs it (claimed with an atomic: a thread waits only for a
/// panel another is packing at that moment, so a busy worker delays nothing); the columns
/// of C are handed out in runs of whole tiles that shrink as the work runs out, to
/// whichever thread is free, and `done` is called with each run's columns on the thread
/// that wrote them. Returns `false`, computing nothing, where [`sgemm`] would not run its
/// own kernel, or A is too small or too large to share.
///
/// # Safety
/// As [`sgemm`], with `c` valid for `m` rows of `n` elements `rsc` apart.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm_par(
    [m, k, n]: [usize; 3],
    (a, rsa, csa): (*const f32, isize, isize),
    (b, rsb, csb): (*const f32, isize, isize),
    (c, rsc): (*mut f32, isize),
    threads: usize,
    done: &(dyn Fn(std::ops::Range<usize>) + Sync),
) -> bool {
    let rows = m.next_multiple_of(MR);
    let shared = n > 0 && available::<f32>() && (SHARED_MIN..=SHARED_A).contains(&(rows * k));
    if !shared {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    SHARED.with(|shared| {
        use rayon::prelude::*;
        use std::sync::atomic::{AtomicU8, AtomicUsize};
        // A nested call (none is made) would pack into a buffer of its own.
        let (mut borrowed, mut own) = (shared.try_borrow_mut(), Vec::new());
        let shared = match &mut borrowed {
            Ok(shared) => &mut **shared,
            Err(_) => &mut own,
        };
        let pa = Ptr(aligned(shared, rows * k));
        let panels: Vec<avx2::Panel> = (0..k.div_ceil(KC) * rows / MR)
            .map(|_| avx2::Panel(AtomicU8::new(0)))
            .collect();
        let next = AtomicUsize::new(0);
        let (a, b, c) = (Ptr(a.cast_mut()), Ptr(b.cast_mut()), Ptr(c));
        (0..threads).into_par_iter().for_each(|me| {
            let mut own = Vec::new();
            BUFFERS.with(|buffers| {
                let mut borrowed = buffers.try_borrow_mut();
                let pb = match &mut borrowed {
                    Ok(buffers) => &mut buffers.1,
                    Err(_) => &mut own,
                };
                let pb = aligned(pb, n.min(NC).next_multiple_of(NR) * k.min(KC));
                let shared = avx2::SharedA {
                    a: (a.get(), rsa, csa),
                    m,
                    pa: pa.get(),
                    panels: &panels,
                    first: me * MC / MR / threads,
                };
                // SAFETY: the features were checked; `pa` holds all of A packed, `pb` a
                // run of B's columns (at most `NC`); the caller vouches for the matrices,
                // and each run of C's columns is written by the one thread that took it.
                avx2::runs(
                    [m, k, n],
                    &shared,
                    (b.get(), rsb, csb),
                    (c.get(), rsc),
                    pb,
                    &next,
                    threads,
                    done,
                );
            });
        });
    });
    true
}

/// The smallest A (in elements) [`sgemm_par`] shares (32 KiB): for a smaller one, packing
/// it on each thread costs less than handing out the runs.
const SHARED_MIN: usize = 1 << 13;

/// The largest A (in elements, padded to whole panels) [`sgemm_par`] packs into one
/// shared buffer (4 MiB): larger products split as before.
const SHARED_A: usize = 1 << 20;

/// A pointer the threads of [`sgemm_par`] share: they read the operands, and write
/// disjoint panels of the packed A and disjoint columns of C.
#[derive(Clone, Copy)]
struct Ptr(*mut f32);
// SAFETY: see the type's doc; the storage outlives the parallel loop that uses it.
unsafe impl Send for Ptr {}
unsafe impl Sync for Ptr {}

impl Ptr {
    /// The pointer (a method, so closures capture the `Send` wrapper, not the field).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// A pointer to `len` elements of `buf` starting at a 32-byte boundary, growing `buf`
/// (only ever growing it, so there is no allocation after the first calls).
fn aligned(buf: &mut Vec<f32>, len: usize) -> *mut f32 {
    if buf.len() < len + 8 {
        buf.resize(len + 8, 0.0);
    }
    let p = buf.as_mut_ptr();
    // SAFETY: the offset is at most 7 elements, within the `len + 8` allocated.
    unsafe { p.add(p.align_offset(32)) }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{KC, MC, MR, NC, NR};
    use crate::ops::transpose::avx2::in_registers as transpose;
    use std::arch::x86_64::*;
    use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

    /// All of A packed for [`runs`]: the depth block from `p` is `rows × kc` elements from
    /// `pa + p·rows` (`rows` = `m` in whole panels), laid out as [`pack_a`] lays out a
    /// block; `panels` holds each panel's state (depth blocks in turn, panels in order).
    pub(super) struct SharedA<'a> {
        pub(super) a: (*const f32, isize, isize),
        pub(super) m: usize,
        pub(super) pa: *mut f32,
        pub(super) panels: &'a [Panel],
        /// The panel of each block of rows this thread tries to claim first, so that
        /// threads starting together pack different panels.
        pub(super) first: usize,
    }

    /// A panel's state, alone in its cache line: the threads claim panels side by side.
    #[repr(align(64))]
    pub(super) struct Panel(pub(super) AtomicU8);

    /// A panel's states: not packed, being packed, packed.
    const FREE: u8 = 0;
    const PACKING: u8 = 1;
    const PACKED: u8 = 2;

    impl SharedA<'_> {
        /// The packed rows `ic..ic + mc` of the depth block `pc..pc + kc`, once every panel
        /// of them is packed: those no thread has claimed are packed here, then the ones
        /// other threads are packing waited for (spinning, then yielding the core, which
        /// the packing thread may need when there are more threads than cores).
        #[target_feature(enable = "avx2,fma")]
        unsafe fn block(&self, ic: usize, mc: usize, pc: usize, kc: usize) -> *const f32 {
            let rows = self.m.next_multiple_of(MR);
            let (a, rsa, csa) = self.a;
            let first = (pc / KC) * (rows / MR) + ic / MR;
            let states = &self.panels[first..first + mc.div_ceil(MR)];
            let block = self.pa.add(pc * rows + ic * kc);
            let start = self.first.min(states.len());
            for (i, Panel(state)) in states
                .iter()
                .enumerate()
                .cycle()
                .skip(start)
                .take(states.len())
            {
                let claimed = state.load(Ordering::Acquire) == FREE
                    && state
                        .compare_exchange(FREE, PACKING, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok();
                if claimed {
                    let i0 = ic + i * MR;
                    let src = a.offset(i0 as isize * rsa + pc as isize * csa);
                    pack_a(
                        MR.min(self.m - i0),
                        kc,
                        src,
                        rsa,
                        csa,
                        block.add(i * MR * kc),
                    );
                    state.store(PACKED, Ordering::Release);
                }
            }
            for Panel(state) in states {
                let wait = crossbeam_utils::Backoff::new();
                while state.load(Ordering::Acquire) != PACKED {
                    wait.snooze();
                }
            }
            block
        }
    }

    /// [`sgemm_par`](super::sgemm_par)'s work on one thread: runs of C's columns taken from
    /// `next` (tiles handed out so far) until none is left, each run's depth blocks in
    /// order, its B packed into `pb`, multiplied with the shared A's blocks of rows.
    ///
    /// # Safety
    /// As [`run`]; `shared` must describe all of A, and every thread of the call take
    /// its runs from the same `next`.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn runs(
        [m, k, n]: [usize; 3],
        shared: &SharedA,
        (b, rsb, csb): (*const f32, isize, isize),
        (c, rsc): (*mut f32, isize),
        pb: *mut f32,
        next: &AtomicUsize,
        threads: usize,
        done: &(dyn Fn(std::ops::Range<usize>) + Sync),
    ) {
        let tiles = n.div_ceil(NR);
        // Each run a thread's share of what is left, so that the last ones are one tile wide.
        let take = |t: usize| (tiles - t).div_ceil(threads).min(NC / NR);
        while let Ok(t) = next.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
            (t < tiles).then(|| t + take(t))
        }) {
            let (jc, nc) = (t * NR, (take(t) * NR).min(n - t * NR));
            // SAFETY: as this function's; `shared.block` packs or waits for A's rows.
            let packed_a = |ic, mc, pc, kc| unsafe { shared.block(ic, mc, pc, kc) };
            columns(
                [m, k, n],
                [jc, nc],
                packed_a,
                (b, rsb, csb),
                0.0,
                (c, rsc),
                pb,
            );
            done(jc..jc + nc);
        }
    }

    /// The blocked loops: for each block of [`NC`] columns and each depth block of
    /// [`KC`], B's block is packed once, then each block of [`MC`] rows of A is packed
    /// and multiplied with it tile by tile, the tiles of one column panel of B in turn
    /// (the panel stays in L1).
    ///
    /// # Safety
    /// AVX2 and FMA must be available; `pa` and `pb` must hold the packed blocks; the
    /// matrices must be valid.
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn run(
        [m, k, n]: [usize; 3],
        (a, rsa, csa): (*const f32, isize, isize),
        (b, rsb, csb): (*const f32, isize, isize),
        beta: f32,
        (c, rsc): (*mut f32, isize),
        pa: *mut f32,
        pb: *mut f32,
    ) {
        // SAFETY: as this function's; `pa` holds a block of A.
        let packed_a = |ic, mc, pc, kc| unsafe {
            pack_a(
                mc,
                kc,
                a.offset(ic as isize * rsa + pc as isize * csa),
                rsa,
                csa,
                pa,
            );
            pa.cast_const()
        };
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            columns(
                [m, k, n],
                [jc, nc],
                packed_a,
                (b, rsb, csb),
                beta,
                (c, rsc),
                pb,
            );
        }
    }

    /// The columns `jc..jc + nc` of an `m×n` C (at most [`NC`] of them): for each depth
    /// block of [`KC`], B's block is packed once into `pb`, then each block of [`MC`] rows
    /// of A, as `packed_a(ic, mc, pc, kc)` gives it packed, is multiplied with it tile by
    /// tile. [`run`] packs A's blocks itself, [`runs`] takes them from the shared A.
    ///
    /// # Safety
    /// As [`run`]; `packed_a` must return the rows `ic..ic + mc` of the depth block
    /// `pc..pc + kc` packed as [`pack_a`] packs them.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn columns(
        [m, k, n]: [usize; 3],
        [jc, nc]: [usize; 2],
        mut packed_a: impl FnMut(usize, usize, usize, usize) -> *const f32,
        (b, rsb, csb): (*const f32, isize, isize),
        beta: f32,
        (c, rsc): (*mut f32, isize),
        pb: *mut f32,
    ) {
        // matrixmultiply's 8×8 tiles are masked from these rows and columns on.
        let (m8, n8) = (m - m % 8, n - n % 8);
        for pc in (0..k).step_by(KC) {
            let kc = KC.min(k - pc);
            let bb = b.offset(pc as isize * rsb + jc as isize * csb);
            pack_b(kc, nc, bb, rsb, csb, pb);
            // The first depth block applies β, the later ones add to C.
            let beta = if pc == 0 { beta } else { 1.0 };
            for ic in (0..m).step_by(MC) {
                let mc = MC.min(m - ic);
                let pa = packed_a(ic, mc, pc, kc);
                let cc = c.offset(ic as isize * rsc + jc as isize);
                let edge = [m8.saturating_sub(ic), n8.saturating_sub(jc)];
                block([mc, nc, kc], pa, pb, beta, cc, rsc, edge);
            }
        }
    }

    /// The tiles of one packed block of A (`mc` rows) against one of B (`nc` columns).
    /// Rows from `edge[0]` and columns from `edge[1]` on lie in matrixmultiply's masked
    /// tiles (see [`super`]).
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn block(
        [mc, nc, kc]: [usize; 3],
        pa: *const f32,
        pb: *const f32,
        beta: f32,
        c: *mut f32,
        rsc: isize,
        edge: [usize; 2],
    ) {
        let mut scratch = [0f32; MR * NR];
        for jr in (0..nc).step_by(NR) {
            let nr = NR.min(nc - jr);
            let b = pb.add(jr * kc);
            for ir in (0..mc).step_by(MR) {
                let mr = MR.min(mc - ir);
                let a = pa.add(ir * kc);
                let c = c.offset(ir as isize * rsc + jr as isize);
                if nr == NR && ir + mr <= edge[0] && jr + nr <= edge[1] {
                    // A tile of R = `mr` rows: the last panel's missing rows not summed.
                    macro_rules! rows {
                        ($($r:literal)*) => {
                            match mr {
                                $($r => tile::<$r>(kc, a, b, Some(beta), c, rsc),)*
                                _ => tile::<MR>(kc, a, b, Some(beta), c, rsc),
                            }
                        };
                    }
                    rows!(1 2 3 4 5);
                    continue;
                }
                // The sums to a scratch tile, then each element written as matrixmultiply
                // writes it in its full or masked tiles.
                tile::<MR>(kc, a, b, None, scratch.as_mut_ptr(), NR as isize);
                for i in 0..mr {
                    let row = c.offset(i as isize * rsc);
                    for (j, &s) in scratch[i * NR..i * NR + nr].iter().enumerate() {
                        let masked = ir + i >= edge[0] || jr + j >= edge[1];
                        let s = if masked { s + 0.0 } else { s };
                        let x = row.add(j);
                        *x = if beta == 0.0 { s + 0.0 } else { s + *x * beta };
                    }
                }
            }
        }
    }

    /// A tile of `R` rows (at most [`MR`]) and 16 columns: each output's sum over the `kc`
    /// steps of depth, an FMA chain from zero, then `C = sum + β·C` (`sum + 0` when
    /// `β = 0`, without reading C), or with `β` none the sums stored as they are.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tile<const R: usize>(
        kc: usize,
        mut a: *const f32,
        mut b: *const f32,
        beta: Option<f32>,
        c: *mut f32,
        rsc: isize,
    ) {
        // C's rows are fetched while the sums run, so that the write-back does not wait.
        for i in 0..R as isize {
            let row = c.offset(i * rsc);
            _mm_prefetch::<_MM_HINT_T0>(row.cast());
            _mm_prefetch::<_MM_HINT_T0>(row.add(NR - 1).cast());
        }
        let mut acc = [[_mm256_setzero_ps(); 2]; R];
        for _ in 0..kc {
            let b0 = _mm256_load_ps(b);
            let b1 = _mm256_load_ps(b.add(8));
            for (i, acc) in acc.iter_mut().enumerate() {
                let ai = _mm256_broadcast_ss(&*a.add(i));
                acc[0] = _mm256_fmadd_ps(ai, b0, acc[0]);
                acc[1] = _mm256_fmadd_ps(ai, b1, acc[1]);
            }
            a = a.add(MR);
            b = b.add(NR);
        }
        for (i, acc) in acc.iter().enumerate() {
            let row = c.offset(i as isize * rsc);
            for (h, &s) in acc.iter().enumerate() {
                let x = row.add(8 * h);
                let v = match beta {
                    None => s,
                    Some(beta) => _mm256_add_ps(
                        s,
                        match beta == 0.0 {
                            true => _mm256_setzero_ps(),
                            false => _mm256_mul_ps(_mm256_loadu_ps(x), _mm256_set1_ps(beta)),
                        },
                    ),
                };
                _mm256_storeu_ps(x, v);
            }
        }
    }

    /// Packs `kc` rows of the `nc` columns of B into panels of [`NR`] columns, row by
    /// row within a panel (`[nc / NR][kc][NR]`), a last panel's missing columns zero.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pack_b(kc: usize, nc: usize, b: *const f32, rsb: isize, csb: isize, pb: *mut f32) {
        for j0 in (0..nc).step_by(NR) {
            let w = NR.min(nc - j0);
            let dst = pb.add(j0 * kc);
            let src = b.offset(j0 as isize * csb);
            let mut p0 = 0;
            if w == NR && csb == 1 {
                for p in 0..kc {
                    let s = src.offset(p as isize * rsb);
                    _mm256_store_ps(dst.add(p * NR), _mm256_loadu_ps(s));
                    _mm256_store_ps(dst.add(p * NR + 8), _mm256_loadu_ps(s.add(8)));
                }
                p0 = kc;
            } else if w == NR && rsb == 1 {
                // Columns lie along the depth: 8×8 blocks transposed in registers.
                while p0 + 8 <= kc {
                    for h in 0..2 {
                        let s = src.offset((8 * h) as isize * csb + p0 as isize);
                        let rows: [__m256; 8] =
                            std::array::from_fn(|j| _mm256_loadu_ps(s.offset(j as isize * csb)));
                        for (i, r) in transpose(rows).into_iter().enumerate() {
                            _mm256_store_ps(dst.add((p0 + i) * NR + 8 * h), r);
                        }
                    }
                    p0 += 8;
                }
            }
            pack_rest::<NR>(p0..kc, w, src, rsb, csb, dst);
        }
    }

    /// Packs the `mc` rows of `kc` columns of A into panels of [`MR`] rows, column by
    /// column within a panel (`[mc / MR][kc][MR]`), a last panel's missing rows zero. The
    /// transposing path stores eight values per column, two past it that the next column
    /// overwrites, but only six for a panel's last column: nothing is written past the
    /// panel, which another thread may be packing or reading.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pack_a(mc: usize, kc: usize, a: *const f32, rsa: isize, csa: isize, pa: *mut f32) {
        for i0 in (0..mc).step_by(MR) {
            let h = MR.min(mc - i0);
            let dst = pa.add(i0 * kc);
            let src = a.offset(i0 as isize * rsa);
            let mut p0 = 0;
            if h == MR && rsa == 1 {
                for p in 0..kc {
                    let s = src.offset(p as isize * csa);
                    for i in 0..MR {
                        *dst.add(p * MR + i) = *s.add(i);
                    }
                }
                p0 = kc;
            } else if h == MR && csa == 1 {
                // Rows lie along the depth: 8×8 blocks (two rows zero) transposed.
                while p0 + 8 <= kc {
                    let rows: [__m256; 8] = std::array::from_fn(|i| match i < MR {
                        true => _mm256_loadu_ps(src.offset(i as isize * rsa + p0 as isize)),
                        false => _mm256_setzero_ps(),
                    });
                    for (p, col) in transpose(rows).into_iter().enumerate() {
                        let d = dst.add((p0 + p) * MR);
                        match p0 + p + 1 < kc {
                            true => _mm256_storeu_ps(d, col),
                            false => _mm256_maskstore_ps(
                                d,
                                _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, 0, 0),
                                col,
                            ),
                        }
                    }
                    p0 += 8;
                }
            }
            pack_rest::<MR>(p0..kc, h, src, csa, rsa, dst);
        }
    }

    /// The element-by-element packing of a panel `W` wide over the steps of depth
    /// `depth` (`dst[p·W + j] = src[p·along + j·across]` for the `real` columns of a
    /// panel, zero past them): the ragged depths and panels the vector paths leave.
    #[inline]
    unsafe fn pack_rest<const W: usize>(
        depth: std::ops::Range<usize>,
        real: usize,
        src: *const f32,
        along: isize,
        across: isize,
        dst: *mut f32,
    ) {
        for p in depth {
            for j in 0..W {
                *dst.add(p * W + j) = match j < real {
                    true => *src.offset(p as isize * along + j as isize * across),
                    false => 0.0,
                };
            }
        }
    }
}
