//! The module API around forward: per-layer outputs (`forward_trace`), re-seeding every
//! dropout layer through the model, and names of wrapped layers.

use descent_autodiff::Tape;
use descent_nn::activation::Relu;
use descent_nn::{BatchNorm2d, Dropout, Dropout2d, Linear, Mode, Module, Sequential};
use descent_tensor::Tensor;
use rand::{rngs::StdRng, SeedableRng};

fn train_output(model: &Sequential<f64>, x: &Tensor<f64>) -> Vec<f64> {
    let tape = Tape::new();
    let y = model.forward(&tape, tape.constant(x.clone()), Mode::Train);
    y.unwrap().value().unwrap().to_vec()
}

/// The k-th dropout layer, in order, draws the masks of a fresh layer seeded `seed + k`,
/// wherever it sits in nested containers.
#[test]
fn reseed_dropout_gives_the_kth_layer_seed_plus_k() {
    let x = Tensor::<f64>::ones(&[2, 3, 4, 4]);
    let mut model = Sequential::new()
        .add(Dropout2d::new(0.5, 100).unwrap())
        .add(
            Sequential::new()
                .add(Relu)
                .add(Dropout::new(0.3, 200).unwrap()),
        );
    assert_eq!(model.reseed_dropout(40), 2);
    let fresh = Sequential::new().add(Dropout2d::new(0.5, 40).unwrap()).add(
        Sequential::new()
            .add(Relu)
            .add(Dropout::new(0.3, 41).unwrap()),
    );
    assert_eq!(train_output(&model, &x), train_output(&fresh, &x));
    // And again after the generators have moved on.
    model.reseed_dropout(40);
    let fresh = Sequential::new().add(Dropout2d::new(0.5, 40).unwrap()).add(
        Sequential::new()
            .add(Relu)
            .add(Dropout::new(0.3, 41).unwrap()),
    );
    assert_eq!(train_output(&model, &x), train_output(&fresh, &x));
    // A model without random layers has nothing to re-seed.
    let mut rng = StdRng::seed_from_u64(0);
    let mut plain = Sequential::<f64>::new().add(Linear::new(2, 2, &mut rng).unwrap());
    assert_eq!(plain.reseed_dropout(1), 0);
}

/// Each traced output is the layer applied to the previous one, by hand; nested
/// containers are named by path.
#[test]
fn forward_trace_names_and_values_each_layer() {
    let mut rng = StdRng::seed_from_u64(3);
    let l0 = Linear::<f64>::new(3, 4, &mut rng).unwrap();
    let l2 = Linear::<f64>::new(4, 2, &mut rng).unwrap();
    let (w0, b0) = (
        l0.weight.value.to_vec(),
        l0.bias.as_ref().unwrap().value.to_vec(),
    );
    let model = Sequential::new()
        .add(l0)
        .add(Relu)
        .add(Sequential::new().add(l2).add(Relu));
    let x = Tensor::from_vec(vec![1.0, -2.0, 0.5, 0.0, 3.0, -1.0], &[2, 3]).unwrap();
    let tape = Tape::new();
    let trace = model
        .forward_trace(&tape, tape.constant(x.clone()), Mode::Eval)
        .unwrap();
    let names: Vec<&str> = trace.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["0", "1", "2.0", "2.1"]);
    // Layer 0 by hand: h = x·Wᵀ + b.
    let xs = x.to_vec();
    let mut h = vec![0.0; 8];
    for n in 0..2 {
        for o in 0..4 {
            h[n * 4 + o] = b0[o] + (0..3).map(|i| xs[n * 3 + i] * w0[o * 3 + i]).sum::<f64>();
        }
    }
    let got = trace[0].1.value().unwrap().to_vec();
    for (a, b) in got.iter().zip(&h) {
        assert!((a - b).abs() < 1e-12, "{got:?} vs {h:?}");
    }
    let relu: Vec<f64> = h.iter().map(|v| v.max(0.0)).collect();
    assert_eq!(trace[1].1.value().unwrap().to_vec(), relu);
    let out = model.forward(&tape, tape.constant(x), Mode::Eval).unwrap();
    assert_eq!(
        trace[3].1.value().unwrap().to_vec(),
        out.value().unwrap().to_vec()
    );
}

/// A wrapper's inner layer lends its names unprefixed (PyTorch's `BatchNorm2d` names).
#[test]
fn batchnorm2d_state_has_pytorch_names_in_a_sequential() {
    let model = Sequential::<f32>::new().add(BatchNorm2d::new(3).unwrap());
    let names: Vec<String> = model.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "0.weight",
            "0.bias",
            "0.running_mean",
            "0.running_var",
            "0.num_batches_tracked"
        ]
    );
}

/// A `Relu` followed by a `MaxPool2d` in a `Sequential` runs as the fused
/// `relu_max_pool2d` op, with the output and input gradient of the two layers apart (a
/// `Relu` wrapped in its own `Sequential` is not fused), batched or not, f32 and f64.
#[test]
fn sequential_fuses_relu_into_the_max_pool_after_it() {
    use descent_nn::MaxPool2d;
    fn check<F: descent_tensor::Float>(shape: &[usize]) {
        let mut rng = StdRng::seed_from_u64(5);
        let x = Tensor::<F>::randn(shape, F::of(0.0), F::of(1.0), &mut rng).unwrap();
        let fused = Sequential::new().add(Relu).add(MaxPool2d::new([2, 2]));
        let apart = Sequential::new()
            .add(Sequential::new().add(Relu))
            .add(MaxPool2d::new([2, 2]));
        let run = |model: &Sequential<F>| {
            let tape = Tape::new();
            let xv = tape.var(x.clone());
            let y = model.forward(&tape, xv, Mode::Train).unwrap();
            // The op that made the output (an unbatched input's ends in a squeeze).
            let label = format!("{y:?}");
            let value = y.value().unwrap().to_vec();
            let grads = y.square().unwrap().sum(&[], false).unwrap().backward();
            let dx = grads.unwrap().wrt(xv).unwrap().to_vec();
            (label, value, dx)
        };
        let (label, y, dx) = run(&fused);
        let (other, want_y, want_dx) = run(&apart);
        if shape.len() == 4 {
            assert!(label.contains("relu_max_pool2d"), "{label}");
            assert!(other.contains("max_pool2d"), "{other}");
        }
        assert!(!other.contains("relu_max_pool2d"), "{other}");
        assert_eq!((y, dx), (want_y, want_dx), "{shape:?}");
        // The trace still shows every layer's output.
        let tape = Tape::new();
        let trace = fused.forward_trace(&tape, tape.constant(x.clone()), Mode::Train);
        assert_eq!(trace.unwrap().len(), 2);
    }
    check::<f64>(&[3, 2, 7, 9]);
    check::<f32>(&[4, 6, 10]);
}
