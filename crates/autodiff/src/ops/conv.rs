//! Convolution and pooling over NCHW images. The linear ops come in adjoint pairs whose
//! backward rules are each other: `unfold` ↔ `fold`, `conv2d` ↔ `conv_transpose2d` (for
//! the input; `conv2d_weight_grad` for the weight, whose own rule is the other two),
//! `avg_pool2d` ↔ `avg_pool2d_adjoint`, `adaptive_avg_pool2d` ↔
//! `adaptive_avg_pool2d_adjoint`; max pooling scatters through its saved argmax
//! (`max_pool2d_adjoint`, whose rule gathers). Every rule is written in `Var` ops, so second derivatives come for free.

use super::signed;
use crate::error::Result;
use crate::tape::Var;
use descent_tensor::{ConvOptions, Float, Window2d};
use std::sync::Arc;

impl<'t, F: Float> Var<'t, F> {
    /// im2col ([`descent_tensor::Tensor::unfold`]): `[N, C, H, W] → [N, C·kh·kw, L]`.
    /// Backward: [`Var::fold`] of the gradient.
    pub fn unfold(self, window: Window2d) -> Result<Self> {
        let value = self.with_value(|x| x.unfold(window))??;
        self.unary_op("unfold", value, move |c| {
            let s = c.x(0).dims();
            Ok(vec![Some(c.g.fold([s[2], s[3]], window)?)])
        })
    }

    /// col2im ([`descent_tensor::Tensor::fold`]): `[N, C·kh·kw, L] → [N, C, H, W]`, the
    /// adjoint of [`Var::unfold`]. Backward: [`Var::unfold`] of the gradient.
    pub fn fold(self, output_size: [usize; 2], window: Window2d) -> Result<Self> {
        let value = self.with_value(|x| x.fold(output_size, window))??;
        self.unary_op("fold", value, move |c| Ok(vec![Some(c.g.unfold(window)?)]))
    }

    /// 2-D convolution ([`descent_tensor::Tensor::conv2d`]): input `[N, C, H, W]`, weight
    /// `[O, C/groups, kh, kw]`, bias `[O]`. Backward: the input's gradient is the transposed
    /// convolution of the gradient with the weight; the weight's is, per group, the
    /// gradient times the unfolded input, summed over the batch; the bias's is the
    /// gradient summed over batch and positions.
    ///
    /// ```
    /// use descent_autodiff::Tape;
    /// use descent_tensor::{ConvOptions, Tensor};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::ones(&[1, 1, 3, 3]));
    /// let w = tape.var(Tensor::ones(&[1, 1, 2, 2]));
    /// let y = x.conv2d(w, None, ConvOptions::default())?;   // [1, 1, 2, 2], each 4
    /// let grads = y.sum(&[], false)?.backward()?;
    /// // The centre pixel is in all four windows, a corner in one.
    /// assert_eq!(grads.wrt(x).unwrap().to_vec(), [1., 2., 1., 2., 4., 2., 1., 2., 1.]);
    /// assert_eq!(grads.wrt(w).unwrap().to_vec(), [4.; 4]);
    /// # Ok::<(), descent_autodiff::Error>(())
    /// ```
    ///
    /// # Errors
    /// The tensor op's errors (shapes, channels, groups, window).
    pub fn conv2d(
        self,
        weight: Var<'t, F>,
        bias: Option<Var<'t, F>>,
        opts: ConvOptions,
    ) -> Result<Self> {
        let value = match bias {
            Some(b) => {
                b.with_value(|b| self.with_values(weight, |x, w| x.conv2d(w, Some(b), opts)))???
            }
            None => self.with_values(weight, |x, w| x.conv2d(w, None, opts))??,
        };
        let inputs: Vec<_> = [self, weight].into_iter().chain(bias).collect();
        self.tape.record("conv2d", value, &inputs, move |c| {
            let (x, w, g) = (c.x(0), c.x(1), c.g);
            let (xs, ws) = (x.dims(), w.dims());
            let dx = c.need(0, || {
                g.conv_transpose2d(w, None, opts, dropped(opts, &xs, &ws))
            })?;
            let dw = c.need(1, || g.conv2d_weight_grad(x, [ws[2], ws[3]], opts))?;
            let mut grads = vec![dx, dw];
            if c.inputs.len() == 3 {
                grads.push(c.need(2, || bias_grad(g))?);
            }
            Ok(grads)
        })
    }

    /// Transposed convolution ([`descent_tensor::Tensor::conv_transpose2d`]): input
    /// `[N, C, H, W]`, weight `[C, O/groups, kh, kw]`, bias `[O]`. Backward: the input's
    /// gradient is the convolution of the gradient with the weight; the weight's is, per
    /// group, the input times the unfolded gradient, summed over the batch.
    ///
    /// # Errors
    /// The tensor op's errors.
    pub fn conv_transpose2d(
        self,
        weight: Var<'t, F>,
        bias: Option<Var<'t, F>>,
        opts: ConvOptions,
        output_padding: [usize; 2],
    ) -> Result<Self> {
        let value = match bias {
            Some(b) => b.with_value(|b| {
                self.with_values(weight, |x, w| {
                    x.conv_transpose2d(w, Some(b), opts, output_padding)
                })
            })???,
            None => self.with_values(weight, |x, w| {
                x.conv_transpose2d(w, None, opts, output_padding)
            })??,
        };
        let inputs: Vec<_> = [self, weight].into_iter().chain(bias).collect();
        self.tape
            .record("conv_transpose2d", value, &inputs, move |c| {
                let (x, w, g) = (c.x(0), c.x(1), c.g);
                let ws = w.dims();
                let dx = c.need(0, || g.conv2d(w, None, opts))?;
                let dw = c.need(1, || x.conv2d_weight_grad(g, [ws[2], ws[3]], opts))?;
                let mut grads = vec![dx, dw];
                if c.inputs.len() == 3 {
                    grads.push(c.need(2, || bias_grad(g))?);
                }
                Ok(grads)
            })
    }

    /// Max pooling ([`descent_tensor::Tensor::max_pool2d`]; ties to the first maximum in
    /// scan order, as PyTorch). Backward: [`Var::max_pool2d_adjoint`] of the gradient
    /// through the saved argmax.
    pub fn max_pool2d(self, window: Window2d) -> Result<Self> {
        let (value, index) = self.with_value(|x| x.max_pool2d_with_indices(window))??;
        let index = Arc::new(index);
        self.unary_op("max_pool2d", value, move |c| {
            let xs = c.x(0).dims();
            Ok(vec![Some(
                c.g.max_pool2d_adjoint(index.clone(), [xs[2], xs[3]])?,
            )])
        })
    }

    /// `relu` then max pooling as one op
    /// ([`descent_tensor::Tensor::relu_max_pool2d_with_indices`]): the same values and
    /// gradients as `self.relu()?.max_pool2d(window)`, without `relu(self)` written or its
    /// backward run over the unpooled size. Backward: ReLU's rule at the pooled output, then
    /// [`Var::max_pool2d_adjoint`] through the argmax (a window whose output is 0 passes no
    /// gradient, whichever element its index names).
    ///
    /// ```
    /// use descent_autodiff::Tape;
    /// use descent_tensor::{Tensor, Window2d};
    /// let tape = Tape::<f64>::new();
    /// let x = tape.var(Tensor::from_vec(vec![-3., -1., 2., -2., -5., -4., -6., -7.], &[1, 2, 2, 2])?);
    /// let y = x.relu_max_pool2d(Window2d::new([2, 2]))?;
    /// assert_eq!(y.value()?.to_vec(), [2., 0.]);
    /// let grads = y.sum(&[], false)?.backward()?;
    /// assert_eq!(grads.wrt(x).unwrap().to_vec(), [0., 0., 1., 0., 0., 0., 0., 0.]);
    /// # Ok::<(), descent_autodiff::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Var::max_pool2d`].
    pub fn relu_max_pool2d(self, window: Window2d) -> Result<Self> {
        let (value, index) = self.with_value(|x| x.relu_max_pool2d_with_indices(window))??;
        let index = Arc::new(index);
        self.unary_op("relu_max_pool2d", value, move |c| {
            let xs = c.x(0).dims();
            let g = c.g.relu_backward(c.out)?;
            Ok(vec![Some(
                g.max_pool2d_adjoint(index.clone(), [xs[2], xs[3]])?,
            )])
        })
    }

    /// The adjoint of [`Var::max_pool2d`] ([`descent_tensor::Tensor::max_pool2d_adjoint`]):
    /// each element of `self`, `[N, C, oh, ow]`, goes to the position `index` names in its
    /// `[H, W] = input_size` plane, zeros elsewhere. Backward: the gradient gathered at
    /// `index` (shared, not copied: it is as large as the pooled output).
    pub fn max_pool2d_adjoint(
        self,
        index: Arc<Vec<usize>>,
        input_size: [usize; 2],
    ) -> Result<Self> {
        let value = self.with_value(|g| g.max_pool2d_adjoint(&index, input_size))??;
        self.unary_op("max_pool2d_adjoint", value, move |c| {
            let gs = c.x(0).dims();
            let planes = [gs[0], gs[1], gs[2] * gs[3]];
            let gg =
                c.g.reshape(&signed(&[gs[0], gs[1], input_size[0] * input_size[1]]))?;
            let picked = gg.gather(2, &index, &planes)?;
            Ok(vec![Some(picked.reshape(&signed(&gs))?)])
        })
    }

    /// Average pooling ([`descent_tensor::Tensor::avg_pool2d`], `count_include_pad` as
    /// PyTorch). Backward: [`Var::avg_pool2d_adjoint`] of the gradient.
    pub fn avg_pool2d(self, window: Window2d, count_include_pad: bool) -> Result<Self> {
        let value = self.with_value(|x| x.avg_pool2d(window, count_include_pad))??;
        self.unary_op("avg_pool2d", value, move |c| {
            let s = c.x(0).dims();
            let dx =
                c.g.avg_pool2d_adjoint([s[2], s[3]], window, count_include_pad)?;
            Ok(vec![Some(dx)])
        })
    }

    /// The adjoint of [`Var::avg_pool2d`] (its backward, spreading each element over its
    /// window), to an input of `[H, W] = input_size`. Backward: [`Var::avg_pool2d`].
    pub fn avg_pool2d_adjoint(
        self,
        input_size: [usize; 2],
        window: Window2d,
        count_include_pad: bool,
    ) -> Result<Self> {
        let value =
            self.with_value(|g| g.avg_pool2d_adjoint(input_size, window, count_include_pad))??;
        self.unary_op("avg_pool2d_adjoint", value, move |c| {
            Ok(vec![Some(c.g.avg_pool2d(window, count_include_pad)?)])
        })
    }

    /// Adaptive average pooling ([`descent_tensor::Tensor::adaptive_avg_pool2d`]) to
    /// `[oh, ow] = output_size`. Backward: [`Var::adaptive_avg_pool2d_adjoint`].
    pub fn adaptive_avg_pool2d(self, output_size: [usize; 2]) -> Result<Self> {
        let value = self.with_value(|x| x.adaptive_avg_pool2d(output_size))??;
        self.unary_op("adaptive_avg_pool2d", value, |c| {
            let s = c.x(0).dims();
            Ok(vec![Some(c.g.adaptive_avg_pool2d_adjoint([s[2], s[3]])?)])
        })
    }

    /// The adjoint of [`Var::adaptive_avg_pool2d`], to an input of `[H, W] = input_size`.
    /// Backward: [`Var::adaptive_avg_pool2d`].
    pub fn adaptive_avg_pool2d_adjoint(self, input_size: [usize; 2]) -> Result<Self> {
        let value = self.with_value(|g| g.adaptive_avg_pool2d_adjoint(input_size))??;
        self.unary_op("adaptive_avg_pool2d_adjoint", value, |c| {
            let s = c.x(0).dims();
            Ok(vec![Some(c.g.adaptive_avg_pool2d([s[2], s[3]])?)])
        })
    }
}

/// A convolution's bias gradient: the output's gradient summed over batch and positions.
/// The batch goes first, a vectorized sum of whole samples, leaving the short sums over
/// each channel's positions (one pass over `[0, 2, 3]` strides through every plane).
fn bias_grad<F: Float>(g: Var<'_, F>) -> Result<Var<'_, F>> {
    g.sum(&[0], false)?.sum(&[1, 2], false)
}

/// The rows and columns a convolution's floor division dropped at the input's far edges:
/// the `output_padding` that makes the transposed convolution of its output gradient the
/// input's size.
fn dropped(opts: ConvOptions, xs: &[usize], ws: &[usize]) -> [usize; 2] {
    let extra = |a: usize| {
        (xs[2 + a] + 2 * opts.padding[a] - opts.dilation[a] * (ws[2 + a] - 1) - 1) % opts.stride[a]
    };
    [extra(0), extra(1)]
}

impl<'t, F: Float> Var<'t, F> {
    /// A convolution's weight gradient ([`descent_tensor::Tensor::conv2d_weight_grad`]):
    /// `self` the output's gradient `[N, O, oh, ow]`, `input` the input `[N, C, H, W]`;
    /// `[O, C/groups, kh, kw]`. It is bilinear, so its backward is the two other products of
    /// the convolution with the cotangent as weight: the gradient's is
    /// `conv2d(input, ḡ)`, the input's `conv_transpose2d(self, ḡ)`.
    ///
    /// # Errors
    /// The tensor op's errors.
    pub fn conv2d_weight_grad(
        self,
        input: Var<'t, F>,
        kernel: [usize; 2],
        opts: ConvOptions,
    ) -> Result<Self> {
        let value = self.with_values(input, |g, x| g.conv2d_weight_grad(x, kernel, opts))??;
        self.tape
            .record("conv2d_weight_grad", value, &[self, input], move |c| {
                let (g, x, h) = (c.x(0), c.x(1), c.g);
                let dg = c.need(0, || x.conv2d(h, None, opts))?;
                let dx = c.need(1, || {
                    let extra = dropped(opts, &x.dims(), &h.dims());
                    g.conv_transpose2d(h, None, opts, extra)
                })?;
                Ok(vec![dg, dx])
            })
    }
}
