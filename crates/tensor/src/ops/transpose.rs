//! Matrix transposes into new storage, 8×8 register tiles at a time (AVX2 shuffles for
//! `f32`), for `contiguous()` of a transposed matrix. (`matmul` copies nothing: it leaves
//! the layouts to matrixmultiply's packing.)

use super::OutPtr;
use crate::{Float, Tensor};
use rayon::prelude::*;

/// Elements from which a transpose is split across threads.
const PAR_ELEMENTS: usize = 1 << 16;

/// Side of the square tiles.
const TILE: usize = 8;

/// Whether the AVX2 kernel can run: `f32` on a CPU with AVX2.
fn fast_kernel<F: Float>() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        size_of::<F>() == 4 && std::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Writes the transpose of the `rows×cols` matrix at `src` (row stride `rs`, contiguous
/// rows) to `dst` as a contiguous `cols×rows` matrix: `dst[j·rows + i] = src[i·rs + j]`.
/// Split across threads by blocks of `dst` rows from [`PAR_ELEMENTS`].
///
/// # Safety
/// `src` must be valid for the matrix described; `dst` must have room for `rows·cols`
/// elements and not overlap `src`.
pub(crate) unsafe fn transpose_into<F: Float>(
    src: *const F,
    rows: usize,
    cols: usize,
    rs: usize,
    dst: *mut F,
) {
    let (src, dst) = (OutPtr(src.cast_mut()), OutPtr(dst));
    let fast = fast_kernel::<F>();
    let run = |cols_range: std::ops::Range<usize>| {
        // SAFETY: the caller's guarantees; each call writes only `dst` rows `cols_range`.
        unsafe {
            if fast {
                #[cfg(target_arch = "x86_64")]
                avx2::transpose(src.get().cast(), rows, rs, cols_range, dst.get().cast());
            } else {
                transpose_scalar(src.get(), rows, rs, cols_range, dst.get());
            }
        }
    };
    let threads = rayon::current_num_threads();
    if rows * cols >= PAR_ELEMENTS && threads > 1 {
        let block = cols.div_ceil(threads).next_multiple_of(TILE);
        (0..cols.div_ceil(block))
            .into_par_iter()
            .for_each(|b| run(b * block..(b * block + block).min(cols)));
    } else {
        run(0..cols);
    }
}

/// Portable [`transpose_into`] of the source columns `cols` (the rows of `dst`), tile by
/// tile so that both sides stay in cache.
///
/// # Safety
/// As [`transpose_into`].
unsafe fn transpose_scalar<F: Float>(
    src: *const F,
    rows: usize,
    rs: usize,
    cols: std::ops::Range<usize>,
    dst: *mut F,
) {
    for j0 in cols.clone().step_by(TILE) {
        for i0 in (0..rows).step_by(TILE) {
            for j in j0..(j0 + TILE).min(cols.end) {
                for i in i0..(i0 + TILE).min(rows) {
                    *dst.add(j * rows + i) = *src.add(i * rs + j);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use super::TILE;
    use std::arch::x86_64::*;
    use std::ops::Range;

    /// [`super::transpose_scalar`] for `f32` with AVX2: whole 8×8 tiles go through eight
    /// registers (unpack, shuffle, lane permute); ragged edges take the scalar loop.
    ///
    /// # Safety
    /// As [`super::transpose_into`], and AVX2 must be available.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn transpose(
        src: *const f32,
        rows: usize,
        rs: usize,
        cols: Range<usize>,
        dst: *mut f32,
    ) {
        let whole_rows = rows / TILE * TILE;
        let whole_cols = cols.start + (cols.end - cols.start) / TILE * TILE;
        // Column blocks outside, rows inside: the stores run along `dst` rows, and the
        // eight source rows each block reads stay in L1 for the next block.
        for j in (cols.start..whole_cols).step_by(TILE) {
            for i in (0..whole_rows).step_by(TILE) {
                tile(src.add(i * rs + j), rs, dst.add(j * rows + i), rows);
            }
        }
        let edge = |cols: Range<usize>, row_start: usize| {
            for j in cols {
                for i in row_start..rows {
                    *dst.add(j * rows + i) = *src.add(i * rs + j);
                }
            }
        };
        edge(cols.start..whole_cols, whole_rows);
        edge(whole_cols..cols.end, 0);
    }

    /// Transposes one 8×8 tile: `d[c·ld + r] = s[r·rs + c]`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn tile(s: *const f32, rs: usize, d: *mut f32, ld: usize) {
        // A macro, not a closure: closures do not inherit `target_feature` and the loads
        // would become calls.
        macro_rules! row {
            ($r:expr) => {
                _mm256_loadu_ps(s.add($r * rs))
            };
        }
        let rows = [
            row!(0),
            row!(1),
            row!(2),
            row!(3),
            row!(4),
            row!(5),
            row!(6),
            row!(7),
        ];
        let out = in_registers(rows);
        for (c, v) in out.into_iter().enumerate() {
            _mm256_storeu_ps(d.add(c * ld), v);
        }
    }

    /// The transpose of eight rows of eight in registers: `out[c][r] = rows[r][c]`.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(in crate::ops) unsafe fn in_registers(rows: [__m256; 8]) -> [__m256; 8] {
        let [r0, r1, r2, r3, r4, r5, r6, r7] = rows;
        // Pairs of rows interleaved, then quadruples: each 128-bit lane holds a 4×4 block.
        macro_rules! interleave {
            ($x:expr, $y:expr) => {
                (_mm256_unpacklo_ps($x, $y), _mm256_unpackhi_ps($x, $y))
            };
        }
        macro_rules! quadruple {
            ($x:expr, $y:expr) => {
                (
                    _mm256_shuffle_ps::<0x44>($x, $y),
                    _mm256_shuffle_ps::<0xEE>($x, $y),
                )
            };
        }
        let ((a0, a1), (a2, a3)) = (interleave!(r0, r1), interleave!(r2, r3));
        let ((a4, a5), (a6, a7)) = (interleave!(r4, r5), interleave!(r6, r7));
        let ((b0, b1), (b2, b3)) = (quadruple!(a0, a2), quadruple!(a1, a3));
        let ((b4, b5), (b6, b7)) = (quadruple!(a4, a6), quadruple!(a5, a7));
        // Low lanes of rows 0–3 with low lanes of rows 4–7 make columns 0–3; high, 4–7.
        [
            _mm256_permute2f128_ps::<0x20>(b0, b4),
            _mm256_permute2f128_ps::<0x20>(b1, b5),
            _mm256_permute2f128_ps::<0x20>(b2, b6),
            _mm256_permute2f128_ps::<0x20>(b3, b7),
            _mm256_permute2f128_ps::<0x31>(b0, b4),
            _mm256_permute2f128_ps::<0x31>(b1, b5),
            _mm256_permute2f128_ps::<0x31>(b2, b6),
            _mm256_permute2f128_ps::<0x31>(b3, b7),
        ]
    }
}

/// The transpose of the `rows×cols` matrix at `p` (row stride `rs`, contiguous rows) as a
/// contiguous `cols×rows` matrix in a pooled buffer.
///
/// # Safety
/// `p` must be valid for the matrix described.
pub(crate) unsafe fn transposed<F: Float>(
    p: *const F,
    rows: usize,
    cols: usize,
    rs: usize,
) -> Vec<F> {
    let mut v = F::pool().take(rows * cols);
    transpose_into(p, rows, cols, rs, v.as_mut_ptr());
    v.set_len(rows * cols);
    v
}

impl<F: Float> Tensor<F> {
    /// [`Tensor::contiguous`] for a transposed matrix (strides `[1, s]`, `s ≥ rows`): the
    /// tiled kernel instead of the element-by-element walk. `None` for other layouts.
    pub(crate) fn contiguous_transposed(&self) -> Option<Self> {
        let ([rows, cols], [1, rs]) = (self.shape(), self.strides()) else {
            return None;
        };
        let (rows, cols, rs) = (*rows, *cols, *rs);
        if rs < rows || rows < TILE || cols < TILE {
            return None;
        }
        // The storage holds the `cols×rows` matrix (row stride `rs`) this one transposes.
        // SAFETY: the view is valid, so that matrix is in bounds.
        let v = unsafe { transposed(self.data.0.as_ptr().add(self.offset), cols, rows, rs) };
        Some(Tensor::from_parts(v, self.shape.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn random<F: Float>(shape: &[usize], seed: u64) -> crate::Result<Tensor<F>> {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let n = shape.iter().product();
        Tensor::from_vec(
            (0..n).map(|_| F::of(rng.random_range(-1.0..1.0))).collect(),
            shape,
        )
    }

    /// Ragged edges, a row stride wider than the rows, and sizes on both sides of the
    /// thread split, for both kernels.
    fn transposes_like_the_definition<F: Float>() -> TestResult {
        for (seed, &(rows, cols, pad)) in
            [(1, 1, 0), (8, 8, 0), (9, 17, 3), (64, 40, 0), (300, 257, 5)]
                .iter()
                .enumerate()
        {
            let rs = cols + pad;
            let src = random::<F>(&[rows * rs], seed as u64)?.to_vec();
            let mut dst = vec![F::zero(); rows * cols];
            // SAFETY: `src` holds `rows` rows of stride `rs`; `dst` has `rows·cols` elements.
            unsafe { transpose_into(src.as_ptr(), rows, cols, rs, dst.as_mut_ptr()) };
            for i in 0..rows {
                for j in 0..cols {
                    assert_eq!(
                        dst[j * rows + i],
                        src[i * rs + j],
                        "{rows}x{cols}+{pad} at {i},{j}"
                    );
                }
            }
        }
        Ok(())
    }

    #[test]
    fn transpose_into_matches_the_definition() -> TestResult {
        transposes_like_the_definition::<f32>()?;
        transposes_like_the_definition::<f64>()
    }

    #[test]
    fn contiguous_of_a_transposed_view_keeps_every_element() -> TestResult {
        for &(rows, cols) in &[(3, 5), (8, 8), (33, 70), (513, 130)] {
            let x = random::<f32>(&[cols, rows], 7)?;
            let t = x.t()?;
            let c = t.contiguous();
            assert!(c.is_contiguous());
            assert_eq!(c.shape(), &[rows, cols]);
            for i in 0..rows {
                for j in 0..cols {
                    assert_eq!(c.get(&[i, j])?, x.get(&[j, i])?);
                }
            }
            // A view into a wider matrix: row stride larger than the rows.
            let wide = random::<f64>(&[cols, rows + 3], 8)?;
            let t = wide.narrow(1, 1, rows)?.t()?;
            assert_eq!(t.contiguous().to_vec(), t.map(|v| v).to_vec());
        }
        Ok(())
    }

    /// The copies change how matrixmultiply packs, not the sums it forms: products with A
    /// row- or column-major and B row- or column-major (only A column-major and B row-major
    /// are never copied) agree bit for bit, and match a naive loop.
    #[test]
    fn matmul_gives_the_same_bits_in_every_layout() -> TestResult {
        for &(m, k, n) in &[(16, 16, 17), (37, 29, 45), (128, 300, 260), (200, 64, 96)] {
            let a = random::<f32>(&[m, k], 1)?;
            let b = random::<f32>(&[k, n], 2)?;
            let column_major = |x: &Tensor<f32>| x.t()?.map(|v| v).t();
            let (a_cm, b_cm) = (column_major(&a)?, column_major(&b)?);
            assert_eq!(a_cm.strides(), &[1, m]);
            let never_copied = a_cm.matmul(&b)?.to_vec();
            for (x, y) in [(&a, &b), (&a, &b_cm), (&a_cm, &b_cm)] {
                assert_eq!(x.matmul(y)?.to_vec(), never_copied, "{m}x{k}x{n}");
            }
            let want = a.cast::<f64>().matmul(&b.cast::<f64>())?;
            let got = Tensor::from_vec(never_copied, &[m, n])?.cast::<f64>();
            assert!(got.allclose(&want, 1e-5, 1e-5), "{m}x{k}x{n}");
        }
        Ok(())
    }
}
