//! The tape's contract: gradients by leaf, errors for misuse, no_grad, detach,
//! accumulation, freeing, anomaly mode and documented subgradients.

use descent_autodiff::{BackwardOptions, Error, Gradients, Param, Tape};
use descent_tensor::Tensor;

fn t(v: &[f64], shape: &[usize]) -> Tensor<f64> {
    Tensor::from_vec(v.to_vec(), shape).unwrap()
}

#[test]
fn gradients_are_found_by_param_and_by_var() {
    let w = Param::new(t(&[1.0, 2.0], &[2]));
    let tape = Tape::new();
    let wv = tape.param(&w);
    assert_eq!(
        tape.param(&w).value().unwrap().to_vec(),
        wv.value().unwrap().to_vec()
    );
    let x = tape.var(t(&[3.0, -1.0], &[2]));
    let y = wv.mul(x).unwrap().sum(&[], false).unwrap(); // y = w·x
    let g = y.backward().unwrap();
    assert_eq!(g.get(&w).unwrap().to_vec(), vec![3.0, -1.0]);
    assert_eq!(g.wrt(x).unwrap().to_vec(), vec![1.0, 2.0]);
    assert_eq!(g.len(), 2);
}

#[test]
fn a_param_used_twice_accumulates() {
    let w = Param::new(t(&[2.0], &[1]));
    let tape = Tape::new();
    let a = tape.param(&w);
    let b = tape.param(&w); // same leaf
    let y = a.mul(b).unwrap().add(a).unwrap().sum(&[], false).unwrap(); // w² + w
    assert_eq!(y.backward().unwrap().get(&w).unwrap().to_vec(), vec![5.0]);
}

#[test]
fn non_scalar_backward_needs_a_seed() {
    let tape = Tape::new();
    let x = tape.var(t(&[1.0, 2.0], &[2]));
    let y = x.square().unwrap();
    assert!(matches!(y.backward(), Err(Error::NotScalar(ref s)) if s == &vec![2]));
    let bad = BackwardOptions {
        seed: Some(Tensor::ones(&[3])),
        retain_graph: false,
    };
    assert!(matches!(y.backward_with(bad), Err(Error::SeedShape { .. })));
    let seed = BackwardOptions {
        seed: Some(t(&[1.0, 10.0], &[2])),
        retain_graph: false,
    };
    assert_eq!(
        y.backward_with(seed).unwrap().wrt(x).unwrap().to_vec(),
        vec![2.0, 40.0]
    );
}

#[test]
fn vars_from_another_tape_are_rejected() {
    let (a, b) = (Tape::<f64>::new(), Tape::<f64>::new());
    let x = a.var(Tensor::ones(&[2]));
    let y = b.var(Tensor::ones(&[2]));
    let err = x.add(y).unwrap_err();
    assert_eq!(err, Error::ForeignTape { op: "add" });
    assert!(err.to_string().contains("different tapes"));
}

#[test]
fn second_backward_fails_unless_the_graph_was_retained() {
    let tape = Tape::new();
    let x = tape.var(t(&[0.5], &[1]));
    let h = x.tanh().unwrap();
    let y = h.exp().unwrap().sum(&[], false).unwrap();
    let retained = BackwardOptions {
        seed: None,
        retain_graph: true,
    };
    let first = y.backward_with(retained).unwrap();
    let second = y.backward().unwrap(); // retained: works, and frees
    assert_eq!(
        first.wrt(x).unwrap().to_vec(),
        second.wrt(x).unwrap().to_vec()
    );
    assert!(matches!(y.backward(), Err(Error::Freed { .. })));
    assert!(
        matches!(h.value(), Err(Error::Freed { op: "tanh", .. })),
        "interior values are freed"
    );
    assert!(
        x.value().is_ok() && y.value().is_ok(),
        "leaves and the root are kept"
    );
}

#[test]
fn no_grad_and_detach_stop_gradients() {
    let tape = Tape::new();
    let x = tape.var(t(&[2.0], &[1]));
    let frozen = tape.no_grad(|| x.square().unwrap());
    assert!(!frozen.requires_grad());
    let d = x.square().unwrap().detach().unwrap();
    let y = x
        .mul(frozen)
        .unwrap()
        .add(x.mul(d).unwrap())
        .unwrap()
        .sum(&[], false)
        .unwrap();
    assert_eq!(y.backward().unwrap().wrt(x).unwrap().to_vec(), vec![8.0]); // (4 + 4), not 3·2x²
}

#[test]
fn accumulating_micro_batches_equals_the_full_batch() {
    let w = Param::new(t(&[0.3, -0.7], &[2, 1]));
    let x = t(&[1.0, 2.0, -1.0, 0.5, 3.0, -2.0, 0.1, 0.2], &[4, 2]);
    let loss = |rows: Tensor<f64>| {
        let tape = Tape::new();
        let y = tape
            .constant(rows)
            .matmul(tape.param(&w))
            .unwrap()
            .tanh()
            .unwrap();
        y.square()
            .unwrap()
            .sum(&[], false)
            .unwrap()
            .backward()
            .unwrap()
    };
    let full = loss(x.clone());
    let mut acc = Gradients::new();
    acc.accumulate(&loss(x.narrow(0, 0, 2).unwrap())).unwrap();
    acc.accumulate(&loss(x.narrow(0, 2, 2).unwrap())).unwrap();
    assert!(acc
        .get(&w)
        .unwrap()
        .allclose(full.get(&w).unwrap(), 1e-12, 1e-12));
}

#[test]
fn anomaly_mode_names_the_first_non_finite_op() {
    let tape = Tape::new();
    tape.set_anomaly_detection(true);
    let x = tape.var(t(&[1.0, -1.0], &[2]));
    let err = x.ln().unwrap_err(); // ln(−1) = NaN
    assert!(matches!(err, Error::NonFinite { op: "ln", .. }));
    assert!(
        err.to_string().contains("ln") && err.to_string().contains("[2]"),
        "{err}"
    );
    tape.set_anomaly_detection(false);
    assert!(x.ln().is_ok());
}

#[test]
fn subgradients_at_kinks_are_documented_values() {
    let tape = Tape::new();
    let x = tape.var(t(&[0.0, 1.0, -1.0], &[3]));
    let at = |y: descent_autodiff::Var<'_, f64>| {
        y.sum(&[], false)
            .unwrap()
            .backward()
            .unwrap()
            .wrt(x)
            .unwrap()
            .to_vec()
    };
    assert_eq!(at(x.relu().unwrap()), vec![0.0, 1.0, 0.0]);
    assert_eq!(at(x.abs().unwrap()), vec![0.0, 1.0, -1.0]);
    assert_eq!(
        at(x.clamp(-1.0, 0.0).unwrap()),
        vec![0.0, 0.0, 0.0],
        "boundaries stop the gradient, as in PyTorch 2.15"
    );
    let zeros = tape.constant(Tensor::zeros(&[3]));
    assert_eq!(
        at(x.maximum(zeros).unwrap()),
        vec![0.5, 1.0, 0.0],
        "ties split evenly"
    );
    let m = tape.var(t(&[2.0, 2.0, 1.0], &[3]));
    let g = m.max(&[], false).unwrap().backward().unwrap();
    assert_eq!(g.wrt(m).unwrap().to_vec(), vec![0.5, 0.5, 0.0]);
}

#[test]
fn gradients_of_gradients() {
    let tape = Tape::<f64>::new();
    let x = tape.var(t(&[0.7], &[1]));
    let y = x.sin().unwrap().mul(x).unwrap().sum(&[], false).unwrap(); // x sin x
    let dy = y.grad(&[x], None).unwrap()[0]; // sin x + x cos x
    let d2y = dy.sum(&[], false).unwrap().grad(&[x], None).unwrap()[0]; // 2 cos x − x sin x
    let d3y = d2y.sum(&[], false).unwrap().grad(&[x], None).unwrap()[0]; // −3 sin x − x cos x
    let v = 0.7f64;
    assert!((dy.item().unwrap() - (v.sin() + v * v.cos())).abs() < 1e-14);
    assert!((d2y.item().unwrap() - (2.0 * v.cos() - v * v.sin())).abs() < 1e-14);
    assert!((d3y.item().unwrap() - (-3.0 * v.sin() - v * v.cos())).abs() < 1e-14);
}

#[test]
fn a_weight_used_transposed_gets_a_contiguous_gradient() {
    // x·wᵀ with w stored [out, in], as Linear does: the gradient must come back in w's own
    // layout, so optimizers read it as one slice.
    let w = Param::new(Tensor::<f64>::from_vec((0..6).map(f64::from).collect(), &[3, 2]).unwrap());
    let tape = Tape::new();
    let x = tape.constant(t(&[1.0, 2.0, 3.0, 4.0], &[2, 2]));
    let y = x
        .matmul(tape.param(&w).t().unwrap())
        .unwrap()
        .sum(&[], false)
        .unwrap();
    let g = y.backward().unwrap();
    let gw = g.get(&w).unwrap();
    assert!(gw.is_contiguous(), "strides {:?}", gw.strides());
    assert_eq!(gw.to_vec(), vec![4.0, 6.0, 4.0, 6.0, 4.0, 6.0]);
}
