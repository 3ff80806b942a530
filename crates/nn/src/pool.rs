//! Parameter-free layers for convolutional networks: [`MaxPool2d`], [`AvgPool2d`],
//! [`AdaptiveAvgPool2d`] and [`Flatten`], with PyTorch's names and defaults. The pools take
//! `[N, C, H, W]` or unbatched `[C, H, W]` inputs.

use crate::error::{Error, Result};
use crate::module::{Mode, Module};
use descent_autodiff::{Tape, Var};
use descent_tensor::{Float, Window2d};

/// Runs `f` on a 4-D input, or on a 3-D one as a batch of one (PyTorch's unbatched form);
/// any other rank is an error naming `layer`.
pub(crate) fn batched<'t, F: Float>(
    layer: &str,
    x: Var<'t, F>,
    f: impl FnOnce(Var<'t, F>) -> Result<Var<'t, F>>,
) -> Result<Var<'t, F>> {
    match x.shape().len() {
        4 => f(x),
        3 => Ok(f(x.unsqueeze(0)?)?.squeeze(Some(0))?),
        _ => Err(Error::InputShape {
            layer: layer.to_string(),
            expected: "[N, C, H, W] or [C, H, W]".into(),
            got: x.shape(),
        }),
    }
}

/// Max pooling over windows of `[N, C, H, W]` (PyTorch's `nn.MaxPool2d`; floor mode
/// unless [`MaxPool2d::ceil_mode`]).
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{MaxPool2d, Mode, Module};
/// use descent_tensor::Tensor;
/// let pool = MaxPool2d::new([2, 2]);                  // stride defaults to the kernel
/// let tape = Tape::<f32>::new();
/// let x = Tensor::arange(0., 16., 1.)?.reshape(&[1, 1, 4, 4])?;
/// let y = pool.forward(&tape, tape.constant(x), Mode::Eval)?;
/// assert_eq!(y.value()?.to_vec(), [5., 7., 13., 15.]);
/// # Ok::<(), descent_nn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2d {
    /// Kernel, stride, padding (at most half the kernel) and dilation.
    pub window: Window2d,
}

impl MaxPool2d {
    /// A `kernel_size` pool with stride `kernel_size`, no padding (PyTorch's defaults).
    pub fn new(kernel_size: [usize; 2]) -> Self {
        MaxPool2d {
            window: Window2d::new(kernel_size).stride(kernel_size),
        }
    }

    /// The same pool counting output positions with `ceil` (PyTorch's `ceil_mode=True`):
    /// a last, partial window covers the input's far edge.
    ///
    /// ```
    /// use descent_autodiff::Tape;
    /// use descent_nn::{MaxPool2d, Mode, Module};
    /// use descent_tensor::Tensor;
    /// let pool = MaxPool2d::new([2, 2]).ceil_mode(true);
    /// let tape = Tape::<f32>::new();
    /// let y = pool.forward(&tape, tape.constant(Tensor::ones(&[1, 3, 5, 5])), Mode::Eval)?;
    /// assert_eq!(y.shape(), [1, 3, 3, 3]);
    /// # Ok::<(), descent_nn::Error>(())
    /// ```
    pub fn ceil_mode(self, ceil_mode: bool) -> Self {
        MaxPool2d {
            window: self.window.ceil_mode(ceil_mode),
        }
    }
}

impl<F: Float> Module<F> for MaxPool2d {
    fn forward<'t>(&self, _: &'t Tape<F>, x: Var<'t, F>, _: Mode) -> Result<Var<'t, F>> {
        let layer = format!("MaxPool2d({:?})", self.window);
        batched(&layer, x, |x| Ok(x.max_pool2d(self.window)?))
    }

    /// `Var::relu_max_pool2d`: the pool of `relu(x)` in one pass over `x`.
    fn forward_relu_first<'t>(
        &self,
        _: &'t Tape<F>,
        x: Var<'t, F>,
        _: Mode,
    ) -> Option<Result<Var<'t, F>>> {
        let layer = format!("MaxPool2d({:?})", self.window);
        Some(batched(&layer, x, |x| Ok(x.relu_max_pool2d(self.window)?)))
    }
}

/// Average pooling over windows of `[N, C, H, W]` (PyTorch's `nn.AvgPool2d`; floor mode
/// unless [`AvgPool2d::ceil_mode`]).
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{AvgPool2d, Mode, Module};
/// use descent_tensor::Tensor;
/// let pool = AvgPool2d::new([2, 2]);
/// let tape = Tape::<f32>::new();
/// let x = Tensor::arange(0., 16., 1.)?.reshape(&[1, 1, 4, 4])?;
/// let y = pool.forward(&tape, tape.constant(x), Mode::Eval)?;
/// assert_eq!(y.value()?.to_vec(), [2.5, 4.5, 10.5, 12.5]);
/// # Ok::<(), descent_nn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AvgPool2d {
    /// Kernel, stride and padding (at most half the kernel); no dilation.
    pub window: Window2d,
    /// Whether padding counts in the divisor (PyTorch's default: true).
    pub count_include_pad: bool,
}

impl AvgPool2d {
    /// A `kernel_size` pool with stride `kernel_size`, no padding, padding counted
    /// (PyTorch's defaults).
    pub fn new(kernel_size: [usize; 2]) -> Self {
        AvgPool2d {
            window: Window2d::new(kernel_size).stride(kernel_size),
            count_include_pad: true,
        }
    }

    /// The same pool counting output positions with `ceil` (PyTorch's `ceil_mode=True`);
    /// a last, partial window's full size stops at the right padding, as in PyTorch.
    pub fn ceil_mode(self, ceil_mode: bool) -> Self {
        AvgPool2d {
            window: self.window.ceil_mode(ceil_mode),
            ..self
        }
    }
}

impl<F: Float> Module<F> for AvgPool2d {
    fn forward<'t>(&self, _: &'t Tape<F>, x: Var<'t, F>, _: Mode) -> Result<Var<'t, F>> {
        let layer = format!("AvgPool2d({:?})", self.window);
        batched(&layer, x, |x| {
            Ok(x.avg_pool2d(self.window, self.count_include_pad)?)
        })
    }
}

/// Average pooling to a fixed output size, whatever the input's (PyTorch's
/// `nn.AdaptiveAvgPool2d`): a classifier head that accepts any image size.
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{AdaptiveAvgPool2d, Mode, Module};
/// use descent_tensor::Tensor;
/// let pool = AdaptiveAvgPool2d { output_size: [1, 1] };   // global average pooling
/// let tape = Tape::<f32>::new();
/// let y = pool.forward(&tape, tape.constant(Tensor::ones(&[2, 3, 7, 5])), Mode::Eval)?;
/// assert_eq!(y.shape(), [2, 3, 1, 1]);
/// # Ok::<(), descent_nn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptiveAvgPool2d {
    /// `[oh, ow]`.
    pub output_size: [usize; 2],
}

impl<F: Float> Module<F> for AdaptiveAvgPool2d {
    fn forward<'t>(&self, _: &'t Tape<F>, x: Var<'t, F>, _: Mode) -> Result<Var<'t, F>> {
        let layer = format!("AdaptiveAvgPool2d({:?})", self.output_size);
        batched(&layer, x, |x| Ok(x.adaptive_avg_pool2d(self.output_size)?))
    }
}

/// Flattens axes `start_dim..=end_dim` into one (PyTorch's `nn.Flatten`; the default,
/// 1 to −1, turns `[N, C, H, W]` into `[N, C·H·W]` for a `Linear` head).
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{Flatten, Mode, Module};
/// use descent_tensor::Tensor;
/// let tape = Tape::<f32>::new();
/// let y = Flatten::default().forward(&tape, tape.constant(Tensor::ones(&[2, 3, 4, 5])), Mode::Eval)?;
/// assert_eq!(y.shape(), [2, 60]);
/// # Ok::<(), descent_nn::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flatten {
    /// First axis flattened (negative counts from the end).
    pub start_dim: isize,
    /// Last axis flattened, inclusive.
    pub end_dim: isize,
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten {
            start_dim: 1,
            end_dim: -1,
        }
    }
}

impl<F: Float> Module<F> for Flatten {
    fn forward<'t>(&self, _: &'t Tape<F>, x: Var<'t, F>, _: Mode) -> Result<Var<'t, F>> {
        let shape = x.shape();
        let n = shape.len() as isize;
        let axis = |d: isize| if d < 0 { d + n } else { d };
        let (start, end) = (axis(self.start_dim), axis(self.end_dim));
        if start < 0 || end >= n || start > end {
            return Err(Error::InputShape {
                layer: format!(
                    "Flatten(start_dim={}, end_dim={})",
                    self.start_dim, self.end_dim
                ),
                expected: "a rank with start_dim <= end_dim".into(),
                got: shape,
            });
        }
        let (start, end) = (start as usize, end as usize);
        let merged: usize = shape[start..=end].iter().product();
        let new: Vec<isize> = (shape[..start].iter())
            .chain(std::iter::once(&merged))
            .chain(&shape[end + 1..])
            .map(|&d| d as isize)
            .collect();
        Ok(x.reshape(&new)?)
    }
}
