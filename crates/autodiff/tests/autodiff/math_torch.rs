//! Values and gradients of the element-wise math ops against PyTorch in f64, on random
//! shapes, transposed (strided) inputs, broadcasting operands and special values (0, ±inf,
//! NaN, domain edges, halves for rounding). The numbers are from
//! `reference/gen_math.py` (in `reference/math_reference.json`); each case holds the
//! inputs, the output, a random cotangent `w` and torch's gradient of `Σ w·y`. The reader
//! and the comparison here serve `scan_torch.rs` too.

use descent_autodiff::{Result, Tape, Var};
use descent_tensor::Tensor;
use serde_json::Value;

/// One case of a reference file.
pub struct Case {
    pub name: String,
    pub op: String,
    pub params: Value,
    pub inputs: Vec<Tensor<f64>>,
    pub y_shape: Vec<usize>,
    pub y: Vec<f64>,
    pub indices: Option<Vec<usize>>,
    pub w: Option<Vec<f64>>,
    pub grads: Option<Vec<Vec<f64>>>,
}

impl Case {
    /// An integer parameter.
    pub fn int(&self, key: &str) -> i64 {
        self.params[key]
            .as_i64()
            .unwrap_or_else(|| panic!("{}: no {key}", self.name))
    }
    /// A number parameter.
    pub fn num(&self, key: &str) -> f64 {
        number(&self.params[key])
    }
    /// A flag parameter.
    pub fn flag(&self, key: &str) -> bool {
        self.params[key]
            .as_bool()
            .unwrap_or_else(|| panic!("{}: no {key}", self.name))
    }
}

/// A number as the scripts write it: NaN and ±inf as strings.
fn number(v: &Value) -> f64 {
    match v {
        Value::Number(n) => n.as_f64().expect("a number"),
        Value::String(s) => s.parse().expect("nan, inf or -inf"),
        other => panic!("not a number: {other}"),
    }
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array().expect("a list").iter().map(number).collect()
}

fn sizes(v: &Value) -> Vec<usize> {
    let list = v.as_array().expect("a list");
    list.iter()
        .map(|n| n.as_u64().expect("a size") as usize)
        .collect()
}

/// Reads a reference file written by one of the `gen_*.py` scripts.
pub fn load(json: &str) -> Vec<Case> {
    let cases: Value = serde_json::from_str(json).expect("valid JSON");
    let cases = cases.as_array().expect("a list of cases");
    cases
        .iter()
        .map(|c| {
            let inputs = c["inputs"].as_array().expect("inputs");
            let inputs = inputs
                .iter()
                .map(|i| {
                    let base = Tensor::from_vec(numbers(&i["data"]), &sizes(&i["shape"]))?;
                    if i["t"].as_bool() == Some(true) {
                        base.transpose(-1, -2)
                    } else {
                        Ok(base)
                    }
                })
                .collect::<descent_tensor::Result<Vec<_>>>()
                .expect("inputs build");
            Case {
                name: c["name"].as_str().expect("name").to_string(),
                op: c["op"].as_str().expect("op").to_string(),
                params: c["params"].clone(),
                inputs,
                y_shape: sizes(&c["y_shape"]),
                y: numbers(&c["y"]),
                indices: c.get("indices").map(sizes),
                w: c.get("w").map(numbers),
                grads: c
                    .get("grads")
                    .map(|g| g.as_array().expect("grads").iter().map(numbers).collect()),
            }
        })
        .collect()
}

/// Equal within 1e-12 (relative above 1), NaN matching NaN, infinities exactly: the
/// formulas are torch's up to the order of rounding.
pub fn close(got: &[f64], want: &[f64]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(&a, &b)| {
            (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-12 * b.abs().max(1.0)
        })
}

/// The op under test on a case's inputs: its output and, for the ops that return them, the
/// positions.
pub type Op = for<'t> fn(&Case, &[Var<'t, f64>]) -> Result<(Var<'t, f64>, Option<Vec<usize>>)>;

/// Runs every case through `op` and lists each value, position or gradient that differs
/// from torch's.
pub fn mismatches(cases: &[Case], op: Op) -> Vec<String> {
    let mut bad = Vec::new();
    for case in cases {
        if let Err(e) = check(case, op, &mut bad) {
            bad.push(format!("{}: error {e}", case.name));
        }
    }
    bad
}

fn check(case: &Case, op: Op, bad: &mut Vec<String>) -> Result<()> {
    let tape = Tape::<f64>::new();
    let xs: Vec<Var<'_, f64>> = case.inputs.iter().map(|x| tape.var(x.clone())).collect();
    let (y, index) = op(case, &xs)?;
    let yv = y.value()?;
    if yv.shape() != case.y_shape || !close(&yv.to_vec(), &case.y) {
        bad.push(format!(
            "{}: y = {:?} {:?}, torch {:?} {:?}",
            case.name,
            yv.shape(),
            yv.to_vec(),
            case.y_shape,
            case.y
        ));
    }
    if let Some(want) = &case.indices {
        if index.as_ref() != Some(want) {
            bad.push(format!("{}: indices {index:?}, torch {want:?}", case.name));
        }
    }
    if let (Some(w), Some(grads)) = (&case.w, &case.grads) {
        let w = tape.constant(Tensor::from_vec(w.clone(), &case.y_shape)?);
        let gs = y.mul(w)?.sum(&[], false)?.grad(&xs, None)?;
        for (i, (g, want)) in gs.iter().zip(grads).enumerate() {
            let g = g.value()?.to_vec();
            if !close(&g, want) {
                bad.push(format!("{}: grad {i} = {g:?}, torch {want:?}", case.name));
            }
        }
    }
    Ok(())
}

fn math_op<'t>(case: &Case, v: &[Var<'t, f64>]) -> Result<(Var<'t, f64>, Option<Vec<usize>>)> {
    let x = v[0];
    let y = match case.op.as_str() {
        "log1p" => x.log1p(),
        "expm1" => x.expm1(),
        "log2" => x.log2(),
        "log10" => x.log10(),
        "tan" => x.tan(),
        "asin" => x.asin(),
        "acos" => x.acos(),
        "atan" => x.atan(),
        "sinh" => x.sinh(),
        "cosh" => x.cosh(),
        "asinh" => x.asinh(),
        "acosh" => x.acosh(),
        "atanh" => x.atanh(),
        "rsqrt" => x.rsqrt(),
        "floor" => x.floor(),
        "ceil" => x.ceil(),
        "round" => x.round(),
        "trunc" => x.trunc(),
        "frac" => x.frac(),
        "atan2" => x.atan2(v[1]),
        "hypot" => x.hypot(v[1]),
        "logaddexp" => x.logaddexp(v[1]),
        "xlogy" => x.xlogy(v[1]),
        "lerp_scalar" => x.lerp_scalar(v[1], case.num("weight")),
        "lerp" => x.lerp(v[1], v[2]),
        other => panic!("no op {other}"),
    }?;
    Ok((y, None))
}

#[test]
fn math_ops_match_torch() {
    let cases = load(include_str!("reference/math_reference.json"));
    assert!(cases.len() > 70, "{} cases", cases.len());
    let bad = mismatches(&cases, math_op);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
