//! The [`Module`] trait every layer and model implements, [`Mode`], and [`Sequential`].
//!
//! Parameters carry PyTorch's `state_dict` names: a [`Sequential`] names its layers `0`,
//! `1`, …; a struct names its fields (`fc2.bias`), so weights load under the same names in
//! both frameworks.

use crate::activation::Relu;
use crate::error::Result;
use crate::state::{Buffer, BufferMut};
use descent_autodiff::{Param, Tape, Var};
use descent_tensor::Float;
use std::any::TypeId;

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
/// Leaf layers list their parameter fields once with [`params!`](crate::params), which
/// writes [`Module::named_params`] and [`Module::named_params_mut`] (and their buffers with
/// [`buffers!`](crate::buffers)); containers implement [`Module::children`] and
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

    /// This layer's forward on `relu(x)` as one op, for a layer that has such a fused form
    /// ([`MaxPool2d`](crate::MaxPool2d): the maximum of ReLUs is the ReLU of the maximum);
    /// `None` for the others. [`Sequential`] calls it for a
    /// [`Relu`](crate::activation::Relu) followed by this layer: the same values and
    /// gradients as the two layers apart, without `relu(x)` written out.
    ///
    /// # Errors
    /// As [`Module::forward`].
    fn forward_relu_first<'t>(
        &self,
        tape: &'t Tape<F>,
        x: Var<'t, F>,
        mode: Mode,
    ) -> Option<Result<Var<'t, F>>> {
        let _ = (tape, x, mode);
        None
    }

    /// Records the forward pass as [`Module::forward`] does, and hands each layer's output
    /// to `observer` with the layer's name — how diagnostics see the activations inside a
    /// model, with no global state. The default reports this module's own output under the
    /// empty name; [`Sequential`] reports each child's output under its position (`"0"`,
    /// `"1"`, nested as `"2.0"`). A model of its own type overrides this to report the
    /// layers it wants seen.
    ///
    /// # Errors
    /// As [`Module::forward`].
    fn forward_observed<'t>(
        &self,
        tape: &'t Tape<F>,
        x: Var<'t, F>,
        mode: Mode,
        observer: &mut dyn FnMut(&str, Var<'t, F>),
    ) -> Result<Var<'t, F>> {
        let y = self.forward(tape, x, mode)?;
        observer("", y);
        Ok(y)
    }

    /// Re-seeds this layer's own random generator, if it has one ([`crate::Dropout`],
    /// [`crate::Dropout2d`]), and says whether it did. Default: no generator.
    fn reseed(&mut self, seed: u64) -> bool {
        let _ = seed;
        false
    }

    /// Re-seeds every random layer of the model: the `k`-th in depth-first order (this
    /// module first, then its children in order) gets `seed + k`, so each layer draws its
    /// own masks and a run that re-seeds with a function of `(seed, epoch)` each epoch draws
    /// the same masks when resumed. Returns the number of layers re-seeded.
    ///
    /// ```
    /// use descent_autodiff::Tape;
    /// use descent_nn::{Dropout, Mode, Module, Sequential};
    /// use descent_tensor::Tensor;
    /// let masks = |model: &Sequential<f32>| {
    ///     let tape = Tape::new();
    ///     let y = model.forward(&tape, tape.constant(Tensor::ones(&[64])), Mode::Train)?;
    ///     Ok::<_, descent_nn::Error>(y.value()?.to_vec())
    /// };
    /// let mut model = Sequential::new().add(Dropout::new(0.5, 1)?).add(Dropout::new(0.5, 2)?);
    /// assert_eq!(model.reseed_dropout(7), 2);
    /// let first = masks(&model)?;
    /// model.reseed_dropout(7);
    /// assert_eq!(masks(&model)?, first);
    /// # Ok::<(), descent_nn::Error>(())
    /// ```
    fn reseed_dropout(&mut self, seed: u64) -> u64 {
        let mut next = seed;
        if self.reseed(next) {
            next = next.wrapping_add(1);
        }
        for (_, child) in self.children_mut() {
            reseed_tree(child, &mut next);
        }
        next.wrapping_sub(seed)
    }

    /// Parameters then buffers, by value: what [`crate::save`] writes (PyTorch's
    /// `state_dict`).
    fn state_dict(&self) -> Vec<(String, Buffer<F>)> {
        let params = self.named_params().into_iter();
        let params = params.map(|(n, p)| (n, Buffer::Float(p.value.clone())));
        params.chain(self.named_buffers()).collect()
    }
}

/// Prepends `prefix.` to each name: how a container names its children's parameters. An
/// empty prefix leaves the names as they are (a wrapper whose child's names are its own,
/// as `BatchNorm2d`'s inner normalization).
pub fn prefixed<T>(prefix: &str, named: Vec<(String, T)>) -> Vec<(String, T)> {
    named
        .into_iter()
        .map(|(n, t)| (joined(prefix, &n), t))
        .collect()
}

/// `prefix.name`, or whichever of the two is not empty.
fn joined(prefix: &str, name: &str) -> String {
    match (prefix.is_empty(), name.is_empty()) {
        (true, _) => name.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}.{name}"),
    }
}

/// Re-seeds `module`'s random layers and its descendants', depth first, from `*next` on.
fn reseed_tree<F: Float>(module: &mut dyn Module<F>, next: &mut u64) {
    if module.reseed(*next) {
        *next = next.wrapping_add(1);
    }
    for (_, child) in module.children_mut() {
        reseed_tree(child, next);
    }
}

/// Layers applied in order; parameters are named by position (`"0.weight"`), as PyTorch's
/// `nn.Sequential`. A [`Relu`] followed by a layer with a fused form
/// ([`Module::forward_relu_first`], as [`MaxPool2d`](crate::MaxPool2d)) runs as that one
/// op in [`Module::forward`]; [`Module::forward_observed`] runs every layer apart, so that
/// each output can be seen.
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
    /// Which layers are a [`Relu`], known from their type when they are added.
    relu: Vec<bool>,
}

impl<F: Float> Sequential<F> {
    /// An empty sequence (the identity).
    pub fn new() -> Self {
        Sequential {
            layers: Vec::new(),
            relu: Vec::new(),
        }
    }

    /// Appends a layer (builder style).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module<F> + 'static) -> Self {
        self.push(layer);
        self
    }

    /// Appends a layer.
    pub fn push<M: Module<F> + 'static>(&mut self, layer: M) {
        self.relu.push(TypeId::of::<M>() == TypeId::of::<Relu>());
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

    /// Records the forward pass and returns every layer's output with its name (see
    /// [`Module::forward_observed`]); the last is the model's output.
    ///
    /// ```
    /// use descent_autodiff::Tape;
    /// use descent_nn::{activation::Relu, Linear, Mode, Sequential};
    /// use descent_tensor::Tensor;
    /// use rand::{rngs::StdRng, SeedableRng};
    /// let mut rng = StdRng::seed_from_u64(0);
    /// let model = Sequential::new().add(Linear::new(4, 8, &mut rng)?).add(Relu);
    /// let tape = Tape::new();
    /// let trace = model.forward_trace(&tape, tape.constant(Tensor::<f32>::ones(&[2, 4])), Mode::Train)?;
    /// let names: Vec<&str> = trace.iter().map(|(n, _)| n.as_str()).collect();
    /// assert_eq!(names, ["0", "1"]);
    /// assert_eq!(trace[0].1.shape(), [2, 8]);
    /// # Ok::<(), descent_nn::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`Module::forward`].
    pub fn forward_trace<'t>(
        &self,
        tape: &'t Tape<F>,
        x: Var<'t, F>,
        mode: Mode,
    ) -> Result<Vec<(String, Var<'t, F>)>> {
        let mut trace = Vec::new();
        self.forward_observed(tape, x, mode, &mut |name, v| {
            trace.push((name.to_string(), v))
        })?;
        Ok(trace)
    }
}

impl<F: Float> Module<F> for Sequential<F> {
    fn forward<'t>(&self, tape: &'t Tape<F>, x: Var<'t, F>, mode: Mode) -> Result<Var<'t, F>> {
        let (mut h, mut i) = (x, 0);
        while let Some(layer) = self.layers.get(i) {
            if let (true, Some(next)) = (self.relu[i], self.layers.get(i + 1)) {
                if let Some(y) = next.forward_relu_first(tape, h, mode) {
                    (h, i) = (y?, i + 2);
                    continue;
                }
            }
            (h, i) = (layer.forward(tape, h, mode)?, i + 1);
        }
        Ok(h)
    }

    fn forward_observed<'t>(
        &self,
        tape: &'t Tape<F>,
        x: Var<'t, F>,
        mode: Mode,
        observer: &mut dyn FnMut(&str, Var<'t, F>),
    ) -> Result<Var<'t, F>> {
        let mut layers = self.layers.iter().enumerate();
        layers.try_fold(x, |h, (i, layer)| {
            let prefix = i.to_string();
            layer.forward_observed(tape, h, mode, &mut |name, v| {
                observer(&joined(&prefix, name), v)
            })
        })
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
