//! Gradients of every layer, activation and loss against central differences in f64.

use crate::common;

use common::{ad, check_module, randn};
use descent_autodiff::{gradcheck, Tape, Tolerances, Var};
use descent_nn::activation::{self, Tanh};
use descent_nn::loss::{self, Reduction};
use descent_nn::{BatchNorm1d, Dropout, Init, Linear, Mode, Module, Sequential};
use descent_tensor::Tensor;
use rand::{rngs::StdRng, SeedableRng};

fn rng() -> StdRng {
    StdRng::seed_from_u64(5)
}

/// Asserts `f` passes descent_autodiff::gradcheck at `inputs`.
fn check(
    name: &str,
    f: impl for<'t> Fn(&'t Tape<f64>, &[Var<'t, f64>]) -> descent_autodiff::Result<Var<'t, f64>>,
    inputs: &[Tensor<f64>],
) {
    let report = gradcheck(f, inputs, Tolerances::default()).unwrap();
    assert!(report.passed, "{name}: {report}");
}

#[test]
fn linear() {
    let mut layer = Linear::<f64>::new(4, 3, &mut rng()).unwrap();
    assert_eq!(
        check_module(&mut layer, &randn(&[5, 4], 1), Mode::Train),
        20 + 12 + 3
    );
    let mut no_bias = Linear::<f64>::new(4, 3, &mut rng()).unwrap().without_bias();
    check_module(&mut no_bias, &randn(&[2, 6, 4], 2), Mode::Eval);
    check_module(&mut no_bias, &randn(&[4], 3), Mode::Eval);
}

#[test]
fn batchnorm_in_training_mode() {
    let mut bn = BatchNorm1d::<f64>::new(3).unwrap();
    // Non-trivial γ and β so that their gradients and the normalization interact.
    bn.weight.as_mut().unwrap().value = randn(&[3], 4);
    bn.bias.as_mut().unwrap().value = randn(&[3], 5);
    assert_eq!(
        check_module(&mut bn, &randn(&[6, 3], 6), Mode::Train),
        18 + 3 + 3
    );
    check_module(&mut bn, &randn(&[4, 3, 5], 7), Mode::Train);
    let mut plain = BatchNorm1d::<f64>::new(3).unwrap().without_affine();
    check_module(&mut plain, &randn(&[5, 3], 8), Mode::Train);
}

#[test]
fn batchnorm_in_eval_mode() {
    let mut bn = BatchNorm1d::<f64>::new(3).unwrap();
    let tape = Tape::new();
    bn.forward(
        &tape,
        tape.constant(randn(&[8, 3], 9).mul_scalar(3.0)),
        Mode::Train,
    )
    .unwrap();
    check_module(&mut bn, &randn(&[4, 3], 10), Mode::Eval);
}

#[test]
fn dropout() {
    // A fresh layer per evaluation replays the same mask, so differences are consistent.
    check(
        "dropout train",
        |t, v| ad(Dropout::new(0.4, 3).unwrap().forward(t, v[0], Mode::Train)),
        &[randn(&[4, 5], 11)],
    );
    check_module(
        &mut Dropout::new(0.4, 3).unwrap(),
        &randn(&[3, 2], 12),
        Mode::Eval,
    );
}

#[test]
fn a_sequential_model() {
    let mut r = rng();
    let mut model = Sequential::new()
        .add(Linear::with_init(3, 4, Init::XavierNormal { gain: 1.0 }, &mut r).unwrap())
        .add(BatchNorm1d::new(4).unwrap())
        .add(Tanh)
        .add(Linear::new(4, 2, &mut r).unwrap());
    check_module(&mut model, &randn(&[5, 3], 13), Mode::Train);
}

#[test]
fn activations() {
    let x = [randn(&[3, 4], 14).mul_scalar(2.0)];
    check("relu", |_, v| ad(activation::relu(v[0])), &x);
    check(
        "leaky_relu",
        |_, v| ad(activation::leaky_relu(v[0], 0.1)),
        &x,
    );
    check("elu", |_, v| ad(activation::elu(v[0], 0.7)), &x);
    check("erf", |_, v| ad(activation::erf(v[0])), &x);
    check("gelu", |_, v| ad(activation::gelu(v[0])), &x);
    check("sigmoid", |_, v| ad(activation::sigmoid(v[0])), &x);
    check("tanh", |_, v| ad(activation::tanh(v[0])), &x);
    check("softsign", |_, v| ad(activation::softsign(v[0])), &x);
    check("softplus", |_, v| ad(activation::softplus(v[0])), &x);
    check("softmax", |_, v| ad(activation::softmax(v[0], -1)), &x);
    check(
        "log_softmax",
        |_, v| ad(activation::log_softmax(v[0], 0)),
        &x,
    );
}

#[test]
fn torch_activations_first_and_second_order() {
    type Act = for<'t> fn(Var<'t, f64>) -> descent_nn::Result<Var<'t, f64>>;
    let acts: [(&str, Act); 10] = [
        ("gelu_tanh", activation::gelu_tanh),
        ("mish", activation::mish),
        ("selu", activation::selu),
        ("hardtanh", |x| activation::hardtanh(x, -0.5, 1.5)),
        ("relu6", |x| activation::relu6(x.mul_scalar(4.0)?)),
        ("hardsigmoid", |x| {
            activation::hardsigmoid(x.mul_scalar(2.0)?)
        }),
        ("hardswish", |x| activation::hardswish(x.mul_scalar(2.0)?)),
        ("logsigmoid", activation::logsigmoid),
        ("softsign", activation::softsign),
        ("prelu", |x| {
            let w = x
                .tape()
                .constant(Tensor::from_vec(vec![0.1, -0.3, 0.6], &[3])?);
            activation::prelu(x, w)
        }),
    ];
    // Contiguous, and a transposed view; values a little away from the kinks.
    let contiguous = randn(&[4, 3], 31).mul_scalar(1.5);
    let transposed = randn(&[3, 4], 32).mul_scalar(1.5).t().unwrap();
    for x in [contiguous, transposed] {
        let x = [x.map(|v| if v.abs() < 0.05 { v + 0.1 } else { v })];
        for (name, f) in acts {
            check(name, move |_, v| ad(f(v[0])), &x);
            let report = descent_autodiff::gradgradcheck(
                move |_, v| ad(f(v[0]))?.square(),
                &x,
                Tolerances::default(),
            )
            .unwrap();
            assert!(report.passed, "{name} second order: {report}");
        }
    }
}

#[test]
fn torch_losses_first_and_second_order() {
    use descent_nn::loss::{ClassOptions, GaussianNllOptions, KlDivOptions, MultiMarginOptions};
    type Loss = for<'t> fn(&[Var<'t, f64>]) -> descent_nn::Result<Var<'t, f64>>;
    let losses: [(&str, Loss); 12] = [
        ("l1", |v| loss::l1_loss(v[0], v[1], Reduction::Mean)),
        ("smooth_l1", |v| {
            loss::smooth_l1_loss(v[0], v[1], 0.7, Reduction::Sum)
        }),
        ("margin_ranking", |v| {
            let y = Tensor::from_vec(vec![1.0, -1.0, 1.0], &[3, 1])?;
            loss::margin_ranking_loss(v[0], v[1], &y, 0.3, Reduction::Mean)
        }),
        ("hinge_embedding", |v| {
            let y = Tensor::from_vec(vec![1.0, -1.0, -1.0, 1.0], &[4])?;
            loss::hinge_embedding_loss(v[0], &y, 1.5, Reduction::Sum)
        }),
        ("multi_margin p=2", |v| {
            let opts = MultiMarginOptions {
                p: 2,
                margin: 2.0,
                ..Default::default()
            };
            loss::multi_margin_loss(v[0], &[0, 3, 1], opts)
        }),
        ("cosine_embedding", |v| {
            let y = Tensor::from_vec(vec![1.0, -1.0, 1.0], &[3])?;
            loss::cosine_embedding_loss(v[0], v[1], &y, -0.5, Reduction::Mean)
        }),
        ("poisson_nll", |v| {
            loss::poisson_nll_loss(v[0], v[1].exp()?, Default::default())
        }),
        ("gaussian_nll", |v| {
            let var = v[1].exp()?.sum(&[1], false)?;
            loss::gaussian_nll_loss(v[0], v[1], var, GaussianNllOptions::default())
        }),
        (
            "cross_entropy weight ignore smoothing [3, 4] as [N, C]",
            |v| {
                let w = Tensor::from_vec(vec![0.5, 1.0, 2.0, 1.5], &[4])?;
                let opts = ClassOptions {
                    weight: Some(&w),
                    ignore_index: Some(1),
                    label_smoothing: 0.2,
                    reduction: Reduction::Mean,
                };
                loss::cross_entropy_with(v[0].mul(v[1])?, &[1, 3, 2], opts)
            },
        ),
        ("cross_entropy [1, 3, 4] as [N, C, d]", |v| {
            let opts = ClassOptions {
                label_smoothing: 0.1,
                ..Default::default()
            };
            loss::cross_entropy_with(v[0].unsqueeze(0)?, &[2, 0, 1, 1], opts)
        }),
        ("bce_with_logits pos_weight", |v| {
            let pw = Tensor::from_vec(vec![0.5, 1.0, 2.0, 3.0], &[4])?;
            let t = v[1].sigmoid()?;
            loss::bce_with_logits_with(v[0], t, None, Some(&pw), Reduction::Mean)
        }),
        ("kl_div batchmean log_target", |v| {
            let opts = KlDivOptions {
                batchmean: true,
                log_target: true,
                ..Default::default()
            };
            loss::kl_div_with(v[0].log_softmax(-1)?, v[1].log_softmax(-1)?, opts)
        }),
    ];
    let inputs = [
        randn(&[3, 4], 41).mul_scalar(1.3),
        randn(&[4, 3], 42).t().unwrap(),
    ];
    for (name, f) in losses {
        check(name, move |_, v| ad(f(v)), &inputs);
        let report =
            descent_autodiff::gradgradcheck(move |_, v| ad(f(v)), &inputs, Tolerances::default())
                .unwrap();
        assert!(report.passed, "{name} second order: {report}");
    }
}

#[test]
fn prelu_learns_its_slopes() {
    let mut one = activation::Prelu::<f64>::new(1, 0.25).unwrap();
    assert_eq!(one.weight.value.to_vec(), vec![0.25]);
    assert_eq!(
        check_module(&mut one, &randn(&[3, 4], 33), Mode::Train),
        12 + 1
    );
    let mut per_channel = activation::Prelu::<f64>::new(3, 0.25).unwrap();
    per_channel.weight.value = randn(&[3], 34);
    check_module(&mut per_channel, &randn(&[2, 3, 2], 35), Mode::Train);
    let tape = Tape::new();
    let err = per_channel
        .forward(&tape, tape.constant(randn(&[2, 4], 36)), Mode::Eval)
        .unwrap_err();
    assert!(err.to_string().starts_with("prelu: "), "{err}");
    assert!(activation::Prelu::<f64>::new(0, 0.25).is_err());
}

#[test]
fn gelu_and_erf_differentiate_twice() {
    let x = [randn(&[5], 15)];
    let report = descent_autodiff::gradgradcheck(
        |_, v| ad(activation::gelu(v[0])),
        &x,
        Tolerances::default(),
    )
    .unwrap();
    assert!(report.passed, "{report}");
}

#[test]
fn losses_both_reductions() {
    let labels = [2, 0, 3];
    for r in [Reduction::Mean, Reduction::Sum] {
        let logits = randn(&[3, 4], 16).mul_scalar(2.0);
        check(
            "cross_entropy",
            |_, v| ad(loss::cross_entropy(v[0], &labels, r)),
            std::slice::from_ref(&logits),
        );
        check(
            "nll_loss",
            |_, v| ad(loss::nll_loss(v[0].log_softmax(-1)?, &labels, r)),
            std::slice::from_ref(&logits),
        );
        // Probability targets from a softmax, so gradients flow to both arguments.
        let pair = [logits.clone(), randn(&[3, 4], 17)];
        check(
            "cross_entropy_probs",
            |_, v| ad(loss::cross_entropy_probs(v[0], v[1].softmax(-1)?, r)),
            &pair,
        );
        check(
            "kl_div",
            |_, v| ad(loss::kl_div(v[0].log_softmax(-1)?, v[1].softmax(-1)?, r)),
            &pair,
        );
        let (a, b) = (randn(&[3, 2], 18), randn(&[3, 2], 19));
        let ab = [a.clone(), b.clone()];
        check("mse_loss", |_, v| ad(loss::mse_loss(v[0], v[1], r)), &ab);
        check(
            "huber_loss",
            |_, v| ad(loss::huber_loss(v[0], v[1], 0.8, r)),
            &ab,
        );
        // Probabilities and targets in (0, 1) through a sigmoid.
        check(
            "bce_loss",
            |_, v| ad(loss::bce_loss(v[0].sigmoid()?, v[1].sigmoid()?, r)),
            &ab,
        );
        check(
            "bce_with_logits",
            |_, v| ad(loss::bce_with_logits(v[0], v[1].sigmoid()?, r)),
            &ab,
        );
    }
}
