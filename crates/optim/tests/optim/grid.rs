//! The option grid: every first-order rule `build` shares with torch.optim, every
//! combination of the options that change its arithmetic (torch's invalid ones left out),
//! on Rosenbrock, Beale, the saddle and the quadratic ½(x² + 100y²), in `f64` and in `f32`,
//! for 200 steps, bit for bit.
//!
//! The numbers are `reference/grid.json`, written by `reference/gen_grid.py` with
//! torch.optim itself (`foreach=False`): the iterate after steps 1, 2, 5, 10, 50, 100 and 200
//! and the gradient each of those steps used, as IEEE bit patterns. Here the optimizer comes
//! from its spec string through [`build`] and the gradient from descent's own tape on
//! [`TestFunction::eval`]; the script writes each function with the same operations in the
//! same order for torch's autograd, so both gradients are rounded alike (not a closed form:
//! the autograd gradients agree to the bit), and the test compares the gradient of each
//! recorded step as well as the iterate. `maximize=true` runs minimize −f with torch's
//! `maximize`, the same trajectory as minimizing f by the other code path.
//!
//! torch's CPU square root (MKL's vector math) is not correctly rounded, so each rule with a
//! square root was run twice by the script: with torch's square root replaced by the IEEE
//! one (`"sqrt": "ieee"`, required bit for bit here, as are the rules without a square
//! root), and as shipped (`"sqrt": "mkl"`, the known exceptions below).

use descent_autodiff::{Param, Tape};
use descent_optim::{build, functions::TestFunction};
use descent_tensor::{Float, Tensor};
use serde_json::Value;

fn reference() -> Value {
    serde_json::from_str(include_str!("reference/grid.json")).unwrap()
}

/// A recorded value: the bit pattern in hex (16 digits for `f64`, 8 for `f32`), widened
/// to `f64` (exactly, for `f32`).
fn value(hex: &Value) -> f64 {
    let hex = hex.as_str().unwrap();
    let bits = u64::from_str_radix(hex, 16).unwrap();
    match hex.len() {
        16 => f64::from_bits(bits),
        8 => f64::from(f32::from_bits(bits as u32)),
        n => panic!("{n} hex digits"),
    }
}

/// How many representable `F` lie between `a` and `b` (both finite and of type `F`).
fn ulps<F: Float>(a: f64, b: f64) -> u64 {
    let ordered = |x: f64| -> i64 {
        if std::mem::size_of::<F>() == 4 {
            let b = (x as f32).to_bits() as i32;
            i64::from(if b < 0 { i32::MIN - b } else { b })
        } else {
            let b = x.to_bits() as i64;
            if b < 0 {
                i64::MIN - b
            } else {
                b
            }
        }
    };
    ordered(a).abs_diff(ordered(b))
}

/// Where a run first leaves torch's bits.
struct Mismatch {
    step: usize,
    what: &'static str,
    got: Vec<f64>,
    want: Vec<f64>,
    ulps: u64,
}

/// Runs one case and returns its first mismatch, or `None` if every recorded gradient and
/// iterate has torch's bits.
fn replay<F: Float>(case: &Value, checkpoints: &[usize], start: &[f64]) -> Option<Mismatch> {
    let spec = case["spec"].as_str().unwrap();
    let f = TestFunction::parse(case["function"].as_str().unwrap()).unwrap();
    let maximize = case["maximize"].as_bool().unwrap();
    let start: Vec<F> = start.iter().map(|&s| F::of(s)).collect();
    let mut p = Param::new(Tensor::from_vec(start, &[2]).unwrap());
    let mut opt = build::<F>(spec).unwrap();
    let steps = *checkpoints.last().unwrap();
    let mut recorded = 0;
    for step in 1..=steps {
        let tape = Tape::new();
        let x = tape.param(&p);
        let mut loss = f.eval(x).unwrap();
        if maximize {
            loss = loss.neg().unwrap();
        }
        let grads = loss.backward().unwrap();
        let g: Vec<f64> = grads
            .wrt(x)
            .unwrap()
            .to_vec()
            .iter()
            .map(|v| v.as_f64())
            .collect();
        drop(tape);
        opt.step(&mut [&mut p], &grads).unwrap();
        if checkpoints[recorded] != step {
            continue;
        }
        let x: Vec<f64> = p.value.to_vec().iter().map(|v| v.as_f64()).collect();
        let mut seen = vec![("iterate", x, &case["x"][recorded])];
        if !case["g"].is_null() {
            seen.insert(0, ("gradient", g, &case["g"][recorded]));
        }
        for (what, got, want) in seen {
            let want: Vec<f64> = want.as_array().unwrap().iter().map(value).collect();
            if got
                .iter()
                .zip(&want)
                .any(|(a, b)| a.to_bits() != b.to_bits())
            {
                let ulps = got
                    .iter()
                    .zip(&want)
                    .map(|(&a, &b)| ulps::<F>(a, b))
                    .max()
                    .unwrap_or(0);
                return Some(Mismatch {
                    step,
                    what,
                    got,
                    want,
                    ulps,
                });
            }
        }
        recorded += 1;
    }
    None
}

/// Every case whose `sqrt` is one of `kinds`, with its first mismatch.
fn run_cases(kinds: &[&str]) -> Vec<(String, Option<Mismatch>)> {
    let r = reference();
    let checkpoints: Vec<usize> = r["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap() as usize)
        .collect();
    r["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| kinds.contains(&c["sqrt"].as_str().unwrap()))
        .map(|case| {
            let function = case["function"].as_str().unwrap();
            let start: Vec<f64> = r["starts"][function]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_f64().unwrap())
                .collect();
            let dtype = case["dtype"].as_str().unwrap();
            let mismatch = match dtype {
                "f64" => replay::<f64>(case, &checkpoints, &start),
                _ => replay::<f32>(case, &checkpoints, &start),
            };
            let name = format!(
                "{} on {function}, {dtype}, {} sqrt",
                case["spec"].as_str().unwrap(),
                case["sqrt"].as_str().unwrap()
            );
            (name, mismatch)
        })
        .collect()
}

fn describe(name: &str, m: &Mismatch) -> String {
    format!(
        "{name}: the {} first differs at recorded step {}: {:?} vs torch {:?} ({} ulp)",
        m.what, m.step, m.got, m.want, m.ulps
    )
}

/// Every rule, every option, both precisions: torch's bits after every recorded step
/// (with torch's square root made IEEE for the rules that take one).
#[test]
fn every_rule_and_option_matches_torch_bit_for_bit() {
    let results = run_cases(&["ieee", "none"]);
    assert!(results.len() >= 800, "{} cases", results.len());
    let failures: Vec<String> = results
        .iter()
        .filter_map(|(name, m)| m.as_ref().map(|m| describe(name, m)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from torch:\n{}",
        failures.len(),
        results.len(),
        failures.join("\n")
    );
}

/// The known exceptions: torch as shipped takes its CPU square root from MKL's vector math
/// (VML_HA), which is not correctly rounded (on the machine that made the reference, 1 input
/// in about 110 in `f64` and 140 in `f32` came back 1 ulp from the IEEE square root, and
/// which ones depends on the instruction set MKL dispatches to). descent takes the IEEE
/// square root, so where MKL misrounded one that mattered, it follows torch with an IEEE
/// square root (the test above) and leaves torch as shipped. These are those runs, out of
/// 576, with the first recorded step that differs and by how many ulp (then, as measured).
/// Every other run with MKL's square root is bit for bit too; a change either way fails
/// the test, so a descent that learned MKL's rounding would flip it.
const MKL_SQRT_DIFFERS: &[(&str, &str, &str, usize, u64)] = &[
    (
        "adagrad:lr=0.1,lr_decay=0.0,initial_accumulator_value=0.1,weight_decay=0.0,maximize=false",
        "saddle",
        "f32",
        200,
        1,
    ),
    (
        "adagrad:lr=0.1,lr_decay=0.0,initial_accumulator_value=0.1,weight_decay=0.0,maximize=true",
        "saddle",
        "f32",
        200,
        1,
    ),
    (
        "rmsprop:lr=0.001,centered=false,momentum=0.5,weight_decay=0.0,maximize=false",
        "saddle",
        "f64",
        100,
        1,
    ),
    (
        "rmsprop:lr=0.001,centered=false,momentum=0.5,weight_decay=0.0,maximize=true",
        "saddle",
        "f64",
        100,
        1,
    ),
    (
        "rmsprop:lr=0.001,centered=false,momentum=0.5,weight_decay=0.01,maximize=false",
        "saddle",
        "f32",
        50,
        1,
    ),
    (
        "rmsprop:lr=0.001,centered=false,momentum=0.5,weight_decay=0.01,maximize=true",
        "saddle",
        "f32",
        50,
        1,
    ),
    (
        "rmsprop:lr=0.001,alpha=0.9,eps=1e-06,centered=true,momentum=0.9",
        "saddle",
        "f64",
        200,
        7,
    ),
    // Centered RMSprop with momentum, lr 0.01, α 0.9, μ 0.5 (first_order_parity.rs's long run).
    (
        "rmsprop:lr=0.01,alpha=0.9,centered=true,momentum=0.5",
        "rosenbrock",
        "f64",
        100,
        1,
    ),
    (
        "rmsprop:lr=0.01,alpha=0.9,centered=true,momentum=0.5",
        "beale",
        "f32",
        50,
        1,
    ),
    (
        "rmsprop:lr=0.01,alpha=0.9,centered=true,momentum=0.5",
        "saddle",
        "f64",
        100,
        4,
    ),
    (
        "rmsprop:lr=0.01,alpha=0.9,centered=true,momentum=0.5",
        "quadratic:a=1,b=100",
        "f64",
        200,
        218,
    ),
    (
        "rmsprop:lr=0.01,alpha=0.9,centered=true,momentum=0.5",
        "quadratic:a=1,b=100",
        "f32",
        50,
        1,
    ),
    (
        "adadelta:lr=1.0,weight_decay=0.0,maximize=false",
        "saddle",
        "f32",
        200,
        7,
    ),
    (
        "adadelta:lr=1.0,weight_decay=0.0,maximize=true",
        "saddle",
        "f32",
        200,
        7,
    ),
    (
        "adadelta:lr=1.0,weight_decay=0.01,maximize=false",
        "beale",
        "f32",
        100,
        1,
    ),
    (
        "adadelta:lr=1.0,weight_decay=0.01,maximize=false",
        "saddle",
        "f32",
        200,
        3,
    ),
    (
        "adadelta:lr=1.0,weight_decay=0.01,maximize=false",
        "quadratic:a=1,b=100",
        "f64",
        200,
        3,
    ),
    (
        "adadelta:lr=1.0,weight_decay=0.01,maximize=true",
        "beale",
        "f32",
        100,
        1,
    ),
    (
        "adadelta:lr=1.0,weight_decay=0.01,maximize=true",
        "saddle",
        "f32",
        200,
        3,
    ),
    (
        "adadelta:lr=1.0,weight_decay=0.01,maximize=true",
        "quadratic:a=1,b=100",
        "f64",
        200,
        3,
    ),
    ("adadelta:lr=1.0,rho=0.8,eps=0.0001", "saddle", "f64", 5, 1),
    ("adadelta:lr=1.0,rho=0.8,eps=0.0001", "saddle", "f32", 50, 4),
    (
        "adadelta:lr=1.0,rho=0.8,eps=0.0001",
        "quadratic:a=1,b=100",
        "f64",
        200,
        8,
    ),
    (
        "adadelta:lr=1.0,rho=0.8,eps=0.0001",
        "quadratic:a=1,b=100",
        "f32",
        100,
        42,
    ),
    (
        "adam:lr=0.01,betas=0.8/0.99,eps=1e-06,weight_decay=0.01",
        "saddle",
        "f64",
        5,
        1,
    ),
    (
        "adam:lr=0.01,decoupled_weight_decay=true,weight_decay=0.1",
        "saddle",
        "f32",
        50,
        1,
    ),
    (
        "adam:lr=0.01,decoupled_weight_decay=true,weight_decay=0.1",
        "quadratic:a=1,b=100",
        "f32",
        50,
        1,
    ),
    (
        "adam:lr=0.01,decoupled_weight_decay=true,weight_decay=0.1,amsgrad=true,maximize=true",
        "saddle",
        "f32",
        50,
        1,
    ),
    (
        "adam:lr=0.01,decoupled_weight_decay=true,weight_decay=0.1,amsgrad=true,maximize=true",
        "quadratic:a=1,b=100",
        "f32",
        50,
        1,
    ),
    (
        "adamw:lr=0.01,amsgrad=false,weight_decay=0.1,maximize=false",
        "saddle",
        "f32",
        50,
        1,
    ),
    (
        "adamw:lr=0.01,amsgrad=false,weight_decay=0.1,maximize=false",
        "quadratic:a=1,b=100",
        "f32",
        50,
        1,
    ),
    (
        "adamw:lr=0.01,amsgrad=false,weight_decay=0.1,maximize=true",
        "saddle",
        "f32",
        50,
        1,
    ),
    (
        "adamw:lr=0.01,amsgrad=false,weight_decay=0.1,maximize=true",
        "quadratic:a=1,b=100",
        "f32",
        50,
        1,
    ),
    (
        "adamw:lr=0.01,amsgrad=true,weight_decay=0.1,maximize=false",
        "saddle",
        "f32",
        50,
        1,
    ),
    (
        "adamw:lr=0.01,amsgrad=true,weight_decay=0.1,maximize=false",
        "quadratic:a=1,b=100",
        "f32",
        50,
        1,
    ),
    (
        "adamw:lr=0.01,amsgrad=true,weight_decay=0.1,maximize=true",
        "saddle",
        "f32",
        50,
        1,
    ),
    (
        "adamw:lr=0.01,amsgrad=true,weight_decay=0.1,maximize=true",
        "quadratic:a=1,b=100",
        "f32",
        50,
        1,
    ),
];

#[test]
fn torch_mkl_square_root_is_the_only_exception() {
    let results = run_cases(&["mkl"]);
    assert!(results.len() >= 500, "{} cases", results.len());
    let r = reference();
    let cases = r["cases"].as_array().unwrap().iter();
    let keys = cases.filter(|c| c["sqrt"] == "mkl").map(|c| {
        (
            c["spec"].as_str().unwrap(),
            c["function"].as_str().unwrap(),
            c["dtype"].as_str().unwrap(),
        )
    });
    let mut unexpected = Vec::new();
    let mut differ = 0;
    for ((name, m), (spec, function, dtype)) in results.iter().zip(keys) {
        let known = MKL_SQRT_DIFFERS
            .iter()
            .find(|k| (k.0, k.1, k.2) == (spec, function, dtype));
        match (m, known) {
            (None, None) => {}
            (Some(m), Some(k)) if (m.step, m.ulps) == (k.3, k.4) => differ += 1,
            (Some(m), _) => unexpected.push(describe(name, m)),
            (None, Some(_)) => {
                unexpected.push(format!("{name}: now bit for bit with torch as shipped"))
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "{} runs changed against torch's MKL square root:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
    assert_eq!(differ, MKL_SQRT_DIFFERS.len());
}
