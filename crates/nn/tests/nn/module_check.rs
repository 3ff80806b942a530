//! `check::gradcheck_module` / `gradgradcheck_module`: a deliberately wrong backward in a
//! test layer is caught and named, and every layer passes against central differences.

use crate::common::randn;
use descent_autodiff::{Param, Tape, Tolerances, Var};
use descent_nn::check::{gradcheck_module, gradgradcheck_module};
use descent_nn::{
    activation::Tanh, AdaptiveAvgPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Flatten,
    LayerNorm, Linear, MaxPool2d, Mode, Module, Sequential,
};
use descent_tensor::{ConvOptions, Tensor};
use rand::{rngs::StdRng, SeedableRng};

/// `y = x · w` (w broadcast over rows) as a custom op whose rule for `w` is scaled by
/// `w_factor`: 1 is correct, anything else a silently wrong backward.
struct Scale {
    weight: Param<f64>,
    w_factor: f64,
}

impl Module<f64> for Scale {
    fn forward<'t>(
        &self,
        tape: &'t Tape<f64>,
        x: Var<'t, f64>,
        _: Mode,
    ) -> descent_nn::Result<Var<'t, f64>> {
        let w = tape.param(&self.weight).broadcast_to(&x.shape())?;
        let k = self.w_factor;
        let value = x.value()?.mul(&w.value()?)?;
        Ok(tape.record("scale", value, &[x, w], move |c| {
            Ok(vec![
                Some(c.g.mul(c.x(1))?),
                Some(c.g.mul(c.x(0))?.mul_scalar(k)?),
            ])
        })?)
    }

    fn named_params(&self) -> Vec<(String, &Param<f64>)> {
        vec![("weight".into(), &self.weight)]
    }

    fn named_params_mut(&mut self) -> Vec<(String, &mut Param<f64>)> {
        vec![("weight".into(), &mut self.weight)]
    }
}

fn scale(w_factor: f64) -> Scale {
    Scale {
        weight: Param::new(randn(&[3], 1)),
        w_factor,
    }
}

#[test]
fn a_wrong_parameter_gradient_is_caught_and_named() {
    let x = randn(&[2, 3], 2);
    let tol = Tolerances::default();
    let good = gradcheck_module(&scale(1.0), &x, Mode::Train, tol).unwrap();
    assert!(good.passed(), "{good}");
    assert_eq!(good.report.checked, 6 + 3);

    let bad = gradcheck_module(&scale(1.01), &x, Mode::Train, tol).unwrap();
    assert!(
        !bad.passed(),
        "a 1% error in the weight's gradient must fail"
    );
    let worst = bad.report.worst.as_ref().unwrap();
    assert_eq!(bad.names()[worst.input], "weight");
    assert!(bad.to_string().contains("FAILED"), "{bad}");
    assert!(bad.to_string().contains("worst: weight at"), "{bad}");
    assert!(bad.clone().ok().is_err());
    // The module itself is untouched by the check.
    assert_eq!(scale(1.01).weight.value.to_vec(), randn(&[3], 1).to_vec());
}

#[test]
fn a_bad_input_is_an_error_naming_the_layer_and_shape() {
    let mut rng = StdRng::seed_from_u64(0);
    let layer = Linear::<f64>::new(4, 2, &mut rng).unwrap();
    let err = gradcheck_module(
        &layer,
        &randn(&[3, 5], 3),
        Mode::Eval,
        Tolerances::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("Linear") && err.contains("[3, 5]"), "{err}");
}

/// First and second order for one module; returns the elements checked at first order.
fn passes(name: &str, model: &dyn Module<f64>, x: &Tensor<f64>, mode: Mode) -> usize {
    let tol = Tolerances::default();
    let first = gradcheck_module(model, x, mode, tol).unwrap();
    assert!(first.passed(), "{name}: {first}");
    let second = gradgradcheck_module(model, x, mode, tol).unwrap();
    assert!(second.passed(), "{name} (second order): {second}");
    let numel: usize = model.params().iter().map(|p| p.value.numel()).sum();
    assert_eq!(first.report.checked, x.numel() + numel, "{name}");
    first.report.checked
}

#[test]
fn every_layer_passes() {
    let mut rng = StdRng::seed_from_u64(3);
    let linear = Linear::<f64>::new(4, 3, &mut rng).unwrap();
    passes("Linear", &linear, &randn(&[2, 4], 4), Mode::Train);

    let conv = Conv2d::<f64>::new(2, 3, [2, 2], ConvOptions::default(), &mut rng).unwrap();
    passes("Conv2d", &conv, &randn(&[1, 2, 3, 3], 5), Mode::Train);

    let mut bn1 = BatchNorm1d::<f64>::new(3).unwrap();
    bn1.weight.as_mut().unwrap().value = randn(&[3], 6);
    bn1.bias.as_mut().unwrap().value = randn(&[3], 7);
    passes("BatchNorm1d", &bn1, &randn(&[4, 3], 8), Mode::Train);

    let mut bn2 = BatchNorm2d::<f64>::new(2).unwrap();
    bn2.norm.weight.as_mut().unwrap().value = randn(&[2], 9);
    passes("BatchNorm2d", &bn2, &randn(&[2, 2, 2, 2], 10), Mode::Train);

    let mut ln = LayerNorm::<f64>::new(&[3]).unwrap();
    ln.weight.as_mut().unwrap().value = randn(&[3], 11);
    ln.bias.as_mut().unwrap().value = randn(&[3], 12);
    passes("LayerNorm", &ln, &randn(&[2, 3], 13), Mode::Train);

    // Distinct values (randn), so no max-pool window has a tie within eps.
    let image = randn(&[1, 2, 4, 4], 14);
    passes("MaxPool2d", &MaxPool2d::new([2, 2]), &image, Mode::Train);
    passes("AvgPool2d", &AvgPool2d::new([2, 2]), &image, Mode::Train);
    passes(
        "AdaptiveAvgPool2d",
        &AdaptiveAvgPool2d {
            output_size: [3, 2],
        },
        &image,
        Mode::Train,
    );
    passes("Flatten", &Flatten::default(), &image, Mode::Train);

    let model = Sequential::new()
        .add(Conv2d::<f64>::new(2, 2, [3, 3], ConvOptions::default(), &mut rng).unwrap())
        .add(BatchNorm2d::new(2).unwrap())
        .add(Tanh)
        .add(MaxPool2d::new([2, 2]))
        .add(Flatten::default())
        .add(Linear::new(2, 2, &mut rng).unwrap());
    let checked = passes("Sequential", &model, &randn(&[2, 2, 4, 4], 15), Mode::Train);
    assert_eq!(checked, 64 + (36 + 2) + (2 + 2) + (4 + 2));
}
