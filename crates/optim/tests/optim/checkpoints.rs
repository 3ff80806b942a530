//! Checkpoints of every rule round-trip, with and without their optional buffers (a rule
//! with no buffers, plain SGD, included); loading validates every counter and refuses
//! non-finite buffers and averages, naming them.

use descent_autodiff::{Gradients, Param, ParamId, Tape};
use descent_optim::{
    build,
    first_order::{Averager, StateDict},
    Optimizer,
};
use descent_tensor::Tensor;

/// A matrix, a vector and a scalar: the shapes a state must carry through a file.
fn params() -> Vec<Param<f64>> {
    let m: Vec<f64> = (0..12).map(|i| (i as f64 * 0.37).sin()).collect();
    vec![
        Param::new(Tensor::from_vec(m, &[3, 4]).unwrap()),
        Param::new(Tensor::from_vec(vec![0.7, -0.4], &[2]).unwrap()),
        Param::new(Tensor::scalar(1.5)),
    ]
}

/// `Σ w⁴/4 − w·c` per parameter, c fixed: distinct, non-linear gradients.
fn loss_and_grads(ps: &[Param<f64>]) -> (f64, Gradients<f64>) {
    let tape = Tape::new();
    let mut total = None;
    for (k, p) in ps.iter().enumerate() {
        let w = tape.param(p);
        let quartic = w
            .square()
            .unwrap()
            .square()
            .unwrap()
            .mul_scalar(0.25)
            .unwrap();
        let l = quartic
            .sub(w.mul_scalar(0.3 * (k as f64 + 1.0)).unwrap())
            .unwrap()
            .sum(&[], false)
            .unwrap();
        total = Some(match total {
            None => l,
            Some(t) => l.add(t).unwrap(),
        });
    }
    let l = total.unwrap();
    (l.item().unwrap(), l.backward().unwrap())
}

fn steps(opt: &mut dyn Optimizer<f64>, ps: &mut [Param<f64>], n: usize) {
    for _ in 0..n {
        let (loss, grads) = loss_and_grads(ps);
        let mut refs: Vec<&mut Param<f64>> = ps.iter_mut().collect();
        opt.step_with_loss(&mut refs, &grads, loss).unwrap();
    }
}

fn ids(ps: &[Param<f64>]) -> Vec<ParamId> {
    ps.iter().map(|p| p.id()).collect()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("descent-optim-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// Every rule, and every optional buffer switched off and on.
const EVERY_RULE: &[&str] = &[
    "sgd:lr=0.05",
    "sgd:lr=0.05,weight_decay=0.01",
    "sgd:lr=0.05,momentum=0.9",
    "sgd:lr=0.05,momentum=0.9,nesterov=true",
    "adagrad:lr=0.1",
    "rmsprop:lr=0.01",
    "rmsprop:lr=0.01,momentum=0.5",
    "rmsprop:lr=0.01,centered=true",
    "rmsprop:lr=0.01,centered=true,momentum=0.5",
    "adadelta",
    "adam:lr=0.01",
    "adam:lr=0.01,amsgrad=true",
    "adamw:lr=0.01",
    "adamax:lr=0.01",
    "nadam:lr=0.01",
    "rprop:lr=0.05",
    "rprop:variant=rprop+,lr=0.05",
    "rprop:variant=irprop+,lr=0.05",
];

#[test]
fn every_rule_resumes_bit_for_bit_from_a_file() {
    for spec in EVERY_RULE {
        let mut straight = params();
        let mut opt = build::<f64>(spec).unwrap();
        steps(opt.as_mut(), &mut straight, 9);

        let mut first = params();
        let mut opt1 = build::<f64>(spec).unwrap();
        steps(opt1.as_mut(), &mut first, 4);
        let path = tmp(&format!(
            "{}.safetensors",
            spec.replace([':', ',', '='], "_")
        ));
        opt1.save(&path, &ids(&first)).unwrap();
        let mut resumed: Vec<Param<f64>> =
            first.iter().map(|p| Param::new(p.value.clone())).collect();
        let mut opt2 = build::<f64>(spec).unwrap();
        opt2.load(&path, &ids(&resumed))
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        steps(opt2.as_mut(), &mut resumed, 5);
        for (a, b) in straight.iter().zip(&resumed) {
            let bits = |p: &Param<f64>| -> Vec<u64> {
                p.value.to_vec().iter().map(|x| x.to_bits()).collect()
            };
            assert_eq!(bits(a), bits(b), "{spec}: the resumed run differs");
        }
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn plain_sgd_state_keeps_the_parameter_shapes() {
    // It has no buffers to read the shape from; the state used to come back with shape [].
    let mut ps = params();
    let mut opt = build::<f64>("sgd:lr=0.1").unwrap();
    steps(opt.as_mut(), &mut ps, 1);
    let sd = opt.state_dict(&ids(&ps)).unwrap();
    assert!(sd.tensors.is_empty());
    assert_eq!(sd.meta["param.0.shape"], "3,4");
    assert_eq!(sd.meta["param.2.shape"], "");
    let mut other = build::<f64>("sgd:lr=0.1").unwrap();
    other.load_state_dict(&sd, &ids(&ps)).unwrap();
    steps(other.as_mut(), &mut ps, 1);
}

fn adam_state(ps: &mut [Param<f64>]) -> StateDict<f64> {
    let mut opt = build::<f64>("adam:lr=0.01").unwrap();
    steps(opt.as_mut(), ps, 2);
    opt.state_dict(&ids(ps)).unwrap()
}

fn load_err(spec: &str, sd: &StateDict<f64>, ps: &[Param<f64>]) -> String {
    let mut opt = build::<f64>(spec).unwrap();
    opt.load_state_dict(sd, &ids(ps)).unwrap_err().to_string()
}

#[test]
fn counters_outside_their_range_are_refused() {
    let mut ps = params();
    let sd = adam_state(&mut ps);
    // u64::MAX wrapped to 0 on the next step, and Adam divided by 1 − β⁰ = 0.
    for bad in [
        u64::MAX.to_string(),
        "0".into(),
        ((1u64 << 53) + 1).to_string(),
    ] {
        let mut broken = sd.clone();
        broken.set_meta("param.1.step", &bad);
        assert_eq!(
            load_err("adam:lr=0.01", &broken, &ps),
            format!("loading state: `param.1.step` = {bad} is outside [1, 2^53]")
        );
    }
    let mut broken = sd.clone();
    broken.set_meta("param.1.step", "-1");
    assert!(load_err("adam:lr=0.01", &broken, &ps).contains("`param.1.step` = `-1` does not parse"));
    let mut broken = sd.clone();
    broken.set_meta("param.0.shape", "3,18446744073709551615,2");
    assert!(load_err("adam:lr=0.01", &broken, &ps).contains("is not a shape"));
    let mut broken = sd.clone();
    broken.set_meta("param.0.shape", "4,3");
    assert_eq!(
        load_err("adam:lr=0.01", &broken, &ps),
        "loading state: `param.0.exp_avg` has shape [3, 4] but parameter 0 has shape [4, 3]"
    );
    let mut broken = sd.clone();
    broken.set_meta("group.0.lr", "-1.0");
    assert!(load_err("adam:lr=0.01", &broken, &ps).contains("group.0.lr=-1 is invalid"));
    // The largest valid count loads, and the next step is refused rather than wrapped.
    let mut edge = sd.clone();
    edge.set_meta("param.0.step", 1u64 << 53);
    let mut opt = build::<f64>("adam:lr=0.01").unwrap();
    opt.load_state_dict(&edge, &ids(&ps)).unwrap();
    let before = ps[0].value.to_vec();
    let (_, grads) = loss_and_grads(&ps);
    let mut refs: Vec<&mut Param<f64>> = ps.iter_mut().collect();
    let err = opt.step(&mut refs, &grads).unwrap_err().to_string();
    assert_eq!(
        err,
        "loading state: adam: parameter 0 has taken 2^53 steps, the most a state counts"
    );
    assert_eq!(ps[0].value.to_vec(), before);
}

#[test]
fn non_finite_moments_are_refused_naming_the_tensor() {
    let mut ps = params();
    let sd = adam_state(&mut ps);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut broken = sd.clone();
        let mut v = broken.tensors["param.1.exp_avg_sq"].to_vec();
        v[1] = bad;
        broken.tensors.insert(
            "param.1.exp_avg_sq".into(),
            Tensor::from_vec(v, &[2]).unwrap(),
        );
        assert_eq!(
            load_err("adam:lr=0.01", &broken, &ps),
            "loading state: `param.1.exp_avg_sq` (shape [2]) holds NaN or infinity"
        );
        // From a file, already at reading (it may hold model weights too).
        let path = tmp("nonfinite.safetensors");
        broken.save(&path).unwrap();
        let err = StateDict::<f64>::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("tensor `param.1.exp_avg_sq` (shape [2]) holds NaN or infinity"),
            "{err}"
        );
    }
    let mut broken = sd.clone();
    broken.set_meta("param.0.scalars", "NaN");
    assert!(load_err("adam:lr=0.01", &broken, &ps).contains("scalar `NaN` is not a finite number"));
    let mut nadam = build::<f64>("nadam").unwrap();
    steps(nadam.as_mut(), &mut ps, 1);
    let mut broken = nadam.state_dict(&ids(&ps)).unwrap();
    broken.set_meta("param.0.scalars", "");
    assert!(load_err("nadam", &broken, &ps).contains("0 scalars saved but nadam keeps 1"));
}

#[test]
fn averager_counts_and_values_are_validated() {
    let ps = params();
    let refs: Vec<&Param<f64>> = ps.iter().collect();
    let mut avg = Averager::<f64>::parse("polynomial").unwrap();
    avg.update(&refs).unwrap();
    let sd = avg.state_dict(&refs).unwrap();
    // u64::MAX made the next weight (γ+1)/(t+γ) of a wrapped count: inf averages.
    for bad in [u64::MAX.to_string(), "0".into()] {
        let mut broken = sd.clone();
        broken.set_meta("average.1.count", &bad);
        let mut fresh = Averager::<f64>::parse("polynomial").unwrap();
        assert_eq!(
            fresh
                .load_state_dict(&broken, &refs)
                .unwrap_err()
                .to_string(),
            format!("loading state: `average.1.count` = {bad} is outside [1, 2^53]")
        );
        assert!(
            fresh.average(ps[1].id()).is_none(),
            "a failed load changed the averager"
        );
    }
    let mut broken = sd.clone();
    broken
        .tensors
        .insert("average.2".into(), Tensor::scalar(f64::INFINITY));
    let mut fresh = Averager::<f64>::parse("polynomial").unwrap();
    assert_eq!(
        fresh
            .load_state_dict(&broken, &refs)
            .unwrap_err()
            .to_string(),
        "loading state: `average.2` (shape []) holds NaN or infinity"
    );
}
