//! Data beyond class labels: a `Dataset` of features with float, multi-output targets,
//! batched by the same `DataLoader`, trains a regression model to a small loss.

use descent::autodiff::Tape;
use descent::data::{DataLoader, Dataset};
use descent::nn::{loss, Linear, Mode, Module, Reduction};
use descent::Tensor;
use rand::{rngs::StdRng, SeedableRng};

/// `y = x·Aᵀ + b` for a fixed `A` (2×3) and `b`, computed with naive loops.
fn targets(x: &Tensor<f64>) -> Tensor<f64> {
    let (a, b) = ([[2.0, -1.0, 0.5], [0.25, 3.0, -2.0]], [0.5, -1.0]);
    let xs = x.to_vec();
    let n = x.shape()[0];
    let mut y = Vec::with_capacity(2 * n);
    for row in xs.chunks(3) {
        for k in 0..2 {
            y.push(b[k] + (0..3).map(|j| a[k][j] * row[j]).sum::<f64>());
        }
    }
    Tensor::from_vec(y, &[n, 2]).unwrap()
}

#[test]
fn a_regression_model_trains_from_float_targets() -> descent::Result<()> {
    let mut rng = StdRng::seed_from_u64(1);
    let x = Tensor::<f64>::randn(&[96, 3], 0.0, 1.0, &mut rng)?;
    let data = Dataset::new(x.clone(), targets(&x))?;
    let loader = DataLoader::new(data, 16)?.shuffle(5);
    let mut model = Linear::<f64>::new(3, 2, &mut rng)?;
    let mut opt = descent::optim::build::<f64>("adam:lr=0.05")?;
    let full_loss = |model: &Linear<f64>| -> descent::Result<f64> {
        let tape = Tape::new();
        let pred = model.forward(&tape, tape.constant(x.clone()), Mode::Eval)?;
        let l = loss::mse_loss(pred, tape.constant(targets(&x)), Reduction::Mean)?;
        Ok(l.item()?)
    };
    let start = full_loss(&model)?;
    for epoch in 0..60 {
        for (xb, yb) in loader.epoch(epoch) {
            assert_eq!(yb.shape(), &[xb.shape()[0], 2]);
            assert_eq!(
                yb.to_vec(),
                targets(&xb).to_vec(),
                "targets stay with their rows"
            );
            let grads = {
                let tape = Tape::new();
                let pred = model.forward(&tape, tape.constant(xb), Mode::Train)?;
                loss::mse_loss(pred, tape.constant(yb), Reduction::Mean)?.backward()?
            };
            opt.step(&mut model.params_mut(), &grads)?;
        }
    }
    let end = full_loss(&model)?;
    assert!(start > 1.0, "{start}");
    assert!(end < 1e-6, "mse {start} -> {end}");
    Ok(())
}

#[test]
fn float_targets_that_do_not_match_the_items_are_refused_with_both_shapes() {
    let err = Dataset::new(Tensor::<f32>::zeros(&[4, 3]), Tensor::zeros(&[5, 2])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Dataset::new: invalid targets = targets of shape [5, 2]: images of shape [4, 3] need one per item"
    );
}
