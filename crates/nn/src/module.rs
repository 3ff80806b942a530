//! The [`Module`] trait every layer and model implements, [`Mode`], and [`Sequential`].
//!
//! Parameters carry PyTorch's `state_dict` names: a [`Sequential`] names its layers `0`,
//! `1`, …; a struct names its fields (`fc2.bias`), so weights load under the same names in
//! both frameworks.

use crate::error::Result;
use crate::serialize::{Buffer, BufferMut};
use descent_autodiff::{Param, Tape, Var};
use descent_tensor::Float;

/// Whether a forward pass trains or evaluates. Passed explicitly to every forward, never
/// stored in the model: BatchNorm uses batch statistics and updates its running ones in
/// `Train`, uses the running ones in `Eval`; Dropout drops only in `Train`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Training.
    Train,
    /// Evaluation (inference).
    Eval,
}

/// A layer or a model: a differentiable function of its input and named parameters.
///
/// `forward` takes `&self`, so a model can be used from `Fn` closures (gradient checks,
/// objectives of full-batch optimizers) and shared by reference while an optimizer holds
/// nothing. The one state a forward changes — BatchNorm's running statistics in
/// [`Mode::Train`] — is a statistic outside the graph, kept behind interior mutability
/// (`RefCell`) in that layer alone.
///
/// Leaf layers implement [`Module::named_params`] and [`Module::named_params_mut`] (and the
/// buffer pair if they have buffers); containers implement [`Module::children`] and
/// [`Module::children_mut`] and get prefixed names (`"fc1.weight"`) for free:
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{Linear, Mode, Module};
/// use descent_nn::activation::relu;
/// use rand::{rngs::StdRng, SeedableRng};
///
/// struct Net { fc1: Linear<f32>, fc2: Linear<f32> }
///
/// impl Module<f32> for Net {
///     fn forward<'t>(&self, tape: &'t Tape<f32>, x: descent_autodiff::Var<'t, f32>, mode: Mode)
///         -> descent_nn::Result<descent_autodiff::Var<'t, f32>> {
///         let h = relu(self.fc1.forward(tape, x, mode)?)?;
///         self.fc2.forward(tape, h, mode)
///     }
///     fn children(&self) -> Vec<(String, &dyn Module<f32>)> {
///         vec![("fc1".into(), &self.fc1), ("fc2".into(), &self.fc2)]
///     }
///     fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<f32>)> {
///         vec![("fc1".into(), &mut self.fc1), ("fc2".into(), &mut self.fc2)]
///     }
/// }
///
/// let mut rng = StdRng::seed_from_u64(0);
/// let net = Net { fc1: Linear::new(4, 8, &mut rng)?, fc2: Linear::new(8, 2, &mut rng)? };
/// let names: Vec<String> = net.named_params().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// # Ok::<(), descent_nn::Error>(())
/// ```
pub trait Module<F: Float> {
    /// Records the forward pass of `x` on `tape`.
    ///
    /// # Errors
    /// A layer-specific error for an input of the wrong shape (naming the layer and the
    /// shapes), or an error from the tape.
    fn forward<'t>(&self, tape: &'t Tape<F>, x: Var<'t, F>, mode: Mode) -> Result<Var<'t, F>>;

    /// Direct sub-modules with their names; containers override this (default: none).
    fn children(&self) -> Vec<(String, &dyn Module<F>)> {
        Vec::new()
    }

    /// Direct sub-modules, mutably, in the same order as [`Module::children`].
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<F>)> {
        Vec::new()
    }

    /// All parameters with their PyTorch names (default: the children's, prefixed).
    fn named_params(&self) -> Vec<(String, &Param<F>)> {
        let children = self.children().into_iter();
        children
            .flat_map(|(name, m)| prefixed(&name, m.named_params()))
            .collect()
    }

    /// All parameters, mutably, in the order of [`Module::named_params`].
    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<F>)> {
        let children = self.children_mut().into_iter();
        children
            .flat_map(|(name, m)| prefixed(&name, m.named_params_mut()))
            .collect()
    }

    /// State that is saved but not trained (BatchNorm's running statistics), by value
    /// (tensors share storage, so this copies no data). Default: the children's, prefixed.
    fn named_buffers(&self) -> Vec<(String, Buffer<F>)> {
        let children = self.children().into_iter();
        children
            .flat_map(|(name, m)| prefixed(&name, m.named_buffers()))
            .collect()
    }

    /// The buffers, to be overwritten by a load, in the order of [`Module::named_buffers`].
    fn named_buffers_mut(&mut self) -> Vec<(String, BufferMut<'_, F>)> {
        let children = self.children_mut().into_iter();
        children
            .flat_map(|(name, m)| prefixed(&name, m.named_buffers_mut()))
            .collect()
    }

    /// The parameters, for an optimizer's step.
    fn params_mut(&mut self) -> Vec<&mut Param<F>> {
        self.named_params_mut()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// The parameters (their ids key the gradients).
    fn params(&self) -> Vec<&Param<F>> {
        self.named_params().into_iter().map(|(_, p)| p).collect()
    }

    /// The total number of trainable scalars.
    fn num_params(&self) -> usize {
        self.named_params()
            .iter()
            .map(|(_, p)| p.value.numel())
            .sum()
    }

    /// Parameters then buffers, by value: what [`crate::save`] writes (PyTorch's
    /// `state_dict`).
    fn state_dict(&self) -> Vec<(String, Buffer<F>)> {
        let params = self.named_params().into_iter();
        let params = params.map(|(n, p)| (n, Buffer::Float(p.value.clone())));
        params.chain(self.named_buffers()).collect()
    }
}

/// Prepends `prefix.` to each name: how a container names its children's parameters.
pub fn prefixed<T>(prefix: &str, named: Vec<(String, T)>) -> Vec<(String, T)> {
    named
        .into_iter()
        .map(|(n, t)| (format!("{prefix}.{n}"), t))
        .collect()
}

/// Layers applied in order; parameters are named by position (`"0.weight"`), as PyTorch's
/// `nn.Sequential`.
///
/// ```
/// use descent_autodiff::Tape;
/// use descent_nn::{activation::Relu, loss, Linear, Mode, Module, Reduction, Sequential};
/// use descent_tensor::Tensor;
/// use rand::{rngs::StdRng, SeedableRng};
///
/// let mut rng = StdRng::seed_from_u64(0);
/// let model = Sequential::new()
///     .add(Linear::new(4, 16, &mut rng)?)
///     .add(Relu)
///     .add(Linear::new(16, 3, &mut rng)?);
/// let x = Tensor::<f32>::randn(&[8, 4], 0.0, 1.0, &mut rng)?;
/// let labels = [0, 2, 1, 1, 0, 2, 2, 1];
///
/// let tape = Tape::new();
/// let logits = model.forward(&tape, tape.constant(x), Mode::Train)?;
/// let loss = loss::cross_entropy(logits, &labels, Reduction::Mean)?;
/// let grads = loss.backward()?;
/// for (name, p) in model.named_params() {
///     assert_eq!(grads.get(p).expect(&name).shape(), p.value.shape());
/// }
/// assert_eq!(model.named_params()[2].0, "2.weight");
/// # Ok::<(), descent_nn::Error>(())
/// ```
#[derive(Default)]
pub struct Sequential<F: Float> {
    layers: Vec<Box<dyn Module<F>>>,
}

impl<F: Float> Sequential<F> {
    /// An empty sequence (the identity).
    pub fn new() -> Self {
        Sequential { layers: Vec::new() }
    }

    /// Appends a layer (builder style).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module<F> + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// Appends a layer.
    pub fn push(&mut self, layer: impl Module<F> + 'static) {
        self.layers.push(Box::new(layer));
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl<F: Float> Module<F> for Sequential<F> {
    fn forward<'t>(&self, tape: &'t Tape<F>, x: Var<'t, F>, mode: Mode) -> Result<Var<'t, F>> {
        self.layers
            .iter()
            .try_fold(x, |h, layer| layer.forward(tape, h, mode))
    }

    fn children(&self) -> Vec<(String, &dyn Module<F>)> {
        let layers = self.layers.iter().enumerate();
        layers.map(|(i, l)| (i.to_string(), l.as_ref())).collect()
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<F>)> {
        let layers = self.layers.iter_mut().enumerate();
        layers
            .map(|(i, l)| (i.to_string(), l.as_mut() as &mut dyn Module<F>))
            .collect()
    }
}
