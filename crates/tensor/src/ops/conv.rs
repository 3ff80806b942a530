//! 2-D convolution over NCHW images, built on im2col: [`Tensor::unfold`] copies every
//! window of the (zero-padded) input into a column of one buffer, so that a convolution is
//! one matrix product per group through [`Tensor::matmul`]; [`Tensor::fold`] (col2im) is
//! its adjoint, summing columns back into an image, and turns a matrix product into a
//! transposed convolution. Semantics, argument names and output sizes are PyTorch's
//! (`torch.nn.functional`): along each axis a window of `kernel` taps `dilation` apart
//! moves `stride` at a time over the input padded with `padding` zeros on both sides,
//! `(size + 2·padding − dilation·(kernel − 1) − 1) / stride + 1` times (floor).

use crate::error::{Error, Result};
use crate::tensor::PAR_MIN;
use crate::{Float, Tensor};
use rayon::prelude::*;

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
}

impl Window2d {
    /// A `kernel` window with stride 1, no padding and no dilation (`F.unfold`'s defaults).
    pub fn new(kernel: [usize; 2]) -> Self {
        Window2d {
            kernel,
            stride: [1, 1],
            padding: [0, 0],
            dilation: [1, 1],
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
            let overflow =
                || window_error(op, format!("the padded {axis} overflows"), input, other);
            let padded = (self.padding[a].checked_mul(2))
                .and_then(|p| p.checked_add(size))
                .ok_or_else(overflow)?;
            let span = (self.kernel[a] - 1)
                .checked_mul(self.dilation[a])
                .and_then(|s| s.checked_add(1))
                .ok_or_else(overflow)?;
            if span > padded {
                return Err(window_error(
                    op,
                    format!(
                        "output {axis} would be zero: the kernel spans {span} but the padded input {axis} is {padded}"
                    ),
                    input,
                    other,
                ));
            }
            out[a] = (padded - span) / self.stride[a] + 1;
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
    /// a zero kernel, stride or dilation; [`Error::Window`] if the window does not
    /// fit in the padded input.
    pub fn unfold(&self, window: Window2d) -> Result<Self> {
        let op = "unfold";
        let shape = dims4(op, INPUT, self)?;
        let [oh, ow] = window.positions(op, &shape, &window.kernel)?;
        let [n, c, _, _] = shape;
        let [kh, kw] = window.kernel;
        checked_numel(op, &[n, c, kh, kw, oh, ow], &shape, &window.kernel)?;
        Ok(self.unfold_unchecked(window, [oh, ow]))
    }

    /// [`Tensor::unfold`] of a 4-D tensor whose window was checked to give `[oh, ow]`
    /// positions.
    fn unfold_unchecked(&self, win: Window2d, [oh, ow]: [usize; 2]) -> Self {
        let [n, c, h, w] = [self.shape[0], self.shape[1], self.shape[2], self.shape[3]];
        let [s0, s1, s2, s3] = [
            self.strides[0],
            self.strides[1],
            self.strides[2],
            self.strides[3],
        ];
        let ([kh, kw], [sh, sw], [ph, pw], [dh, dw]) =
            (win.kernel, win.stride, win.padding, win.dilation);
        let (data, offset) = (&self.data.0, self.offset);
        Tensor::build(vec![n, c * kh * kw, oh * ow], |start, out| {
            // One output row (a tap of every window in one row of positions) at a time; the
            // row's coordinates advance as an odometer (rows are short: dividing per row
            // cost more than the copy).
            let (row, mut ox0) = (start / ow, start % ow);
            let (mut oy, r) = (row % oh, row / oh);
            let (mut kj, r) = (r % kw, r / kw);
            let (mut ki, r) = (r % kh, r / kh);
            let (mut ch, mut b) = (r % c.max(1), r / c.max(1));
            let mut i = 0;
            while i < out.len() {
                let len = (ow - ox0).min(out.len() - i);
                let seg = &mut out[i..i + len];
                let iy = (oy * sh + ki * dh) as isize - ph as isize;
                if iy < 0 || iy >= h as isize {
                    seg.iter_mut().for_each(|o| _ = o.write(F::zero()));
                } else {
                    // Tap `kj` of window `ox` reads column `ox·sw + kj·dw − pw`, inside the
                    // row for `lo ≤ ox < hi`: zeros around one run of reads (a copy when
                    // the row is contiguous and the stride 1).
                    let shift = kj * dw;
                    let lo = pw.saturating_sub(shift).div_ceil(sw);
                    let hi = (w + pw).checked_sub(shift).map_or(0, |e| e.div_ceil(sw));
                    let end = ox0 + len;
                    let a = lo.clamp(ox0, end);
                    let z = hi.min(ow).max(lo).clamp(ox0, end);
                    let (head, rest) = seg.split_at_mut(a - ox0);
                    let (run, tail) = rest.split_at_mut(z - a);
                    head.iter_mut().for_each(|o| _ = o.write(F::zero()));
                    tail.iter_mut().for_each(|o| _ = o.write(F::zero()));
                    if !run.is_empty() {
                        let first = offset + b * s0 + ch * s1 + iy as usize * s2;
                        let first = first + (a * sw + shift - pw) * s3;
                        let step = sw * s3;
                        let src = &data[first..first + (run.len() - 1) * step + 1];
                        if step == 1 {
                            run.iter_mut().zip(src).for_each(|(o, &v)| _ = o.write(v));
                        } else {
                            let picked = src.iter().step_by(step);
                            run.iter_mut()
                                .zip(picked)
                                .for_each(|(o, &v)| _ = o.write(v));
                        }
                    }
                }
                i += len;
                ox0 = 0;
                oy += 1;
                if oy == oh {
                    (oy, kj) = (0, kj + 1);
                    if kj == kw {
                        (kj, ki) = (0, ki + 1);
                        if ki == kh {
                            (ki, ch) = (0, ch + 1);
                            if ch == c {
                                (ch, b) = (0, b + 1);
                            }
                        }
                    }
                }
            }
        })
    }

    /// col2im, as PyTorch's `F.fold`: the adjoint of [`Tensor::unfold`]. `[N, C·kh·kw, L]`
    /// columns are summed back into `[N, C, H, W]` with `[H, W] = output_size`; `L` must be
    /// the number of window positions over that size. Overlapping taps add up, in the
    /// order PyTorch adds them. Any strides (a broadcast view included).
    ///
    /// # Errors
    /// [`Error::Rank`] unless `self` has 3 axes; [`Error::Window`] if the rows
    /// are not a multiple of `kh·kw` or `L` does not match; as [`Tensor::unfold`] for the
    /// window.
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
        checked_numel(op, &[n, c, h, w], self.shape(), &window.kernel)?;
        let [s0, s1, s2] = [self.strides[0], self.strides[1], self.strides[2]];
        let ([sh, sw], [ph, pw], [dh, dw]) = (window.stride, window.padding, window.dilation);
        let (data, offset) = (&self.data.0, self.offset);
        let total = n * c * h * w;
        let mut v = F::pool().take(total);
        v.resize(total, F::zero());
        if total == 0 {
            return Ok(Tensor::from_parts(v, vec![n, c, h, w]));
        }
        // Each `[H, W]` plane adds its columns' rows in, tap by tap, as PyTorch's col2im:
        // every pixel receives its taps in the same order. Planes are independent.
        let fill = |p: usize, img: &mut [F]| {
            let (b, ch) = (p / c, p % c);
            for ki in 0..kh {
                for kj in 0..kw {
                    let first = offset + b * s0 + ((ch * kh + ki) * kw + kj) * s1;
                    // Window `ox`'s tap lands in column `ox·sw + kj·dw − pw`, inside the
                    // image for `lo ≤ ox < hi`.
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
                        for ox in lo..hi {
                            row[ox * sw + shift - pw] += data[first + (oy * ow + ox) * s2];
                        }
                    }
                }
            }
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
        checked_numel(op, &[n, c, kh, kw, l], &shape, &wshape)?;
        checked_numel(op, &[n, o, l], &shape, &wshape)?;
        let cols = self
            .unfold_unchecked(win, [oh, ow])
            .reshape(&signed(&[n, g, kk, l]))?;
        let w = weight.reshape(&signed(&[g, o / g, kk]))?;
        let y = batched_matmul(&w, &cols, o / g * kk * l)?;
        let y = y.reshape(&signed(&[n, o, oh, ow]))?;
        add_bias(y, bias)
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
        let [n, c, h, w] = shape;
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
            let (axis, len) = (AXES[a], [h, w][a]);
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
        let l = checked_numel(op, &[h, w], &shape, &wshape)?;
        checked_numel(op, &[n, o, kh, kw, l], &shape, &wshape)?;
        checked_numel(op, &[n, o, size[0], size[1]], &shape, &wshape)?;
        let x = self.reshape(&signed(&[n, g, cg, l]))?;
        let wt = weight.reshape(&signed(&[g, cg, ok]))?.transpose(1, 2)?;
        let cols = batched_matmul(&wt, &x, ok * cg * l)?;
        let y = cols
            .reshape(&signed(&[n, o * kh * kw, l]))?
            .fold(size, win)?;
        add_bias(y, bias)
    }
}

/// `a · b` over batch axes `[N, G]` (`a` is `[G, m, k]`), split into chunks of the batch
/// across threads when one product (`flops` multiply-adds) is too small for `matmul` to
/// split but the batch is large.
fn batched_matmul<F: Float>(a: &Tensor<F>, b: &Tensor<F>, flops: usize) -> Result<Tensor<F>> {
    let n = b.shape()[0];
    let threads = rayon::current_num_threads();
    if threads < 2 || n < 2 || flops >= 1 << 18 || flops.saturating_mul(n) < 1 << 18 {
        return a.matmul(b);
    }
    let chunk = n.div_ceil(threads);
    let parts = (0..n.div_ceil(chunk))
        .into_par_iter()
        .map(|i| {
            let start = i * chunk;
            a.matmul(&b.narrow(0, start, chunk.min(n - start))?)
        })
        .collect::<Result<Vec<_>>>()?;
    Tensor::concat(&parts.iter().collect::<Vec<_>>(), 0)
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
