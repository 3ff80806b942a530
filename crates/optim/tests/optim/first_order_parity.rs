//! Parity with torch.optim: trajectories written by `reference/gen_first_order.py` (torch,
//! float64, foreach=False; naive loops for the rules torch lacks), replayed two ways:
//! - `replay`: the optimizer is fed torch's gradients, so only the update rule is compared;
//! - `tape`: the gradients come from descent's own tape, end to end.
//!
//! Every parameter after every step must match to 1e-12 relative (∞-norm). A third test
//! replays torch's `float32` runs (`first_order_f32.json`) with `f32` parameters.

use descent_autodiff::{Gradients, Param, Tape, Var};
use descent_optim::{build, functions::TestFunction};
use descent_tensor::Tensor;
use serde_json::Value;

const RTOL: f64 = 1e-12;

fn reference() -> Value {
    serde_json::from_str(include_str!("reference/first_order.json")).unwrap()
}

fn floats(v: &Value) -> Vec<f64> {
    let mut out = Vec::new();
    match v {
        Value::Array(items) => items.iter().for_each(|i| out.extend(floats(i))),
        Value::Number(n) => out.push(n.as_f64().unwrap()),
        _ => panic!("not a number: {v}"),
    }
    out
}

fn start(function: &str, r: &Value) -> Vec<Param<f64>> {
    let f = &r["functions"];
    let t = |k: &str, shape: &[usize]| Param::new(Tensor::from_vec(floats(&f[k]), shape).unwrap());
    match function {
        "rosenbrock" => vec![t("start", &[2])],
        "lstsq" => vec![t("W0", &[2, 3]), t("B0", &[2])],
        _ => panic!("unknown function {function}"),
    }
}

fn loss<'t>(tape: &'t Tape<f64>, ps: &[Param<f64>], function: &str, r: &Value) -> Var<'t, f64> {
    let f = &r["functions"];
    match function {
        "rosenbrock" => TestFunction::Rosenbrock.eval(tape.param(&ps[0])).unwrap(),
        _ => {
            let a = tape.constant(Tensor::from_vec(floats(&f["A"]), &[5, 3]).unwrap());
            let y = tape.constant(Tensor::from_vec(floats(&f["Y"]), &[5, 2]).unwrap());
            let (w, b) = (tape.param(&ps[0]), tape.param(&ps[1]));
            let res = a
                .matmul(w.t().unwrap())
                .unwrap()
                .add(b)
                .unwrap()
                .sub(y)
                .unwrap();
            res.mul(res)
                .unwrap()
                .sum(&[], false)
                .unwrap()
                .mul_scalar(0.5)
                .unwrap()
        }
    }
}

fn flat(ps: &[Param<f64>]) -> Vec<f64> {
    ps.iter().flat_map(|p| p.value.to_vec()).collect()
}

fn rel_err(got: &[f64], want: &[f64]) -> f64 {
    let scale = want.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    let diff = got
        .iter()
        .zip(want)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    diff / scale
}

fn run(case: &Value, r: &Value, replay: bool) -> f64 {
    let function = case["function"].as_str().unwrap();
    let spec = case["spec"].as_str().unwrap();
    let negate = case["negate"].as_bool().unwrap();
    let mut ps = start(function, r);
    let mut opt = build::<f64>(spec).unwrap();
    let mut worst = rel_err(&flat(&ps), &floats(&case["params"][0]));
    let steps = case["loss"].as_array().unwrap().len();
    for t in 0..steps {
        let (value, grads) = if replay {
            let g = floats(&case["grads"][t]);
            let mut grads = Gradients::new();
            let mut k = 0;
            for p in &ps {
                let n = p.value.numel();
                grads.insert(p.id(), Tensor::from_slice(&g[k..k + n], p.shape()).unwrap());
                k += n;
            }
            (case["loss"][t].as_f64().unwrap(), grads)
        } else {
            let tape = Tape::new();
            let mut l = loss(&tape, &ps, function, r);
            if negate {
                l = l.neg().unwrap();
            }
            let value = l.item().unwrap();
            let want = case["loss"][t].as_f64().unwrap();
            worst = worst.max((value - want).abs() / want.abs());
            (value, l.backward().unwrap())
        };
        let mut refs: Vec<&mut Param<f64>> = ps.iter_mut().collect();
        opt.step_with_loss(&mut refs, &grads, value).unwrap();
        worst = worst.max(rel_err(&flat(&ps), &floats(&case["params"][t + 1])));
    }
    worst
}

fn check(replay: bool) {
    let r = reference();
    let mut failures = Vec::new();
    let cases = r["cases"].as_array().unwrap();
    assert!(cases.len() >= 70, "{} cases", cases.len());
    for case in cases {
        let worst = run(case, &r, replay);
        let name = format!(
            "{} on {} ({})",
            case["name"], case["function"], case["spec"]
        );
        if worst.is_nan() || worst > RTOL {
            failures.push(format!("{name}: relative error {worst:.3e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn update_rules_match_torch_on_torch_gradients() {
    check(true);
}

#[test]
fn trajectories_match_torch_end_to_end() {
    check(false);
}

/// The rules with a square root. PyTorch's `f32` `sqrt` on the CPU comes from MKL's vector
/// math, which is not correctly rounded (`sqrt(7.921002e-4)` is 1 ulp low), so their
/// trajectories can only agree closely; every other rule must agree bit for bit.
const SQRT_RULES: [&str; 6] = ["adam", "adamw", "nadam", "adagrad", "rmsprop", "adadelta"];

/// `reference/first_order_f32.json`: the cases torch computes, run by torch in float32
/// (`gen_first_order.py --float32`) and replayed here with `f32` parameters and torch's
/// gradients. SGD (plain, momentum, Nesterov, weight decay), Adamax and Rprop must give the
/// same `f32` after every step, bit for bit (which takes torch's fused multiply-adds); the
/// rules in [`SQRT_RULES`] must stay within 5e-7 relative (∞-norm, about 4 ulp; measured
/// at most 1.2e-7 over 40 steps).
#[test]
fn torch_float32_trajectories_match() {
    let r: Value = serde_json::from_str(include_str!("reference/first_order_f32.json")).unwrap();
    let cases = r["cases"].as_array().unwrap();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let f32s = |v: &Value| {
        floats(v)
            .into_iter()
            .map(|x| x as f32)
            .collect::<Vec<f32>>()
    };
    let (mut failures, mut exact) = (Vec::new(), 0);
    for case in cases {
        let spec = case["spec"].as_str().unwrap();
        let function = case["function"].as_str().unwrap();
        let approximate = SQRT_RULES.contains(&spec.split(':').next().unwrap());
        let shapes: &[&[usize]] = match function {
            "rosenbrock" => &[&[2]],
            _ => &[&[2, 3], &[2]],
        };
        let split = |flat: &[f32]| {
            let mut k = 0;
            shapes
                .iter()
                .map(|s| {
                    let n: usize = s.iter().product();
                    k += n;
                    Tensor::from_slice(&flat[k - n..k], s).unwrap()
                })
                .collect::<Vec<_>>()
        };
        let mut ps: Vec<Param<f32>> = split(&f32s(&case["params"][0]))
            .into_iter()
            .map(Param::new)
            .collect();
        let mut opt = build::<f32>(spec).unwrap();
        for t in 0..case["loss"].as_array().unwrap().len() {
            let mut grads = Gradients::new();
            for (p, g) in ps.iter().zip(split(&f32s(&case["grads"][t]))) {
                grads.insert(p.id(), g);
            }
            let loss = case["loss"][t].as_f64().unwrap();
            let mut refs: Vec<&mut Param<f32>> = ps.iter_mut().collect();
            opt.step_with_loss(&mut refs, &grads, loss).unwrap();
            let got: Vec<f32> = ps.iter().flat_map(|p| p.value.to_vec()).collect();
            let want = f32s(&case["params"][t + 1]);
            let wrong = if approximate {
                let wide = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
                rel_err(&wide(&got), &wide(&want)) > 5e-7
            } else {
                got.iter()
                    .zip(&want)
                    .any(|(a, b)| a.to_bits() != b.to_bits())
            };
            if wrong {
                failures.push(format!(
                    "{spec} on {function}, step {}: {got:?} vs {want:?}",
                    t + 1
                ));
                break;
            }
        }
        exact += usize::from(!approximate);
    }
    assert!(exact >= 20, "only {exact} bit-for-bit cases");
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Centered RMSprop with momentum on Rosenbrock for 200 steps (f64, lr 0.01, α 0.9,
/// μ 0.5), replayed on torch's gradients: with torch's order of roundings (fused
/// `addcmul`, `lerp` and update) the first 90 steps are bit for bit and every step agrees
/// to a few ulp of 1 (the trajectory passes near 0, where a relative test would be
/// meaningless); the differences left come from torch's square root, which is not always
/// correctly rounded. The unfused order drifted to 1e-9 end to end.
#[test]
fn long_centered_rmsprop_follows_torch_to_the_ulp() {
    let r = reference();
    let case = r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "rmsprop_centered_momentum_long" && c["function"] == "rosenbrock")
        .expect("the 200-step RMSprop case");
    assert_eq!(case["loss"].as_array().unwrap().len(), 200);
    let mut ps = start("rosenbrock", &r);
    let mut opt = build::<f64>(case["spec"].as_str().unwrap()).unwrap();
    let mut identical = 0;
    for t in 0..200 {
        let mut grads = Gradients::new();
        let g = floats(&case["grads"][t]);
        grads.insert(ps[0].id(), Tensor::from_slice(&g, &[2]).unwrap());
        let loss = case["loss"][t].as_f64().unwrap();
        opt.step_with_loss(&mut [&mut ps[0]], &grads, loss).unwrap();
        let (got, want) = (flat(&ps), floats(&case["params"][t + 1]));
        let diff = got
            .iter()
            .zip(&want)
            .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
        assert!(
            diff <= 4.0 * f64::EPSILON,
            "step {}: {got:?} vs torch {want:?}",
            t + 1
        );
        // The unfused order loses bit parity at step 76.
        assert!(
            t >= 90 || got == want,
            "step {}: {got:?} vs torch {want:?}",
            t + 1
        );
        identical += usize::from(got == want);
    }
    // After step 96 a square root torch rounded differently shows; measured 166 of 200.
    assert!(
        identical >= 160,
        "only {identical} of 200 steps bit for bit"
    );
}
