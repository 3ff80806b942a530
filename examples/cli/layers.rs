//! Containers the examples' models are made of, beside the layers of `descent::nn`: a
//! sequence of layers under names of their own (PyTorch's attribute names, so saved weights
//! load into the PyTorch model with the same attributes), and the reshape from flat rows to
//! images. (In the `cli` folder, so cargo does not take it for an example of its own.)

use descent::autodiff::{Tape, Var};
use descent::nn::{self, Mode, Module};

/// Layers applied in order under names of their own, by which diagnostics see them (a
/// layer named `""` lends its own names unprefixed, as in PyTorch's `state_dict`).
pub struct Named(pub Vec<(&'static str, Box<dyn Module<f32>>)>);

impl Module<f32> for Named {
    fn forward<'t>(
        &self,
        tape: &'t Tape<f32>,
        x: Var<'t, f32>,
        mode: Mode,
    ) -> nn::Result<Var<'t, f32>> {
        self.forward_observed(tape, x, mode, &mut |_, _| {})
    }

    fn forward_observed<'t>(
        &self,
        tape: &'t Tape<f32>,
        x: Var<'t, f32>,
        mode: Mode,
        observer: &mut dyn FnMut(&str, Var<'t, f32>),
    ) -> nn::Result<Var<'t, f32>> {
        self.0.iter().try_fold(x, |h, (name, layer)| {
            layer.forward_observed(tape, h, mode, &mut |inner, v| match (*name, inner) {
                (n, "") | ("", n) => observer(n, v),
                (n, inner) => observer(&format!("{n}.{inner}"), v),
            })
        })
    }

    fn children(&self) -> Vec<(String, &dyn Module<f32>)> {
        self.0
            .iter()
            .map(|(n, l)| (n.to_string(), l.as_ref()))
            .collect()
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<f32>)> {
        self.0
            .iter_mut()
            .map(|(n, l)| (n.to_string(), l.as_mut() as _))
            .collect()
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
