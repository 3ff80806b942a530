//! Direct convolution for `f32` with stride 1, on AVX2+FMA CPUs without AVX-512: the
//! products of [`Tensor::conv2d`](crate::Tensor::conv2d) without im2col columns or GEMM
//! packing. With stride 1, eight adjacent output positions of a row read eight adjacent
//! input values for every tap, so the input (copied once per sample with its zero padding)
//! is read in place: a tile of [`MR`] output channels × up to 24 positions keeps its sums
//! in registers while the taps stream past, each tap one broadcast weight per channel and
//! one unaligned load per eight positions.
//!
//! The sums are formed as matrixmultiply forms them for the im2col product, so results
//! keep their bits: each output's taps are accumulated in order by FMA chains that start
//! at zero, split into the caller's segments (matrixmultiply's depth blocks), and each
//! segment's sum is added to the output in memory.

use crate::Float;

/// Output channels per tile (rows of the packed weights). With [`NV`] vectors that is nine
/// independent FMA chains (enough to hide the FMA latency on two pipes) and room for the
/// loads in the sixteen AVX2 registers; four channels made the compiler spill a sum.
pub(super) const MR: usize = 3;

/// Vectors of eight positions per tile.
const NV: usize = 3;

/// Positions (or channels) per vector.
pub(super) const LANES: usize = 8;

/// Elements an input buffer must hold past its last row's end: the last vector of a row
/// loads up to seven values past the row's last position.
pub(super) const SLACK: usize = LANES;

/// Whether the kernel runs: `f32` on a CPU whose widest vectors are AVX2's. With AVX-512
/// matrixmultiply's kernel is twice as wide as this one, so the products keep it there.
pub(super) fn available<F: Float>() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        size_of::<F>() == 4
            && F::DTYPE == "float32"
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
            && !std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `rows` weight rows of `taps` values (`weight(r, t)`) packed in blocks of [`MR`] rows,
/// tap-major within a block (`[rows / MR][taps][MR]`), the last block's missing rows zero.
pub(super) fn pack<F: Float>(
    rows: usize,
    taps: usize,
    weight: impl Fn(usize, usize) -> F,
) -> Vec<F> {
    let blocks = rows.div_ceil(MR);
    let mut packed = F::pool().take(blocks * taps * MR);
    for blk in 0..blocks {
        for t in 0..taps {
            packed.extend((blk * MR..blk * MR + MR).map(|r| match r < rows {
                true => weight(r, t),
                false => F::zero(),
            }));
        }
    }
    packed
}

/// Rows `src[r·len..(r + 1)·len]` of `rows` rows into `dst` in blocks of [`MR`] rows,
/// position-major within a block (`dst[((r / MR)·len + p)·MR + r % MR] = src[r·len + p]`):
/// the output gradient as [`weight_grad`] reads it. A last block's missing rows are left
/// as they are (the kernel's sums for them are dropped).
pub(super) fn pack_rows<F: Float>(src: &[F], rows: usize, len: usize, dst: &mut [F]) {
    for (r, row) in src.chunks_exact(len.max(1)).take(rows).enumerate() {
        let block = &mut dst[r / MR * len * MR..];
        for (d, &v) in block.iter_mut().skip(r % MR).step_by(MR).zip(row) {
            *d = v;
        }
    }
}

/// `y[r][oy·ow + ox] += Σ_t w[r][t] · x[offsets[t] + oy·row + ox]` for the `rows` channels
/// of `y` (`rows × oh·ow`, row-major) and the `[oh, ow]` positions, the taps summed in
/// segments that end at `ends` (each segment's sum, an FMA chain from zero, is added to
/// `y` on its own). `w` is [`pack`]ed from `rows` rows of `offsets.len()` taps. With
/// `overwrite`, `y`'s values are not read: the first segment's sums replace them (plus
/// zero, as a product with `β = 0` writes them).
///
/// # Panics
/// If [`available`] is false or the buffers are too short for the positions and taps
/// (including [`SLACK`] past `x`'s last read row): the callers size them.
#[allow(clippy::too_many_arguments)]
pub(super) fn run<F: Float>(
    x: &[F],
    row: usize,
    offsets: &[usize],
    ends: &[usize],
    w: &[F],
    y: &mut [F],
    rows: usize,
    [oh, ow]: [usize; 2],
    overwrite: bool,
) {
    let taps = offsets.len();
    let plane = oh * ow;
    if plane == 0 || rows == 0 {
        return;
    }
    if taps == 0 {
        if overwrite {
            y[..rows * plane].fill(F::zero());
        }
        return;
    }
    assert!(available::<F>(), "conv direct kernel without AVX2+FMA");
    assert!(ends.last() == Some(&taps) && ends.windows(2).all(|e| e[0] <= e[1]));
    assert!(w.len() >= rows.div_ceil(MR) * taps * MR && y.len() >= rows * plane);
    let reach = offsets.iter().max().map_or(0, |&m| m + (oh - 1) * row + ow);
    assert!(ow <= row && x.len() >= reach + SLACK);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the features were checked; the asserts bound every load and store: a tile
    // at `(oy, ox0)` reads `x` up to `offsets[t] + oy·row + ox0 + 8·⌈r/8⌉ ≤ reach + 7` and
    // writes only its `r ≤ ow − ox0` positions of its rows of `y`.
    unsafe {
        let (x, w, y) = (x.as_ptr().cast(), w.as_ptr().cast(), y.as_mut_ptr().cast());
        avx2::run(x, row, offsets, ends, w, y, rows, [oh, ow], overwrite);
    }
}

/// The weight gradient's product with the input read in place: `acc[r][8·q + j] +=
/// Σ_p a(r, p) · x[pix[p] + panels[q] + j]` for the `rows` rows of `acc` (row stride
/// `kk`), the panels `q` of eight taps and the positions `p` of `pix`, each sum an FMA
/// chain from zero over the positions in order, then added to `acc`. `x` holds the
/// sample's pixels with their channels side by side, so the eight taps of a panel are
/// eight adjacent channels of one pixel; `a` is the output gradient [`pack_rows`]ed,
/// `a(r, p) = a[((r / MR)·stride + p)·MR + r % MR]`, so a tile's broadcasts walk it in
/// order.
///
/// # Panics
/// If [`available`] is false or a buffer is too short.
#[allow(clippy::too_many_arguments)]
pub(super) fn weight_grad<F: Float>(
    a: &[F],
    stride: usize,
    rows: usize,
    x: &[F],
    pix: &[usize],
    panels: &[usize],
    acc: &mut [F],
    kk: usize,
) {
    let (np, positions) = (panels.len(), pix.len());
    if np == 0 || rows == 0 || positions == 0 {
        return;
    }
    assert!(available::<F>(), "conv direct kernel without AVX2+FMA");
    assert!(stride >= positions && a.len() >= ((rows - 1) / MR * stride + positions) * MR);
    let reach = pix.iter().max().unwrap_or(&0) + panels.iter().max().unwrap_or(&0) + LANES;
    assert!(x.len() >= reach && kk >= np * LANES && acc.len() >= (rows - 1) * kk + np * LANES);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: the features were checked; the asserts bound every load and store.
    unsafe {
        let (a, x, acc) = (
            a.as_ptr().cast(),
            x.as_ptr().cast(),
            acc.as_mut_ptr().cast(),
        );
        avx2::weight_grad(a, stride, rows, x, pix, panels, acc, kk);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{LANES, MR, NV};
    use std::arch::x86_64::*;

    /// [`super::run`] on raw `f32` pointers.
    ///
    /// # Safety
    /// As checked by [`super::run`].
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn run(
        x: *const f32,
        row: usize,
        offsets: &[usize],
        ends: &[usize],
        w: *const f32,
        y: *mut f32,
        rows: usize,
        [oh, ow]: [usize; 2],
        overwrite: bool,
    ) {
        let (taps, plane) = (offsets.len(), oh * ow);
        // Every block of channels over one run of positions, whose inputs stay in L1
        // while the weights stream from L2 (a broadcast per channel and tap, against a
        // vector per eight positions the other way round).
        for oy in 0..oh {
            for ox0 in (0..ow).step_by(NV * LANES) {
                let r = (ow - ox0).min(NV * LANES);
                let last = r - (r - 1) / LANES * LANES;
                let tile = match r.div_ceil(LANES) {
                    3 => tile::<3>,
                    2 => tile::<2>,
                    _ => tile::<1>,
                };
                let xs = x.add(oy * row + ox0);
                for blk in 0..rows.div_ceil(MR) {
                    let wb = w.add(blk * taps * MR);
                    let valid = (rows - blk * MR).min(MR);
                    let ys = y.add(blk * MR * plane + oy * ow + ox0);
                    tile(xs, offsets, ends, wb, ys, plane, valid, last, overwrite);
                }
            }
        }
    }

    /// One tile: `valid` channels (of the [`MR`] whose weights `w` holds) × `V` vectors of
    /// positions from `y`, the last with `last` positions.
    ///
    /// # Safety
    /// As [`run`].
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn tile<const V: usize>(
        x: *const f32,
        offsets: &[usize],
        ends: &[usize],
        w: *const f32,
        y: *mut f32,
        plane: usize,
        valid: usize,
        last: usize,
        overwrite: bool,
    ) {
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(last as i32), lane);
        let mut t = 0;
        for (segment, &end) in ends.iter().enumerate() {
            let fresh = overwrite && segment == 0;
            let mut acc = [[_mm256_setzero_ps(); V]; MR];
            while t < end {
                let p = x.add(*offsets.get_unchecked(t));
                let mut xv = [_mm256_setzero_ps(); V];
                for (v, xv) in xv.iter_mut().enumerate() {
                    *xv = _mm256_loadu_ps(p.add(v * LANES));
                }
                let wt = w.add(t * MR);
                for (i, acc) in acc.iter_mut().enumerate() {
                    let wi = _mm256_broadcast_ss(&*wt.add(i));
                    for v in 0..V {
                        acc[v] = _mm256_fmadd_ps(wi, xv[v], acc[v]);
                    }
                }
                t += 1;
            }
            for (i, acc) in acc.iter().enumerate() {
                if i >= valid {
                    break;
                }
                let yr = y.add(i * plane);
                for (v, &a) in acc.iter().enumerate() {
                    let q = yr.add(v * LANES);
                    if v + 1 < V || last == LANES {
                        let old = if fresh {
                            _mm256_setzero_ps()
                        } else {
                            _mm256_loadu_ps(q)
                        };
                        _mm256_storeu_ps(q, _mm256_add_ps(old, a));
                    } else {
                        let old = match fresh {
                            true => _mm256_setzero_ps(),
                            false => _mm256_maskload_ps(q, mask),
                        };
                        _mm256_maskstore_ps(q, mask, _mm256_add_ps(old, a));
                    }
                }
            }
        }
    }

    /// [`super::weight_grad`] on raw `f32` pointers.
    ///
    /// # Safety
    /// As checked by [`super::weight_grad`].
    #[target_feature(enable = "avx2,fma")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn weight_grad(
        a: *const f32,
        stride: usize,
        rows: usize,
        x: *const f32,
        pix: &[usize],
        panels: &[usize],
        acc: *mut f32,
        kk: usize,
    ) {
        for blk in 0..rows.div_ceil(MR) {
            let valid = (rows - blk * MR).min(MR);
            for q0 in (0..panels.len()).step_by(NV) {
                let tile = match (panels.len() - q0).min(NV) {
                    3 => weight_tile::<3>,
                    2 => weight_tile::<2>,
                    _ => weight_tile::<1>,
                };
                let out = acc.add(blk * MR * kk + q0 * LANES);
                let a = a.add(blk * stride * MR);
                tile(a, x, pix, &panels[q0..], out, kk, valid);
            }
        }
    }

    /// One tile of the weight gradient: `valid` rows × `V` panels.
    ///
    /// # Safety
    /// As [`weight_grad`].
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    #[allow(clippy::too_many_arguments)]
    unsafe fn weight_tile<const V: usize>(
        a: *const f32,
        x: *const f32,
        pix: &[usize],
        panels: &[usize],
        out: *mut f32,
        kk: usize,
        valid: usize,
    ) {
        let mut off = [0; V];
        off.copy_from_slice(&panels[..V]);
        let mut acc = [[_mm256_setzero_ps(); V]; MR];
        for (p, &px) in pix.iter().enumerate() {
            let xp = x.add(px);
            let mut xv = [_mm256_setzero_ps(); V];
            for (xv, &off) in xv.iter_mut().zip(&off) {
                *xv = _mm256_loadu_ps(xp.add(off));
            }
            let ap = a.add(p * MR);
            for (i, acc) in acc.iter_mut().enumerate() {
                let ai = _mm256_broadcast_ss(&*ap.add(i));
                for v in 0..V {
                    acc[v] = _mm256_fmadd_ps(ai, xv[v], acc[v]);
                }
            }
        }
        for (i, acc) in acc.iter().enumerate().take(valid) {
            for (v, &s) in acc.iter().enumerate() {
                let q = out.add(i * kk + v * LANES);
                _mm256_storeu_ps(q, _mm256_add_ps(_mm256_loadu_ps(q), s));
            }
        }
    }
}
