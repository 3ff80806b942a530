//! Dropout masks, drawn in bulk: one 32-bit draw per element from the generator's block
//! output, and the mask written by a vectorized select.

use crate::error::{Error, Result};
use crate::layout::checked_numel;
use crate::tensor::PAR_MIN;
use crate::{vectorized, Float, Tensor, Vectorize};
use rand::Rng;
use rand_chacha::ChaCha12Rng;
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// Elements per refill of the random bits: 4 KiB of draws, which stay in L1 while the mask
/// is written from them.
const BLOCK: usize = 1024;

impl<F: Float> Tensor<F> {
    /// A dropout mask of `shape`: each element is 0 with probability `p` and `1/(1 − p)`
    /// otherwise (so `x · mask` keeps the expectation of `x`, as PyTorch's dropout scales
    /// the kept elements), or 0 everywhere for `p = 1`. Each element takes one `u32` from
    /// `rng`, in row-major order, and is dropped when it is below `p·2³²` (rounded), so `p`
    /// is honoured to 2⁻³² and the mask depends only on the generator's state, never on the
    /// thread count.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// use rand::{rngs::StdRng, SeedableRng};
    /// let mask = Tensor::<f32>::dropout_mask(&[1000], 0.5, &mut StdRng::seed_from_u64(0))?;
    /// assert!(mask.to_vec().iter().all(|&m| m == 0.0 || m == 2.0));
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] unless `0 ≤ p ≤ 1`; [`Error::TooLarge`] for a shape
    /// whose size overflows.
    pub fn dropout_mask(shape: &[usize], p: f64, rng: &mut impl Rng) -> Result<Self> {
        let (n, threshold, keep) = mask_params::<F>(shape, p)?;
        let mut mask = F::pool().take(n);
        fill_mask(&mut mask.spare_capacity_mut()[..n], threshold, keep, rng);
        // SAFETY: `fill_mask` wrote the first `n` elements.
        unsafe { mask.set_len(n) };
        Ok(Tensor::from_parts(mask, shape.to_vec()))
    }

    /// [`Tensor::dropout_mask`] from a ChaCha generator (`StdRng`'s), whose stream the
    /// threads can enter at any word: a large mask is drawn in parallel pieces, each from
    /// its own copy of `rng` moved to the piece's first draw, and `rng` is left after the
    /// last draw. The same mask, and the same generator after it, as `dropout_mask`.
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// use rand::SeedableRng;
    /// use rand_chacha::ChaCha12Rng;
    /// let (mut a, mut b) = (ChaCha12Rng::seed_from_u64(1), ChaCha12Rng::seed_from_u64(1));
    /// let m = Tensor::<f32>::dropout_mask_chacha(&[300, 700], 0.25, &mut a)?;
    /// assert_eq!(m.to_vec(), Tensor::<f32>::dropout_mask(&[300, 700], 0.25, &mut b)?.to_vec());
    /// assert_eq!(a.get_word_pos(), b.get_word_pos());
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::dropout_mask`].
    pub fn dropout_mask_chacha(shape: &[usize], p: f64, rng: &mut ChaCha12Rng) -> Result<Self> {
        let threads = rayon::current_num_threads();
        let (n, threshold, keep) = mask_params::<F>(shape, p)?;
        if n < PAR_MIN || threads == 1 {
            return Self::dropout_mask(shape, p, rng);
        }
        let start = rng.get_word_pos();
        let piece = n.div_ceil(threads * 4).next_multiple_of(BLOCK);
        let mut mask = F::pool().take(n);
        let spare = &mut mask.spare_capacity_mut()[..n];
        spare
            .par_chunks_mut(piece)
            .enumerate()
            .for_each(|(k, out)| {
                let mut rng = rng.clone();
                rng.set_word_pos(start + (k * piece) as u128);
                fill_mask(out, threshold, keep, &mut rng);
            });
        rng.set_word_pos(start + n as u128);
        // SAFETY: the pieces cover the first `n` elements; `fill_mask` wrote each.
        unsafe { mask.set_len(n) };
        Ok(Tensor::from_parts(mask, shape.to_vec()))
    }
}

/// A mask's size, the draw below which an element is dropped (`None`: every draw) and
/// the value of a kept element; an error for a `p` outside `[0, 1]`.
fn mask_params<F: Float>(shape: &[usize], p: f64) -> Result<(usize, Option<u32>, F)> {
    let op = "dropout_mask";
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::InvalidArgument {
            op,
            arg: "p",
            value: p.to_string(),
            why: "must be in [0, 1]",
        });
    }
    let n = checked_numel(op, shape, size_of::<F>())?;
    // With p = 1 everything is dropped (the scale is irrelevant, kept finite).
    let keep = if p < 1.0 {
        F::of(1.0 / (1.0 - p))
    } else {
        F::zero()
    };
    // Draws below `threshold` are dropped; `None`: every draw is (p·2³² rounds to 2³²).
    let threshold = u32::try_from((p * 4_294_967_296.0).round() as u64).ok();
    Ok((n, threshold, keep))
}

/// Writes every element of `out` from one `u32` of `rng` each, in order, a block at a time.
fn fill_mask<F: Float>(
    out: &mut [MaybeUninit<F>],
    threshold: Option<u32>,
    keep: F,
    rng: &mut impl Rng,
) {
    let mut bits = [0u32; BLOCK];
    for out in out.chunks_mut(BLOCK) {
        let bits = &mut bits[..out.len()];
        rng.fill(bits);
        vectorized(MaskBlock {
            out,
            bits,
            threshold,
            keep,
        });
    }
}

/// One block of a dropout mask from its random bits, compiled for the widest SIMD tier.
struct MaskBlock<'a, F> {
    out: &'a mut [MaybeUninit<F>],
    bits: &'a [u32],
    threshold: Option<u32>,
    keep: F,
}

impl<F: Float> Vectorize for MaskBlock<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        mask_loop(self.out, self.bits, self.threshold, self.keep)
    }
}

/// `out[k] = 0` if `bits[k] < threshold` (always, for `None`), else `keep`.
#[inline(always)]
fn mask_loop<F: Float>(out: &mut [MaybeUninit<F>], bits: &[u32], threshold: Option<u32>, keep: F) {
    match threshold {
        Some(t) => {
            for (o, &b) in out.iter_mut().zip(bits) {
                o.write(if b < t { F::zero() } else { keep });
            }
        }
        None => out.iter_mut().for_each(|o| _ = o.write(F::zero())),
    }
}
