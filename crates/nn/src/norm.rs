//! Normalization layers for images and sequences: [`BatchNorm2d`] (per channel of
//! `[N, C, H, W]`, [`BatchNorm1d`]'s statistics and running estimates over `[N, C, H·W]`)
//! and [`LayerNorm`] (over each sample's trailing axes).

use crate::batchnorm::BatchNorm1d;
use crate::error::{Error, Result};
use crate::module::{Mode, Module};
use descent_autodiff::{Param, Tape, Var};
use descent_tensor::{Float, Tensor};

/// Batch normalization per channel of `[N, C, H, W]` images (PyTorch's `nn.BatchNorm2d`):
/// statistics over the batch and both spatial axes, with [`BatchNorm1d`]'s conventions
/// (biased variance to normalize, unbiased in the running estimate, momentum 0.1, eps
/// 1e-5) and names (`weight`, `bias`, `running_mean`, `running_var`,
/// `num_batches_tracked`). The image is seen as `[N, C, H·W]` by an inner [`BatchNorm1d`],
/// so the two layers share one implementation.
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{BatchNorm2d, Mode, Module};
/// use descent_tensor::Tensor;
/// let bn = BatchNorm2d::<f64>::new(2)?;
/// let tape = Tape::new();
/// // Channel 0 holds 1, 3; channel 1 holds 10, 30 (one sample, 1×2 pixels).
/// let x = Tensor::from_vec(vec![1.0, 3.0, 10.0, 30.0], &[1, 2, 1, 2])?;
/// let y = bn.forward(&tape, tape.constant(x), Mode::Train)?.value()?;
/// assert!(y.allclose(&Tensor::from_vec(vec![-1.0, 1.0, -1.0, 1.0], &[1, 2, 1, 2])?, 1e-4, 0.0));
/// assert_eq!(bn.norm.running_mean().to_vec(), vec![0.2, 2.0]);
/// # Ok::<(), descent_nn::Error>(())
/// ```
#[derive(Debug)]
pub struct BatchNorm2d<F: Float> {
    /// The per-channel normalization (its `momentum`, `eps`, parameters and buffers).
    pub norm: BatchNorm1d<F>,
}

impl<F: Float> BatchNorm2d<F> {
    /// Normalization of `channels` channels, affine, momentum 0.1, eps 1e-5.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `channels` is 0.
    pub fn new(channels: usize) -> Result<Self> {
        Ok(BatchNorm2d {
            norm: BatchNorm1d::new(channels)?,
        })
    }

    /// The same layer without γ and β (PyTorch's `affine=False`).
    pub fn without_affine(self) -> Self {
        BatchNorm2d {
            norm: self.norm.without_affine(),
        }
    }

    /// The same layer without running statistics (PyTorch's `track_running_stats=False`).
    pub fn without_running_stats(self) -> Self {
        BatchNorm2d {
            norm: self.norm.without_running_stats(),
        }
    }

    fn describe(&self) -> String {
        format!("BatchNorm2d(num_features={})", self.norm.num_features())
    }
}

impl<F: Float> Module<F> for BatchNorm2d<F> {
    fn forward<'t>(&self, tape: &'t Tape<F>, x: Var<'t, F>, mode: Mode) -> Result<Var<'t, F>> {
        let shape = x.shape();
        let c = self.norm.num_features();
        if shape.len() != 4 || shape[1] != c {
            return Err(Error::InputShape {
                layer: self.describe(),
                expected: format!("[N, {c}, H, W]"),
                got: shape,
            });
        }
        let flat = x.reshape(&[shape[0] as isize, c as isize, -1])?;
        let y = match self.norm.forward(tape, flat, mode) {
            Err(Error::InputShape { expected, .. }) => Err(Error::InputShape {
                layer: self.describe(),
                expected,
                got: shape.clone(),
            }),
            other => other,
        }?;
        let back: Vec<isize> = shape.iter().map(|&d| d as isize).collect();
        Ok(y.reshape(&back)?)
    }

    /// The inner normalization, under the empty name: its parameters and buffers keep
    /// their own names (`weight`, `running_mean`, …), as in PyTorch's `BatchNorm2d`.
    fn children(&self) -> Vec<(String, &dyn Module<F>)> {
        vec![(String::new(), &self.norm)]
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<F>)> {
        vec![(String::new(), &mut self.norm)]
    }
}

/// Layer normalization (Ba et al., 2016; PyTorch's `nn.LayerNorm`): each sample is
/// normalized over its trailing axes `normalized_shape` with its own mean and biased
/// variance, `y = (x − μ)/√(σ² + ε)·γ + β`, γ and β of `normalized_shape` (names `weight`
/// and `bias`, initialized to 1 and 0). The same in both modes: there are no running
/// statistics.
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{LayerNorm, Mode, Module};
/// use descent_tensor::Tensor;
/// let ln = LayerNorm::<f64>::new(&[2])?;
/// let tape = Tape::new();
/// let x = Tensor::from_vec(vec![1.0, 3.0, -5.0, 5.0], &[2, 2])?;
/// let y = ln.forward(&tape, tape.constant(x), Mode::Eval)?.value()?;
/// assert!(y.allclose(&Tensor::from_vec(vec![-1.0, 1.0, -1.0, 1.0], &[2, 2])?, 1e-4, 0.0));
/// # Ok::<(), descent_nn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct LayerNorm<F: Float> {
    /// γ, of `normalized_shape`; none without an elementwise affine.
    pub weight: Option<Param<F>>,
    /// β, of `normalized_shape`; none without an elementwise affine.
    pub bias: Option<Param<F>>,
    /// Added to the variance before the square root (default 1e-5).
    pub eps: f64,
    normalized_shape: Vec<usize>,
}

impl<F: Float> LayerNorm<F> {
    /// Normalization over trailing axes of `normalized_shape`, with γ = 1, β = 0, eps 1e-5.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for an empty shape or one with a zero axis.
    pub fn new(normalized_shape: &[usize]) -> Result<Self> {
        if normalized_shape.is_empty() || normalized_shape.contains(&0) {
            return Err(Error::InvalidArgument {
                op: "LayerNorm",
                arg: "normalized_shape",
                value: format!("{normalized_shape:?}"),
                why: "must have at least one axis, none of length 0",
            });
        }
        Ok(LayerNorm {
            weight: Some(Param::new(Tensor::ones(normalized_shape))),
            bias: Some(Param::new(Tensor::zeros(normalized_shape))),
            eps: 1e-5,
            normalized_shape: normalized_shape.to_vec(),
        })
    }

    /// The same layer without γ and β (PyTorch's `elementwise_affine=False`).
    pub fn without_affine(mut self) -> Self {
        self.weight = None;
        self.bias = None;
        self
    }

    /// The trailing shape normalized over.
    pub fn normalized_shape(&self) -> &[usize] {
        &self.normalized_shape
    }
}

impl<F: Float> Module<F> for LayerNorm<F> {
    fn forward<'t>(&self, tape: &'t Tape<F>, x: Var<'t, F>, _: Mode) -> Result<Var<'t, F>> {
        let shape = x.shape();
        let k = self.normalized_shape.len();
        if !shape.ends_with(&self.normalized_shape) {
            return Err(Error::InputShape {
                layer: format!("LayerNorm({:?})", self.normalized_shape),
                expected: format!("[..., {}]", join(&self.normalized_shape)),
                got: shape,
            });
        }
        let dims: Vec<isize> = (1..=k as isize).map(|d| -d).collect();
        let mean = x.mean(&dims, true)?;
        let var = x.var(&dims, 0, true)?;
        let mut y = x.sub(mean)?.div(var.add_scalar(F::of(self.eps))?.sqrt()?)?;
        if let Some(w) = &self.weight {
            y = y.mul(tape.param(w))?;
        }
        if let Some(b) = &self.bias {
            y = y.add(tape.param(b))?;
        }
        Ok(y)
    }

    crate::params!(F; weight, bias);
}

/// `a, b, c` for a shape in an error message.
fn join(shape: &[usize]) -> String {
    let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    parts.join(", ")
}
