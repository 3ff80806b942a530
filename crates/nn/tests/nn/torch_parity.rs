//! Parity with PyTorch: numbers from reference/gen_reference.py (PyTorch), which also wrote
//! reference/mlp.safetensors.

use crate::reference;

use descent_autodiff::Tape;
use descent_nn::activation::{self, Relu};
use descent_nn::loss::{self, Reduction};
use descent_nn::{load, BatchNorm1d, Linear, Mode, Module, Sequential};
use descent_tensor::{Float, Tensor};
use rand::{rngs::StdRng, SeedableRng};
use reference::*;

fn t<F: Float>(v: &[F], shape: &[usize]) -> Tensor<F> {
    Tensor::from_slice(v, shape).unwrap()
}

#[track_caller]
fn assert_close<F: Float>(got: &Tensor<F>, want: &[F], atol: f64) {
    let got = got.to_vec();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g.as_f64() - w.as_f64()).abs() <= atol,
            "element {i}: got {g}, PyTorch {w}"
        );
    }
}

/// The architecture of the saved PyTorch model, freshly (differently) initialized.
fn mlp() -> Sequential<f32> {
    let mut rng = StdRng::seed_from_u64(0);
    Sequential::new()
        .add(Linear::new(4, 8, &mut rng).unwrap())
        .add(BatchNorm1d::new(8).unwrap())
        .add(Relu)
        .add(Linear::new(8, 3, &mut rng).unwrap())
}

#[test]
fn pytorch_mlp_loads_and_reproduces_its_outputs() {
    let mut model = mlp();
    load(
        &mut model,
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/nn/reference/mlp.safetensors"
        ),
    )
    .unwrap();
    let x = t(&MLP_X, &[6, 4]);
    let tape = Tape::new();
    let eval = model
        .forward(&tape, tape.constant(x.clone()), Mode::Eval)
        .unwrap();
    assert_close(&eval.value().unwrap(), &MLP_EVAL_OUT, 1e-6);
    let train = model.forward(&tape, tape.constant(x), Mode::Train).unwrap();
    assert_close(&train.value().unwrap(), &MLP_TRAIN_OUT, 1e-6);
    // The train-mode forward moved the running statistics as PyTorch's did.
    let state = model.named_buffers();
    let float = |i: usize| match &state[i].1 {
        descent_nn::serialize::Buffer::Float(t) => t.clone(),
        descent_nn::serialize::Buffer::Count(_) => panic!("{} is a count", state[i].0),
    };
    assert_eq!(state[0].0, "1.running_mean");
    assert_close(&float(0), &MLP_RUNNING_MEAN_AFTER, 1e-6);
    assert_close(&float(1), &MLP_RUNNING_VAR_AFTER, 1e-6);
    assert!(
        matches!(state[2].1, descent_nn::serialize::Buffer::Count(n) if n == MLP_NUM_BATCHES_AFTER)
    );
}

#[test]
fn batchnorm_without_momentum_keeps_the_cumulative_average_like_pytorch() {
    let mut bn = BatchNorm1d::<f64>::new(5).unwrap();
    bn.momentum = None;
    let batches: [(&[f64], &[f64], &[f64]); 3] = [
        (&BN_X0, &BN_CMA_RUNNING_MEAN0, &BN_CMA_RUNNING_VAR0),
        (&BN_X1, &BN_CMA_RUNNING_MEAN1, &BN_CMA_RUNNING_VAR1),
        (&BN_X2, &BN_CMA_RUNNING_MEAN2, &BN_CMA_RUNNING_VAR2),
    ];
    let tape = Tape::new();
    for (x, mean, var) in batches {
        let x = t(x, &[x.len() / 5, 5]);
        bn.forward(&tape, tape.constant(x), Mode::Train).unwrap();
        assert_close(&bn.running_mean(), mean, 1e-12);
        assert_close(&bn.running_var(), var, 1e-12);
    }
}

#[test]
fn batchnorm_train_eval_and_running_stats_match_pytorch() {
    let mut bn = BatchNorm1d::<f64>::new(5).unwrap();
    bn.weight.as_mut().unwrap().value = t(&BN_WEIGHT, &[5]);
    bn.bias.as_mut().unwrap().value = t(&BN_BIAS, &[5]);
    // (input, output, running mean, running variance) after each training batch.
    type Step<'a> = (&'a [f64], &'a [f64], &'a [f64], &'a [f64]);
    let batches: [Step; 3] = [
        (&BN_X0, &BN_Y0, &BN_RUNNING_MEAN0, &BN_RUNNING_VAR0),
        (&BN_X1, &BN_Y1, &BN_RUNNING_MEAN1, &BN_RUNNING_VAR1),
        (&BN_X2, &BN_Y2, &BN_RUNNING_MEAN2, &BN_RUNNING_VAR2),
    ];
    let tape = Tape::new();
    for (x, y, mean, var) in batches {
        let x = t(x, &[x.len() / 5, 5]);
        let out = bn.forward(&tape, tape.constant(x), Mode::Train).unwrap();
        assert_close(&out.value().unwrap(), y, 1e-12);
        assert_close(&bn.running_mean(), mean, 1e-12);
        assert_close(&bn.running_var(), var, 1e-12);
    }
    assert_eq!(bn.num_batches_tracked(), 3);
    let before = bn.running_mean().to_vec();
    let out = bn
        .forward(&tape, tape.constant(t(&BN_X_EVAL, &[4, 5])), Mode::Eval)
        .unwrap();
    assert_close(&out.value().unwrap(), &BN_Y_EVAL, 1e-12);
    // Evaluation leaves the running statistics alone.
    assert_eq!(bn.running_mean().to_vec(), before);
    assert_eq!(bn.num_batches_tracked(), 3);
}

#[test]
fn batchnorm_without_running_stats_matches_pytorch() {
    let mut bn = BatchNorm1d::<f64>::new(5).unwrap().without_running_stats();
    bn.weight.as_mut().unwrap().value = t(&BN_WEIGHT, &[5]);
    bn.bias.as_mut().unwrap().value = t(&BN_BIAS, &[5]);
    let tape = Tape::new();
    for (mode, want) in [
        (Mode::Eval, &BN_UNTRACKED_Y_EVAL),
        (Mode::Train, &BN_UNTRACKED_Y_TRAIN),
    ] {
        let x = tape.constant(t(&BN_X_EVAL, &[4, 5]));
        assert_close(
            &bn.forward(&tape, x, mode).unwrap().value().unwrap(),
            want,
            1e-12,
        );
    }
    // Nothing tracked, nothing saved: the state is PyTorch's `weight` and `bias`.
    assert_eq!(bn.num_batches_tracked(), 0);
    assert!(bn.named_buffers().is_empty());
    let names: Vec<String> = bn.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, BN_UNTRACKED_STATE_KEYS);
}

#[test]
fn losses_match_pytorch() {
    let tape = Tape::<f64>::new();
    let c = |v: &[f64], shape: &[usize]| tape.constant(t(v, shape));
    let logits = c(&LOSS_LOGITS, &[4, 5]);
    let probs = c(&LOSS_PROBS, &[4, 5]);
    let (pred, target) = (c(&LOSS_PRED, &[4, 3]), c(&LOSS_TARGET, &[4, 3]));
    let (p01, t01) = (c(&LOSS_P01, &[4, 3]), c(&LOSS_T01, &[4, 3]));
    let log_probs = logits.log_softmax(-1).unwrap();
    let cases = [
        (
            Reduction::Mean,
            [
                CE_MEAN,
                CE_PROBS_MEAN,
                NLL_MEAN,
                MSE_MEAN,
                BCE_MEAN,
                BCE_LOGITS_MEAN,
                HUBER_MEAN,
                KL_MEAN,
            ],
        ),
        (
            Reduction::Sum,
            [
                CE_SUM,
                CE_PROBS_SUM,
                NLL_SUM,
                MSE_SUM,
                BCE_SUM,
                BCE_LOGITS_SUM,
                HUBER_SUM,
                KL_SUM,
            ],
        ),
    ];
    let all = |r| {
        [
            loss::cross_entropy(logits, &LOSS_LABELS, r),
            loss::cross_entropy_probs(logits, probs, r),
            loss::nll_loss(log_probs, &LOSS_LABELS, r),
            loss::mse_loss(pred, target, r),
            loss::bce_loss(p01, t01, r),
            loss::bce_with_logits(pred, t01, r),
            loss::huber_loss(pred, target, 0.5, r),
            loss::kl_div(log_probs, probs, r),
        ]
        .map(|l| l.unwrap().value().unwrap().to_vec())
    };
    let names = [
        "cross_entropy",
        "cross_entropy_probs",
        "nll",
        "mse",
        "bce",
        "bce_with_logits",
        "huber",
        "kl_div",
    ];
    let unreduced: [&[f64]; 8] = [
        &CE_NONE,
        &CE_PROBS_NONE,
        &NLL_NONE,
        &MSE_NONE,
        &BCE_NONE,
        &BCE_LOGITS_NONE,
        &HUBER_NONE,
        &KL_NONE,
    ];
    let cases = cases
        .map(|(r, want)| (r, want.map(|w| vec![w])))
        .into_iter()
        .chain([(Reduction::None, unreduced.map(<[f64]>::to_vec))]);
    for (r, want) in cases {
        for ((name, got), want) in names.iter().zip(all(r)).zip(want) {
            assert_eq!(got.len(), want.len(), "{name} {r:?}: length");
            for (g, w) in got.iter().zip(&want) {
                assert!(
                    (g - w).abs() <= 1e-12 * w.abs().max(1.0),
                    "{name} {r:?}: got {g}, PyTorch {w}"
                );
            }
        }
    }
}

#[test]
fn cross_entropy_is_finite_and_exact_for_logits_of_1e4() {
    let tape = Tape::<f64>::new();
    let logits = tape.var(t(&CE_BIG_LOGITS, &[2, 3]));
    let l = loss::cross_entropy(logits, &[1, 1], Reduction::Sum).unwrap();
    assert!(
        (l.item().unwrap() - CE_BIG_SUM).abs() <= 1e-9,
        "{} vs {CE_BIG_SUM}",
        l.item().unwrap()
    );
    let g = l.backward().unwrap().wrt(logits).unwrap().to_vec();
    assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    // softmax − one_hot: [1, −1, 0] for the first row, [0, 0, 0] for the second.
    assert_close(&t(&g, &[6]), &[1.0, -1.0, 0.0, 0.0, 0.0, 0.0], 1e-12);
}

#[test]
fn activations_match_pytorch() {
    let tape = Tape::<f64>::new();
    let x = tape.constant(t(&ACT_X, &[17]));
    let cases = [
        ("gelu", activation::gelu(x), &ACT_GELU),
        ("elu", activation::elu(x, 0.7), &ACT_ELU),
        (
            "leaky_relu",
            activation::leaky_relu(x, 0.1),
            &ACT_LEAKY_RELU,
        ),
        ("softplus", activation::softplus(x), &ACT_SOFTPLUS),
        ("softsign", activation::softsign(x), &ACT_SOFTSIGN),
    ];
    for (name, got, want) in cases {
        let got = got.unwrap().value().unwrap().to_vec();
        for (g, w) in got.iter().zip(want.iter()) {
            assert!((g - w).abs() <= 1e-14, "{name}: got {g}, PyTorch {w}");
        }
    }
}
