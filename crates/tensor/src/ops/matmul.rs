//! Matrix products: 2-D and batched (batch axes broadcast), any strides. Products go to
//! `F::gemm` (matrixmultiply, or `sgemm.rs` for `f32` on AVX2, with the same bits);
//! transposed operands are passed as strides and packed as they lie (no transposed copies).
//! Large single products are split across threads along the larger of the output's two
//! axes: with 128 rows, splitting the weight axis keeps each thread from packing the whole
//! weight matrix (in `f32` on AVX2 the threads also share one packed copy of the other
//! operand and take the columns in shrinking runs, `sgemm::sgemm_par`). Products with at
//! most 16 output columns (an output layer) take a small register-blocked kernel instead
//! (`skinny`).

use super::OutPtr;
use crate::error::{Error, Result};
use crate::layout::{broadcast_shapes, broadcast_strides, checked_numel, numel, walk};
use crate::{Float, Tensor};
use rayon::prelude::*;

/// Below this many multiply-adds a product runs on one thread. The MNIST model's output
/// layer (128·256·10 = 327k multiply-adds) is above it and gains from the split.
const PAR_FLOPS: usize = 1 << 18;

/// One `m×k · k×n` product: operand offsets and strides (in elements) into their storage.
#[derive(Clone, Copy)]
struct Gemm {
    m: usize,
    k: usize,
    n: usize,
    rsa: isize,
    csa: isize,
    rsb: isize,
    csb: isize,
}

impl<F: Float> Tensor<F> {
    /// Matrix product over the last two axes, broadcasting the leading (batch) axes:
    /// `[..., m, k] · [..., k, n] → [..., m, n]`. As `torch.matmul`, a 1-D operand is a
    /// vector: `[k] · [..., k, n] → [..., n]`, `[..., m, k] · [k] → [..., m]`, `[k] · [k] → []`.
    ///
    /// # Errors
    /// [`Error::Rank`] if an operand is 0-D;
    /// [`Error::MatmulInner`] if the inner sizes differ;
    /// [`Error::Broadcast`] if the batch axes do not broadcast;
    /// [`Error::TooLarge`] if the output's element count overflows.
    pub fn matmul(&self, rhs: &Self) -> Result<Self> {
        self.matmul_bias(rhs, None)
    }

    /// `x·Wᵀ + b` for a batch of rows `x: [m, k]`, `weight: [n, k]` and `bias: [n]` (or
    /// none): PyTorch's `linear`. The bias is added to each block of the product as the
    /// thread that computed it writes it back, while it is in cache, instead of in a second
    /// pass over a new tensor; the sums are rounded as `x.matmul(&weight.t()?)?.add(bias)`
    /// rounds them, so the two give the same bits.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f32>::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[2, 2])?;
    /// let w = Tensor::from_vec(vec![1.0, 0.0, 1.0, 1.0, 0.0, 2.0], &[3, 2])?;
    /// let b = Tensor::from_vec(vec![0.5, 0.0, -1.0], &[3])?;
    /// assert_eq!(x.linear(&w, Some(&b))?.to_vec(), [1.5, 3.0, 3.0, 3.5, 7.0, 7.0]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Rank`] unless `x` and `weight` are 2-D; [`Error::MatmulInner`] if their
    /// last axes differ; [`Error::ShapeMismatch`] unless `bias` is `[n]`.
    pub fn linear(&self, weight: &Self, bias: Option<&Self>) -> Result<Self> {
        for t in [self, weight] {
            if t.ndim() != 2 {
                return Err(Error::Rank {
                    op: "linear",
                    expected: "2 dims",
                    shape: t.shape.to_vec(),
                });
            }
        }
        let n = weight.shape[0];
        let Some(bias) = bias else {
            return self.matmul(&weight.t()?);
        };
        if bias.shape[..] != [n] {
            return Err(Error::ShapeMismatch {
                op: "linear",
                expected: vec![n],
                got: bias.shape.to_vec(),
            });
        }
        let bias = bias.contiguous();
        self.matmul_bias(&weight.t()?, bias.as_slice())
    }

    /// [`Tensor::matmul`], adding `bias` (one value per output column) to every row of
    /// every output matrix as it is written.
    fn matmul_bias(&self, rhs: &Self, bias: Option<&[F]>) -> Result<Self> {
        for t in [self, rhs] {
            if t.ndim() == 0 {
                return Err(Error::Rank {
                    op: "matmul",
                    expected: "at least 1 dim",
                    shape: t.shape.to_vec(),
                });
            }
        }
        // torch's vector rules: a 1-D lhs is a row `[1, k]`, a 1-D rhs a column `[k, 1]`,
        // and the added axis is dropped from the result.
        if self.ndim() == 1 {
            let row = if rhs.ndim() == 1 { -1 } else { -2 };
            return self.unsqueeze(0)?.matmul(rhs)?.squeeze(Some(row));
        }
        if rhs.ndim() == 1 {
            return self.matmul(&rhs.unsqueeze(-1)?)?.squeeze(Some(-1));
        }
        let (na, nb) = (self.ndim(), rhs.ndim());
        let (m, k, k2, n) = (
            self.shape[na - 2],
            self.shape[na - 1],
            rhs.shape[nb - 2],
            rhs.shape[nb - 1],
        );
        if k != k2 {
            return Err(Error::MatmulInner {
                lhs: self.shape.to_vec(),
                rhs: rhs.shape.to_vec(),
            });
        }
        let batch = broadcast_shapes("matmul", &self.shape[..na - 2], &rhs.shape[..nb - 2])?;
        let sa = broadcast_strides(
            "matmul",
            &self.shape[..na - 2],
            &self.strides[..na - 2],
            &batch,
        )?;
        let sb = broadcast_strides(
            "matmul",
            &rhs.shape[..nb - 2],
            &rhs.strides[..nb - 2],
            &batch,
        )?;
        let g = Gemm {
            m,
            k,
            n,
            rsa: self.strides[na - 2] as isize,
            csa: self.strides[na - 1] as isize,
            rsb: rhs.strides[nb - 2] as isize,
            csb: rhs.strides[nb - 1] as isize,
        };
        let mut shape = batch.clone();
        shape.extend([m, n]);
        let total = checked_numel("matmul", &shape, size_of::<F>())?;
        if total == 0 {
            // Nothing to compute, whatever `k` is: no packing buffers for an empty product.
            return Ok(Tensor::from_parts(Vec::new(), shape));
        }
        let nbatch = numel(&batch);
        let mut offsets = Vec::with_capacity(nbatch);
        walk(
            &batch,
            [&sa, &sb],
            [self.offset, rhs.offset],
            0,
            nbatch,
            |_, o| offsets.push(o),
        );

        let mut v = F::pool().take(total);
        let out = OutPtr(v.spare_capacity_mut().as_mut_ptr().cast::<F>());
        let (a, b) = (
            OutPtr(self.data.0.as_ptr().cast_mut()),
            OutPtr(rhs.data.0.as_ptr().cast_mut()),
        );
        if k == 0 {
            // matrixmultiply leaves C untouched for k = 0: the empty sum is zero (plus the
            // bias, if any).
            let row = |j: usize| bias.map_or(F::zero(), |b| b[j]);
            (v.spare_capacity_mut()[..total].iter_mut().enumerate())
                .for_each(|(i, x)| _ = x.write(row(i % n)));
            // SAFETY: every element was just written.
            unsafe { v.set_len(total) };
            return Ok(Tensor::from_parts(v, shape));
        }
        let bias = bias.map(|b| OutPtr(b.as_ptr().cast_mut()));
        let threads = rayon::current_num_threads();
        let big = (m * n).saturating_mul(k) >= PAR_FLOPS && threads > 1;
        let run = |i: usize, split: Option<usize>| {
            let [oa, ob] = offsets[i];
            // SAFETY: offsets and strides come from valid tensors; batch `i` writes only its
            // own `m×n` block of the output buffer, which has room for `total` elements.
            unsafe {
                gemm_block(
                    g,
                    a.get().add(oa),
                    b.get().add(ob),
                    out.get().add(i * m * n),
                    split,
                    bias.map(|b| b.get().cast_const()),
                )
            }
        };
        if big && nbatch >= threads {
            (0..nbatch).into_par_iter().for_each(|i| run(i, None));
        } else {
            (0..nbatch).for_each(|i| run(i, big.then_some(threads)));
        }
        // SAFETY: every output element was written by a gemm call (β = 0 means C is written
        // without being read).
        unsafe { v.set_len(total) };
        Ok(Tensor::from_parts(v, shape))
    }
}

/// `C = A·B (+ bias)` for one matrix, split across `split` threads if given.
///
/// # Safety
/// `a`, `b` describe valid matrices for `g`; `c` points to `m×n` writable row-major elements;
/// `bias`, if given, to `n` elements.
unsafe fn gemm_block<F: Float>(
    g: Gemm,
    a: *const F,
    b: *const F,
    c: *mut F,
    split: Option<usize>,
    bias: Option<*const F>,
) {
    if g.n <= SKINNY_N && g.k > 0 && skinny::available() {
        skinny::gemm(g, a, b, c, split.unwrap_or(1), bias);
        return;
    }
    // Operands go to `F::gemm` as they lie, whatever their strides: matrixmultiply's
    // packing reads an operand laid out against it (A row-major, as activations are;
    // B = Wᵀ, as `Linear` passes its weight) with gathers, which on an AVX-512 Xeon cost
    // less than copying the operand transposed first (figures in `benches/README.md`);
    // `sgemm.rs` transposes such operands in registers as it packs them. Packing changes
    // no sum: the bits are the same in every layout.
    gemm_split(g, a, b, c, split, bias);
}

/// Adds `bias[j]` to the columns `cols` of the rows `rows` of the row-major `C` (row
/// stride `ldc`): the write-back of [`Tensor::linear`], run by the thread that computed the
/// block. `c + b`, as `add` rounds it.
///
/// # Safety
/// `c` must be valid for the rows and columns given; `bias` for `cols.end` elements.
unsafe fn add_bias<F: Float>(
    c: *mut F,
    ldc: usize,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    bias: Option<*const F>,
) {
    let Some(bias) = bias else { return };
    let b = std::slice::from_raw_parts(bias.add(cols.start), cols.len());
    for i in rows {
        let row = std::slice::from_raw_parts_mut(c.add(i * ldc + cols.start), cols.len());
        for (x, &bj) in row.iter_mut().zip(b) {
            *x += bj;
        }
    }
}

/// `F::gemm`'s `C = A·B (+ bias)`, split across `split` threads if given.
///
/// # Safety
/// As [`gemm_block`].
unsafe fn gemm_split<F: Float>(
    g: Gemm,
    a: *const F,
    b: *const F,
    c: *mut F,
    split: Option<usize>,
    bias: Option<*const F>,
) {
    let Gemm {
        m,
        k,
        n,
        rsa,
        csa,
        rsb,
        csb,
    } = g;
    let ldc = n as isize;
    let Some(threads) = split else {
        F::gemm(
            m,
            k,
            n,
            F::one(),
            a,
            rsa,
            csa,
            b,
            rsb,
            csb,
            F::zero(),
            c,
            ldc,
            1,
        );
        add_bias(c, n, 0..m, 0..n, bias);
        return;
    };
    let (a, b, c) = (OutPtr(a as *mut F), OutPtr(b as *mut F), OutPtr(c));
    let bias = bias.map(|b| OutPtr(b.cast_mut()));
    if n >= m {
        let done = |cols: std::ops::Range<usize>| {
            add_bias(c.get(), n, 0..m, cols, bias.map(|b| b.get().cast_const()))
        };
        // `f32` on AVX2: the threads share one packed A and take columns as they are free.
        if super::sgemm::available::<F>()
            && super::sgemm::sgemm_par(
                [m, k, n],
                (a.get().cast::<f32>(), rsa, csa),
                (b.get().cast::<f32>(), rsb, csb),
                (c.get().cast::<f32>(), ldc),
                threads,
                &done,
            )
        {
            return;
        }
        // Split the columns of C (and of B) into blocks of whole kernel tiles.
        let block = n
            .div_ceil(threads)
            .next_multiple_of(tile_columns::<F>())
            .min(n);
        (0..n.div_ceil(block)).into_par_iter().for_each(|j| {
            let (j0, nj) = (j * block, block.min(n - j * block));
            F::gemm(
                m,
                k,
                nj,
                F::one(),
                a.get(),
                rsa,
                csa,
                b.get().offset(j0 as isize * csb),
                rsb,
                csb,
                F::zero(),
                c.get().add(j0),
                ldc,
                1,
            );
            done(j0..j0 + nj);
        });
    } else {
        let block = m
            .div_ceil(threads)
            .next_multiple_of(tile_rows::<F>())
            .min(m);
        (0..m.div_ceil(block)).into_par_iter().for_each(|i| {
            let (i0, mi) = (i * block, block.min(m - i * block));
            F::gemm(
                mi,
                k,
                n,
                F::one(),
                a.get().offset(i0 as isize * rsa),
                rsa,
                csa,
                b.get(),
                rsb,
                csb,
                F::zero(),
                c.get().add(i0 * n),
                ldc,
                1,
            );
            add_bias(
                c.get(),
                n,
                i0..i0 + mi,
                0..n,
                bias.map(|b| b.get().cast_const()),
            );
        });
    }
}

/// The width of the GEMM's kernel tiles on this CPU, rounded up to 8 (the `f32` kernel's
/// 16 on AVX2, matrixmultiply's 16 `f32` with AVX-512, else 8 `f32` or 4 `f64`): a split's
/// column blocks are whole tiles, so that no thread gets a tile more than an even share
/// would give it.
fn tile_columns<F: Float>() -> usize {
    if super::sgemm::available::<F>() {
        return super::sgemm::TILE_COLUMNS;
    }
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx512f") {
        return 16;
    }
    8
}

/// The height of the GEMM's kernel tiles on this CPU (the `f32` kernel's 6 on AVX2, else
/// matrixmultiply's 8 or less), for a split's row blocks.
fn tile_rows<F: Float>() -> usize {
    match super::sgemm::available::<F>() {
        true => super::sgemm::TILE_ROWS,
        false => 8,
    }
}

/// Output columns up to which [`skinny`] replaces matrixmultiply, whose 16×16 AVX-512
/// tiles would leave most lanes idle on, e.g., a 10-class output layer.
const SKINNY_N: usize = 16;

/// `C = A·B` for at most [`SKINNY_N`] columns: B is packed once into `k` zero-padded rows
/// of 16, then blocks of 4 rows of C accumulate in registers (4 × 16 lanes, independent
/// FMA chains that hide the FMA latency). Compiled for AVX2+FMA and chosen at run time, so
/// a portable build still gets it; without those features matrixmultiply is used.
mod skinny {
    use super::{add_bias, Gemm, OutPtr, SKINNY_N};
    use crate::Float;
    use rayon::prelude::*;

    /// Rows of C accumulated together.
    const ROWS: usize = 4;

    /// Whether this CPU has the features the kernel is compiled for.
    pub(super) fn available() -> bool {
        #[cfg(target_arch = "x86_64")]
        {
            std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    }

    /// `C = A·B (+ bias)` (`C` row-major `m×n`), rows split into `threads` blocks.
    ///
    /// # Safety
    /// As `gemm_block`, and [`available`] must have returned true.
    pub(super) unsafe fn gemm<F: Float>(
        g: Gemm,
        a: *const F,
        b: *const F,
        c: *mut F,
        threads: usize,
        bias: Option<*const F>,
    ) {
        if g.n == 1 {
            gemv(g, a, b, c);
            return add_bias(c, 1, 0..g.m, 0..1, bias);
        }
        let bias = bias.map(|b| OutPtr(b.cast_mut()));
        // A row-major `k×16` B (a gradient flowing into a 16-wide layer) is already packed.
        let in_place = g.n == SKINNY_N && g.csb == 1 && g.rsb == SKINNY_N as isize;
        let mut packed = Vec::new();
        if !in_place {
            packed = F::pool().take(g.k * SKINNY_N);
            packed.resize(g.k * SKINNY_N, F::zero());
            for (p, row) in packed.chunks_exact_mut(SKINNY_N).enumerate() {
                for (j, x) in row.iter_mut().take(g.n).enumerate() {
                    *x = *b.offset(p as isize * g.rsb + j as isize * g.csb);
                }
            }
        }
        let b_rows: &[F] = if in_place {
            std::slice::from_raw_parts(b, g.k * SKINNY_N)
        } else {
            &packed
        };
        let (a, c) = (OutPtr(a as *mut F), OutPtr(c));
        let block =
            g.m.div_ceil(threads.max(1))
                .next_multiple_of(ROWS)
                .max(ROWS);
        let run = |i: usize| {
            let rows = i * block..(i * block + block).min(g.m);
            // SAFETY: the caller checked the CPU features; blocks write disjoint rows of C.
            unsafe {
                rows_fma(g, a.get(), b_rows, c.get(), rows.clone());
                add_bias(
                    c.get(),
                    g.n,
                    rows,
                    0..g.n,
                    bias.map(|b| b.get().cast_const()),
                );
            }
        };
        let blocks = g.m.div_ceil(block);
        if blocks > 1 {
            (0..blocks).into_par_iter().for_each(run);
        } else {
            (0..blocks).for_each(run);
        }
        F::pool().give(packed);
    }

    /// `c = A·b` for a single output column (a 1-unit output layer and its weight
    /// gradient), where padding b to 16 lanes would do 16 times the work: with A's columns
    /// contiguous, `c += b[p]·A[:, p]` over `p`; otherwise a dot product per row with
    /// [`DOT_LANES`] partial sums.
    ///
    /// # Safety
    /// As [`rows_fma`], with `g.n == 1`.
    #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
    unsafe fn gemv<F: Float>(g: Gemm, a: *const F, b: *const F, c: *mut F) {
        let c = std::slice::from_raw_parts_mut(c, g.m);
        if g.rsa == 1 {
            c.fill(F::zero());
            for p in 0..g.k as isize {
                let (col, bp) = (a.offset(p * g.csa), *b.offset(p * g.rsb));
                let col = std::slice::from_raw_parts(col, g.m);
                for (x, &av) in c.iter_mut().zip(col) {
                    *x = av.mul_add(bp, *x);
                }
            }
            return;
        }
        if g.csa == 1 && g.rsb == 1 {
            // Contiguous rows and b: slices, so the partial sums vectorize.
            let b = std::slice::from_raw_parts(b, g.k);
            for (i, x) in c.iter_mut().enumerate() {
                let row = std::slice::from_raw_parts(a.offset(i as isize * g.rsa), g.k);
                let mut acc = [F::zero(); DOT_LANES];
                let (rows, tail) = row.as_chunks::<DOT_LANES>();
                let (bs, b_tail) = b.as_chunks::<DOT_LANES>();
                for (r, bv) in rows.iter().zip(bs) {
                    for l in 0..DOT_LANES {
                        acc[l] = r[l].mul_add(bv[l], acc[l]);
                    }
                }
                let sum = acc.iter().fold(F::zero(), |t, &s| t + s);
                *x = (tail.iter().zip(b_tail)).fold(sum, |t, (&r, &bv)| r.mul_add(bv, t));
            }
            return;
        }
        for (i, x) in c.iter_mut().enumerate() {
            let row = a.offset(i as isize * g.rsa);
            let mut acc = [F::zero(); DOT_LANES];
            let mut p = 0;
            while p + DOT_LANES <= g.k {
                for (l, s) in acc.iter_mut().enumerate() {
                    let q = (p + l) as isize;
                    *s = (*row.offset(q * g.csa)).mul_add(*b.offset(q * g.rsb), *s);
                }
                p += DOT_LANES;
            }
            let mut sum = acc.iter().fold(F::zero(), |t, &s| t + s);
            for q in p as isize..g.k as isize {
                sum = (*row.offset(q * g.csa)).mul_add(*b.offset(q * g.rsb), sum);
            }
            *x = sum;
        }
    }

    /// Partial sums per dot product in [`gemv`]: one AVX2 register of f32.
    const DOT_LANES: usize = 8;

    /// Rows `rows` of C.
    ///
    /// # Safety
    /// AVX2 and FMA must be available; pointers as in [`gemm`].
    #[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx2,fma"))]
    unsafe fn rows_fma<F: Float>(
        g: Gemm,
        a: *const F,
        packed: &[F],
        c: *mut F,
        rows: std::ops::Range<usize>,
    ) {
        let mut i = rows.start;
        while i < rows.end {
            let live = (rows.end - i).min(ROWS);
            // Rows past the end repeat the last live row (read, never written).
            let row_ptr: [*const F; ROWS] =
                std::array::from_fn(|q| a.offset((i + q.min(live - 1)) as isize * g.rsa));
            let mut acc = [[F::zero(); SKINNY_N]; ROWS];
            for (p, bp) in packed.chunks_exact(SKINNY_N).enumerate() {
                for (q, acc_row) in acc.iter_mut().enumerate() {
                    let av = *row_ptr[q].offset(p as isize * g.csa);
                    for (x, &bv) in acc_row.iter_mut().zip(bp) {
                        *x = av.mul_add(bv, *x);
                    }
                }
            }
            for (q, acc_row) in acc.iter().enumerate().take(live) {
                let dst = c.add((i + q) * g.n);
                if g.n == SKINNY_N {
                    // A fixed-size store: two vector moves instead of a `memcpy` call.
                    dst.cast::<[F; SKINNY_N]>().write_unaligned(*acc_row);
                } else {
                    std::ptr::copy_nonoverlapping(acc_row.as_ptr(), dst, g.n);
                }
            }
            i += ROWS;
        }
    }
}

#[cfg(test)]
mod tests {
    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;
    use super::*;
    use rand::{Rng, SeedableRng};

    fn naive(a: &Tensor<f64>, b: &Tensor<f64>) -> Result<Vec<f64>> {
        let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += a.get(&[i, p])? * b.get(&[p, j])?;
                }
            }
        }
        Ok(c)
    }

    #[test]
    fn matches_naive_loop_on_odd_sizes_and_transposes() -> TestResult {
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for &(m, k, n) in &[
            (1, 1, 1),
            (7, 33, 1),
            (33, 7, 257),
            (257, 33, 7),
            (0, 3, 2),
            (2, 0, 3),
        ] {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let mk = |r: usize, c: usize, t: bool, rng: &mut rand::rngs::StdRng| {
                    let shape = if t { [c, r] } else { [r, c] };
                    let x = Tensor::<f64>::from_vec(
                        (0..r * c).map(|_| rng.random_range(-1.0..1.0)).collect(),
                        &shape,
                    )?;
                    if t {
                        x.t()
                    } else {
                        Ok(x)
                    }
                };
                let a = mk(m, k, ta, &mut rng)?;
                let b = mk(k, n, tb, &mut rng)?;
                let c = a.matmul(&b)?;
                assert_eq!(c.shape(), &[m, n]);
                for (x, y) in c.to_vec().iter().zip(naive(&a, &b)?) {
                    assert!((x - y).abs() < 1e-12, "{m}x{k}x{n} t={ta},{tb}: {x} vs {y}");
                }
            }
        }
        Ok(())
    }

    #[test]
    fn batched_broadcasts_batch_axes() -> TestResult {
        let a = Tensor::<f32>::from_vec((0..12).map(|i| i as f32).collect(), &[2, 1, 2, 3])?;
        let b = Tensor::<f32>::from_vec((0..18).map(|i| i as f32).collect(), &[3, 3, 2])?;
        let c = a.matmul(&b)?;
        assert_eq!(c.shape(), &[2, 3, 2, 2]);
        let a1 = a.narrow(0, 1, 1)?.reshape(&[2, 3])?;
        let b2 = b.narrow(0, 2, 1)?.reshape(&[3, 2])?;
        let want = a1.matmul(&b2)?.to_vec();
        assert_eq!(c.narrow(0, 1, 1)?.narrow(1, 2, 1)?.to_vec(), want);
        Ok(())
    }

    #[test]
    fn errors_name_the_shapes() -> TestResult {
        let e = Tensor::<f32>::zeros(&[128, 784])
            .matmul(&Tensor::zeros(&[512, 256]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "matmul: inner dimensions differ: [128, 784] x [512, 256]"
        );
        // A vector is a row on the left (torch's rule); a 0-D operand has no product.
        assert_eq!(
            Tensor::<f32>::zeros(&[3])
                .matmul(&Tensor::zeros(&[3, 1]))?
                .shape(),
            &[1]
        );
        assert!(Tensor::<f32>::zeros(&[])
            .matmul(&Tensor::zeros(&[3, 1]))
            .is_err());
        Ok(())
    }
}
