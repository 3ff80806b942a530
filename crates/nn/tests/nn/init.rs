//! Initializers: distributions, bounds, orthogonality, parsing.

use descent_nn::init::{fans, gain, Init};
use descent_tensor::Tensor;
use rand::{rngs::StdRng, SeedableRng};

fn draw(init: Init, shape: &[usize]) -> Vec<f64> {
    init.tensor::<f64>(shape, &mut StdRng::seed_from_u64(42))
        .unwrap()
        .to_vec()
}

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (mean, v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n)
}

/// Checks the sample mean is ~0 and the sample variance within 5% of `var`.
fn assert_moments(v: &[f64], var: f64) {
    let (m, s2) = mean_var(v);
    assert!(
        m.abs() < 0.05 * var.sqrt(),
        "mean {m} for std {}",
        var.sqrt()
    );
    assert!(
        (s2 / var - 1.0).abs() < 0.05,
        "variance {s2}, expected {var}"
    );
}

#[test]
fn uniform_schemes_have_the_lecture_bounds_and_variances() {
    let (fan_in, fan_out) = (300.0, 200.0);
    let cases = [
        (
            Init::XavierUniform { gain: 1.0 },
            (6.0f64 / (fan_in + fan_out)).sqrt(),
        ),
        (
            Init::XavierUniform { gain: 4.0 },
            4.0 * (6.0f64 / (fan_in + fan_out)).sqrt(),
        ),
        (Init::LecunUniform, 1.0 / fan_in.sqrt()),
        (
            Init::KaimingUniform { gain: 2f64.sqrt() },
            (6.0 / fan_in).sqrt(),
        ),
    ];
    for (init, bound) in cases {
        let v = draw(init, &[200, 300]);
        assert!(
            v.iter().all(|x| x.abs() <= bound),
            "{init}: a sample beyond {bound}"
        );
        assert!(
            v.iter().any(|x| x.abs() > 0.95 * bound),
            "{init}: samples do not reach {bound}"
        );
        assert_moments(&v, bound * bound / 3.0);
    }
}

#[test]
fn normal_schemes_have_the_lecture_variances() {
    let (fan_in, fan_out) = (300.0, 200.0);
    let cases = [
        (Init::XavierNormal { gain: 1.0 }, 2.0 / (fan_in + fan_out)),
        (Init::LecunNormal, 1.0 / fan_in),
        (Init::KaimingNormal { gain: 2f64.sqrt() }, 2.0 / fan_in),
        (
            Init::Normal {
                mean: 0.0,
                std: 0.3,
            },
            0.09,
        ),
    ];
    for (init, var) in cases {
        assert_moments(&draw(init, &[200, 300]), var);
    }
}

#[test]
fn truncated_normal_is_redrawn_inside_two_sigma() {
    let v = draw(
        Init::TruncNormal {
            mean: 1.0,
            std: 0.5,
        },
        &[100, 100],
    );
    assert!(v.iter().all(|x| (x - 1.0).abs() <= 1.0));
    // The variance of N(0, 1) truncated to [-2, 2] is 1 − 4φ(2)/(2Φ(2) − 1) ≈ 0.7737413.
    let (m, s2) = mean_var(&v);
    assert!((m - 1.0).abs() < 0.02, "{m}");
    assert!((s2 / (0.25 * 0.7737413) - 1.0).abs() < 0.05, "{s2}");
}

#[test]
fn orthogonal_gives_orthonormal_columns_or_rows() {
    for shape in [vec![8, 5], vec![3, 7], vec![6, 6], vec![4, 2, 3, 3]] {
        let rows = shape[0];
        let cols: usize = shape[1..].iter().product();
        let w = Init::Orthogonal { gain: 1.0 }
            .tensor::<f64>(&shape, &mut StdRng::seed_from_u64(1))
            .unwrap();
        let w = w.reshape(&[rows as isize, cols as isize]).unwrap();
        // WᵀW = I when tall, WWᵀ = I when wide.
        let gram = if rows >= cols {
            w.t().unwrap().matmul(&w)
        } else {
            w.matmul(&w.t().unwrap())
        }
        .unwrap();
        let eye = Tensor::<f64>::eye(rows.min(cols));
        assert!(gram.allclose(&eye, 0.0, 1e-12), "{shape:?}: {gram}");
    }
    let w = Init::Orthogonal { gain: 2.0 }
        .tensor::<f64>(&[5, 5], &mut StdRng::seed_from_u64(1))
        .unwrap();
    let gram = w.t().unwrap().matmul(&w).unwrap();
    assert!(gram.allclose(&Tensor::eye(5).mul_scalar(4.0), 0.0, 1e-12));
}

#[test]
fn same_seed_same_weights() {
    let init = Init::XavierNormal { gain: 1.0 };
    let a = init
        .tensor::<f32>(&[3, 4], &mut StdRng::seed_from_u64(9))
        .unwrap();
    let b = init
        .tensor::<f32>(&[3, 4], &mut StdRng::seed_from_u64(9))
        .unwrap();
    assert_eq!(a.to_vec(), b.to_vec());
}

#[test]
fn fans_follow_pytorch() {
    assert_eq!(fans(&[8, 4]).unwrap(), (4, 8));
    assert_eq!(fans(&[16, 3, 5, 5]).unwrap(), (75, 400));
    let err = Init::XavierUniform { gain: 1.0 }
        .tensor::<f32>(&[5], &mut StdRng::seed_from_u64(0))
        .unwrap_err();
    assert!(err.to_string().contains("[5]"), "{err}");
    // Non-fan schemes work for any shape, a bias for instance.
    assert_eq!(
        Init::Constant { value: 0.5 }
            .tensor::<f32>(&[3], &mut StdRng::seed_from_u64(0))
            .unwrap()
            .to_vec(),
        vec![0.5; 3]
    );
}

#[test]
fn names_parse_with_options_and_round_trip() {
    let sqrt2 = std::f64::consts::SQRT_2;
    let cases = [
        ("xavier_uniform", Init::XavierUniform { gain: 1.0 }),
        (
            "glorot_normal:gain=logistic",
            Init::XavierNormal { gain: 4.0 },
        ),
        ("he_normal", Init::KaimingNormal { gain: sqrt2 }),
        ("kaiming_uniform:gain=1", Init::KaimingUniform { gain: 1.0 }),
        ("lecun_uniform", Init::LecunUniform),
        ("pytorch", Init::PYTORCH_LINEAR),
        ("lecun_normal", Init::LecunNormal),
        ("orthogonal:gain=relu", Init::Orthogonal { gain: sqrt2 }),
        (
            "normal:std=0.01",
            Init::Normal {
                mean: 0.0,
                std: 0.01,
            },
        ),
        (
            "normal",
            Init::Normal {
                mean: 0.0,
                std: 1.0,
            },
        ),
        (
            "trunc_normal:mean=1, std=2",
            Init::TruncNormal {
                mean: 1.0,
                std: 2.0,
            },
        ),
        (
            "uniform:low=-1,high=1",
            Init::Uniform {
                low: -1.0,
                high: 1.0,
            },
        ),
        ("zeros", Init::Constant { value: 0.0 }),
        ("constant:value=0.1", Init::Constant { value: 0.1 }),
    ];
    for (spec, want) in cases {
        let got: Init = spec.parse().unwrap();
        assert_eq!(got, want, "{spec}");
        assert_eq!(
            got.to_string().parse::<Init>().unwrap(),
            want,
            "{spec} round trip"
        );
    }
    assert_eq!(gain("tanh").unwrap(), 1.0);
}

#[test]
fn bad_names_list_the_allowed_ones() {
    let err = "xavier".parse::<Init>().unwrap_err().to_string();
    assert!(
        err.contains("\"xavier\"") && err.contains("xavier_uniform") && err.contains("he_normal"),
        "{err}"
    );
    let err = "xavier_uniform:std=1"
        .parse::<Init>()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("xavier_uniform:std") && err.contains("gain"),
        "{err}"
    );
    let err = "he_normal:gain=softmax"
        .parse::<Init>()
        .unwrap_err()
        .to_string();
    assert!(err.contains("softmax") && err.contains("relu"), "{err}");
    let err = "normal:std".parse::<Init>().unwrap_err().to_string();
    assert!(err.contains("key=value"), "{err}");
    let err = "normal:std=abc".parse::<Init>().unwrap_err().to_string();
    assert!(err.contains("abc"), "{err}");
}

#[test]
fn fill_redraws_a_param_and_keeps_its_id() {
    let mut p = descent_autodiff::Param::new(Tensor::<f32>::zeros(&[4, 3]));
    let id = p.id();
    Init::LecunUniform
        .fill(&mut p, &mut StdRng::seed_from_u64(3))
        .unwrap();
    assert_eq!(p.id(), id);
    assert_eq!(p.value.shape(), &[4, 3]);
    assert!(p
        .value
        .to_vec()
        .iter()
        .all(|x| x.abs() <= 1.0 / 3f32.sqrt() && *x != 0.0));
}

/// Per layer of a 10-layer tanh stack (width 256, batch 512, N(0, 1) input, no bias):
/// `Var(z_l)/Var(a_{l−1})` for `z_l = a_{l−1}·W_lᵀ`, `a_l = tanh(z_l)`; and the fraction of
/// saturated units (`|a| > 0.99`) at the top.
fn tanh_stack(init: Init) -> (Vec<f64>, Vec<f64>, f64) {
    let var = |t: &Tensor<f64>| t.var(&[], 0, false).unwrap().item().unwrap();
    let mut rng = StdRng::seed_from_u64(10);
    let mut a = Tensor::<f64>::randn(&[512, 256], 0.0, 1.0, &mut rng).unwrap();
    let (mut gains, mut vars) = (vec![], vec![]);
    for _ in 0..10 {
        let w = init.tensor::<f64>(&[256, 256], &mut rng).unwrap();
        let z = a.matmul(&w.t().unwrap()).unwrap();
        gains.push(var(&z) / var(&a));
        a = z.tanh();
        vars.push(var(&a));
    }
    let saturated = a.to_vec().iter().filter(|v| v.abs() > 0.99).count() as f64 / a.numel() as f64;
    (gains, vars, saturated)
}

#[test]
fn xavier_keeps_each_tanh_layers_variance_and_unit_normal_does_not() {
    let (xavier, xavier_act, xavier_sat) = tanh_stack(Init::XavierUniform { gain: 1.0 });
    let (normal, normal_act, normal_sat) = tanh_stack(Init::Normal {
        mean: 0.0,
        std: 1.0,
    });
    eprintln!("xavier: per-layer variance gain {xavier:.3?}, activation variance {xavier_act:.3?}, saturated {xavier_sat}");
    eprintln!("N(0,1): per-layer variance gain {normal:.1?}, activation variance {normal_act:.3?}, saturated {normal_sat}");
    // Xavier: n·Var(W) = 1, each layer passes its input's variance on within a factor 2.
    assert!(xavier.iter().all(|g| (0.5..2.0).contains(g)), "{xavier:?}");
    // N(0, 1): each layer multiplies the variance by about fan_in = 256 and tanh saturates.
    assert!(normal.iter().all(|g| *g > 100.0), "{normal:?}");
    assert!(
        xavier_sat < 0.01 && normal_sat > 0.5,
        "saturated: xavier {xavier_sat}, N(0,1) {normal_sat}"
    );
}
