//! Saving and resuming continues bit for bit; every kind of bad input is a clear error.

use descent_autodiff::{Gradients, Param, ParamId, Tape};
use descent_optim::{build, first_order::StateDict, functions::TestFunction, Error, Optimizer};
use descent_tensor::Tensor;

fn params() -> Vec<Param<f64>> {
    vec![
        Param::new(Tensor::from_vec(vec![-1.2, 1.0], &[2]).unwrap()),
        Param::new(Tensor::from_vec(vec![0.7, -0.4], &[2]).unwrap()),
    ]
}

/// Rosenbrock in the first parameter plus an ill-conditioned bowl in the second.
fn loss_and_grads(ps: &[Param<f64>]) -> (f64, Gradients<f64>) {
    let tape = Tape::new();
    let a = TestFunction::Rosenbrock.eval(tape.param(&ps[0])).unwrap();
    let q = TestFunction::Quadratic { a: 1.0, b: 10.0 };
    let l = a.add(q.eval(tape.param(&ps[1])).unwrap()).unwrap();
    (l.item().unwrap(), l.backward().unwrap())
}

fn steps(opt: &mut dyn Optimizer<f64>, ps: &mut [Param<f64>], n: usize) {
    for _ in 0..n {
        let (loss, grads) = loss_and_grads(ps);
        let mut refs: Vec<&mut Param<f64>> = ps.iter_mut().collect();
        opt.step_with_loss(&mut refs, &grads, loss).unwrap();
    }
}

fn make(spec: &str, ps: &[Param<f64>]) -> Box<dyn Optimizer<f64>> {
    let mut opt = build::<f64>(spec).unwrap();
    opt.add_group(&[ps[1].id()], "lr=0.002").unwrap();
    opt
}

const SPECS: &[&str] = &[
    "sgd:lr=1e-3,momentum=0.9,nesterov=true",
    "sgd:lr=1e-3,momentum=0.9,momentum_form=dampened",
    "adagrad:lr=0.1,lr_decay=0.01",
    "rmsprop:lr=1e-3,centered=true,momentum=0.5",
    "adadelta",
    "adam:lr=1e-2,amsgrad=true",
    "adamw:lr=1e-2",
    "adamax:lr=1e-2",
    "nadam:lr=1e-2",
    "rprop:lr=0.05",
    "rprop:variant=rprop+,lr=0.05",
    "rprop:variant=irprop+,lr=0.05",
];

#[test]
fn save_and_resume_continue_bit_for_bit() {
    let dir = std::env::temp_dir().join(format!("descent-optim-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for spec in SPECS {
        // One run of 30 steps...
        let mut ps = params();
        let mut opt = make(spec, &ps);
        steps(opt.as_mut(), &mut ps, 30);
        // ...against 12 steps, a save, and a new process's optimizer and parameters.
        let mut first = params();
        let mut opt1 = make(spec, &first);
        steps(opt1.as_mut(), &mut first, 12);
        let path = dir.join("opt.safetensors");
        let ids: Vec<ParamId> = first.iter().map(|p| p.id()).collect();
        opt1.save(&path, &ids).unwrap();
        let mut resumed: Vec<Param<f64>> =
            first.iter().map(|p| Param::new(p.value.clone())).collect();
        let mut opt2 = make(spec, &resumed); // hyper-parameters come from the spec
        opt2.load(&path, &[resumed[0].id(), resumed[1].id()])
            .unwrap();
        steps(opt2.as_mut(), &mut resumed, 18);
        for (a, b) in ps.iter().zip(&resumed) {
            let (a, b): (Vec<u64>, Vec<u64>) = (
                a.value.to_vec().iter().map(|x| x.to_bits()).collect(),
                b.value.to_vec().iter().map(|x| x.to_bits()).collect(),
            );
            assert_eq!(a, b, "{spec}: the resumed run differs");
        }
        assert!(!dir.join("opt.safetensors.tmp").exists());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn group_learning_rates_are_saved() {
    let mut ps = params();
    let mut opt = make("adam:lr=0.01", &ps);
    steps(opt.as_mut(), &mut ps, 2);
    opt.set_lr(0, 0.005).unwrap();
    let ids: Vec<ParamId> = ps.iter().map(|p| p.id()).collect();
    let sd = opt.state_dict(&ids).unwrap();
    let mut other = make("adam:lr=0.01", &ps);
    other.load_state_dict(&sd, &ids).unwrap();
    assert_eq!((other.lr(0), other.lr(1)), (Some(0.005), Some(0.002)));
    assert_eq!(sd.tensors.len(), 4);
    assert!(sd.tensors.contains_key("param.1.exp_avg_sq"));
}

#[test]
fn loading_foreign_or_broken_state_is_an_error() {
    let mut ps = params();
    let mut adam = make("adam", &ps);
    steps(adam.as_mut(), &mut ps, 1);
    let ids: Vec<ParamId> = ps.iter().map(|p| p.id()).collect();
    let sd = adam.state_dict(&ids).unwrap();
    let msg = |r: Result<(), Error>| r.unwrap_err().to_string();
    assert_eq!(
        msg(make("adamw", &ps).load_state_dict(&sd, &ids)),
        "loading state: the state was saved by `adam` and cannot be loaded into `adamw`"
    );
    assert_eq!(
        msg(make("adam", &ps).load_state_dict(&sd, &ids[..1])),
        "loading state: the state is for 2 parameters but 1 were given"
    );
    assert_eq!(
        msg(build::<f64>("adam").unwrap().load_state_dict(&sd, &ids)),
        "loading state: the state has 2 parameter groups but this adam has 1"
    );
    let mut amsgrad = build::<f64>("adam:amsgrad=true").unwrap();
    amsgrad.add_group(&[ids[1]], "lr=0.002").unwrap();
    assert!(msg(amsgrad.load_state_dict(&sd, &ids))
        .contains("buffer `max_exp_avg_sq` of adam is missing"));
    // Another dtype, and bytes that are not a state at all.
    let bytes = sd.to_bytes().unwrap();
    assert_eq!(
        StateDict::<f32>::from_bytes(&bytes, "x")
            .unwrap_err()
            .to_string(),
        "loading state: the state holds float64 but is loaded as float32"
    );
    let err =
        StateDict::<f64>::from_bytes(&bytes[..bytes.len() / 2], "half.safetensors").unwrap_err();
    assert!(err.to_string().starts_with("half.safetensors: "), "{err}");
    let err =
        StateDict::<f64>::load(std::path::Path::new("/nonexistent/opt.safetensors")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/opt.safetensors: "),
        "{err}"
    );
}

#[test]
fn bad_specs_name_the_key_the_value_and_what_is_allowed() {
    let msg = |spec: &str| build::<f32>(spec).err().unwrap().to_string();
    assert_eq!(
        msg("adam:lr=-1"),
        "adam: lr=-1 is invalid; allowed: a number >= 0"
    );
    assert_eq!(
        msg("adam:betas=0.9/1"),
        "adam: betas=1 is invalid; allowed: a number in [0, 1)"
    );
    assert_eq!(
        msg("adam:betas=0.9"),
        "adam: betas=0.9 is invalid; allowed: two numbers `a/b`, each a finite number"
    );
    assert_eq!(
        msg("adamw:eps=abc"),
        "adamw: eps=abc is invalid; allowed: a finite number"
    );
    assert_eq!(
        msg("sgd:lr=0.1,momentom=0.9"),
        "sgd: unknown key momentom; allowed keys: lr, momentum, dampening, weight_decay, nesterov, maximize, momentum_form"
    );
    assert_eq!(
        msg("adom:lr=0.1"),
        "unknown optimizer `adom`; known: sgd, adagrad, rmsprop, adadelta, adam, adamw, adamax, nadam, rprop (first-order); steepest, cg, bfgs, lbfgs, newton, lm, gauss_newton (batch)"
    );
    assert!(msg("sgd:lr=0.1,nesterov=true")
        .starts_with("sgd: nesterov=true is invalid; allowed: only with momentum > 0"));
    assert!(msg("sgd:lr").contains("argument `lr` has no `=value`"));
    assert!(msg("sgd:lr=1,lr=2").contains("key `lr` is given twice"));
    assert!(msg("sgd:nesterov=maybe").ends_with("allowed: true or false"));
    assert_eq!(
        msg("rmsprop:alpha=1.5"),
        "rmsprop: alpha=1.5 is invalid; allowed: a number in [0, 1]"
    );
    assert_eq!(
        msg("rprop:etas=1.5/1.2"),
        "rprop: etas=1.5/1.2 is invalid; allowed: η₋/η₊ with 0 < η₋ < 1 < η₊"
    );
    assert_eq!(
        msg("rprop:variant=rprop"),
        "rprop: variant=rprop is invalid; allowed: one of rprop+, rprop-, irprop+, irprop-"
    );
    assert!(msg(":lr=1").contains("no name before `:`"));
    // Group overrides go through the same checks.
    let mut opt = build::<f32>("adam").unwrap();
    assert_eq!(
        opt.add_group(&[ParamId::fresh()], "lr=0.1,beta=0.5").unwrap_err().to_string(),
        "adam: unknown key beta; allowed keys: lr, betas, eps, weight_decay, amsgrad, maximize, decoupled_weight_decay, eps_inside"
    );
    assert_eq!(
        opt.set_lr(3, 0.1).unwrap_err().to_string(),
        "adam: no parameter group 3; there are 1"
    );
    assert!(opt.set_lr(0, -0.1).is_err());
    assert_eq!(opt.lr(0), Some(1e-3));
}

#[test]
fn bad_gradients_change_nothing() {
    let mut ps = params();
    let mut opt = make("adam:lr=0.1", &ps);
    let before: Vec<Vec<f64>> = ps.iter().map(|p| p.value.to_vec()).collect();
    // A gradient of the wrong shape.
    let mut grads = Gradients::new();
    grads.insert(ps[0].id(), Tensor::zeros(&[2]));
    grads.insert(ps[1].id(), Tensor::zeros(&[3]));
    let mut refs: Vec<&mut Param<f64>> = ps.iter_mut().collect();
    assert_eq!(
        opt.step(&mut refs, &grads).unwrap_err().to_string(),
        "adam: the gradient of parameter 1 has shape [3] but the parameter has shape [2]"
    );
    // A NaN: reported, and neither the parameters nor the state moved.
    let mut grads = Gradients::new();
    grads.insert(ps[0].id(), Tensor::from_vec(vec![1.0, 2.0], &[2]).unwrap());
    grads.insert(
        ps[1].id(),
        Tensor::from_vec(vec![f64::NAN, 0.0], &[2]).unwrap(),
    );
    let mut refs: Vec<&mut Param<f64>> = ps.iter_mut().collect();
    assert_eq!(
        opt.step(&mut refs, &grads).unwrap_err().to_string(),
        "adam: the gradient of parameter 1 (shape [2]) is not finite (NaN or infinity); no parameter was updated"
    );
    let after: Vec<Vec<f64>> = ps.iter().map(|p| p.value.to_vec()).collect();
    assert_eq!(before, after);
    let ids: Vec<ParamId> = ps.iter().map(|p| p.id()).collect();
    assert!(!opt
        .state_dict(&ids)
        .unwrap()
        .meta
        .contains_key("param.0.step"));
    // A parameter without a gradient is skipped.
    let mut grads = Gradients::new();
    grads.insert(ps[1].id(), Tensor::from_vec(vec![1.0, 1.0], &[2]).unwrap());
    let mut refs: Vec<&mut Param<f64>> = ps.iter_mut().collect();
    opt.step(&mut refs, &grads).unwrap();
    assert_eq!(ps[0].value.to_vec(), before[0]);
    assert_ne!(ps[1].value.to_vec(), before[1]);
    // Infinity or NaN in the vectorized part (32 lanes) of a longer gradient or in its tail
    // is caught too, and in either thread's half of one large enough to be checked on two.
    for (len, at, bad) in [
        (70, 37, f64::NEG_INFINITY),
        (70, 66, f64::NAN),
        (100_003, 10, f64::NAN),
        (100_003, 99_000, f64::INFINITY),
    ] {
        let mut long = Param::new(Tensor::<f64>::zeros(&[len]));
        let mut g = vec![0.5; len];
        g[at] = bad;
        let mut long_grads = Gradients::new();
        long_grads.insert(long.id(), Tensor::from_vec(g, &[len]).unwrap());
        let err = build::<f64>("sgd")
            .unwrap()
            .step(&mut [&mut long], &long_grads)
            .unwrap_err();
        assert!(
            matches!(err, Error::NonFiniteGradient { index: 0, .. }),
            "{err}"
        );
        assert_eq!(long.value.to_vec(), vec![0.0; len]);
    }
    // iRprop+ compares losses, so it needs them.
    let mut irprop = build::<f64>("rprop:variant=irprop+").unwrap();
    let mut refs: Vec<&mut Param<f64>> = ps.iter_mut().collect();
    assert_eq!(
        irprop.step(&mut refs, &grads).unwrap_err().to_string(),
        "rprop: needs the loss (or metric) of each step; call step_with_loss"
    );
}

#[test]
fn f32_parameters_step_too() {
    let mut w = Param::new(Tensor::<f32>::from_vec(vec![-1.2, 1.0], &[2]).unwrap());
    let mut opt = build::<f32>("adam:lr=0.05").unwrap();
    for _ in 0..500 {
        let tape = Tape::new();
        let loss = TestFunction::Quadratic { a: 1.0, b: 10.0 }
            .eval(tape.param(&w))
            .unwrap();
        let grads = loss.backward().unwrap();
        opt.step(&mut [&mut w], &grads).unwrap();
    }
    assert!(
        w.value.to_vec().iter().all(|x| x.abs() < 1e-2),
        "{:?}",
        w.value.to_vec()
    );
}

/// A NaN tolerance is refused by every batch method that takes one, like a negative one
/// (a NaN never compares below zero, so a `< 0` test let it through and the method then
/// never stopped on it).
#[test]
fn nan_or_negative_stopping_tolerances_are_refused() {
    use descent_optim::batch::{
        GaussNewton, GaussNewtonConfig, Lbfgs, LbfgsConfig, LevenbergMarquardt, LineSearch,
        LmConfig, SearchConfig, SteepestDescent, StopTolerances,
    };
    for bad in [f64::NAN, -1.0] {
        let t = StopTolerances {
            tolerance_grad: bad,
            ..StopTolerances::default()
        };
        let lm = LevenbergMarquardt::new(LmConfig {
            tolerances: t,
            ..Default::default()
        });
        let gn = GaussNewton::new(GaussNewtonConfig {
            tolerances: t,
            ..Default::default()
        });
        let lbfgs = Lbfgs::new(LbfgsConfig {
            tolerance_change: bad,
            ..Default::default()
        });
        let steepest = SteepestDescent::new(SearchConfig {
            tolerances: t,
            ..SearchConfig::new(LineSearch::WOLFE)
        });
        for (name, err) in [
            ("lm", lm.err()),
            ("gauss_newton", gn.err()),
            ("lbfgs", lbfgs.err()),
            ("steepest", steepest.err()),
        ] {
            let msg = err
                .unwrap_or_else(|| panic!("{name} accepted tolerance {bad}"))
                .to_string();
            assert!(
                msg.contains("tolerance") && msg.contains("non-negative"),
                "{name}: {msg}"
            );
        }
    }
}
