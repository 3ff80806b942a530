//! Spec strings: every value is range-checked with the range in the error, and no string,
//! however hostile, panics (random text, unicode, huge numbers, NaN/inf, duplicate or
//! empty keys and values).

use descent_optim::{
    batch::Method,
    build,
    first_order::{parse_schedule, Averager},
};
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
