//! 2-D convolution over NCHW images, built on im2col: [`Tensor::unfold`] copies every
//! window of the (zero-padded) input into a column of one buffer, so that a convolution is
//! one matrix product per group; [`Tensor::fold`] (col2im) is its adjoint, summing columns
//! back into an image, and turns a matrix product into a transposed convolution. The
//! convolutions themselves work one sample at a time: each thread unfolds a sample into its
//! own pooled scratch buffer (a few hundred kilobytes, warm in cache) and hands it to the
//! packed GEMM, so no batch-sized column buffer is ever built and, after warm-up, nothing is
//! allocated. In `f32` on a CPU with AVX2 and FMA, the products read their operands in
//! place instead (`conv_direct`: no columns built, nothing packed) with the same sums in
//! the same order, so the same bits. Threads split the batch; the weight gradient sums
//! fixed chunks of the batch in order, so every result is the same whatever the number of
//! threads. Semantics, argument names and output sizes are PyTorch's
//! (`torch.nn.functional`): along each axis a window of `kernel` taps `dilation` apart
//! moves `stride` at a time over the input padded with `padding` zeros on both sides,
//! `(size + 2·padding − dilation·(kernel − 1) − 1) / stride + 1` times (floor).

use super::conv_direct as direct;
use super::transpose::transpose_into;
use crate::error::{Error, Result};
use crate::tensor::PAR_MIN;
use crate::{Float, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;

/// A window sliding over the last two axes of an NCHW tensor: each field is a
/// `[height, width]` pair. Build one with [`Window2d::new`] and the setters.
///
/// ```
/// use descent_tensor::Window2d;
/// let w = Window2d::new([3, 3]).stride([2, 2]).padding([1, 1]);
/// assert_eq!(w.dilation, [1, 1]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window2d {
    /// Taps per axis.
    pub kernel: [usize; 2],
    /// Step between window positions.
    pub stride: [usize; 2],
    /// Zeros added before and after the input along each axis.
    pub padding: [usize; 2],
    /// Step between taps (1: adjacent).
    pub dilation: [usize; 2],
    /// Pooling only: count positions with `ceil` instead of `floor`, so a last, partial
    /// window covers the input's far edge (PyTorch's `ceil_mode`; the last window must
    /// still start inside the input or its left padding). Convolutions and `unfold`
    /// refuse it, as PyTorch has no such option for them.
    pub ceil_mode: bool,
}

impl Window2d {
    /// A `kernel` window with stride 1, no padding and no dilation (`F.unfold`'s defaults).
    pub fn new(kernel: [usize; 2]) -> Self {
        Window2d {
            kernel,
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            ceil_mode: false,
        }
    }

    /// The same window with another stride.
    pub fn stride(self, stride: [usize; 2]) -> Self {
        Window2d { stride, ..self }
    }

    /// The same window with another padding.
    pub fn padding(self, padding: [usize; 2]) -> Self {
        Window2d { padding, ..self }
    }

    /// The same window with another dilation.
    pub fn dilation(self, dilation: [usize; 2]) -> Self {
        Window2d { dilation, ..self }
    }

    /// The same window counting positions with `ceil` (`true`) or `floor` (pooling only).
    ///
    /// ```
    /// use descent_tensor::{Tensor, Window2d};
    /// let x = Tensor::<f32>::arange(0., 25., 1.)?.reshape(&[1, 1, 5, 5])?;
    /// let win = Window2d::new([2, 2]).stride([2, 2]);
    /// assert_eq!(x.max_pool2d(win)?.shape(), [1, 1, 2, 2]);
    /// let y = x.max_pool2d(win.ceil_mode(true))?;        // a last, partial window
    /// assert_eq!(y.shape(), [1, 1, 3, 3]);
    /// assert_eq!(y.to_vec()[..3], [6., 8., 9.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    pub fn ceil_mode(self, ceil_mode: bool) -> Self {
        Window2d { ceil_mode, ..self }
    }

    /// Refuses `ceil_mode` for an op that has none (the convolutions, `unfold`, `fold`).
    pub(crate) fn check_floor(&self, op: &'static str) -> Result<()> {
        if self.ceil_mode {
            return Err(Error::InvalidArgument {
                op,
                arg: "ceil_mode",
                value: "true".into(),
                why: "is a pooling option; this op counts positions with floor",
            });
        }
        Ok(())
    }

    /// Checks that kernel, stride and dilation are positive.
    pub(crate) fn check(&self, op: &'static str) -> Result<()> {
        for (arg, v) in [
            ("kernel_size", self.kernel),
            ("stride", self.stride),
            ("dilation", self.dilation),
        ] {
            if v.contains(&0) {
                return Err(Error::InvalidArgument {
                    op,
                    arg,
                    value: format!("{v:?}"),
                    why: "must be positive along both axes",
                });
            }
        }
        Ok(())
    }

    /// Window positions along each axis over an input of `[height, width]`, checked:
    /// errors name `op`, the input's shape and `other` (a weight's shape, or the kernel).
    /// PyTorch's rule: `1 + (size + 2·padding − span + (ceil_mode ? stride − 1 : 0)) /
    /// stride` with floor division, less one in ceil mode if the last window would start
    /// past the input and its left padding.
    pub(crate) fn positions(
        &self,
        op: &'static str,
        input: &[usize],
        other: &[usize],
    ) -> Result<[usize; 2]> {
        self.check(op)?;
        let mut out = [0; 2];
        for a in 0..2 {
            let axis = AXES[a];
            let size = input[input.len() - 2 + a];
            let stride = self.stride[a];
            let overflow =
                || window_error(op, format!("the padded {axis} overflows"), input, other);
            let padded = (self.padding[a].checked_mul(2))
                .and_then(|p| p.checked_add(size))
                .ok_or_else(overflow)?;
            let span = (self.kernel[a] - 1)
                .checked_mul(self.dilation[a])
                .and_then(|s| s.checked_add(1))
                .ok_or_else(overflow)?;
            let reach = match self.ceil_mode {
                true => padded.checked_add(stride - 1).ok_or_else(overflow)?,
                false => padded,
            };
            if span > reach {
                return Err(window_error(
                    op,
                    format!(
                        "output {axis} would be zero: the kernel spans {span} but the padded input {axis} is {padded}"
                    ),
                    input,
                    other,
                ));
            }
            let mut n = (reach - span) / stride + 1;
            // In ceil mode the last window must start inside the input or its left padding.
            if self.ceil_mode && (n - 1) * stride >= size + self.padding[a] {
                n -= 1;
            }
            if n == 0 {
                return Err(window_error(
                    op,
                    format!("output {axis} would be zero: no window starts inside the input"),
                    input,
                    other,
                ));
            }
            out[a] = n;
        }
        Ok(out)
    }
}

/// The names of the two window axes, for error messages.
pub(crate) const AXES: [&str; 2] = ["height", "width"];

/// A [`Error::Window`].
pub(crate) fn window_error(
    op: &'static str,
    detail: String,
    input: &[usize],
    other: &[usize],
) -> Error {
    Error::Window {
        op,
        detail,
        input: input.to_vec(),
        other: other.to_vec(),
    }
}

/// Stride, padding, dilation and groups of a convolution (PyTorch's `Conv2d` arguments;
/// `Default` is PyTorch's: 1, 0, 1, 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvOptions {
    /// Step between window positions.
    pub stride: [usize; 2],
    /// Zeros added on both sides of each axis.
    pub padding: [usize; 2],
    /// Step between kernel taps.
    pub dilation: [usize; 2],
    /// Channel groups: group `g` of the output sees only group `g` of the input.
    pub groups: usize,
}

impl Default for ConvOptions {
    fn default() -> Self {
        ConvOptions {
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
            groups: 1,
        }
    }
}

impl ConvOptions {
    /// The window these options slide with a `kernel`.
    pub fn window(&self, kernel: [usize; 2]) -> Window2d {
        Window2d {
            kernel,
            stride: self.stride,
            padding: self.padding,
            dilation: self.dilation,
            ceil_mode: false,
        }
    }
}

/// The four axes of an NCHW tensor, or a rank error naming `op` and what was expected.
pub(crate) fn dims4<F: Float>(
    op: &'static str,
    expected: &'static str,
    t: &Tensor<F>,
) -> Result<[usize; 4]> {
    match *t.shape() {
        [a, b, c, d] => Ok([a, b, c, d]),
        _ => Err(Error::Rank {
            op,
            expected,
            shape: t.shape().to_vec(),
        }),
    }
}

/// The product of `sizes`, or an error naming `op` and the operands if it overflows.
pub(crate) fn checked_numel(
    op: &'static str,
    sizes: &[usize],
    input: &[usize],
    other: &[usize],
) -> Result<usize> {
    sizes
        .iter()
        .try_fold(1usize, |acc, &n| acc.checked_mul(n))
        .ok_or_else(|| window_error(op, format!("{sizes:?} elements overflow"), input, other))
}

/// Buffers from this many bytes up are first asked of the allocator without being touched,
/// so that a size no memory can hold is an error and not an abort.
const PROBE_BYTES: usize = 1 << 30;

/// [`checked_numel`] for a buffer of `sizes` elements of `T` that `op` is about to
/// allocate: also an error if its bytes pass `isize::MAX`, or if the allocator refuses
/// them (a broadcast view can claim terabytes over a few bytes of storage).
pub(crate) fn checked_alloc<T>(
    op: &'static str,
    sizes: &[usize],
    input: &[usize],
    other: &[usize],
) -> Result<usize> {
    let n = checked_numel(op, sizes, input, other)?;
    let bytes = n
        .checked_mul(size_of::<T>())
        .filter(|&b| b <= isize::MAX as usize);
    let refused = || {
        let gb = n as f64 * size_of::<T>() as f64 / 1e9;
        window_error(
            op,
            format!("{sizes:?} elements ({gb:.3e} GB) cannot be allocated"),
            input,
            other,
        )
    };
    match bytes {
        None => Err(refused()),
        Some(b) if b >= PROBE_BYTES => {
            let mut probe = Vec::<T>::new();
            probe.try_reserve_exact(n).map_err(|_| refused())?;
            Ok(n)
        }
        Some(_) => Ok(n),
    }
}

const INPUT: &str = "4 dims [N, C, H, W]";

impl<F: Float> Tensor<F> {
    /// im2col, as PyTorch's `F.unfold`: `[N, C, H, W] → [N, C·kh·kw, L]`, where column `l`
    /// holds the window at position `l` (row-major over the `oh × ow` positions), rows
    /// ordered `(c, i, j)`; taps in the padding are zero. Any strides.
    ///
    /// ```
    /// use descent_tensor::{Tensor, Window2d};
    /// let x = Tensor::<f32>::arange(0., 9., 1.)?.reshape(&[1, 1, 3, 3])?;
    /// let cols = x.unfold(Window2d::new([2, 2]))?;        // four 2×2 windows
    /// assert_eq!(cols.shape(), [1, 4, 4]);
    /// assert_eq!(cols.to_vec()[..4], [0., 1., 3., 4.]);    // tap (0, 0) of each window
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Rank`] unless `self` has 4 axes; [`Error::InvalidArgument`] for
    /// a zero kernel, stride or dilation, or `ceil_mode`; [`Error::Window`] if the window
    /// does not fit in the padded input.
    pub fn unfold(&self, window: Window2d) -> Result<Self> {
        let op = "unfold";
        let shape = dims4(op, INPUT, self)?;
        window.check_floor(op)?;
        let [oh, ow] = window.positions(op, &shape, &window.kernel)?;
        let [n, c, _, _] = shape;
        let [kh, kw] = window.kernel;
        checked_alloc::<F>(op, &[n, c, kh, kw, oh, ow], &shape, &window.kernel)?;
        Ok(self.unfold_unchecked(window, [oh, ow]))
    }

    /// [`Tensor::unfold`] of a 4-D tensor whose window was checked to give `[oh, ow]`
    /// positions.
    fn unfold_unchecked(&self, win: Window2d, out: [usize; 2]) -> Self {
        let [n, c] = [self.shape[0], self.shape[1]];
        let rows = c * win.kernel[0] * win.kernel[1];
        let per_sample = rows * out[0] * out[1];
        let total = n * per_sample;
        let mut v = F::pool().take(total);
        v.resize(total, F::zero());
        if per_sample > 0 {
            let fill = |(b, cols): (usize, &mut [F])| im2col(self, b, 0..c, win, out, cols);
            if total >= PAR_MIN && n > 1 && rayon::current_num_threads() > 1 {
                v.par_chunks_mut(per_sample).enumerate().for_each(fill);
            } else {
                v.chunks_mut(per_sample).enumerate().for_each(fill);
            }
        }
        Tensor::from_parts(v, vec![n, rows, out[0] * out[1]])
    }

    /// col2im, as PyTorch's `F.fold`: the adjoint of [`Tensor::unfold`]. `[N, C·kh·kw, L]`
    /// columns are summed back into `[N, C, H, W]` with `[H, W] = output_size`; `L` must be
    /// the number of window positions over that size. Overlapping taps add up, in the
    /// order PyTorch adds them. Any strides (a broadcast view included).
    ///
    /// # Errors
    /// [`Error::Rank`] unless `self` has 3 axes; [`Error::Window`] if the rows
    /// are not a multiple of `kh·kw` or `L` does not match; as [`Tensor::unfold`] for the
    /// window (`ceil_mode` included).
    pub fn fold(&self, output_size: [usize; 2], window: Window2d) -> Result<Self> {
        let op = "fold";
        let [n, rows, l] = match *self.shape() {
            [a, b, c] => [a, b, c],
            _ => {
                return Err(Error::Rank {
                    op,
                    expected: "3 dims [N, C·kh·kw, L]",
                    shape: self.shape().to_vec(),
                })
            }
        };
        window.check_floor(op)?;
        let [kh, kw] = window.kernel;
        let [oh, ow] = window.positions(op, &output_size, &window.kernel)?;
        let taps = checked_numel(op, &[kh, kw], self.shape(), &window.kernel)?;
        if !rows.is_multiple_of(taps) {
            return Err(window_error(
                op,
                format!("{rows} rows are not a multiple of the kernel's {taps} taps"),
                self.shape(),
                &window.kernel,
            ));
        }
        let positions = checked_numel(op, &[oh, ow], self.shape(), &window.kernel)?;
        if l != positions {
            return Err(window_error(
                op,
                format!(
                    "{l} columns, but the window has {oh}×{ow} = {positions} positions over {output_size:?}"
                ),
                self.shape(),
                &window.kernel,
            ));
        }
        let c = rows / taps;
        let [h, w] = output_size;
        checked_alloc::<F>(op, &[n, c, h, w], self.shape(), &window.kernel)?;
        let [s0, s1, s2] = [self.strides[0], self.strides[1], self.strides[2]];
        let (data, offset) = (&self.data.0, self.offset);
        let total = n * c * h * w;
        let mut v = F::pool().take(total);
        v.resize(total, F::zero());
        if total == 0 {
            return Ok(Tensor::from_parts(v, vec![n, c, h, w]));
        }
        // Planes are independent: each adds its own rows of columns in.
        let fill = |p: usize, img: &mut [F]| {
            let (b, ch) = (p / c, p % c);
            let base = offset + b * s0 + ch * taps * s1;
            col2im(&data[..], base, [s1, s2], window, [oh, ow], [h, w], img);
        };
        if total.saturating_mul(taps) >= PAR_MIN && rayon::current_num_threads() > 1 {
            v.par_chunks_mut(h * w)
                .enumerate()
                .for_each(|(p, img)| fill(p, img));
        } else {
            v.chunks_mut(h * w)
                .enumerate()
                .for_each(|(p, img)| fill(p, img));
        }
        Ok(Tensor::from_parts(v, vec![n, c, h, w]))
    }

    /// 2-D cross-correlation, as PyTorch's `F.conv2d`: input `[N, C, H, W]`, weight
    /// `[O, C/groups, kh, kw]`, optional bias `[O]` → `[N, O, oh, ow]`. Computed as
    /// [`Tensor::unfold`] into one buffer and one [`Tensor::matmul`] per group, split
    /// over the batch across threads when each product is too small to split itself.
    ///
    /// ```
    /// use descent_tensor::{ConvOptions, Tensor};
    /// let x = Tensor::<f64>::ones(&[1, 1, 4, 4]);
    /// let w = Tensor::<f64>::ones(&[2, 1, 3, 3]);
    /// let y = x.conv2d(&w, None, ConvOptions { padding: [1, 1], ..Default::default() })?;
    /// assert_eq!(y.shape(), [1, 2, 4, 4]);
    /// assert_eq!(y.to_vec()[..4], [4., 6., 6., 4.]);
    /// let err = Tensor::<f64>::ones(&[64, 3, 28, 28]).conv2d(&Tensor::ones(&[32, 1, 3, 3]), None, ConvOptions::default());
    /// assert_eq!(err.unwrap_err().to_string(), "conv2d: input has 3 channels, weight expects 1: [64, 3, 28, 28] * [32, 1, 3, 3]");
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Rank`] unless input and weight have 4 axes;
    /// [`Error::InvalidArgument`] for zero groups, stride or dilation;
    /// [`Error::Window`] for channels that do not match or groups that do not divide
    /// them, or a kernel larger than the padded input; [`Error::ShapeMismatch`] for a
    /// bias that is not `[O]`.
    pub fn conv2d(&self, weight: &Self, bias: Option<&Self>, opts: ConvOptions) -> Result<Self> {
        let op = "conv2d";
        let shape = dims4(op, INPUT, self)?;
        let wshape = dims4(op, "a 4-D weight [O, C/groups, kh, kw]", weight)?;
        let [n, c, _, _] = shape;
        let [o, cg, kh, kw] = wshape;
        let g = check_groups(op, opts.groups, &shape, &wshape, c, o)?;
        if cg.checked_mul(g) != Some(c) {
            return Err(window_error(
                op,
                format!(
                    "input has {c} channels, weight expects {}",
                    cg.saturating_mul(g)
                ),
                &shape,
                &wshape,
            ));
        }
        check_bias(op, bias, o)?;
        let win = opts.window([kh, kw]);
        let [oh, ow] = win.positions(op, &shape, &wshape)?;
        let kk = checked_numel(op, &[cg, kh, kw], &shape, &wshape)?;
        let l = checked_numel(op, &[oh, ow], &shape, &wshape)?;
        checked_alloc::<F>(op, &[kk, l], &shape, &wshape)?;
        checked_alloc::<F>(op, &[n, o, l], &shape, &wshape)?;
        // The weight's contiguous copy (a broadcast view can claim any size).
        checked_alloc::<F>(op, &[o, kk], &shape, &wshape)?;
        let threads = rayon::current_num_threads();
        if n < threads && (o / g).saturating_mul(kk * l) >= 1 << 18 {
            checked_alloc::<F>(op, &[n, c, kh, kw, l], &shape, &wshape)?;
            // Too few samples to keep every thread busy: one product per group over the
            // whole batch's columns, which `matmul` splits across threads itself.
            let cols = self
                .unfold_unchecked(win, [oh, ow])
                .reshape(&signed(&[n, g, kk, l]))?;
            let w = weight.reshape(&signed(&[g, o / g, kk]))?;
            let y = w.matmul(&cols)?.reshape(&signed(&[n, o, oh, ow]))?;
            return add_bias(y, bias);
        }
        let w = weight.contiguous();
        let wd = &w.data.0[w.offset..];
        let og = o / g;
        // The bias is written first and the product added to it (one pass fewer).
        let bias = bias.map(Tensor::contiguous);
        let bias = bias.as_ref().map(|b| &b.data.0[b.offset..b.offset + o]);
        if opts.stride == [1, 1] && direct::available::<F>() {
            // The padded input of a sample's group (the padded sizes were checked).
            let padded = [
                shape[2] + 2 * opts.padding[0],
                shape[3] + 2 * opts.padding[1],
            ];
            checked_alloc::<F>(op, &[cg, padded[0], padded[1]], &shape, &wshape)?;
            let y = self.conv2d_direct(wd, bias, [o, g], [kh, kw], opts, [oh, ow]);
            return Ok(Tensor::from_parts(y, vec![n, o, oh, ow]));
        }
        let beta = if bias.is_some() { F::one() } else { F::zero() };
        let y = per_sample(
            n,
            o * l,
            kk * l,
            (n * o * l).saturating_mul(kk),
            |b, y, cols| {
                // With a bias the rows start as it and the product is added (`β = 1`);
                // without, the product (`β = 0`) writes every element of `y`.
                if let Some(bias) = bias {
                    y.chunks_mut(l)
                        .zip(bias)
                        .for_each(|(row, &v)| _ = fill_uninit(row, v));
                }
                for grp in 0..g {
                    im2col(self, b, grp * cg..(grp + 1) * cg, win, [oh, ow], cols);
                    // SAFETY: the weight's group is a row-major `og×kk` block of `wd`, `cols`
                    // is `kk×l` and the output's group an `og×l` block of `y`, initialized
                    // above when `β = 1` and only written when `β = 0`.
                    unsafe {
                        F::gemm(
                            og,
                            kk,
                            l,
                            F::one(),
                            wd.as_ptr().add(grp * og * kk),
                            kk as isize,
                            1,
                            cols.as_ptr(),
                            l as isize,
                            1,
                            beta,
                            y.as_mut_ptr().cast::<F>().add(grp * og * l),
                            l as isize,
                            1,
                        );
                    }
                }
            },
        );
        Ok(Tensor::from_parts(y, vec![n, o, oh, ow]))
    }

    /// [`Tensor::conv2d`] with stride 1 by the direct kernel ([`direct::available`]): per
    /// sample and group the input channels are copied with their zero padding and the
    /// kernel adds each depth block of taps to the output, which starts as the bias (or
    /// zero). These are the sums, in the order, of the im2col product with `β = 1`.
    fn conv2d_direct(
        &self,
        wd: &[F],
        bias: Option<&[F]>,
        [o, g]: [usize; 2],
        [kh, kw]: [usize; 2],
        opts: ConvOptions,
        [oh, ow]: [usize; 2],
    ) -> Vec<F> {
        let [n, c, h, w] = [self.shape[0], self.shape[1], self.shape[2], self.shape[3]];
        let (cg, og, l) = (c / g, o / g, oh * ow);
        let ([ph, pw], [dh, dw]) = (opts.padding, opts.dilation);
        let (hp, wp) = (h + 2 * ph, w + 2 * pw);
        let taps = cg * kh * kw;
        // Tap `(ch, ki, kj)`, in the weight's order, reads this far from the position.
        let offsets: Vec<usize> = (0..taps)
            .map(|t| {
                let (ch, ki, kj) = (t / (kh * kw), t / kw % kh, t % kw);
                (ch * hp + ki * dh) * wp + kj * dw
            })
            .collect();
        let ends = depth_block_ends(taps);
        let packed: Vec<Vec<F>> = (0..g)
            .map(|grp| direct::pack(og, taps, |r, t| wd[(grp * og + r) * taps + t]))
            .collect();
        let y = per_sample(
            n,
            o * l,
            cg * hp * wp + direct::SLACK,
            (n * o * l).saturating_mul(taps),
            |b, y, xp| {
                for (ch, row) in y.chunks_mut(l).enumerate() {
                    fill_uninit(row, bias.map_or(F::zero(), |bias| bias[ch]));
                }
                // SAFETY: every element was written just above.
                let y = unsafe { &mut *(y as *mut [MaybeUninit<F>] as *mut [F]) };
                for (grp, (w, y)) in packed.iter().zip(y.chunks_mut(og * l)).enumerate() {
                    pad_channels(self, b, grp * cg..(grp + 1) * cg, [ph, pw], xp);
                    direct::run(xp, wp, &offsets, &ends, w, y, og, [oh, ow], false);
                }
            },
        );
        packed.into_iter().for_each(|p| F::pool().give(p));
        y
    }

    /// The transposed convolution, as PyTorch's `F.conv_transpose2d`: the adjoint of
    /// [`Tensor::conv2d`] with respect to its input (plus a bias). Input `[N, C, H, W]`,
    /// weight `[C, O/groups, kh, kw]`, optional bias `[O]` → `[N, O, H', W']` with
    /// `H' = (H − 1)·stride − 2·padding + dilation·(kh − 1) + output_padding + 1`.
    /// Computed as one [`Tensor::matmul`] per group and a [`Tensor::fold`].
    /// `output_padding` must be below the stride (PyTorch also allows below the dilation).
    ///
    /// # Errors
    /// As [`Tensor::conv2d`], and [`Error::InvalidArgument`] for an `output_padding`
    /// not below the stride; [`Error::Window`] if the output would be empty.
    pub fn conv_transpose2d(
        &self,
        weight: &Self,
        bias: Option<&Self>,
        opts: ConvOptions,
        output_padding: [usize; 2],
    ) -> Result<Self> {
        let op = "conv_transpose2d";
        let shape = dims4(op, INPUT, self)?;
        let wshape = dims4(op, "a 4-D weight [C, O/groups, kh, kw]", weight)?;
        let [n, c, h, w_] = shape;
        let [wc, og, kh, kw] = wshape;
        let g = check_groups(op, opts.groups, &shape, &wshape, c, c)?;
        if wc != c {
            return Err(window_error(
                op,
                format!("input has {c} channels, weight expects {wc}"),
                &shape,
                &wshape,
            ));
        }
        if (0..2).any(|a| output_padding[a] >= opts.stride[a]) {
            return Err(Error::InvalidArgument {
                op,
                arg: "output_padding",
                value: format!("{output_padding:?}"),
                why: "must be smaller than the stride along each axis",
            });
        }
        let o = og
            .checked_mul(g)
            .ok_or_else(|| window_error(op, "output channels overflow".into(), &shape, &wshape))?;
        check_bias(op, bias, o)?;
        let win = opts.window([kh, kw]);
        win.check(op)?;
        let mut size = [0; 2];
        for a in 0..2 {
            let (axis, len) = (AXES[a], [h, w_][a]);
            let k = [kh, kw][a];
            let grown = (len.checked_sub(1))
                .and_then(|m| m.checked_mul(opts.stride[a]))
                .zip((k - 1).checked_mul(opts.dilation[a]))
                .and_then(|(m, span)| m.checked_add(span))
                .and_then(|m| m.checked_add(output_padding[a] + 1));
            let pad2 = opts.padding[a].checked_mul(2);
            size[a] = match (grown, pad2) {
                (Some(m), Some(p)) if m > p => m - p,
                (Some(m), Some(p)) => {
                    return Err(window_error(
                        op,
                        format!("output {axis} would be {m} − {p} ≤ 0"),
                        &shape,
                        &wshape,
                    ))
                }
                _ => {
                    return Err(window_error(
                        op,
                        format!("output {axis} overflows or the input {axis} is 0"),
                        &shape,
                        &wshape,
                    ))
                }
            };
        }
        win.positions(op, &[size[0], size[1]], &wshape)?;
        let (cg, ok) = (c / g, checked_numel(op, &[og, kh, kw], &shape, &wshape)?);
        let l = checked_numel(op, &[h, w_], &shape, &wshape)?;
        checked_numel(op, &[n, o, kh, kw, l], &shape, &wshape)?;
        checked_alloc::<F>(op, &[ok, l], &shape, &wshape)?;
        checked_alloc::<F>(op, &[n, o, size[0], size[1]], &shape, &wshape)?;
        // The operands' contiguous copies.
        checked_alloc::<F>(op, &shape, &shape, &wshape)?;
        checked_alloc::<F>(op, &wshape, &shape, &wshape)?;
        let (x, w) = (self.contiguous(), weight.contiguous());
        let (xd, wd) = (&x.data.0[x.offset..], &w.data.0[w.offset..]);
        let plane = size[0] * size[1];
        // The columns' product by the direct kernel: the input's group (copied, with room
        // for the kernel's last loads) read in place, the weight packed once.
        let fast = direct::available::<F>();
        let (packed, offsets, ends): (Vec<Vec<F>>, Vec<usize>, Vec<usize>) = match fast {
            true => (
                (0..g)
                    .map(|grp| direct::pack(ok, cg, |r, t| wd[(grp * cg + t) * ok + r]))
                    .collect(),
                (0..cg).map(|t| t * l).collect(),
                depth_block_ends(cg),
            ),
            false => (Vec::new(), Vec::new(), Vec::new()),
        };
        let extra = if fast { cg * l + direct::SLACK } else { 0 };
        let y = per_sample(
            n,
            o * plane,
            ok * l + extra,
            (n * c).saturating_mul(ok * l),
            |b, y, scratch| {
                let (cols, xg) = scratch.split_at_mut(ok * l);
                // col2im adds the columns in: the sample starts at zero.
                let y = fill_uninit(y, F::zero());
                for grp in 0..g {
                    let xs = &xd[(b * c + grp * cg) * l..(b * c + grp * cg + cg) * l];
                    if fast {
                        xg[..cg * l].copy_from_slice(xs);
                        let w = &packed[grp];
                        direct::run(xg, l, &offsets, &ends, w, cols, ok, [1, l], true);
                    } else {
                        // SAFETY: the weight's group is a row-major `cg×ok` block of `wd`
                        // (read transposed), `xs` is the input's group, row-major `cg×l`,
                        // and `cols` is `ok×l`.
                        unsafe {
                            F::gemm(
                                ok,
                                cg,
                                l,
                                F::one(),
                                wd.as_ptr().add(grp * cg * ok),
                                1,
                                ok as isize,
                                xs.as_ptr(),
                                l as isize,
                                1,
                                F::zero(),
                                cols.as_mut_ptr(),
                                l as isize,
                                1,
                            );
                        }
                    }
                    let out = &mut y[grp * og * plane..(grp + 1) * og * plane];
                    for ch in 0..og {
                        let img = &mut out[ch * plane..(ch + 1) * plane];
                        let base = ch * kh * kw * l;
                        col2im(cols, base, [l, 1], win, [h, w_], size, img);
                    }
                }
            },
        );
        packed.into_iter().for_each(|p| F::pool().give(p));
        add_bias(Tensor::from_parts(y, vec![n, o, size[0], size[1]]), bias)
    }

    /// The weight gradient of [`Tensor::conv2d`]: with `self` the output's gradient
    /// `[N, O, oh, ow]` and `input` the convolution's input `[N, C, H, W]`, the
    /// `[O, C/groups, kh, kw]` sum over the batch of, per group, the gradient times the
    /// unfolded input transposed. With `self` the input of a [`Tensor::conv_transpose2d`]
    /// and `input` its output's gradient, it is that op's weight gradient. Samples are
    /// summed in fixed chunks, in order, so the result does not depend on the threads.
    ///
    /// ```
    /// use descent_tensor::{ConvOptions, Tensor};
    /// let x = Tensor::<f64>::ones(&[2, 1, 3, 3]);
    /// let g = Tensor::<f64>::ones(&[2, 1, 2, 2]);      // dL/dy of a 2×2 convolution
    /// let dw = g.conv2d_weight_grad(&x, [2, 2], ConvOptions::default())?;
    /// assert_eq!(dw.to_vec(), [8.; 4]);                // 2 samples × 4 positions
    /// # Ok::<(), descent_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::Rank`] unless both have 4 axes; [`TensorError::Window`] if the batch
    /// sizes differ, `groups` does not divide the channels, or the window's positions over
    /// `input` are not the gradient's `[oh, ow]`; [`TensorError::InvalidArgument`] for a
    /// zero kernel, stride, dilation or groups.
    pub fn conv2d_weight_grad(
        &self,
        input: &Self,
        kernel: [usize; 2],
        opts: ConvOptions,
    ) -> Result<Self> {
        let op = "conv2d_weight_grad";
        let gshape = dims4(op, "a 4-D gradient [N, O, oh, ow]", self)?;
        let shape = dims4(op, INPUT, input)?;
        let ([n, o, oh, ow], [n2, c, _, _]) = (gshape, shape);
        if n != n2 {
            return Err(window_error(
                op,
                format!("the gradient has {n} samples, the input {n2}"),
                &gshape,
                &shape,
            ));
        }
        let g = check_groups(op, opts.groups, &shape, &gshape, c, o)?;
        let win = opts.window(kernel);
        if win.positions(op, &shape, &gshape)? != [oh, ow] {
            return Err(window_error(
                op,
                format!(
                    "the window has {:?} positions over the input, the gradient {:?}",
                    win.positions(op, &shape, &gshape)?,
                    [oh, ow]
                ),
                &gshape,
                &shape,
            ));
        }
        let (cg, og, l) = (c / g, o / g, oh * ow);
        let kk = checked_numel(op, &[cg, kernel[0], kernel[1]], &gshape, &shape)?;
        checked_numel(op, &[o, kk, l], &gshape, &shape)?;
        checked_alloc::<F>(op, &[kk, l], &gshape, &shape)?;
        checked_alloc::<F>(op, &[o, kk], &gshape, &shape)?;
        // The gradient's contiguous copy.
        checked_alloc::<F>(op, &gshape, &gshape, &shape)?;
        let a = self.contiguous();
        let ad = &a.data.0[a.offset..];
        // The input's contiguous copy, whose samples are transposed to pixels of `c`
        // channels (`[H, W, C]`) one at a time.
        checked_alloc::<F>(op, &shape, &gshape, &shape)?;
        let x = input.contiguous();
        let xd = &x.data.0[x.offset..];
        let [h, w] = [shape[2], shape[3]];
        let hw = h * w;
        let len = o * kk;
        let chunks = n.div_ceil(WEIGHT_GRAD_CHUNK);
        // The sums are formed with the taps ordered `(ki, kj, c)` (see `im2row`) and
        // permuted to the weight's `(c, ki, kj)` at the end: each element is the same sum,
        // in the same order, as with the columns of `unfold`.
        // With the input's channels in panels of eight, the direct kernel reads the taps in
        // place from the sample transposed to pixels and padded: no rows built or packed.
        let direct_wg = direct::available::<F>() && cg > 0 && cg % direct::LANES == 0;
        let ([ph, pw], [sh, sw], [dh, dw]) = (opts.padding, opts.stride, opts.dilation);
        let [hp, wp] = [h + 2 * ph, w + 2 * pw];
        if direct_wg {
            checked_alloc::<F>(op, &[hp, wp, c], &gshape, &shape)?;
        }
        let pix: Vec<usize> = match direct_wg {
            true => (0..l)
                .map(|p| ((p / ow * sh) * wp + p % ow * sw) * c)
                .collect(),
            false => Vec::new(),
        };
        let panels: Vec<Vec<usize>> = match direct_wg {
            true => (0..g)
                .map(|grp| {
                    (0..kk / direct::LANES)
                        .map(|q| {
                            let t = q * direct::LANES;
                            let (ki, kj, ch) = (t / (kernel[1] * cg), t / cg % kernel[1], t % cg);
                            ((ki * dh) * wp + kj * dw) * c + grp * cg + ch
                        })
                        .collect()
                })
                .collect(),
            false => Vec::new(),
        };
        let partial_direct = |i: usize| -> Vec<F> {
            let mut acc = F::pool().take(len);
            acc.resize(len, F::zero());
            let mut xt = F::pool().take(hp * wp * c);
            xt.resize(hp * wp * c, F::zero());
            let blocks = og.div_ceil(direct::MR);
            let mut gp = F::pool().take(g * blocks * l * direct::MR);
            gp.resize(g * blocks * l * direct::MR, F::zero());
            let block = POSITION_BLOCK.min(l).max(1);
            for b in i * WEIGHT_GRAD_CHUNK..((i + 1) * WEIGHT_GRAD_CHUNK).min(n) {
                for y in 0..h {
                    // SAFETY: row `y` of sample `b` is `c` runs of `w` values `hw` apart in
                    // `xd`; its row in `xt`, inside the padding, has room for `w·c` values.
                    unsafe {
                        let src = xd.as_ptr().add(b * c * hw + y * w);
                        let dst = xt.as_mut_ptr().add(((y + ph) * wp + pw) * c);
                        transpose_into(src, c, w, hw, dst);
                    }
                }
                for (grp, panels) in panels.iter().enumerate() {
                    let gp = &mut gp[grp * blocks * l * direct::MR..];
                    direct::pack_rows(&ad[(b * o + grp * og) * l..], og, l, gp);
                    for p0 in (0..l).step_by(block) {
                        let (a, pix) = (&gp[p0 * direct::MR..], &pix[p0..(p0 + block).min(l)]);
                        let acc = &mut acc[grp * og * kk..];
                        direct::weight_grad(a, l, og, &xt, pix, panels, acc, kk);
                    }
                }
            }
            F::pool().give(gp);
            F::pool().give(xt);
            acc
        };
        let partial = |i: usize| -> Vec<F> {
            let mut acc = F::pool().take(len);
            acc.resize(len, F::zero());
            let block = POSITION_BLOCK.min(l);
            let mut rows = F::pool().take(block * kk);
            rows.resize(block * kk, F::zero());
            let mut xt = F::pool().take(hw * c);
            xt.resize(hw * c, F::zero());
            let end = ((i + 1) * WEIGHT_GRAD_CHUNK).min(n);
            for b in i * WEIGHT_GRAD_CHUNK..end {
                // SAFETY: sample `b` is a contiguous `c×hw` block of `xd`; `xt` holds `hw·c`.
                unsafe { transpose_into(xd.as_ptr().add(b * c * hw), c, hw, hw, xt.as_mut_ptr()) };
                for grp in 0..g {
                    let chans = grp * cg..(grp + 1) * cg;
                    for p0 in (0..l).step_by(block.max(1)) {
                        let span = p0..(p0 + block).min(l);
                        let k = span.len();
                        im2row(
                            &xt,
                            [h, w, c],
                            chans.clone(),
                            win,
                            [oh, ow],
                            span,
                            &mut rows,
                        );
                        // SAFETY: the gradient's group is a row-major `og×l` block of `ad`
                        // (columns `p0..p0 + k` taken), `rows` is `k×kk` row-major, the
                        // accumulator's group is an `og×kk` block of `acc`.
                        unsafe {
                            F::gemm(
                                og,
                                k,
                                kk,
                                F::one(),
                                ad.as_ptr().add((b * o + grp * og) * l + p0),
                                l as isize,
                                1,
                                rows.as_ptr(),
                                kk as isize,
                                1,
                                F::one(),
                                acc.as_mut_ptr().add(grp * og * kk),
                                kk as isize,
                                1,
                            );
                        }
                    }
                }
            }
            F::pool().give(rows);
            F::pool().give(xt);
            acc
        };
        let run = |i| {
            if direct_wg {
                partial_direct(i)
            } else {
                partial(i)
            }
        };
        let parallel = chunks > 1
            && rayon::current_num_threads() > 1
            && (len * l).saturating_mul(n) >= PAR_MIN;
        // Each chunk a job of its own: rayon's default split leaves the caller runs of
        // chunks that an idle thread cannot take.
        let parts: Vec<Vec<F>> = if parallel {
            (0..chunks)
                .into_par_iter()
                .with_max_len(1)
                .map(run)
                .collect()
        } else {
            (0..chunks).map(run).collect()
        };
        let mut parts = parts.into_iter();
        let mut sum = parts.next().unwrap_or_else(|| {
            let mut v = F::pool().take(len);
            v.resize(len, F::zero());
            v
        });
        for p in parts {
            sum.iter_mut().zip(&p).for_each(|(s, &v)| *s += v);
            F::pool().give(p);
        }
        // `(o, ki, kj, c)` to the weight's `(o, c, ki, kj)`.
        let taps = kernel[0] * kernel[1];
        let mut dw = F::pool().take(len);
        dw.extend((0..len).map(|e| {
            let (row, r) = (e / kk, e % kk);
            let (ch, tap) = (r / taps, r % taps);
            sum[row * kk + tap * cg + ch]
        }));
        F::pool().give(sum);
        Ok(Tensor::from_parts(dw, vec![o, cg, kernel[0], kernel[1]]))
    }
}

/// matrixmultiply's `f32` depth block (`kc`): a product's sums over longer depths are
/// formed a block at a time, each block's sum added to the output.
const DEPTH_BLOCK: usize = 256;

/// Where each [`DEPTH_BLOCK`] of a `depth`-long sum ends, for the direct kernels.
fn depth_block_ends(depth: usize) -> Vec<usize> {
    (1..=depth.div_ceil(DEPTH_BLOCK))
        .map(|i| (i * DEPTH_BLOCK).min(depth))
        .collect()
}

/// Window positions per product of [`Tensor::conv2d_weight_grad`]: the transposed columns
/// of a block stay in cache while the product packs them. matrixmultiply's `f32` depth
/// block, so splitting the sum over positions changes no `f32` result.
const POSITION_BLOCK: usize = DEPTH_BLOCK;

/// Samples per partial sum of [`Tensor::conv2d_weight_grad`]: chunks fixed in size, not
/// in number, keep the sum's order independent of the threads.
const WEIGHT_GRAD_CHUNK: usize = 8;

/// Runs `sample(b, out, scratch)` for every sample `b < n`, where `out` is the sample's
/// `out_len` elements of the result, uninitialized on entry (`sample` must write every
/// one: a product with `β = 0` does, so no pass zeroes what is about to be overwritten),
/// and `scratch` a buffer of `scratch_len` elements. Threads take contiguous runs of
/// samples, each with one scratch buffer from the pool, when the work (`flops`
/// multiply-adds) is worth splitting; runs of a few samples ([`balanced_runs`]), not one
/// per thread.
fn per_sample<F: Float>(
    n: usize,
    out_len: usize,
    scratch_len: usize,
    flops: usize,
    sample: impl Fn(usize, &mut [MaybeUninit<F>], &mut [F]) + Sync,
) -> Vec<F> {
    let total = n * out_len;
    let mut y = F::pool().take(total);
    if total == 0 {
        return y;
    }
    let threads = rayon::current_num_threads();
    let run = |first: usize, ys: &mut [MaybeUninit<F>]| {
        let mut scratch = F::pool().take(scratch_len);
        scratch.resize(scratch_len, F::zero());
        for (i, out) in ys.chunks_mut(out_len).enumerate() {
            sample(first + i, out, &mut scratch);
        }
        F::pool().give(scratch);
    };
    let spare = &mut y.spare_capacity_mut()[..total];
    if threads > 1 && n > 1 && flops >= PAR_MIN {
        let chunk = balanced_runs(n, threads);
        spare
            .par_chunks_mut(chunk * out_len)
            .enumerate()
            .with_max_len(1)
            .for_each(|(i, ys)| run(i * chunk, ys));
    } else {
        run(0, spare);
    }
    // SAFETY: `sample` wrote every element of every sample's `out` (its contract above).
    unsafe { y.set_len(total) };
    y
}

/// Items per job when `n` items are shared by `threads` threads: about eight jobs per
/// thread, each one a job the other threads can take. With one run per thread, a thread
/// that starts late or runs slower leaves the others idle at the end.
fn balanced_runs(n: usize, threads: usize) -> usize {
    n.div_ceil(threads.saturating_mul(8)).max(1)
}

/// `out` filled with `value`, as the initialized slice it then is.
fn fill_uninit<F: Float>(out: &mut [MaybeUninit<F>], value: F) -> &mut [F] {
    out.iter_mut().for_each(|o| _ = o.write(value));
    // SAFETY: every element was written just above.
    unsafe { &mut *(out as *mut [MaybeUninit<F>] as *mut [F]) }
}

/// Channels `chans` of sample `b` of the 4-D `x` (any strides) copied into `xp` as
/// `[chans, h + 2·ph, w + 2·pw]` row-major planes, the padding zero.
fn pad_channels<F: Float>(
    x: &Tensor<F>,
    b: usize,
    chans: std::ops::Range<usize>,
    [ph, pw]: [usize; 2],
    xp: &mut [F],
) {
    let [h, w] = [x.shape[2], x.shape[3]];
    let [s0, s1, s2, s3] = [x.strides[0], x.strides[1], x.strides[2], x.strides[3]];
    let data = &x.data.0;
    let mut rows = xp.chunks_exact_mut(w + 2 * pw);
    for ch in chans {
        for iy in 0..h + 2 * ph {
            let Some(row) = rows.next() else { return };
            let Some(sy) = iy.checked_sub(ph).filter(|&sy| sy < h) else {
                row.fill(F::zero());
                continue;
            };
            row[..pw].fill(F::zero());
            row[pw + w..].fill(F::zero());
            let first = x.offset + b * s0 + ch * s1 + sy * s2;
            let dst = &mut row[pw..pw + w];
            if s3 == 1 {
                dst.copy_from_slice(&data[first..first + w]);
            } else {
                dst.iter_mut()
                    .enumerate()
                    .for_each(|(i, d)| *d = data[first + i * s3]);
            }
        }
    }
}

/// im2col of one sample: channels `chans` of sample `b` of the 4-D `x` (any strides)
/// unfolded by `win` into `cols`, `[chans·kh·kw, oh·ow]` row-major, taps in the padding
/// zero.
fn im2col<F: Float>(
    x: &Tensor<F>,
    b: usize,
    chans: std::ops::Range<usize>,
    win: Window2d,
    [oh, ow]: [usize; 2],
    cols: &mut [F],
) {
    let [h, w] = [x.shape[2], x.shape[3]];
    let [s0, s1, s2, s3] = [x.strides[0], x.strides[1], x.strides[2], x.strides[3]];
    let ([kh, kw], [sh, sw], [ph, pw], [dh, dw]) =
        (win.kernel, win.stride, win.padding, win.dilation);
    let (data, l) = (&x.data.0, oh * ow);
    let mut rows = cols.chunks_exact_mut(l.max(1));
    for ch in chans {
        for ki in 0..kh {
            for kj in 0..kw {
                let Some(row) = rows.next() else { return };
                // Tap `kj` of window `ox` reads column `ox·sw + kj·dw − pw`, inside the
                // image for `lo ≤ ox < hi`: zeros around one run of reads.
                let shift = kj * dw;
                let lo = pw.saturating_sub(shift).div_ceil(sw).min(ow);
                let hi = (w + pw).checked_sub(shift).map_or(0, |e| e.div_ceil(sw));
                let hi = hi.min(ow).max(lo);
                let step = sw * s3;
                for (oy, seg) in row.chunks_exact_mut(ow.max(1)).enumerate() {
                    let iy = (oy * sh + ki * dh) as isize - ph as isize;
                    if iy < 0 || iy >= h as isize {
                        seg.fill(F::zero());
                        continue;
                    }
                    seg[..lo].fill(F::zero());
                    seg[hi..].fill(F::zero());
                    if hi > lo {
                        let first = x.offset + b * s0 + ch * s1 + iy as usize * s2;
                        let first = first + (lo * sw + shift - pw) * s3;
                        let run = &mut seg[lo..hi];
                        if step == 1 {
                            run.copy_from_slice(&data[first..first + run.len()]);
                        } else {
                            let src = data[first..].iter().step_by(step);
                            run.iter_mut().zip(src).for_each(|(o, &v)| *o = v);
                        }
                    }
                }
            }
        }
    }
}

/// im2col transposed, for the weight gradient: row `pos` of `rows` (`[oh·ow, kh·kw·cg]`
/// row-major) holds window `pos`'s taps over channels `chans` of `xt`, one sample's pixels
/// with their `c` channels side by side (`[h, w, c]`), ordered `(ki, kj, channel)`, taps in
/// the padding zero. In this order a window's row is a few runs of whole pixels (one per
/// kernel row when the taps are adjacent and every channel is taken), so it is built by
/// copies and the product's packing copies it row by row; the columns of [`im2col`] would
/// be gathered along their rows.
fn im2row<F: Float>(
    xt: &[F],
    [h, w, c]: [usize; 3],
    chans: std::ops::Range<usize>,
    win: Window2d,
    [_, ow]: [usize; 2],
    positions: std::ops::Range<usize>,
    rows: &mut [F],
) {
    let ([kh, kw], [sh, sw], [ph, pw], [dh, dw]) =
        (win.kernel, win.stride, win.padding, win.dilation);
    let cg = chans.len();
    let kk = kh * kw * cg;
    if kk == 0 {
        return;
    }
    // Adjacent taps over every channel: each kernel row is one run of whole pixels.
    let whole = dw == 1 && cg == c;
    for (pos, row) in positions.zip(rows.chunks_exact_mut(kk)) {
        let (oy, ox) = (pos / ow, pos % ow);
        for ki in 0..kh {
            let taps = &mut row[ki * kw * cg..(ki + 1) * kw * cg];
            let iy = (oy * sh + ki * dh).checked_sub(ph).filter(|&iy| iy < h);
            let Some(iy) = iy else {
                taps.fill(F::zero());
                continue;
            };
            if whole {
                // Taps `lo..hi` land inside the image.
                let x0 = ox * sw;
                let lo = pw.saturating_sub(x0).min(kw);
                let hi = (w + pw).saturating_sub(x0).clamp(lo, kw);
                taps[..lo * c].fill(F::zero());
                taps[hi * c..].fill(F::zero());
                if hi > lo {
                    let from = (iy * w + x0 + lo - pw) * c;
                    taps[lo * c..hi * c].copy_from_slice(&xt[from..from + (hi - lo) * c]);
                }
                continue;
            }
            // A run of taps whose pixels follow each other in `xt`: `[start, end)` of the
            // row and the source offset of `start`.
            let mut run: Option<(usize, usize, usize)> = None;
            for kj in 0..kw {
                let seg = kj * cg;
                let ix = (ox * sw + kj * dw).checked_sub(pw).filter(|&ix| ix < w);
                let Some(ix) = ix else {
                    flush(taps, xt, run.take());
                    taps[seg..seg + cg].fill(F::zero());
                    continue;
                };
                let src = (iy * w + ix) * c + chans.start;
                run = match run {
                    Some((s, e, from)) if from + (e - s) == src => Some((s, e + cg, from)),
                    other => {
                        flush(taps, xt, other);
                        Some((seg, seg + cg, src))
                    }
                };
            }
            flush(taps, xt, run);
        }
    }

    /// Copies a pending run of [`im2row`].
    fn flush<F: Float>(taps: &mut [F], xt: &[F], run: Option<(usize, usize, usize)>) {
        if let Some((s, e, from)) = run {
            taps[s..e].copy_from_slice(&xt[from..from + (e - s)]);
        }
    }
}

/// col2im of one channel: the `kh·kw` rows of columns that start at `data[base]` (row
/// stride `s1`, column stride `s2`, `oh·ow` window positions each) added into the `[h, w]`
/// plane `img`, tap by tap, in the order PyTorch's col2im adds them.
fn col2im<F: Float>(
    data: &[F],
    base: usize,
    [s1, s2]: [usize; 2],
    win: Window2d,
    [oh, ow]: [usize; 2],
    [h, w]: [usize; 2],
    img: &mut [F],
) {
    let ([kh, kw], [sh, sw], [ph, pw], [dh, dw]) =
        (win.kernel, win.stride, win.padding, win.dilation);
    for ki in 0..kh {
        for kj in 0..kw {
            let first = base + (ki * kw + kj) * s1;
            // Window `ox`'s tap lands in column `ox·sw + kj·dw − pw`, inside the image for
            // `lo ≤ ox < hi`.
            let shift = kj * dw;
            let lo = pw.saturating_sub(shift).div_ceil(sw);
            let hi = (w + pw).checked_sub(shift).map_or(0, |e| e.div_ceil(sw));
            let hi = hi.min(ow).max(lo);
            for oy in 0..oh {
                let iy = (oy * sh + ki * dh) as isize - ph as isize;
                if iy < 0 || iy >= h as isize {
                    continue;
                }
                let row = &mut img[iy as usize * w..(iy as usize + 1) * w];
                let src = first + oy * ow * s2;
                if sw == 1 && s2 == 1 {
                    let dst = &mut row[lo + shift - pw..hi + shift - pw];
                    let src = &data[src + lo..src + hi];
                    dst.iter_mut().zip(src).for_each(|(d, &v)| *d += v);
                } else {
                    for ox in lo..hi {
                        row[ox * sw + shift - pw] += data[src + ox * s2];
                    }
                }
            }
        }
    }
}

/// Checks `groups` against the input's channels `c` and the output's `o`, returning it.
fn check_groups(
    op: &'static str,
    groups: usize,
    shape: &[usize],
    wshape: &[usize],
    c: usize,
    o: usize,
) -> Result<usize> {
    if groups == 0 {
        return Err(Error::InvalidArgument {
            op,
            arg: "groups",
            value: "0".into(),
            why: "must be positive",
        });
    }
    for (what, n) in [("input channels", c), ("output channels", o)] {
        if !n.is_multiple_of(groups) {
            return Err(window_error(
                op,
                format!("groups = {groups} does not divide the {n} {what}"),
                shape,
                wshape,
            ));
        }
    }
    Ok(groups)
}

/// Checks that a bias is `[o]`.
fn check_bias<F: Float>(op: &'static str, bias: Option<&Tensor<F>>, o: usize) -> Result<()> {
    match bias {
        Some(b) if b.shape() != [o] => Err(Error::ShapeMismatch {
            op,
            expected: vec![o],
            got: b.shape().to_vec(),
        }),
        _ => Ok(()),
    }
}

/// `y + b` with `b: [O]` broadcast over `[N, O, H, W]`.
fn add_bias<F: Float>(y: Tensor<F>, bias: Option<&Tensor<F>>) -> Result<Tensor<F>> {
    match bias {
        Some(b) => y.add(&b.reshape(&[-1, 1, 1])?),
        None => Ok(y),
    }
}

/// Sizes as the signed lengths `reshape` takes.
fn signed(shape: &[usize]) -> Vec<isize> {
    shape.iter().map(|&n| n as isize).collect()
}

/// Runs `fill(start, chunk)` over chunks of `out`, in parallel when the work (`cost` per
/// element) is large: for kernels that write something other than a tensor (indices).
pub(crate) fn par_fill<T: Send>(out: &mut [T], cost: usize, fill: impl Fn(usize, &mut [T]) + Sync) {
    let n = out.len();
    let threads = rayon::current_num_threads();
    if n.saturating_mul(cost.max(1)) >= PAR_MIN && n > 1 && threads > 1 {
        let chunk = n.div_ceil(threads * 2).max(1);
        out.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, c)| fill(i * chunk, c));
    } else {
        fill(0, out);
    }
}
