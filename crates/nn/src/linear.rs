//! The fully connected layer `y = x·Wᵀ + b`.

use crate::error::{Error, Result};
use crate::init::Init;
use crate::module::{Mode, Module};
use descent_autodiff::{Param, Tape, Var};
use descent_tensor::Float;
use rand::Rng;

/// `y = x·Wᵀ + b` with `x: [..., in]`, `W: [out, in]`, `b: [out]` (PyTorch's layout and
/// names, `weight` and `bias`).
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{Init, Linear, Mode, Module};
/// use descent_tensor::Tensor;
/// use rand::{rngs::StdRng, SeedableRng};
/// let mut rng = StdRng::seed_from_u64(0);
/// let layer = Linear::<f64>::with_init(3, 2, Init::XavierUniform { gain: 1.0 }, &mut rng)?;
/// let tape = Tape::new();
/// let y = layer.forward(&tape, tape.constant(Tensor::ones(&[5, 3])), Mode::Eval)?;
/// assert_eq!(y.shape(), [5, 2]);
/// let err = layer.forward(&tape, tape.constant(Tensor::ones(&[5, 4])), Mode::Eval).unwrap_err();
/// assert_eq!(err.to_string(), "Linear(in_features=3, out_features=2): expected input [..., 3], got shape [5, 4]");
/// # Ok::<(), descent_nn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Linear<F: Float> {
    /// `[out, in]`.
    pub weight: Param<F>,
    /// `[out]`, or none.
    pub bias: Option<Param<F>>,
}

impl<F: Float> Linear<F> {
    /// A layer with a bias, initialized as PyTorch's `nn.Linear`: weight and bias from
    /// `U(−1/√in, 1/√in)`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `in_features` is 0.
    pub fn new(in_features: usize, out_features: usize, rng: &mut impl Rng) -> Result<Self> {
        Self::with_init(in_features, out_features, Init::PYTORCH_LINEAR, rng)
    }

    /// A layer whose weight is drawn by `init`; the bias keeps PyTorch's default
    /// `U(−1/√in, 1/√in)`, as after `nn.init.xxx_(layer.weight)` in PyTorch.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `in_features` is 0 or `init` fails for `[out, in]`.
    pub fn with_init(
        in_features: usize,
        out_features: usize,
        init: Init,
        rng: &mut impl Rng,
    ) -> Result<Self> {
        if in_features == 0 {
            return Err(Error::InvalidArgument {
                op: "Linear",
                arg: "in_features",
                value: "0".into(),
                why: "must be at least 1",
            });
        }
        let weight = Param::new(init.tensor(&[out_features, in_features], rng)?);
        let bound = 1.0 / (in_features as f64).sqrt();
        let bias = Init::Uniform {
            low: -bound,
            high: bound,
        }
        .tensor(&[out_features], rng)?;
        Ok(Linear {
            weight,
            bias: Some(Param::new(bias)),
        })
    }

    /// The same layer without its bias: `y = x·Wᵀ`.
    pub fn without_bias(mut self) -> Self {
        self.bias = None;
        self
    }

    /// The input width.
    pub fn in_features(&self) -> usize {
        self.weight.value.shape()[1]
    }

    /// The output width.
    pub fn out_features(&self) -> usize {
        self.weight.value.shape()[0]
    }
}

impl<F: Float> Module<F> for Linear<F> {
    fn forward<'t>(&self, tape: &'t Tape<F>, x: Var<'t, F>, _: Mode) -> Result<Var<'t, F>> {
        let shape = x.shape();
        if shape.last() != Some(&self.in_features()) {
            return Err(Error::InputShape {
                layer: format!(
                    "Linear(in_features={}, out_features={})",
                    self.in_features(),
                    self.out_features()
                ),
                expected: format!("[..., {}]", self.in_features()),
                got: shape,
            });
        }
        // A single vector is a batch of one, as in PyTorch.
        let x2 = if shape.len() == 1 { x.unsqueeze(0)? } else { x };
        let w = tape.param(&self.weight);
        let b = self.bias.as_ref().map(|b| tape.param(b));
        let y = match b {
            Some(b) if x2.shape().len() == 2 => linear_op(x2, w, b)?,
            _ => {
                let y = x2.matmul(w.t()?)?;
                b.map_or(Ok(y), |b| y.add(b))?
            }
        };
        Ok(if shape.len() == 1 {
            y.squeeze(Some(0))?
        } else {
            y
        })
    }

    crate::params!(F; weight, bias);
}

/// `x·Wᵀ + b` for a 2-D `x` as one op: the tensor kernel adds the bias as it writes the
/// product back, and the tape holds one node instead of a transpose, a product and a sum.
/// The gradients are the ones the three ops would give, by the same kernels: `g·W`, `gᵀ·x`
/// and `g` summed over the batch; `matmul`'s rule instead for an `x` laid out column by
/// column (a transposed view) or a weight that is not contiguous, whose products that rule
/// computes the other way round.
fn linear_op<'t, F: Float>(x: Var<'t, F>, w: Var<'t, F>, b: Var<'t, F>) -> Result<Var<'t, F>> {
    let (xv, wv, bv) = (x.value()?, w.value()?, b.value()?);
    let strides = xv.strides();
    if (strides[0] == 1 && strides[1] != 1 && xv.shape().iter().all(|&n| n > 1))
        || !wv.is_contiguous()
    {
        return Ok(x.matmul(w.t()?)?.add(b)?);
    }
    let value = xv.linear(&wv, Some(&bv))?;
    Ok(x.tape().record("linear", value, &[x, w, b], |c| {
        let (x, w, g) = (c.x(0), c.x(1), c.g);
        let dx = c.need(0, || g.matmul(w))?;
        let dw = c.need(1, || g.t()?.matmul(x))?;
        let db = c.need(2, || g.sum_to(&c.x(2).shape()))?;
        Ok(vec![dx, dw, db])
    })?)
}
