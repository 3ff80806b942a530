//! Layer behaviour: shapes, names, modes, and the errors for bad input.

use descent_autodiff::{Param, Tape, Var};
use descent_nn::activation::{
    Elu, Gelu, LeakyRelu, LogSoftmax, Relu, Sigmoid, Softmax, Softplus, Softsign, Tanh,
};
use descent_nn::loss::{self, Reduction};
use descent_nn::{prefixed, BatchNorm1d, Dropout, Error, Linear, Mode, Module, Sequential};
use descent_tensor::Tensor;
use rand::{rngs::StdRng, SeedableRng};

fn rng() -> StdRng {
    StdRng::seed_from_u64(1)
}

#[test]
fn linear_computes_x_wt_plus_b() {
    let mut layer = Linear::<f64>::new(2, 3, &mut rng()).unwrap();
    layer.weight.value = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[3, 2]).unwrap();
    layer.bias.as_mut().unwrap().value = Tensor::from_vec(vec![0.5, -0.5, 1.0], &[3]).unwrap();
    let tape = Tape::new();
    let x = tape.constant(Tensor::from_vec(vec![1., -1., 2., 0.5], &[2, 2]).unwrap());
    let y = layer
        .forward(&tape, x, Mode::Eval)
        .unwrap()
        .value()
        .unwrap();
    assert_eq!(y.to_vec(), vec![-0.5, -1.5, 0.0, 3.5, 7.5, 14.0]);
    let v = tape.constant(Tensor::from_vec(vec![1., -1.], &[2]).unwrap());
    assert_eq!(
        layer
            .forward(&tape, v, Mode::Eval)
            .unwrap()
            .value()
            .unwrap()
            .to_vec(),
        vec![-0.5, -1.5, 0.0]
    );
}

#[test]
fn linear_default_init_is_pytorchs_bound() {
    let layer = Linear::<f64>::new(100, 50, &mut rng()).unwrap();
    let bound = 0.1;
    for p in layer.params() {
        let v = p.value.to_vec();
        assert!(v.iter().all(|x| x.abs() <= bound));
        assert!(v.iter().any(|x| x.abs() > 0.9 * bound));
    }
    assert_eq!((layer.in_features(), layer.out_features()), (100, 50));
    assert_eq!(layer.num_params(), 5050);
    assert!(Linear::<f32>::new(0, 3, &mut rng()).is_err());
}

#[test]
fn linear_rejects_a_wrong_width_naming_layer_and_shapes() {
    let model = Sequential::<f32>::new().add(Linear::new(784, 10, &mut rng()).unwrap());
    let tape = Tape::new();
    let err = model
        .forward(
            &tape,
            tape.constant(Tensor::zeros(&[32, 28, 28])),
            Mode::Train,
        )
        .unwrap_err();
    assert!(matches!(err, Error::InputShape { .. }));
    assert_eq!(err.to_string(), "Linear(in_features=784, out_features=10): expected input [..., 784], got shape [32, 28, 28]");
}

#[test]
fn batchnorm_rejects_wrong_features_and_single_samples_in_training() {
    let bn = BatchNorm1d::<f32>::new(4).unwrap();
    let tape = Tape::new();
    let err = bn
        .forward(&tape, tape.constant(Tensor::zeros(&[8, 3])), Mode::Train)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "BatchNorm1d(num_features=4): expected input [N, 4] or [N, 4, L], got shape [8, 3]"
    );
    let err = bn
        .forward(&tape, tape.constant(Tensor::zeros(&[1, 4])), Mode::Train)
        .unwrap_err();
    assert!(
        err.to_string().contains("more than 1 value per feature"),
        "{err}"
    );
    // One sample is fine in evaluation, and nothing was tracked by the failed calls.
    assert!(bn
        .forward(&tape, tape.constant(Tensor::zeros(&[1, 4])), Mode::Eval)
        .is_ok());
    assert_eq!(bn.num_batches_tracked(), 0);
    assert!(BatchNorm1d::<f32>::new(0).is_err());
}

#[test]
fn batchnorm_normalizes_three_dimensional_input_per_channel() {
    let bn = BatchNorm1d::<f64>::new(2).unwrap();
    let tape = Tape::new();
    let x = Tensor::<f64>::randn(&[4, 2, 5], 3.0, 2.0, &mut rng()).unwrap();
    let y = bn
        .forward(&tape, tape.constant(x), Mode::Train)
        .unwrap()
        .value()
        .unwrap();
    let mean = y.mean(&[0, 2], false).unwrap();
    let var = y.var(&[0, 2], 0, false).unwrap();
    assert!(mean.allclose(&Tensor::zeros(&[2]), 0.0, 1e-12), "{mean}");
    assert!(var.allclose(&Tensor::ones(&[2]), 1e-4, 0.0), "{var}");
}

#[test]
fn dropout_is_seeded_unbiased_and_identity_in_eval() {
    let tape = Tape::<f64>::new();
    let ones = || tape.constant(Tensor::ones(&[20_000]));
    let run = |seed| {
        Dropout::new(0.3, seed)
            .unwrap()
            .forward(&tape, ones(), Mode::Train)
            .unwrap()
            .value()
            .unwrap()
            .to_vec()
    };
    let (a, b) = (run(4), run(4));
    assert_eq!(a, b, "same seed, same mask");
    assert_ne!(a, run(5));
    let kept = a.iter().filter(|&&v| v != 0.0).count() as f64 / a.len() as f64;
    assert!((kept - 0.7).abs() < 0.02, "{kept}");
    assert!(a.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-12));
    let mean = a.iter().sum::<f64>() / a.len() as f64;
    assert!((mean - 1.0).abs() < 0.03, "{mean}");
    // Successive calls draw new masks.
    let d = Dropout::new(0.5, 1).unwrap();
    let m1 = d
        .forward(&tape, ones(), Mode::Train)
        .unwrap()
        .value()
        .unwrap()
        .to_vec();
    let m2 = d
        .forward(&tape, ones(), Mode::Train)
        .unwrap()
        .value()
        .unwrap()
        .to_vec();
    assert_ne!(m1, m2);
    assert_eq!(
        d.forward(&tape, ones(), Mode::Eval)
            .unwrap()
            .value()
            .unwrap()
            .to_vec(),
        vec![1.0; 20_000]
    );
    assert!(Dropout::new(1.5, 0).is_err());
    let all = Dropout::new(1.0, 0)
        .unwrap()
        .forward(&tape, ones(), Mode::Train)
        .unwrap();
    assert!(all.value().unwrap().to_vec().iter().all(|&v| v == 0.0));
}

#[test]
fn activation_layers_apply_their_functions() {
    let tape = Tape::<f64>::new();
    let x = tape.constant(Tensor::from_vec(vec![-2.0, 0.5], &[1, 2]).unwrap());
    let run = |m: &dyn Module<f64>| {
        m.forward(&tape, x, Mode::Eval)
            .unwrap()
            .value()
            .unwrap()
            .to_vec()
    };
    let e = std::f64::consts::E;
    assert_eq!(run(&Relu), vec![0.0, 0.5]);
    assert_eq!(run(&LeakyRelu { slope: 0.1 }), vec![-0.2, 0.5]);
    let elu = run(&Elu { alpha: 1.0 });
    assert!((elu[0] - (e.powi(-2) - 1.0)).abs() < 1e-15 && elu[1] == 0.5);
    assert!((run(&Sigmoid)[1] - 1.0 / (1.0 + (-0.5f64).exp())).abs() < 1e-15);
    assert!((run(&Tanh)[0] - (-2.0f64).tanh()).abs() < 1e-15);
    assert_eq!(run(&Softsign), vec![-2.0 / 3.0, 0.5 / 1.5]);
    assert!((run(&Softplus)[1] - (1.0 + 0.5f64.exp()).ln()).abs() < 1e-15);
    let gelu = run(&Gelu);
    // GELU(x) = x·Φ(x); Φ(0.5) = 0.691462461274013 (normal CDF).
    assert!(
        (gelu[1] - 0.5 * 0.691462461274013).abs() < 1e-14,
        "{gelu:?}"
    );
    let s = run(&Softmax { dim: -1 });
    assert!((s[0] + s[1] - 1.0).abs() < 1e-15 && s[1] > s[0]);
    let ls = run(&LogSoftmax { dim: -1 });
    assert!((ls[0] - s[0].ln()).abs() < 1e-15);
    // A Softmax over an axis that does not exist is an error, not a panic.
    assert!(Softmax { dim: 3 }.forward(&tape, x, Mode::Eval).is_err());
}

/// A user-defined model: a struct with named fields, one of them a Sequential.
struct Net {
    body: Sequential<f64>,
    head: Linear<f64>,
}

impl Module<f64> for Net {
    fn forward<'t>(
        &self,
        tape: &'t Tape<f64>,
        x: Var<'t, f64>,
        mode: Mode,
    ) -> descent_nn::Result<Var<'t, f64>> {
        let h = self.body.forward(tape, x, mode)?;
        self.head.forward(tape, h, mode)
    }
    fn children(&self) -> Vec<(String, &dyn Module<f64>)> {
        vec![("body".into(), &self.body), ("head".into(), &self.head)]
    }
    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<f64>)> {
        vec![
            ("body".into(), &mut self.body),
            ("head".into(), &mut self.head),
        ]
    }
}

#[test]
fn nested_models_get_pytorch_names() {
    let mut r = rng();
    let mut net = Net {
        body: Sequential::new()
            .add(Linear::new(3, 4, &mut r).unwrap())
            .add(BatchNorm1d::new(4).unwrap())
            .add(Relu),
        head: Linear::new(4, 2, &mut r).unwrap().without_bias(),
    };
    let names: Vec<String> = net.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "body.0.weight",
            "body.0.bias",
            "body.1.weight",
            "body.1.bias",
            "head.weight"
        ]
    );
    let buffers: Vec<String> = net.named_buffers().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        buffers,
        [
            "body.1.running_mean",
            "body.1.running_var",
            "body.1.num_batches_tracked"
        ]
    );
    let ids: Vec<_> = net.params().iter().map(|p| p.id()).collect();
    let ids_mut: Vec<_> = net.params_mut().iter().map(|p| p.id()).collect();
    assert_eq!(ids, ids_mut);
    let named: Vec<(String, &Param<f64>)> = prefixed("model", net.named_params());
    assert_eq!(named[4].0, "model.head.weight");

    // A gradient for every parameter after one training step's backward.
    let tape = Tape::new();
    let x = tape.constant(Tensor::randn(&[6, 3], 0.0, 1.0, &mut r).unwrap());
    let l = loss::cross_entropy(
        net.forward(&tape, x, Mode::Train).unwrap(),
        &[0, 1, 1, 0, 1, 0],
        Reduction::Mean,
    )
    .unwrap();
    let grads = l.backward().unwrap();
    assert!(net.params().iter().all(|p| grads.get(p).is_some()));
}

#[test]
fn losses_reject_bad_targets() {
    let tape = Tape::<f32>::new();
    let logits = tape.constant(Tensor::zeros(&[3, 4]));
    let err = loss::cross_entropy(logits, &[0, 4, 9], Reduction::Mean).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cross_entropy: label 4 at position 1 is out of range for 4 classes"
    );
    let err = loss::nll_loss(logits, &[0, 1], Reduction::Mean).unwrap_err();
    assert_eq!(
        err.to_string(),
        "nll_loss: input has shape [3, 4] but target has shape [2]"
    );
    let err =
        loss::cross_entropy(tape.constant(Tensor::zeros(&[4])), &[0], Reduction::Sum).unwrap_err();
    assert!(err.to_string().contains("[4]"), "{err}");
    let err = loss::mse_loss(
        logits,
        tape.constant(Tensor::zeros(&[3, 1])),
        Reduction::Mean,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "mse_loss: input has shape [3, 4] but target has shape [3, 1]"
    );
    let err = loss::huber_loss(logits, logits, 0.0, Reduction::Mean).unwrap_err();
    assert!(err.to_string().contains("delta"), "{err}");
}

#[test]
fn bce_is_finite_at_probabilities_zero_and_one() {
    let tape = Tape::<f64>::new();
    let p = tape.constant(Tensor::from_vec(vec![0.0, 1.0], &[2]).unwrap());
    let t = tape.constant(Tensor::from_vec(vec![1.0, 0.0], &[2]).unwrap());
    // PyTorch clamps each log at −100: two maximally wrong predictions cost 100 each.
    assert_eq!(
        loss::bce_loss(p, t, Reduction::Sum)
            .unwrap()
            .item()
            .unwrap(),
        200.0
    );
    let x = tape.var(Tensor::from_vec(vec![1e4, -1e4], &[2]).unwrap());
    // Confidently wrong logits: loss |x| each, gradient sigmoid(x) − t = ±1.
    let wrong = tape.constant(Tensor::from_vec(vec![0.0, 1.0], &[2]).unwrap());
    let l = loss::bce_with_logits(x, wrong, Reduction::Sum).unwrap();
    assert_eq!(l.item().unwrap(), 2e4);
    assert_eq!(
        l.backward().unwrap().wrt(x).unwrap().to_vec(),
        vec![1.0, -1.0]
    );
}
