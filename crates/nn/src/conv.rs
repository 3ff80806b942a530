//! The 2-D convolution layer.

use crate::error::{Error, Result};
use crate::init::Init;
use crate::module::{Mode, Module};
use crate::pool::batched;
use descent_autodiff::{Param, Tape, Var};
use descent_tensor::{ConvOptions, Float};
use rand::Rng;

/// 2-D convolution over `[N, C, H, W]` (or unbatched `[C, H, W]`) images: weight
/// `[out, in/groups, kh, kw]`, bias `[out]`, PyTorch's `nn.Conv2d` layout, names and
/// default initialization (weight Kaiming-uniform with `a = √5`, i.e. `U(±1/√fan_in)`,
/// bias `U(±1/√fan_in)`, `fan_in = in/groups·kh·kw`).
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{Conv2d, Mode, Module};
/// use descent_tensor::{ConvOptions, Tensor};
/// use rand::{rngs::StdRng, SeedableRng};
/// let mut rng = StdRng::seed_from_u64(0);
/// let opts = ConvOptions { stride: [2, 2], padding: [1, 1], ..Default::default() };
/// let conv = Conv2d::<f32>::new(3, 8, [3, 3], opts, &mut rng)?;
/// let tape = Tape::new();
/// let y = conv.forward(&tape, tape.constant(Tensor::ones(&[4, 3, 28, 28])), Mode::Train)?;
/// assert_eq!(y.shape(), [4, 8, 14, 14]);
/// let names: Vec<String> = conv.named_params().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["weight", "bias"]);
/// let err = conv.forward(&tape, tape.constant(Tensor::ones(&[4, 1, 28, 28])), Mode::Train).unwrap_err();
/// assert_eq!(err.to_string(), "Conv2d(3, 8, kernel_size=[3, 3], stride=[2, 2], padding=[1, 1]): expected input [N, 3, H, W] or [3, H, W], got shape [4, 1, 28, 28]");
/// # Ok::<(), descent_nn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Conv2d<F: Float> {
    /// `[out, in/groups, kh, kw]`.
    pub weight: Param<F>,
    /// `[out]`, or none.
    pub bias: Option<Param<F>>,
    /// Stride, padding, dilation and groups.
    pub options: ConvOptions,
}

impl<F: Float> Conv2d<F> {
    /// A layer with a bias, initialized as PyTorch's `nn.Conv2d`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for zero channels, kernel, stride or dilation, or groups
    /// that do not divide both channel counts.
    pub fn new(
        in_channels: usize,
        out_channels: usize,
        kernel_size: [usize; 2],
        options: ConvOptions,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        let init = Init::PYTORCH_LINEAR;
        Self::with_init(in_channels, out_channels, kernel_size, options, init, rng)
    }

    /// A layer whose weight is drawn by `init`; the bias keeps PyTorch's default
    /// `U(±1/√fan_in)`.
    ///
    /// # Errors
    /// As [`Conv2d::new`], and `init`'s errors for the weight's shape.
    pub fn with_init(
        in_channels: usize,
        out_channels: usize,
        kernel_size: [usize; 2],
        options: ConvOptions,
        init: Init,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        let bad = |arg, value: String, why| Error::InvalidArgument {
            op: "Conv2d",
            arg,
            value,
            why,
        };
        let g = options.groups;
        if g == 0 || !in_channels.is_multiple_of(g) || !out_channels.is_multiple_of(g) {
            return Err(bad(
                "groups",
                g.to_string(),
                "must be positive and divide in_channels and out_channels",
            ));
        }
        if in_channels == 0 || out_channels == 0 {
            let value = format!("({in_channels}, {out_channels})");
            return Err(bad("channels", value, "must be positive"));
        }
        if kernel_size.contains(&0) {
            let value = format!("{kernel_size:?}");
            return Err(bad("kernel_size", value, "must be positive"));
        }
        for (arg, v) in [("stride", options.stride), ("dilation", options.dilation)] {
            if v.contains(&0) {
                return Err(bad(arg, format!("{v:?}"), "must be positive"));
            }
        }
        let shape = [
            out_channels,
            in_channels / g,
            kernel_size[0],
            kernel_size[1],
        ];
        let weight = Param::new(init.tensor(&shape, rng)?);
        let fan_in = (in_channels / g) * kernel_size[0] * kernel_size[1];
        let bound = 1.0 / (fan_in as f64).sqrt();
        let bias = Init::Uniform {
            low: -bound,
            high: bound,
        }
        .tensor(&[out_channels], rng)?;
        Ok(Conv2d {
            weight,
            bias: Some(Param::new(bias)),
            options,
        })
    }

    /// The same layer without its bias.
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        self.weight.value.shape()[1] * self.options.groups
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weight.value.shape()[0]
    }

    /// `Conv2d(in, out, kernel_size=…, stride=…, …)`, as PyTorch prints it.
    fn describe(&self) -> String {
        let s = self.weight.value.shape();
        let o = self.options;
        let mut d = format!(
            "Conv2d({}, {}, kernel_size=[{}, {}], stride={:?}",
            self.in_channels(),
            self.out_channels(),
            s[2],
            s[3],
            o.stride
        );
        if o.padding != [0, 0] {
            d += &format!(", padding={:?}", o.padding);
        }
        if o.dilation != [1, 1] {
            d += &format!(", dilation={:?}", o.dilation);
        }
        if o.groups != 1 {
            d += &format!(", groups={}", o.groups);
        }
        if self.bias.is_none() {
            d += ", bias=False";
        }
        d + ")"
    }
}

impl<F: Float> Module<F> for Conv2d<F> {
    fn forward<'t>(&self, tape: &'t Tape<F>, x: Var<'t, F>, _: Mode) -> Result<Var<'t, F>> {
        let shape = x.shape();
        let c = self.in_channels();
        if !(shape.len() == 4 && shape[1] == c || shape.len() == 3 && shape[0] == c) {
            return Err(Error::InputShape {
                layer: self.describe(),
                expected: format!("[N, {c}, H, W] or [{c}, H, W]"),
                got: shape,
            });
        }
        let w = tape.param(&self.weight);
        let b = self.bias.as_ref().map(|b| tape.param(b));
        batched(&self.describe(), x, |x| Ok(x.conv2d(w, b, self.options)?))
    }

    crate::params!(F; weight, bias);
}
