//! The facade as a user's crate sees it: only `descent::…` paths, the README's workflows end
//! to end — a custom op, a model trained and moved through a weights file, L-BFGS through its
//! closure, and an optimizer resumed mid-run from a saved state.

use descent::autodiff::{gradcheck, gradgradcheck, Param, Tape, Tolerances, Var};
use descent::nn::activation::Tanh;
use descent::nn::{loss, Linear, Mode, Module, Reduction, Sequential};
use descent::optim::batch::{with_params, BatchMethod, Lbfgs, LbfgsConfig, LineSearch};
use descent::Tensor;
use rand::{rngs::StdRng, SeedableRng};

/// `x·sin(x)` as a custom op; `wrong` drops the product rule's second term.
fn x_sin_x<'t>(x: Var<'t, f64>, wrong: bool) -> descent::autodiff::Result<Var<'t, f64>> {
    let v = x.value()?;
    let value = v.mul(&v.sin())?;
    x.tape().record("x_sin_x", value, &[x], move |c| {
        let x = c.x(0);
        let dydx = if wrong {
            x.sin()?
        } else {
            x.sin()?.add(x.mul(x.cos()?)?)?
        };
        Ok(vec![Some(c.g.mul(dydx)?)])
    })
}

#[test]
fn a_custom_op_gradchecks_to_second_order_and_a_wrong_rule_does_not() {
    let x = Tensor::<f64>::from_vec(vec![0.3, -1.7, 2.2, 0.9, -0.4, 1.1], &[2, 3]).unwrap();
    let tol = Tolerances::default();
    let first = gradcheck(|_, v| x_sin_x(v[0], false), std::slice::from_ref(&x), tol).unwrap();
    assert!(first.passed, "{first:?}");
    let second = gradgradcheck(|_, v| x_sin_x(v[0], false), std::slice::from_ref(&x), tol).unwrap();
    assert!(second.passed, "{second:?}");
    let wrong = gradcheck(|_, v| x_sin_x(v[0], true), &[x], tol).unwrap();
    assert!(!wrong.passed, "a wrong backward rule must fail the check");
}

fn model(seed: u64) -> Sequential<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .add(Linear::new(3, 8, &mut rng).unwrap())
        .add(Tanh)
        .add(Linear::new(8, 2, &mut rng).unwrap())
}

fn outputs(model: &Sequential<f32>, x: &Tensor<f32>) -> Vec<u32> {
    let tape = Tape::new();
    let y = model.forward(&tape, tape.constant(x.clone()), Mode::Eval);
    let y = y.unwrap().value().unwrap().to_vec();
    y.iter().map(|v| v.to_bits()).collect()
}

/// A regression data set: `y = (x0 − x1, x1·x2)` on 32 points.
fn data() -> (Tensor<f32>, Tensor<f32>) {
    let mut rng = StdRng::seed_from_u64(11);
    let x = Tensor::<f32>::rand(&[32, 3], -1.0, 1.0, &mut rng).unwrap();
    let col = |i| x.narrow(1, i, 1).unwrap();
    let y0 = col(0).sub(&col(1)).unwrap();
    let y1 = col(1).mul(&col(2)).unwrap();
    (x.clone(), Tensor::concat(&[&y0, &y1], 1).unwrap())
}

fn train_steps(
    model: &mut Sequential<f32>,
    opt: &mut dyn descent::optim::Optimizer<f32>,
    steps: usize,
) -> f32 {
    let (x, y) = data();
    let mut last = f32::NAN;
    for _ in 0..steps {
        let tape = Tape::new();
        let pred = model.forward(&tape, tape.constant(x.clone()), Mode::Train);
        let mse = loss::mse_loss(pred.unwrap(), tape.constant(y.clone()), Reduction::Mean);
        let mse = mse.unwrap();
        last = mse.item().unwrap();
        let grads = mse.backward().unwrap();
        drop(tape);
        opt.step(&mut model.params_mut(), &grads).unwrap();
    }
    last
}

#[test]
fn a_trained_model_saved_and_loaded_gives_the_same_outputs_bit_for_bit() {
    let dir = std::env::temp_dir().join(format!("descent-facade-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("model.safetensors");

    let mut trained = model(1);
    let mut opt = descent::optim::build::<f32>("adam:lr=0.01").unwrap();
    let first = train_steps(&mut trained, opt.as_mut(), 1);
    let last = train_steps(&mut trained, opt.as_mut(), 100);
    assert!(
        last < 0.5 * first,
        "training lowers the loss: {first} -> {last}"
    );
    descent::nn::save(&trained, &path).unwrap();

    let (x, _) = data();
    let mut fresh = model(2);
    assert_ne!(
        outputs(&fresh, &x),
        outputs(&trained, &x),
        "another init differs"
    );
    descent::nn::load(&mut fresh, &path).unwrap();
    assert_eq!(outputs(&fresh, &x), outputs(&trained, &x));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_optimizer_restored_mid_run_follows_the_same_trajectory() {
    let dir = std::env::temp_dir().join(format!("descent-facade-opt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (weights, state) = (dir.join("w.safetensors"), dir.join("opt.safetensors"));
    let spec = "sgd:lr=0.05,momentum=0.9,nesterov=true";

    let mut straight = model(3);
    let mut opt = descent::optim::build::<f32>(spec).unwrap();
    train_steps(&mut straight, opt.as_mut(), 20);

    let mut first_half = model(3);
    let mut opt = descent::optim::build::<f32>(spec).unwrap();
    train_steps(&mut first_half, opt.as_mut(), 10);
    descent::nn::save(&first_half, &weights).unwrap();
    let ids: Vec<_> = first_half.params().iter().map(|p| p.id()).collect();
    opt.save(&state, &ids).unwrap();

    // A new process would build everything afresh: other parameter ids, other weights.
    let mut resumed = model(4);
    descent::nn::load(&mut resumed, &weights).unwrap();
    let mut opt = descent::optim::build::<f32>(spec).unwrap();
    let ids: Vec<_> = resumed.params().iter().map(|p| p.id()).collect();
    opt.load(&state, &ids).unwrap();
    train_steps(&mut resumed, opt.as_mut(), 10);

    let (x, _) = data();
    assert_eq!(outputs(&resumed, &x), outputs(&straight, &x));
    // Without the momentum buffers the trajectory differs: the check above can fail.
    let mut forgetful = model(4);
    descent::nn::load(&mut forgetful, &weights).unwrap();
    let mut opt = descent::optim::build::<f32>(spec).unwrap();
    train_steps(&mut forgetful, opt.as_mut(), 10);
    assert_ne!(outputs(&forgetful, &x), outputs(&straight, &x));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn lbfgs_through_its_closure_solves_least_squares() {
    // min ‖A w − b‖² with A 6×3 of full rank; the answer from the normal equations.
    let a = [
        [1.0, 0.5, -0.3],
        [0.2, -1.0, 0.8],
        [0.7, 0.1, 1.5],
        [-0.6, 0.9, 0.4],
        [1.2, -0.4, -0.9],
        [0.3, 0.3, 0.3],
    ];
    let b = [0.5, -1.2, 2.0, 0.3, -0.7, 0.9];
    let mut ata = [[0.0; 3]; 3];
    let mut atb = [0.0; 3];
    for (row, bi) in a.iter().zip(b) {
        for i in 0..3 {
            atb[i] += row[i] * bi;
            for j in 0..3 {
                ata[i][j] += row[i] * row[j];
            }
        }
    }
    let exact = solve3(ata, atb);

    let a_t = Tensor::<f64>::from_vec(a.iter().flatten().copied().collect(), &[6, 3]).unwrap();
    let b_t = Tensor::<f64>::from_vec(b.to_vec(), &[6, 1]).unwrap();
    let mut params = vec![Param::new(Tensor::<f64>::zeros(&[3, 1]))];
    let w = params[0].clone();
    let mut lbfgs = Lbfgs::new(LbfgsConfig {
        line_search: Some(LineSearch::WOLFE),
        tolerance_grad: 1e-12,
        tolerance_change: 0.0,
        ..Default::default()
    })
    .unwrap();
    with_params(
        &mut params,
        |tape| -> descent::optim::Result<_> {
            let r = tape.constant(a_t.clone()).matmul(tape.param(&w))?;
            Ok(r.sub(tape.constant(b_t.clone()))?
                .square()?
                .sum(&[], false)?)
        },
        |x, obj| lbfgs.step(x, obj),
    )
    .unwrap();
    let got = params[0].value.to_vec();
    for (g, e) in got.iter().zip(exact) {
        assert!((g - e).abs() < 1e-8, "{got:?} vs {exact:?}");
    }
}

/// Cramer's rule for a 3×3 system.
fn solve3(m: [[f64; 3]; 3], r: [f64; 3]) -> [f64; 3] {
    let det = |m: [[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(m);
    let mut x = [0.0; 3];
    for (k, xk) in x.iter_mut().enumerate() {
        let mut mk = m;
        for i in 0..3 {
            mk[i][k] = r[i];
        }
        *xk = det(mk) / d;
    }
    x
}
