//! Containers the examples' models are made of, beside the layers of `descent::nn`: a
//! sequence of layers under names of their own (PyTorch's attribute names, so saved weights
//! load into the PyTorch model with the same attributes), and the reshape from flat rows to
//! images. (In the `cli` folder, so cargo does not take it for an example of its own.)

use descent::autodiff::{Tape, Var};
use descent::data::mnist;
use descent::nn::activation::Relu;
use descent::nn::{
    self, Conv2d, Dropout, Flatten, Init, Linear, MaxPool2d, Mode, Module, Sequential,
};
use descent::tensor::ConvOptions;
use rand::rngs::StdRng;

/// Layers applied in order under names of their own, by which diagnostics see them (a
/// layer named `""` lends its own names unprefixed, as in PyTorch's `state_dict`). The
/// forward is a [`Sequential`]'s, so a ReLU followed by a max pool runs as one fused op;
/// [`Module::forward_observed`] runs every layer apart, so that each output can be seen.
#[derive(Default)]
pub struct Named {
    layers: Sequential<f32>,
    names: Vec<&'static str>,
}

impl Named {
    /// An empty sequence (the identity).
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends `layer` under `name` (builder style).
    pub fn add(mut self, name: &'static str, layer: impl Module<f32> + 'static) -> Self {
        self.layers.push(layer);
        self.names.push(name);
        self
    }
}

impl Module<f32> for Named {
    fn forward<'t>(
        &self,
        tape: &'t Tape<f32>,
        x: Var<'t, f32>,
        mode: Mode,
    ) -> nn::Result<Var<'t, f32>> {
        self.layers.forward(tape, x, mode)
    }

    fn forward_observed<'t>(
        &self,
        tape: &'t Tape<f32>,
        x: Var<'t, f32>,
        mode: Mode,
        observer: &mut dyn FnMut(&str, Var<'t, f32>),
    ) -> nn::Result<Var<'t, f32>> {
        self.children().into_iter().try_fold(x, |h, (name, layer)| {
            layer.forward_observed(tape, h, mode, &mut |inner, v| match (&*name, inner) {
                (n, "") | ("", n) => observer(n, v),
                (n, inner) => observer(&format!("{n}.{inner}"), v),
            })
        })
    }

    fn children(&self) -> Vec<(String, &dyn Module<f32>)> {
        let layers = self.layers.children().into_iter().zip(&self.names);
        layers.map(|((_, l), n)| (n.to_string(), l)).collect()
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<f32>)> {
        let layers = self.layers.children_mut().into_iter().zip(&self.names);
        layers.map(|((_, l), n)| (n.to_string(), l)).collect()
    }
}

/// Reshapes flat `[N, C·H·W]` rows into `[N, C, H, W]` images for the CNN.
pub struct Image(pub [usize; 3]);

impl Module<f32> for Image {
    fn forward<'t>(&self, _: &'t Tape<f32>, x: Var<'t, f32>, _: Mode) -> nn::Result<Var<'t, f32>> {
        let [c, h, w] = self.0.map(|d| d as isize);
        Ok(x.reshape(&[-1, c, h, w])?)
    }
}

/// PyTorch's classic MNIST CNN under its example's attribute names (`conv1`, `conv2`,
/// `fc1`, `fc2`; the others hold no weights), so the saved weights load into it; it takes
/// flat rows of 28×28 pixels.
pub fn mnist_cnn(init: Init, rng: &mut StdRng) -> nn::Result<Named> {
    let opts = ConvOptions::default();
    let mut conv = |i, o| Conv2d::with_init(i, o, [3, 3], opts, init, &mut *rng);
    let (conv1, conv2) = (conv(1, 32)?, conv(32, 64)?);
    Ok(Named::new()
        .add("image", Image([1, 28, 28]))
        .add("conv1", conv1)
        .add("relu1", Relu)
        .add("conv2", conv2)
        .add("relu2", Relu)
        .add("pool", MaxPool2d::new([2, 2]))
        .add("dropout1", Dropout::new(0.25, 0)?)
        .add("flatten", Flatten::default())
        .add("fc1", Linear::with_init(9216, 128, init, rng)?)
        .add("relu3", Relu)
        .add("dropout2", Dropout::new(0.5, 0)?)
        .add("fc2", Linear::with_init(128, mnist::CLASSES, init, rng)?))
}
