//! 2-D pooling over NCHW images, as PyTorch's `torch.nn.functional` (floor or ceil mode,
//! [`Window2d::ceil_mode`]; a last, partial window is clipped to the input): max
//! pooling with the argmax of each window (for its backward), average pooling, adaptive
//! average pooling, and the adjoints of the three (their backward passes, which the tape
//! records as ops of their own). Each output element is computed independently, in
//! PyTorch's scan order, so values and tie-breaking match it.

use super::conv::{checked_alloc, dims4, par_fill, window_error, Window2d};
use super::unary::relu_of;
use crate::error::{Error, Result};
use crate::tensor::PAR_MIN;
use crate::{vectorized, Float, Tensor, Vectorize};
use rayon::prelude::*;
use std::mem::MaybeUninit;

const INPUT: &str = "4 dims [N, C, H, W]";

/// One plane of a max pool's output, values and argmax indices, before they are written.
type PlaneOut<'a, F> = (&'a mut [MaybeUninit<F>], &'a mut [MaybeUninit<usize>]);

/// Marks a window that lies wholly in the padding, which dilation allows (`H = 1`, kernel
/// 2, padding 1, dilation 2): PyTorch returns −∞ and an index outside the plane; here it
/// is an error.
const NO_INDEX: usize = usize::MAX;

/// Checks PyTorch's pooling rule that padding is at most half the kernel, and returns the
/// window positions.
fn pool_positions(op: &'static str, shape: &[usize], win: &Window2d) -> Result<[usize; 2]> {
    win.check(op)?;
    if (0..2).any(|a| win.padding[a] > win.kernel[a] / 2) {
        return Err(Error::InvalidArgument {
            op,
            arg: "padding",
            value: format!("{:?}", win.padding),
            why: "must be at most half the kernel size along each axis",
        });
    }
    win.positions(op, shape, &win.kernel)
}

/// The half-open range of an average window along one axis before clipping to the input
/// (`start` may be negative) and after, as PyTorch's `avg_pool2d` computes it.
fn avg_range(o: usize, stride: usize, pad: usize, k: usize, size: usize) -> [isize; 4] {
    let start = (o * stride) as isize - pad as isize;
    let end = (start + k as isize).min((size + pad) as isize);
    [start, end, start.max(0), end.min(size as isize)]
}

/// PyTorch's divisor for the average at one output position: the window's size including
/// padding, or only its elements inside the input.
fn avg_divisor(h: [isize; 4], w: [isize; 4], count_include_pad: bool) -> usize {
    let [h0, h1, ch0, ch1] = h;
    let [w0, w1, cw0, cw1] = w;
    if count_include_pad {
        ((h1 - h0) * (w1 - w0)) as usize
    } else {
        ((ch1 - ch0).max(0) * (cw1 - cw0).max(0)) as usize
    }
}

/// The adaptive window `[start, end)` of output `i` of `out` over `size` inputs:
/// `floor(i·size/out)` to `ceil((i+1)·size/out)`.
fn adaptive_range(i: usize, out: usize, size: usize) -> (usize, usize) {
    (i * size / out, ((i + 1) * size).div_ceil(out))
}

impl<F: Float> Tensor<F> {
    /// Max pooling, as PyTorch's `F.max_pool2d`: `[N, C, H, W] → [N, C, oh, ow]`, the
    /// padding acting as −∞; positions counted with floor, or ceil with
    /// [`Window2d::ceil_mode`]. A NaN in a window wins (the last one, in scan order); among
    /// equal maxima the first in row-major scan order wins, as in PyTorch.
    ///
    /// # Errors
    /// As [`Tensor::max_pool2d_with_indices`].
    pub fn max_pool2d(&self, window: Window2d) -> Result<Self> {
        Ok(self.max_pool2d_with_indices(window)?.0)
    }

    /// [`Tensor::max_pool2d`] and, for each output element, the flat index `y·W + x` of the
    /// chosen input element within its `H × W` plane (PyTorch's `return_indices=True`), in
    /// the output's row-major order.
    ///
    /// ```
    /// use descent_tensor::{Tensor, Window2d};
    /// let x = Tensor::<f32>::from_vec(vec![1., 3., 3., 0.], &[1, 1, 2, 2])?;
    /// let (y, idx) = x.max_pool2d_with_indices(Window2d::new([2, 2]).stride([2, 2]))?;
    /// assert_eq!((y.to_vec(), idx), (vec![3.], vec![1]));    // the first of the tied 3s
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Rank`] unless `self` has 4 axes; [`Error::InvalidArgument`]
    /// for a zero kernel, stride or dilation, or padding above half the kernel;
    /// [`Error::Window`] if the window does not fit in the padded input, or if a
    /// dilated window holds no input element (PyTorch returns −∞ there).
    pub fn max_pool2d_with_indices(&self, window: Window2d) -> Result<(Self, Vec<usize>)> {
        self.max_pool2d_impl("max_pool2d", window, false)
    }

    /// `relu` then [`Tensor::max_pool2d_with_indices`] in one pass over `self`: the maximum
    /// of a window's `relu(x)` is `relu` of its maximum (NaN included), so the same values,
    /// bit for bit, without writing `relu(self)`. The indices are the argmax of `self`
    /// itself; where a window's output is 0 (no positive element) they name its raw maximum
    /// rather than its first zero, which is why the backward must mask the gradient by the
    /// output before scattering it (as the tape's `relu_max_pool2d` does): the gradients
    /// then equal those of the two ops apart.
    ///
    /// ```
    /// use descent_tensor::{Tensor, Window2d};
    /// let x = Tensor::<f32>::from_vec(vec![-3., -1., 2., -2., -5., -4., -6., -7.], &[1, 2, 2, 2])?;
    /// let (y, idx) = x.relu_max_pool2d_with_indices(Window2d::new([2, 2]))?;
    /// assert_eq!((y.to_vec(), idx), (vec![2., 0.], vec![2, 1]));
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::max_pool2d_with_indices`], naming `relu_max_pool2d`.
    pub fn relu_max_pool2d_with_indices(&self, window: Window2d) -> Result<(Self, Vec<usize>)> {
        self.max_pool2d_impl("relu_max_pool2d", window, true)
    }

    /// Max pooling with the argmax, of `relu(self)` if `relu` (see
    /// [`Tensor::relu_max_pool2d_with_indices`]).
    fn max_pool2d_impl(
        &self,
        op: &'static str,
        window: Window2d,
        relu: bool,
    ) -> Result<(Self, Vec<usize>)> {
        let shape = dims4(op, INPUT, self)?;
        let [oh, ow] = pool_positions(op, &shape, &window)?;
        let [n, c, h, w] = shape;
        let total = checked_alloc::<usize>(op, &[n, c, oh, ow], &shape, &window.kernel)?;
        let [s0, s1, s2, s3] = [
            self.strides[0],
            self.strides[1],
            self.strides[2],
            self.strides[3],
        ];
        let ([kh, kw], [sh, sw], [ph, pw], [dh, dw]) = (
            window.kernel,
            window.stride,
            window.padding,
            window.dilation,
        );
        let (data, offset) = (&self.data.0, self.offset);
        if [ph, pw, dh, dw] == [0, 0, 1, 1] && (oh - 1) * sh + kh <= h && (ow - 1) * sw + kw <= w {
            // Every window lies inside the input (the common case): one pass per plane
            // writes values and indices together, with no clipping.
            let plane = oh * ow;
            let mut values = F::pool().take(total);
            let mut idx = Vec::<usize>::with_capacity(total);
            // The CNN's 2×2 stride-2 pool over rows of adjacent elements: whole output
            // rows of windows at once, vectorized.
            let pairs = [kh, kw, sh, sw, s3] == [2, 2, 2, 2, 1];
            let fill = |(p, (vs, is)): (usize, PlaneOut<'_, F>)| {
                let base = offset + (p / c) * s0 + (p % c) * s1;
                if pairs {
                    let rows = Max2x2Plane {
                        values: vs,
                        index: is,
                        data,
                        base,
                        row_stride: s2,
                        w,
                        ow,
                        relu,
                    };
                    return vectorized(rows);
                }
                let rows = vs.chunks_exact_mut(ow).zip(is.chunks_exact_mut(ow));
                for (oy, (vs, is)) in rows.enumerate() {
                    let y0 = oy * sh;
                    vs.iter_mut().for_each(|v| _ = v.write(F::neg_infinity()));
                    for (ox, i) in is.iter_mut().enumerate() {
                        i.write(y0 * w + ox * sw);
                    }
                    // SAFETY: both rows were written just above.
                    let (vs, is) = unsafe {
                        (
                            &mut *(vs as *mut [MaybeUninit<F>] as *mut [F]),
                            &mut *(is as *mut [MaybeUninit<usize>] as *mut [usize]),
                        )
                    };
                    // Tap by tap in each window's scan order, every window of the row at
                    // once: no dependence from one window to the next, and selects rather
                    // than branches (on real data the winner is a coin toss).
                    for y in y0..y0 + kh {
                        let row = base + y * s2;
                        for x in 0..kw {
                            for (ox, (max, best)) in vs.iter_mut().zip(is.iter_mut()).enumerate() {
                                let at = ox * sw + x;
                                let v = data[row + at * s3];
                                let take = (v > *max) | v.is_nan();
                                *max = if take { v } else { *max };
                                *best = if take { y * w + at } else { *best };
                            }
                        }
                    }
                    if relu {
                        vs.iter_mut().for_each(|v| *v = relu_of(*v));
                    }
                }
            };
            let vs = &mut values.spare_capacity_mut()[..total];
            let is = &mut idx.spare_capacity_mut()[..total];
            let work = total.saturating_mul(kh * kw);
            if work >= PAR_MIN && rayon::current_num_threads() > 1 {
                let chunks = vs.par_chunks_mut(plane).zip(is.par_chunks_mut(plane));
                chunks.enumerate().for_each(fill);
            } else if total > 0 {
                let chunks = vs.chunks_mut(plane).zip(is.chunks_mut(plane));
                chunks.enumerate().for_each(fill);
            }
            // SAFETY: `fill` wrote every value and index of every plane.
            unsafe {
                values.set_len(total);
                idx.set_len(total);
            }
            return Ok((Tensor::from_parts(values, vec![n, c, oh, ow]), idx));
        }
        let mut idx = vec![0usize; total];
        par_fill(&mut idx, kh * kw, |start, out| {
            let mut at = Cursor::at(start, [c, oh, ow]);
            for o in out.iter_mut() {
                let (ox, oy, base) = (at.x, at.y, at.plane(offset, s0, s1));
                at.next();
                // PyTorch's loop: the first tap inside the input starts the scan.
                let mut y0 = (oy * sh) as isize - ph as isize;
                let y1 = (y0 + ((kh - 1) * dh + 1) as isize).min(h as isize);
                let mut x0 = (ox * sw) as isize - pw as isize;
                let x1 = (x0 + ((kw - 1) * dw + 1) as isize).min(w as isize);
                while y0 < 0 {
                    y0 += dh as isize;
                }
                while x0 < 0 {
                    x0 += dw as isize;
                }
                if y0 >= y1 || x0 >= x1 {
                    *o = NO_INDEX;
                    continue;
                }
                let mut best = y0 as usize * w + x0 as usize;
                let mut max = F::neg_infinity();
                for y in (y0..y1).step_by(dh) {
                    for x in (x0..x1).step_by(dw) {
                        let v = data[base + y as usize * s2 + x as usize * s3];
                        if v > max || v.is_nan() {
                            max = v;
                            best = y as usize * w + x as usize;
                        }
                    }
                }
                *o = best;
            }
        });
        if idx.contains(&NO_INDEX) {
            return Err(window_error(
                op,
                "a window lies wholly in the padding".into(),
                &shape,
                &window.kernel,
            ));
        }
        let idx_ref = &idx;
        let values = Tensor::build(vec![n, c, oh, ow], |start, out| {
            let mut at = Cursor::at(start, [c, oh, ow]);
            for (o, &k) in out.iter_mut().zip(&idx_ref[start..]) {
                let v = data[at.plane(offset, s0, s1) + (k / w) * s2 + (k % w) * s3];
                o.write(if relu { relu_of(v) } else { v });
                at.next();
            }
        });
        Ok((values, idx))
    }

    /// The adjoint of max pooling (its backward, as PyTorch's
    /// `max_pool2d_with_indices_backward`): `self` is a gradient `[N, C, oh, ow]` and
    /// `index` the argmax of [`Tensor::max_pool2d_with_indices`]; each element is added to
    /// the position its index names in its `[H, W]` plane (`[H, W] = input_size`), every
    /// other position is zero. One pass per plane, zeros and sums together (windows that
    /// overlap add, in the output's order, as PyTorch and `scatter_add` do).
    ///
    /// ```
    /// use descent_tensor::{Tensor, Window2d};
    /// let x = Tensor::<f32>::from_vec(vec![1., 3., 3., 0.], &[1, 1, 2, 2])?;
    /// let (_, idx) = x.max_pool2d_with_indices(Window2d::new([2, 2]))?;
    /// let g = Tensor::from_vec(vec![5.], &[1, 1, 1, 1])?;
    /// assert_eq!(g.max_pool2d_adjoint(&idx, [2, 2])?.to_vec(), [0., 5., 0., 0.]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Rank`] unless `self` has 4 axes; [`Error::Length`] if `index` does not hold
    /// one position per element of `self`; [`Error::IndexOutOfRange`] for a position
    /// outside the plane.
    pub fn max_pool2d_adjoint(&self, index: &[usize], input_size: [usize; 2]) -> Result<Self> {
        let op = "max_pool2d_adjoint";
        let gshape = dims4(op, INPUT, self)?;
        let [n, c, oh, ow] = gshape;
        let [h, w] = input_size;
        let input = [n, c, h, w];
        let (plane, positions) = (h * w, oh * ow);
        if index.len() != self.numel() {
            return Err(Error::Length {
                op,
                len: index.len(),
                shape: gshape.to_vec(),
                numel: self.numel(),
            });
        }
        let total = checked_alloc::<F>(op, &input, &gshape, &input_size)?;
        let out_of_range = |k: usize| Error::IndexOutOfRange {
            op,
            index: k as i64,
            size: plane,
            dim: 2,
            shape: vec![n, c, plane],
        };
        if total == 0 {
            return match index.first() {
                Some(&k) => Err(out_of_range(k)),
                None => Ok(Tensor::from_parts(Vec::new(), input.to_vec())),
            };
        }
        let g = self.contiguous();
        let g = g.as_slice().unwrap_or_default();
        let mut out = F::pool().take(total);
        // Each plane: zeros, then its gradients added at their positions while the plane is
        // in cache. `Err(k)` reports a position outside the plane.
        let scatter = |(p, dst): (usize, &mut [MaybeUninit<F>])| -> std::result::Result<(), usize> {
            dst.iter_mut().for_each(|d| _ = d.write(F::zero()));
            // SAFETY: every element of `dst` was written just above.
            let dst = unsafe { &mut *(dst as *mut [MaybeUninit<F>] as *mut [F]) };
            let range = p * positions..(p + 1) * positions;
            for (&v, &k) in g[range.clone()].iter().zip(&index[range]) {
                *dst.get_mut(k).ok_or(k)? += v;
            }
            Ok(())
        };
        let dst = &mut out.spare_capacity_mut()[..total];
        let done = if total >= PAR_MIN && rayon::current_num_threads() > 1 {
            dst.par_chunks_mut(plane).enumerate().try_for_each(scatter)
        } else {
            dst.chunks_mut(plane).enumerate().try_for_each(scatter)
        };
        done.map_err(out_of_range)?;
        // SAFETY: `scatter` wrote every plane.
        unsafe { out.set_len(total) };
        Ok(Tensor::from_parts(out, input.to_vec()))
    }

    /// Average pooling, as PyTorch's `F.avg_pool2d` (no dilation): each output is the sum
    /// of its window's elements inside the input divided by the window's full size
    /// (`count_include_pad`, PyTorch's default) or by the number of those elements. In
    /// ceil mode ([`Window2d::ceil_mode`]) the full size of a last, partial window stops
    /// at the right padding, as in PyTorch.
    ///
    /// ```
    /// use descent_tensor::{Tensor, Window2d};
    /// let x = Tensor::<f32>::ones(&[1, 1, 2, 2]);
    /// let win = Window2d::new([2, 2]).padding([1, 1]).stride([2, 2]);
    /// assert_eq!(x.avg_pool2d(win, true)?.to_vec(), [0.25; 4]);
    /// assert_eq!(x.avg_pool2d(win, false)?.to_vec(), [1.0; 4]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Tensor::max_pool2d_with_indices`], and [`Error::InvalidArgument`] for a
    /// dilation other than 1.
    pub fn avg_pool2d(&self, window: Window2d, count_include_pad: bool) -> Result<Self> {
        let op = "avg_pool2d";
        let shape = dims4(op, INPUT, self)?;
        let [oh, ow] = avg_positions(op, &shape, &window)?;
        let [n, c, h, w] = shape;
        checked_alloc::<F>(op, &[n, c, oh, ow], &shape, &window.kernel)?;
        let [s0, s1, s2, s3] = [
            self.strides[0],
            self.strides[1],
            self.strides[2],
            self.strides[3],
        ];
        let ([kh, kw], [sh, sw], [ph, pw]) = (window.kernel, window.stride, window.padding);
        let (data, offset) = (&self.data.0, self.offset);
        Ok(Tensor::build_with_cost(
            vec![n, c, oh, ow],
            kh * kw,
            |start, out| {
                let mut at = Cursor::at(start, [c, oh, ow]);
                for o in out.iter_mut() {
                    let (ox, oy, base) = (at.x, at.y, at.plane(offset, s0, s1));
                    at.next();
                    let ry = avg_range(oy, sh, ph, kh, h);
                    let rx = avg_range(ox, sw, pw, kw, w);
                    let mut sum = F::zero();
                    for y in ry[2]..ry[3] {
                        for x in rx[2]..rx[3] {
                            sum += data[base + y as usize * s2 + x as usize * s3];
                        }
                    }
                    let divisor = avg_divisor(ry, rx, count_include_pad);
                    o.write(if ry[2] >= ry[3] || rx[2] >= rx[3] {
                        F::zero()
                    } else {
                        sum / F::of_usize(divisor)
                    });
                }
            },
        ))
    }

    /// The adjoint of [`Tensor::avg_pool2d`] (its backward, as PyTorch's
    /// `avg_pool2d_backward`): `self` is a gradient `[N, C, oh, ow]`; each input element of
    /// `[N, C, H, W]` (`[H, W] = input_size`) receives `g / divisor` from every window
    /// that covers it, summed in PyTorch's order.
    ///
    /// # Errors
    /// As [`Tensor::avg_pool2d`] for the window over `input_size`, and
    /// [`Error::ShapeMismatch`] if `self` is not the pooled shape.
    pub fn avg_pool2d_adjoint(
        &self,
        input_size: [usize; 2],
        window: Window2d,
        count_include_pad: bool,
    ) -> Result<Self> {
        let op = "avg_pool2d_adjoint";
        let gshape = dims4(op, INPUT, self)?;
        let [n, c, _, _] = gshape;
        let [h, w] = input_size;
        let input = [n, c, h, w];
        let [oh, ow] = avg_positions(op, &input, &window)?;
        if gshape != [n, c, oh, ow] {
            return Err(Error::ShapeMismatch {
                op,
                expected: vec![n, c, oh, ow],
                got: gshape.to_vec(),
            });
        }
        checked_alloc::<F>(op, &input, &gshape, &window.kernel)?;
        let [s0, s1, s2, s3] = [
            self.strides[0],
            self.strides[1],
            self.strides[2],
            self.strides[3],
        ];
        let ([kh, kw], [sh, sw], [ph, pw]) = (window.kernel, window.stride, window.padding);
        let (data, offset) = (&self.data.0, self.offset);
        // The windows covering position `p` along an axis: `o·stride − pad ≤ p < … + k`.
        let covering = |p: usize, stride: usize, pad: usize, k: usize, n: usize| {
            let lo = (p + pad + 1).saturating_sub(k).div_ceil(stride);
            let hi = ((p + pad) / stride + 1).min(n);
            lo..hi.max(lo)
        };
        Ok(Tensor::build_with_cost(
            input.to_vec(),
            kh * kw,
            |start, out| {
                let mut at = Cursor::at(start, [c, h, w]);
                for o in out.iter_mut() {
                    let (x, y, base) = (at.x, at.y, at.plane(offset, s0, s1));
                    at.next();
                    let mut acc = F::zero();
                    for oy in covering(y, sh, ph, kh, oh) {
                        let ry = avg_range(oy, sh, ph, kh, h);
                        for ox in covering(x, sw, pw, kw, ow) {
                            let rx = avg_range(ox, sw, pw, kw, w);
                            let divisor = F::of_usize(avg_divisor(ry, rx, count_include_pad));
                            acc += data[base + oy * s2 + ox * s3] / divisor;
                        }
                    }
                    o.write(acc);
                }
            },
        ))
    }

    /// Adaptive average pooling, as PyTorch's `F.adaptive_avg_pool2d`: output `[oh, ow] =
    /// output_size` of any size; output `i` along an axis of `n` inputs averages inputs
    /// `floor(i·n/oh)` to `ceil((i+1)·n/oh)` (exclusive).
    ///
    /// ```
    /// use descent_tensor::Tensor;
    /// let x = Tensor::<f64>::arange(0., 5., 1.)?.reshape(&[1, 1, 1, 5])?;
    /// assert_eq!(x.adaptive_avg_pool2d([1, 3])?.to_vec(), [0.5, 2.0, 3.5]);
    /// # Ok::<(), descent_tensor::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Rank`] unless `self` has 4 axes; [`Error::InvalidArgument`]
    /// for a zero output size; [`Error::Window`] for an empty input plane.
    pub fn adaptive_avg_pool2d(&self, output_size: [usize; 2]) -> Result<Self> {
        let op = "adaptive_avg_pool2d";
        let shape = dims4(op, INPUT, self)?;
        check_adaptive(op, &shape, output_size)?;
        let [n, c, h, w] = shape;
        let [oh, ow] = output_size;
        checked_alloc::<F>(op, &[n, c, oh, ow], &shape, &output_size)?;
        let [s0, s1, s2, s3] = [
            self.strides[0],
            self.strides[1],
            self.strides[2],
            self.strides[3],
        ];
        let (data, offset) = (&self.data.0, self.offset);
        let cost = h.div_ceil(oh) * w.div_ceil(ow);
        Ok(Tensor::build_with_cost(
            vec![n, c, oh, ow],
            cost,
            |start, out| {
                let mut at = Cursor::at(start, [c, oh, ow]);
                for o in out.iter_mut() {
                    let (ox, oy, base) = (at.x, at.y, at.plane(offset, s0, s1));
                    at.next();
                    let (y0, y1) = adaptive_range(oy, oh, h);
                    let (x0, x1) = adaptive_range(ox, ow, w);
                    let mut sum = F::zero();
                    for y in y0..y1 {
                        for x in x0..x1 {
                            sum += data[base + y * s2 + x * s3];
                        }
                    }
                    o.write(sum / F::of_usize(y1 - y0) / F::of_usize(x1 - x0));
                }
            },
        ))
    }

    /// The adjoint of [`Tensor::adaptive_avg_pool2d`] (its backward): `self` is a gradient
    /// `[N, C, oh, ow]`; each element of `[N, C, H, W]` (`[H, W] = input_size`) receives
    /// `g / kh / kw` from every window that covers it, as PyTorch's backward.
    ///
    /// # Errors
    /// As [`Tensor::adaptive_avg_pool2d`] for `input_size`.
    pub fn adaptive_avg_pool2d_adjoint(&self, input_size: [usize; 2]) -> Result<Self> {
        let op = "adaptive_avg_pool2d_adjoint";
        let gshape = dims4(op, INPUT, self)?;
        let [n, c, oh, ow] = gshape;
        let [h, w] = input_size;
        let input = [n, c, h, w];
        check_adaptive(op, &input, [oh, ow])?;
        checked_alloc::<F>(op, &input, &gshape, &[oh, ow])?;
        let [s0, s1, s2, s3] = [
            self.strides[0],
            self.strides[1],
            self.strides[2],
            self.strides[3],
        ];
        let (data, offset) = (&self.data.0, self.offset);
        // Windows are monotone in the output index, so those covering an input position
        // are a contiguous run: found once per axis.
        let covering = |size: usize, out: usize| -> Vec<(usize, usize)> {
            (0..size)
                .map(|p| {
                    let lo = (0..out).find(|&i| adaptive_range(i, out, size).1 > p);
                    let lo = lo.unwrap_or(out);
                    let hi = (lo..out)
                        .find(|&i| adaptive_range(i, out, size).0 > p)
                        .unwrap_or(out);
                    (lo, hi)
                })
                .collect()
        };
        let (rows, cols) = (covering(h, oh), covering(w, ow));
        let cost = oh.div_ceil(h) * ow.div_ceil(w) + 1;
        Ok(Tensor::build_with_cost(
            input.to_vec(),
            cost,
            |start, out| {
                let mut at = Cursor::at(start, [c, h, w]);
                for o in out.iter_mut() {
                    let (x, y, base) = (at.x, at.y, at.plane(offset, s0, s1));
                    at.next();
                    let mut acc = F::zero();
                    for oy in rows[y].0..rows[y].1 {
                        let (y0, y1) = adaptive_range(oy, oh, h);
                        for ox in cols[x].0..cols[x].1 {
                            let (x0, x1) = adaptive_range(ox, ow, w);
                            acc += data[base + oy * s2 + ox * s3]
                                / F::of_usize(y1 - y0)
                                / F::of_usize(x1 - x0);
                        }
                    }
                    o.write(acc);
                }
            },
        ))
    }
}

/// One plane of a 2×2, stride-2 max pool whose windows all lie inside the input and whose
/// rows are contiguous: [`max2x2_row`] over each output row, compiled for the widest SIMD
/// tier.
struct Max2x2Plane<'a, F> {
    values: &'a mut [MaybeUninit<F>],
    index: &'a mut [MaybeUninit<usize>],
    data: &'a [F],
    /// The plane's first element in `data`.
    base: usize,
    row_stride: usize,
    /// The input's width (indices are `y·w + x`).
    w: usize,
    /// The output's width (at least 1).
    ow: usize,
    /// Whether the values are of `relu(x)` (the indices are `x`'s either way).
    relu: bool,
}

impl<F: Float> Vectorize for Max2x2Plane<'_, F> {
    type Output = ();
    #[inline(always)]
    fn run(self) {
        let ow = self.ow;
        let rows = self.values.chunks_exact_mut(ow);
        for (oy, (vs, is)) in rows.zip(self.index.chunks_exact_mut(ow)).enumerate() {
            let top = self.base + 2 * oy * self.row_stride;
            let (r0, r1) = (&self.data[top..], &self.data[top + self.row_stride..]);
            if self.relu {
                max2x2_row::<F, true>(vs, is, r0, r1, 2 * oy * self.w, self.w);
            } else {
                max2x2_row::<F, false>(vs, is, r0, r1, 2 * oy * self.w, self.w);
            }
        }
    }
}

/// One output row of a 2×2, stride-2 max pool from input rows `r0` and `r1` (the rows of
/// the windows, read from their start), with each window's taps in PyTorch's scan order: a
/// later tap wins if it is greater or NaN, so ties go to the first maximum and the last
/// NaN wins. `top` is the index `y·w` of `r0`'s first element. Written with selects, one
/// window per lane, so the compiler vectorizes it (stride-2 loads become shuffles). With
/// `RELU` each maximum is written as [`relu_of`] it.
#[inline(always)]
fn max2x2_row<F: Float, const RELU: bool>(
    values: &mut [MaybeUninit<F>],
    index: &mut [MaybeUninit<usize>],
    r0: &[F],
    r1: &[F],
    top: usize,
    w: usize,
) {
    let n = values.len().min(index.len());
    let (values, index) = (&mut values[..n], &mut index[..n]);
    let (r0, r1) = (&r0[..2 * n], &r1[..2 * n]);
    let take = |v: F, max: F| v > max || v.is_nan();
    for ox in 0..n {
        let at = top + 2 * ox;
        let (a, b, c, d) = (r0[2 * ox], r0[2 * ox + 1], r1[2 * ox], r1[2 * ox + 1]);
        let (mut max, mut best) = (a, at);
        for (v, k) in [(b, at + 1), (c, at + w), (d, at + w + 1)] {
            let t = take(v, max);
            max = if t { v } else { max };
            best = if t { k } else { best };
        }
        values[ox].write(if RELU { relu_of(max) } else { max });
        index[ox].write(best);
    }
}

/// [`pool_positions`] for average pooling, which has no dilation.
fn avg_positions(op: &'static str, shape: &[usize], win: &Window2d) -> Result<[usize; 2]> {
    if win.dilation != [1, 1] {
        return Err(Error::InvalidArgument {
            op,
            arg: "dilation",
            value: format!("{:?}", win.dilation),
            why: "average pooling has no dilation; must be [1, 1]",
        });
    }
    pool_positions(op, shape, win)
}

/// Checks an adaptive pool's sizes: a positive output size and a non-empty input plane.
fn check_adaptive(op: &'static str, shape: &[usize], output_size: [usize; 2]) -> Result<()> {
    if output_size.contains(&0) {
        return Err(Error::InvalidArgument {
            op,
            arg: "output_size",
            value: format!("{output_size:?}"),
            why: "must be positive along both axes",
        });
    }
    if shape[2] == 0 || shape[3] == 0 {
        return Err(window_error(
            op,
            "the input's height and width must be positive".into(),
            shape,
            &output_size,
        ));
    }
    Ok(())
}

/// The coordinates of a flat position in `[N, C, rows, cols]`, advanced one element at a
/// time: the kernels walk their outputs in order, and dividing out four coordinates per
/// element would cost more than a small window's work.
struct Cursor {
    c: usize,
    rows: usize,
    cols: usize,
    b: usize,
    ch: usize,
    y: usize,
    x: usize,
}

impl Cursor {
    /// The cursor at flat position `flat` of `[·, c, rows, cols]` (sizes of 0 are treated
    /// as 1: such a tensor has no elements to walk).
    fn at(flat: usize, [c, rows, cols]: [usize; 3]) -> Self {
        let (c, rows, cols) = (c.max(1), rows.max(1), cols.max(1));
        let (x, r) = (flat % cols, flat / cols);
        let (y, r) = (r % rows, r / rows);
        Cursor {
            c,
            rows,
            cols,
            b: r / c,
            ch: r % c,
            y,
            x,
        }
    }

    /// The offset of the current `[H, W]` plane in a tensor with batch and channel strides
    /// `s0`, `s1`.
    fn plane(&self, offset: usize, s0: usize, s1: usize) -> usize {
        offset + self.b * s0 + self.ch * s1
    }

    /// Moves to the next element.
    fn next(&mut self) {
        self.x += 1;
        if self.x == self.cols {
            self.x = 0;
            self.y += 1;
            if self.y == self.rows {
                self.y = 0;
                self.ch += 1;
                if self.ch == self.c {
                    self.ch = 0;
                    self.b += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::tensor::{cap_simd, SimdLevel};
    use crate::{Tensor, Window2d};
    use rand::{rngs::StdRng, Rng, SeedableRng};

    /// The vectorized 2×2 max pool and dropout mask give the same values, indices and
    /// masks on every SIMD tier (ties and NaNs included, and an odd width for the tail).
    #[test]
    fn every_simd_tier_gives_the_same_pool_and_mask() {
        let mut rng = StdRng::seed_from_u64(3);
        let v: Vec<f32> = (0..2 * 3 * 9 * 37)
            .map(|k| match k % 11 {
                0 => f32::NAN,
                _ => rng.random_range(-2..=2) as f32,
            })
            .collect();
        let x = Tensor::from_vec(v, &[2, 3, 9, 37]).unwrap();
        let run = |level| {
            cap_simd(level);
            let (y, idx) = x
                .max_pool2d_with_indices(Window2d::new([2, 2]).stride([2, 2]))
                .unwrap();
            let bits: Vec<u32> = y.to_vec().iter().map(|v| v.to_bits()).collect();
            let mask = Tensor::<f32>::dropout_mask(&[4099], 0.3, &mut StdRng::seed_from_u64(9));
            (bits, idx, mask.unwrap().to_vec())
        };
        let baseline = run(SimdLevel::Baseline);
        for level in [SimdLevel::Avx2, SimdLevel::Avx512] {
            assert!(
                run(level) == baseline,
                "{level:?} differs from the baseline"
            );
        }
        cap_simd(SimdLevel::Avx512);
    }
}
