//! `Var::backward_each`: each parameter's gradient reaches the hook once, when it is final
//! (equal to what `backward` returns), in reverse order of first use; the hook's error
//! stops the sweep.

use descent_autodiff::{Error, Param, ParamId, Tape};
use descent_tensor::Tensor;

/// A two-layer tanh network: `w1` and `b1` are used first, `w2` last.
fn net<'t>(tape: &'t Tape<f64>, ps: &[Param<f64>]) -> descent_autodiff::Var<'t, f64> {
    let x =
        tape.constant(Tensor::from_vec(vec![0.5, -1.0, 2.0, 0.25, 1.5, -0.75], &[2, 3]).unwrap());
    let h = x
        .matmul(tape.param(&ps[0]))
        .unwrap()
        .add(tape.param(&ps[1]))
        .unwrap()
        .tanh()
        .unwrap();
    h.matmul(tape.param(&ps[2]))
        .unwrap()
        .square()
        .unwrap()
        .sum(&[], false)
        .unwrap()
}

fn params() -> Vec<Param<f64>> {
    let t = |n: usize, shape: &[usize]| {
        Tensor::from_vec((0..n).map(|k| (k as f64 * 0.37).sin()).collect(), shape).unwrap()
    };
    vec![
        Param::new(t(12, &[3, 4])),
        Param::new(t(4, &[4])),
        Param::new(t(4, &[4, 1])),
    ]
}

#[test]
fn each_gradient_is_final_when_handed_over_and_comes_last_layer_first() {
    let ps = params();
    let tape = Tape::new();
    let want = net(&tape, &ps).backward().unwrap();
    let tape = Tape::new();
    let mut seen: Vec<(ParamId, Vec<f64>)> = Vec::new();
    let got = net(&tape, &ps)
        .backward_each(|id, g| {
            seen.push((id, g.to_vec()));
            Ok::<(), Error>(())
        })
        .unwrap();
    let order: Vec<ParamId> = seen.iter().map(|(id, _)| *id).collect();
    assert_eq!(order, vec![ps[2].id(), ps[1].id(), ps[0].id()]);
    for (id, g) in &seen {
        assert_eq!(&want.by_id(*id).unwrap().to_vec(), g);
        assert_eq!(&got.by_id(*id).unwrap().to_vec(), g);
    }
}

#[test]
fn the_hooks_error_stops_the_sweep_and_comes_back() {
    let ps = params();
    let tape = Tape::new();
    let mut calls = 0;
    let e = net(&tape, &ps)
        .backward_each(|_, _| {
            calls += 1;
            Err::<(), Wrapped>(Wrapped("stop".into()))
        })
        .err()
        .unwrap();
    assert_eq!((e.0.as_str(), calls), ("stop", 1));
}

impl From<Error> for Wrapped {
    fn from(e: Error) -> Self {
        Wrapped(e.to_string())
    }
}

struct Wrapped(String);

#[test]
fn the_sweeps_own_error_reaches_a_hook_error_type() {
    let tape = Tape::<f64>::new();
    let v = tape.var(Tensor::zeros(&[2]));
    let e = v.backward_each(|_, _| Ok::<(), Wrapped>(())).err().unwrap();
    assert!(e.0.contains("[2]"), "{}", e.0);
}
