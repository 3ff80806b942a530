//! `descent::Error`: `?` on calls into tensor, autodiff, nn, data and the io module in one
//! function, inside `no_grad` and inside a gradcheck closure; the message is the crate's own.

use descent::autodiff::{gradcheck, Tape, Tolerances};
use descent::data::{DataLoader, Dataset};
use descent::nn::{activation::Tanh, loss, Linear, Mode, Module, Reduction, Sequential};
use descent::Tensor;
use rand::{rngs::StdRng, SeedableRng};

fn mixed(bad_width: bool) -> descent::Result<f64> {
    let mut rng = StdRng::seed_from_u64(0);
    let x = Tensor::<f64>::randn(&[4, 3], 0.0, 1.0, &mut rng)?; // tensor
    let data = Dataset::new(x, Tensor::zeros(&[4, 1]))?; // data
    let width = if bad_width { 5 } else { 3 };
    let model = Sequential::new()
        .add(Linear::<f64>::new(width, 1, &mut rng)?) // nn
        .add(Tanh);
    let (xb, yb) = DataLoader::new(data, 4)?.epoch(0).next().unwrap();
    let tape = Tape::new();
    // `?` inside no_grad: the closure names its error once.
    let frozen = tape.no_grad(|| -> descent::Result<_> {
        Ok(model.forward(&tape, tape.constant(xb.clone()), Mode::Eval)?)
    })?;
    assert!(!frozen.requires_grad());
    let pred = model.forward(&tape, tape.constant(xb), Mode::Train)?;
    let l = loss::mse_loss(pred, tape.constant(yb), Reduction::Mean)?;
    let grads = l.backward()?; // autodiff
    assert!(grads.get(model.params()[0]).is_some());
    let bytes = descent::nn::to_bytes(&model)?;
    descent::tensor::io::decode_safetensors(&bytes, "mem".as_ref())?; // io
                                                                      // A gradcheck whose closure mixes nn and autodiff calls, with the facade's error.
    let report = gradcheck(
        |tape, v| -> descent::Result<_> {
            let y = model.forward(tape, v[0], Mode::Eval)?;
            Ok(y.square()?.sum_all()?)
        },
        &[Tensor::randn(&[2, width], 0.0, 1.0, &mut rng)?],
        Tolerances::default(),
    )?;
    assert!(report.passed, "{report}");
    Ok(l.item()?)
}

#[test]
fn question_mark_mixes_every_crate() {
    assert!(mixed(false).unwrap() >= 0.0);
    let err = mixed(true).unwrap_err();
    assert!(matches!(err, descent::Error::Nn(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "Linear(in_features=5, out_features=1): expected input [..., 5], got shape [4, 3]"
    );
}
