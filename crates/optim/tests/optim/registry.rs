//! One registry for both halves: names of the other half are answered with where they are
//! built, unknown names list both, torch's implementation flags are refused with the reason,
//! and torch's keyword names are accepted beside descent's shorter ones.

use descent_optim::batch::{Lbfgs, LbfgsConfig, Method};
use descent_optim::{build, build_method, Error};

#[test]
fn a_batch_method_on_the_first_order_path_says_where_it_is_built() {
    let err = build::<f32>("lbfgs").err().unwrap();
    assert!(matches!(err, Error::WrongRegistry { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "`lbfgs` is a batch method (it re-evaluates the loss, so it takes an objective, not gradients): build it with descent_optim::build_method(\"lbfgs…\")"
    );
    let err = build_method("adam:lr=0.1").err().unwrap().to_string();
    assert!(
        err.contains("build it with descent_optim::build(\"adam…\")"),
        "{err}"
    );
}

#[test]
fn an_unknown_name_lists_first_order_and_batch_methods() {
    for err in [
        build::<f64>("lbgfs").err().unwrap().to_string(),
        build_method("lbgfs").err().unwrap().to_string(),
        Method::from_spec("lbgfs").err().unwrap().to_string(),
    ] {
        assert!(
            err.starts_with("unknown optimizer `lbgfs`; known: sgd,"),
            "{err}"
        );
        assert!(
            err.contains("lbfgs, newton, lm, gauss_newton (batch)"),
            "{err}"
        );
    }
}

#[test]
fn torch_implementation_flags_are_refused_with_the_reason() {
    for (spec, word) in [
        ("adam:foreach=true", "foreach"),
        ("sgd:lr=0.1,fused=false", "fused"),
        ("adamw:capturable=true", "capturable"),
        ("rmsprop:differentiable=true", "differentiable"),
        ("lbfgs:foreach=true", "foreach"),
    ] {
        let err = if spec.starts_with("lbfgs") {
            build_method(spec).err().unwrap()
        } else {
            build::<f64>(spec).err().unwrap()
        };
        let msg = err.to_string();
        assert!(matches!(err, Error::Spec { .. }), "{msg}");
        assert!(
            msg.contains(&format!("torch's `{word}` does not apply here: ")),
            "{msg}"
        );
    }
}

#[test]
fn lbfgs_takes_torchs_line_search_fn_and_descents_alias() {
    for spec in [
        "lbfgs:line_search_fn=strong_wolfe",
        "lbfgs:line_search=strong_wolfe",
    ] {
        let Method::Lbfgs(_) = build_method(spec).unwrap() else {
            panic!("{spec} is not L-BFGS");
        };
    }
    let err = build_method("lbfgs:line_search_fn=strong_wolfe,line_search=none")
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("`line_search` is another name for `line_search_fn`"),
        "{err}"
    );
}

#[test]
fn lbfgs_derives_max_eval_from_max_iter_in_every_construction_path() {
    // torch.optim.LBFGS: max_eval = max_iter * 5 // 4.
    let config = LbfgsConfig {
        max_iter: 200,
        ..Default::default()
    };
    assert_eq!(config.max_eval(), 250);
    assert_eq!(LbfgsConfig::default().max_eval(), 25);
    let explicit = LbfgsConfig {
        max_iter: 200,
        max_eval: Some(7),
        ..Default::default()
    };
    assert_eq!(explicit.max_eval(), 7);
    assert!(Lbfgs::new(config).is_ok());
}
