//! Spec strings: every value is range-checked with the range in the error, no string,
//! however hostile, panics (random text, unicode, huge numbers, NaN/inf, duplicate or
//! empty keys and values), and what is built prints the spec that builds it again.

use descent_autodiff::{Param, Tape};
use descent_optim::{
    batch::Method,
    build,
    first_order::{
        describe, parse_schedule, Adadelta, Adagrad, Adam, Adamax, Averager, NAdam, RmsProp, Rprop,
        Sgd, OPTIMIZERS,
    },
    spec::{Allowed, Kind, Options},
    Error, Optimizer,
};
use descent_tensor::Tensor;
use proptest::prelude::*;

/// Every parser a spec string reaches; each must return, never panic.
fn parse_everything(spec: &str) {
    let _ = build::<f64>(spec);
    let _ = build::<f32>(spec);
    let _ = Method::from_spec(spec);
    let _ = parse_schedule(spec);
    let _ = Averager::<f64>::parse(spec);
    if let Ok(mut opt) = build::<f64>("sgd:lr=0.1") {
        let _ = opt.add_group(&[], spec);
    }
    let _ = describe(spec);
    // Whatever builds prints a spec that builds the same again.
    if let Ok(opt) = build::<f64>(spec) {
        let again = build::<f64>(&opt.to_string()).unwrap();
        assert_eq!(again.to_string(), opt.to_string(), "{spec}");
    }
    if let Ok(s) = parse_schedule(spec) {
        let again = parse_schedule(&s.to_string()).unwrap();
        assert_eq!(again.to_string(), s.to_string(), "{spec}");
    }
    if let Ok(a) = Averager::<f64>::parse(spec) {
        assert_eq!(
            Averager::<f64>::parse(&a.to_string()).unwrap().to_string(),
            a.to_string()
        );
    }
}

#[test]
fn lbfgs_max_iter_that_overflowed_max_eval_is_refused_with_the_range() {
    // `max_iter·5/4` wrapped to 1 in release builds (and panicked in debug).
    let err = Method::from_spec("lbfgs:max_iter=3689348814741910324")
        .err()
        .unwrap()
        .to_string();
    assert_eq!(
        err,
        "lbfgs: max_iter=3689348814741910324 is invalid; allowed: an integer in [1, 1000000000]"
    );
    // The largest allowed value gives the default max_eval = ⌊max_iter·5/4⌋ without overflow.
    let Method::Lbfgs(_) = Method::from_spec("lbfgs:max_iter=1000000000").unwrap() else {
        panic!("not lbfgs")
    };
    for (spec, key) in [
        ("lbfgs:max_eval=0", "max_eval=0"),
        (
            "lbfgs:history_size=18446744073709551615",
            "history_size=18446744073709551615",
        ),
        ("bfgs:max_params=0", "max_params=0"),
        ("lm:max_tries=-1", "max_tries=-1"),
        ("steepest:max_ls=1e3", "max_ls=1e3"),
        ("cg:restart=2.5", "restart=2.5"),
    ] {
        let err = Method::from_spec(spec).err().unwrap().to_string();
        assert!(
            err.contains(key) && err.contains("allowed: an integer in [1, "),
            "{spec}: {err}"
        );
    }
}

#[test]
fn schedule_counts_are_range_checked() {
    for (spec, allowed) in [
        ("step:step_size=0", "an integer in [1, 1000000000]"),
        (
            "cosine:T_max=99999999999999999999",
            "an integer in [1, 1000000000]",
        ),
        ("plateau:patience=-3", "an integer in [0, 1000000000]"),
        ("plateau:cooldown=NaN", "an integer in [0, 1000000000]"),
        (
            "multistep:milestones=3/2.5",
            "`/`-separated integers in [0, 1000000000]",
        ),
        (
            "multistep:milestones=3/1e300",
            "`/`-separated integers in [0, 1000000000]",
        ),
        (
            "multistep:milestones=inf",
            "`/`-separated numbers, each a number >= 0",
        ),
    ] {
        let err = parse_schedule(spec).err().unwrap().to_string();
        assert!(
            err.ends_with(&format!("allowed: {allowed}")),
            "{spec}: {err}"
        );
    }
    assert!(parse_schedule("multistep:milestones=0/30/1000000000").is_ok());
}

#[test]
fn awkward_strings_are_errors_not_panics() {
    for spec in [
        "",
        ":",
        "::::",
        "sgd:lr=0.1,lr=0.2",
        "sgd:=1",
        "sgd:lr=",
        "sgd:lr",
        "adam:lr=NaN",
        "adam:lr=inf",
        "adam:betas=nan/nan",
        "adam:eps=-inf",
        "adam:lr=1e999",
        "rprop:etas=0.5/1.2/9",
        "ℵ:β=0.9",
        "ADAM:LR=1",
        "lbfgs:max_iter=18446744073709551615,max_eval=18446744073709551616",
        "polynomial:gamma=1e308",
        "ema:decay=NaN",
        "linear_decay:tau=1,final_lr=1,final_factor=1",
        "exponential:gamma=1,k=1",
    ] {
        parse_everything(spec);
    }
    assert!(build::<f64>("adam:lr=NaN").is_err());
    assert!(build::<f64>("sgd:lr=0.1,lr=0.2").is_err());
}

/// Pieces that specs are made of, to build strings that reach deep into the parsers.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("lr".to_string()),
        Just("max_iter".to_string()),
        Just("max_eval".to_string()),
        Just("history_size".to_string()),
        Just("betas".to_string()),
        Just("milestones".to_string()),
        Just("T_max".to_string()),
        Just("patience".to_string()),
        Just("restart".to_string()),
        Just("variant".to_string()),
        Just("momentum_form".to_string()),
        Just("etas".to_string()),
        Just("step_sizes".to_string()),
        Just("amsgrad".to_string()),
        Just("momentum".to_string()),
        Just("nesterov".to_string()),
        Just("k".to_string()),
        Just("gamma".to_string()),
        Just("final_lr".to_string()),
        Just("irprop+".to_string()),
        Just("dampened".to_string()),
        Just("true".to_string()),
        Just("5e-324".to_string()),
        Just("0.5/1.2".to_string()),
        Just("18446744073709551615".to_string()),
        Just("3689348814741910324".to_string()),
        Just("1e308".to_string()),
        Just("-0".to_string()),
        Just("NaN".to_string()),
        Just("inf".to_string()),
        Just("0.9/0.999".to_string()),
        "[0-9]{0,25}",
        "\\PC{0,6}",
    ]
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "sgd",
            "adagrad",
            "rmsprop",
            "adadelta",
            "adam",
            "adamw",
            "adamax",
            "nadam",
            "rprop",
            "steepest",
            "cg",
            "bfgs",
            "lbfgs",
            "newton",
            "lm",
            "step",
            "multistep",
            "exponential",
            "inverse_time",
            "linear_decay",
            "linear_then_exponential",
            "inverse_sqrt",
            "linear",
            "warmup",
            "polynomial",
            "cosine",
            "plateau",
            "ema",
        ])
        .prop_map(String::from),
        "\\PC{0,8}",
    ]
}

proptest! {
    #[test]
    fn random_text_never_panics(text in "\\PC{0,40}") {
        parse_everything(&text);
    }

    #[test]
    fn random_specs_never_panic(
        name in name(),
        args in prop::collection::vec((piece(), piece()), 0..5),
        sep in prop::sample::select(vec![",", ",,", " , ", "="]),
    ) {
        let args: Vec<String> = args.iter().map(|(k, v)| format!("{k}={v}")).collect();
        parse_everything(&format!("{name}:{}", args.join(sep)));
    }
}

/// A table's rows as the test needs them: key, kind, range.
type Rows = Vec<(&'static str, Kind, Allowed)>;

/// Every rule's options table under each name `build` knows.
fn tables() -> Vec<(&'static str, Rows)> {
    fn rows<R: Options>() -> Rows {
        R::OPTIONS
            .iter()
            .map(|o| (o.key, o.kind, o.allowed))
            .collect()
    }
    vec![
        ("sgd", rows::<Sgd>()),
        ("adagrad", rows::<Adagrad>()),
        ("rmsprop", rows::<RmsProp>()),
        ("adadelta", rows::<Adadelta>()),
        ("adam", rows::<Adam>()),
        ("adamw", rows::<Adam>()),
        ("adamax", rows::<Adamax>()),
        ("nadam", rows::<NAdam>()),
        ("rprop", rows::<Rprop>()),
    ]
}

/// A number for a row, from a pick among awkward and ordinary values; `None` when the pick
/// is outside the row's range.
fn number(pick: usize, u: f64, allowed: Allowed) -> Option<f64> {
    let x = [
        u,
        0.0,
        -0.0,
        u * 1e-8,
        u * 1e3,
        1.0 - f64::EPSILON,
        5e-324,
        1e300,
        1.0 + u,
        -u,
        0.1,
    ][pick % 11];
    allowed.contains(x).then_some(x)
}

/// Steps `opt` five times on ½‖w − c‖² + Σw⁴ from a fixed start: the weights' bits after
/// each step, and the error that stopped it (huge learning rates overflow).
fn trajectory(opt: &mut dyn Optimizer<f64>) -> (Vec<u64>, Option<String>) {
    let mut bits = Vec::new();
    let mut w = Param::new(Tensor::from_vec(vec![-1.2, 1.0, 0.3], &[3]).unwrap());
    for _ in 0..5 {
        let tape = Tape::new();
        let x = tape.param(&w);
        let loss = x
            .add_scalar(-0.5)
            .and_then(|d| d.square())
            .and_then(|d| d.mul_scalar(0.5))
            .and_then(|d| d.add(x.square()?.square()?))
            .and_then(|d| d.sum(&[], false))
            .unwrap();
        let value = loss.item().unwrap();
        let grads = loss.backward().unwrap();
        drop(tape);
        if let Err(e) = opt.step_with_loss(&mut [&mut w], &grads, value) {
            return (bits, Some(e.to_string()));
        }
        bits.extend(w.value.to_vec().iter().map(|x| x.to_bits()));
    }
    (bits, None)
}

#[test]
fn the_tables_cover_every_optimizer_build_knows() {
    let names: Vec<&str> = tables().iter().map(|(n, _)| *n).collect();
    assert_eq!(names, *OPTIMIZERS);
    for name in names {
        let text = describe(name).unwrap();
        assert!(text.starts_with("lr = "), "{name}: {text}");
    }
    assert!(describe("lbfgs").is_none());
}

#[test]
fn display_prints_what_differs_from_the_names_defaults() {
    let shown = |spec: &str| build::<f64>(spec).unwrap().to_string();
    assert_eq!(shown("adam"), "adam");
    assert_eq!(shown("ADAM:lr=0.001"), "adam");
    assert_eq!(shown("adamw:weight_decay=0.01"), "adamw");
    // Decoupled decay makes it AdamW, whose default decay is 1e-2.
    assert_eq!(
        shown("adam:decoupled_weight_decay=true"),
        "adamw:weight_decay=0"
    );
    assert_eq!(
        shown("adamw:decoupled_weight_decay=false"),
        "adam:weight_decay=0.01"
    );
    assert_eq!(
        shown("sgd:momentum_form=dampened,momentum=0.9,lr=1e-8"),
        "sgd:lr=1e-8,momentum=0.9,momentum_form=dampened"
    );
    assert_eq!(
        shown("rprop:etas=0.4/1.3,variant=rprop-"),
        "rprop:etas=0.4/1.3,variant=rprop-"
    );
    assert_eq!(shown("sgd:weight_decay=-0"), "sgd:weight_decay=-0");
    // The learning rate a schedule set is the one printed.
    let mut opt = build::<f32>("adagrad").unwrap();
    opt.set_lr(0, 0.25).unwrap();
    assert_eq!(opt.to_string(), "adagrad:lr=0.25");
}

#[test]
fn a_group_that_would_change_a_stepped_parameters_buffers_is_refused() {
    let mut w = Param::new(Tensor::<f64>::zeros(&[2]));
    let mut opt = build::<f64>("sgd:lr=0.1").unwrap();
    trajectory_of(opt.as_mut(), &mut w);
    let err = opt
        .add_group(&[w.id()], "momentum=0.9")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "spec `momentum=0.9`: sgd parameter 0 has stepped with the buffers [], and this group keeps [\"momentum_buffer\"]"
    );
    // A new learning rate keeps the buffers, so it is fine.
    assert_eq!(opt.add_group(&[w.id()], "lr=0.5").unwrap(), 1);
    trajectory_of(opt.as_mut(), &mut w);
}

/// One step of ‖w − 1‖² on `w`.
fn trajectory_of(opt: &mut dyn Optimizer<f64>, w: &mut Param<f64>) {
    let tape = Tape::new();
    let loss = tape
        .param(w)
        .add_scalar(-1.0)
        .and_then(|d| d.square())
        .and_then(|d| d.sum(&[], false))
        .unwrap();
    let grads = loss.backward().unwrap();
    drop(tape);
    opt.step(&mut [w], &grads).unwrap();
}

#[test]
fn schedules_and_averagers_print_their_specs() {
    for (spec, shown) in [
        ("step:step_size=30", "step:step_size=30,gamma=0.1"),
        ("multistep:milestones=80/30", "multistep:milestones=30/80,gamma=0.1"),
        ("exponential:k=0.05", "exponential:k=0.05"),
        ("warmup:total_iters=5", "linear:start_factor=0,end_factor=1,total_iters=5"),
        ("cosine:T_max=10", "cosine:T_max=10,eta_min=0"),
        ("linear_decay:tau=5", "linear_decay:tau=5,final_factor=0.01"),
        (
            "plateau:mode=max,patience=2",
            "plateau:mode=max,threshold_mode=rel,factor=0.1,patience=2,threshold=0.0001,cooldown=0,min_lr=0,eps=1e-8",
        ),
    ] {
        let s = parse_schedule(spec).unwrap();
        assert_eq!(s.to_string(), shown, "{spec}");
        // The printed spec gives the same rates.
        let mut a = parse_schedule(shown).unwrap();
        let mut b = parse_schedule(spec).unwrap();
        for t in 0..40 {
            assert_eq!(a.lr(0, 0.1, t).to_bits(), b.lr(0, 0.1, t).to_bits(), "{spec} at {t}");
        }
    }
    let mut opt = build::<f64>("sgd:lr=0.1").unwrap();
    let sched = descent_optim::first_order::Scheduler::new(
        "warmup:total_iters=2;step:step_size=3",
        opt.as_mut(),
    )
    .unwrap();
    assert_eq!(
        sched.to_string(),
        "linear:start_factor=0,end_factor=1,total_iters=2;step:step_size=3,gamma=0.1"
    );
    assert_eq!(
        Averager::<f32>::parse("ema").unwrap().to_string(),
        "ema:decay=0.999"
    );
}

proptest! {
    /// parse ∘ display is the identity: on random valid specs of every rule with every
    /// option, the printed spec builds an optimizer that prints the same and steps to the
    /// same bits. Specs that only the relations between options refuse (Nesterov without
    /// momentum, Rprop's η ordering) must say so.
    #[test]
    fn display_then_build_is_the_identity(
        rule in 0usize..9,
        picks in prop::collection::vec((0usize..32, 0usize..11, 0usize..11, 0.0f64..1.0, any::<bool>()), 0..12),
    ) {
        let (name, rows) = &tables()[rule];
        let mut args: Vec<String> = Vec::new();
        let mut used: Vec<&str> = Vec::new();
        for (row, a, b, u, exp) in picks {
            let (key, kind, allowed) = rows[row % rows.len()];
            if used.contains(&key) {
                continue;
            }
            let show = |x: f64| if exp { format!("{x:e}") } else { format!("{x}") };
            let value = match kind {
                Kind::Num => number(a, u, allowed).map(show),
                Kind::Pair => number(a, u, allowed)
                    .zip(number(b, 1.0 - u, allowed))
                    .map(|(x, y)| format!("{}/{}", show(x), show(y))),
                Kind::Bool => Some(exp.to_string()),
                Kind::Choice(names) => Some(names[a % names.len()].to_string()),
            };
            if let Some(v) = value {
                used.push(key);
                args.push(format!("{key}={v}"));
            }
        }
        let spec = format!("{name}:{}", args.join(","));
        match build::<f64>(&spec) {
            Err(Error::Hyperparameter { key, .. }) => {
                prop_assert!(
                    ["nesterov", "dampening", "etas", "step_sizes"].contains(&key.as_str()),
                    "{spec}: {key}"
                );
            }
            Err(e) => prop_assert!(false, "{spec}: {e}"),
            Ok(mut opt) => {
                let shown = opt.to_string();
                let mut again = build::<f64>(&shown).unwrap();
                prop_assert_eq!(again.to_string(), shown.clone());
                prop_assert!(build::<f32>(&shown).is_ok(), "{}", shown);
                prop_assert_eq!(again.lr(0).map(f64::to_bits), opt.lr(0).map(f64::to_bits));
                prop_assert_eq!(trajectory(again.as_mut()), trajectory(opt.as_mut()), "{}", shown);
            }
        }
    }
}
