//! Clipping against torch.nn.utils (numbers from `reference/gen_first_order.py`) and
//! parameter averaging against its closed forms.

use descent_autodiff::{Gradients, Param, ParamId};
use descent_optim::{
    first_order::{clip_grad_norm, clip_grad_value, Averager, Averaging, StateDict},
    Error,
};
use descent_tensor::Tensor;
use serde_json::Value;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-12 * b.abs().max(1e-300)
}

#[test]
fn clipping_matches_torch() {
    let r: Value = serde_json::from_str(include_str!("reference/first_order.json")).unwrap();
    let raw: Vec<Vec<f64>> = serde_json::from_value(r["clip_grads"].clone()).unwrap();
    for case in r["clips"].as_array().unwrap() {
        let ids: Vec<ParamId> = raw.iter().map(|_| ParamId::fresh()).collect();
        let mut grads = Gradients::new();
        for (id, g) in ids.iter().zip(&raw) {
            grads.insert(*id, Tensor::<f64>::from_vec(g.clone(), &[g.len()]).unwrap());
        }
        if case["kind"] == "norm" {
            let norm_type = match &case["norm_type"] {
                Value::String(_) => f64::INFINITY,
                v => v.as_f64().unwrap(),
            };
            let max_norm = case["max_norm"].as_f64().unwrap();
            let total = clip_grad_norm(&mut grads, max_norm, norm_type).unwrap();
            assert!(
                close(total, case["total"].as_f64().unwrap()),
                "{case}: norm {total}"
            );
        } else {
            clip_grad_value(&mut grads, case["clip_value"].as_f64().unwrap()).unwrap();
        }
        let want: Vec<Vec<f64>> = serde_json::from_value(case["grads"].clone()).unwrap();
        for (id, w) in ids.iter().zip(&want) {
            let got = grads.by_id(*id).unwrap().to_vec();
            assert!(
                got.iter().zip(w).all(|(a, b)| close(*a, *b)),
                "{case}: {got:?} vs {w:?}"
            );
        }
    }
}

#[test]
fn clipping_rejects_bad_arguments_and_keeps_nan() {
    let mut g = Gradients::new();
    g.insert(
        ParamId::fresh(),
        Tensor::<f32>::from_vec(vec![f32::NAN, 2.0], &[2]).unwrap(),
    );
    assert_eq!(
        clip_grad_norm(&mut g, -1.0, 2.0).unwrap_err().to_string(),
        "clip_grad_norm: max_norm=-1 is invalid; allowed: a number >= 0"
    );
    assert!(clip_grad_norm(&mut g, 1.0, 0.0).is_err());
    assert!(clip_grad_value(&mut g, -0.5).is_err());
    clip_grad_value(&mut g, 1.0).unwrap();
    let v = g.iter().next().unwrap().1.to_vec();
    assert!(v[0].is_nan() && v[1] == 1.0);
}

/// A scalar parameter taking the values `xs` one after the other, averaged.
fn average(kind: Averaging, xs: &[f64]) -> f64 {
    let mut w = Param::new(Tensor::<f64>::scalar(0.0));
    let mut avg = Averager::new(kind).unwrap();
    for &x in xs {
        w.value = Tensor::scalar(x);
        avg.update(&[&w]).unwrap();
    }
    avg.average(w.id()).unwrap().1.item().unwrap()
}

#[test]
fn averaging_matches_closed_forms() {
    let xs: Vec<f64> = (1..=25)
        .map(|i| ((i * 7919) % 101) as f64 / 10.0 - 3.0)
        .collect();
    let n = xs.len() as f64;
    // γ = 0: the plain mean of all iterates (Polyak–Ruppert).
    let mean = xs.iter().sum::<f64>() / n;
    assert!((average(Averaging::Polynomial { gamma: 0.0 }, &xs) - mean).abs() < 1e-12);
    // γ = 1: weights 2i / (t(t+1)).
    let lin: f64 = xs
        .iter()
        .enumerate()
        .map(|(i, x)| 2.0 * (i + 1) as f64 * x)
        .sum::<f64>()
        / (n * (n + 1.0));
    assert!((average(Averaging::Polynomial { gamma: 1.0 }, &xs) - lin).abs() < 1e-12);
    // γ = 2: weights 3 i (i+1) / (t (t+1) (t+2)).
    let quad: f64 = xs
        .iter()
        .enumerate()
        .map(|(i, x)| 3.0 * ((i + 1) * (i + 2)) as f64 * x)
        .sum::<f64>()
        / (n * (n + 1.0) * (n + 2.0));
    assert!((average(Averaging::Polynomial { gamma: 2.0 }, &xs) - quad).abs() < 1e-12);
    // EMA: d^(t-1)·x₁ + Σ_{i≥2} (1 − d)·d^(t−i)·xᵢ (the first update copies).
    let d: f64 = 0.9;
    let ema = d.powi(xs.len() as i32 - 1) * xs[0]
        + xs[1..]
            .iter()
            .enumerate()
            .map(|(k, x)| (1.0 - d) * d.powi((xs.len() - 2 - k) as i32) * x)
            .sum::<f64>();
    assert!((average(Averaging::Ema { decay: d }, &xs) - ema).abs() < 1e-12);
}

#[test]
fn swap_in_and_back_without_copies() {
    let mut w = Param::new(Tensor::<f32>::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    let mut b = Param::new(Tensor::<f32>::zeros(&[1]));
    let mut avg = Averager::parse("ema:decay=0.5").unwrap();
    avg.update(&[&w]).unwrap();
    w.value = Tensor::from_vec(vec![3.0, 6.0], &[2]).unwrap();
    avg.update(&[&w]).unwrap();
    avg.swap(&mut [&mut w, &mut b]).unwrap();
    assert!(avg.is_swapped());
    assert_eq!(w.value.to_vec(), vec![2.0, 4.0]);
    assert_eq!(b.value.to_vec(), vec![0.0]); // never averaged: untouched
    assert!(matches!(avg.update(&[&w]), Err(Error::Averaging { .. })));
    avg.swap(&mut [&mut w, &mut b]).unwrap();
    assert_eq!(w.value.to_vec(), vec![3.0, 6.0]);
    assert!(Averager::<f32>::parse("ema:decay=1.5").is_err());
    assert!(Averager::<f32>::parse("polynomial:gamma=-1").is_err());
    assert!(Averager::<f32>::parse("swa").is_err());
}

#[test]
fn averages_resume_through_a_saved_state_exactly() {
    let xs = [1.5f32, -2.0, 0.25, 7.0, 3.0];
    let mut w = Param::new(Tensor::<f32>::from_vec(vec![0.0, 0.0], &[2]).unwrap());
    let b = Param::new(Tensor::<f32>::zeros(&[1]));
    let step = |w: &mut Param<f32>, x: f32| {
        w.value = Tensor::from_vec(vec![x, x * x], &[2]).unwrap();
    };
    let mut straight = Averager::parse("polynomial:gamma=1").unwrap();
    let mut first = Averager::parse("polynomial:gamma=1").unwrap();
    for &x in &xs[..2] {
        step(&mut w, x);
        straight.update(&[&w]).unwrap();
        first.update(&[&w]).unwrap();
    }
    // Through the file format, as a checkpoint would; `b` was never averaged.
    let bytes = first.state_dict(&[&w, &b]).unwrap().to_bytes().unwrap();
    let saved = StateDict::<f32>::from_bytes(&bytes, "ckpt").unwrap();
    assert!(!saved.tensors.contains_key("average.1"));
    let mut resumed = Averager::parse("polynomial:gamma=1").unwrap();
    resumed.load_state_dict(&saved, &[&w, &b]).unwrap();
    for &x in &xs[2..] {
        step(&mut w, x);
        straight.update(&[&w]).unwrap();
        resumed.update(&[&w]).unwrap();
    }
    let (a, r) = (
        straight.average(w.id()).unwrap(),
        resumed.average(w.id()).unwrap(),
    );
    assert_eq!(
        (a.0, a.1.to_vec()),
        (r.0, r.1.to_vec()),
        "same count, same bits"
    );

    // Wrong kind, wrong shape, too few parameters: errors that say so, nothing changed.
    let msg = |e: Error| e.to_string();
    let mut ema = Averager::<f32>::parse("ema").unwrap();
    assert!(msg(ema.load_state_dict(&saved, &[&w, &b]).unwrap_err())
        .contains("saved by `polynomial:gamma=1.0`"));
    let wide = Param::new(Tensor::<f32>::zeros(&[3]));
    let mut other = Averager::parse("polynomial:gamma=1").unwrap();
    assert!(msg(other.load_state_dict(&saved, &[&wide]).unwrap_err()).contains("shape [2]"));
    assert!(msg(other.load_state_dict(&saved, &[]).unwrap_err()).contains("names no parameter"));
    assert!(other.average(w.id()).is_none());
    // Saving while swapped in would save the current weights as the averages.
    resumed.swap(&mut [&mut w]).unwrap();
    assert!(matches!(
        resumed.state_dict(&[&w]),
        Err(Error::Averaging { .. })
    ));
}
