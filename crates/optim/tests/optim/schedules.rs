//! Learning-rate schedules against torch.optim.lr_scheduler: the lr of two parameter groups
//! (base 0.1 and 0.02) at each of 60 steps, from `reference/gen_first_order.py`.

use descent_autodiff::ParamId;
use descent_optim::{
    build,
    first_order::{parse_schedule, Scheduler},
    Error,
};
use serde_json::Value;

#[test]
fn schedules_match_torch() {
    let r: Value = serde_json::from_str(include_str!("reference/first_order.json")).unwrap();
    let scheds = r["schedules"].as_array().unwrap();
    assert!(scheds.len() >= 14);
    for s in scheds {
        let spec = s["spec"].as_str().unwrap();
        let mut opt = build::<f64>("sgd:lr=0.1").unwrap();
        opt.add_group(&[ParamId::fresh()], "lr=0.02").unwrap();
        let mut sched = Scheduler::new(spec, opt.as_mut()).unwrap();
        for (t, want) in s["lrs"].as_array().unwrap().iter().enumerate() {
            for g in 0..2 {
                let (got, want) = (opt.lr(g).unwrap(), want[g].as_f64().unwrap());
                assert!(
                    (got - want).abs() <= 1e-12 * want.abs(),
                    "{spec}: group {g} step {t}: {got} vs torch {want}"
                );
            }
            match s["metrics"].as_array() {
                Some(m) => sched.step_with_metric(opt.as_mut(), m[t].as_f64().unwrap()),
                None => sched.step(opt.as_mut()),
            }
            .unwrap();
        }
    }
}

#[test]
fn schedule_errors_name_the_key() {
    let msg = |spec: &str| parse_schedule(spec).unwrap_err().to_string();
    assert_eq!(
        msg("step:step_size=0"),
        "step: step_size=0 is invalid; allowed: an integer in [1, 1000000000]"
    );
    assert_eq!(
        msg("cosine:t_max=10"),
        "cosine: unknown key t_max; allowed keys: T_max, eta_min"
    );
    assert!(msg("exponential:gamma=0.9,k=0.1").contains("exactly one of gamma"));
    assert!(msg("cosin").starts_with("unknown schedule `cosin`; known: step, multistep"));
    assert_eq!(
        msg("plateau:factor=1.5"),
        "plateau: factor=1.5 is invalid; allowed: a number in (0, 1)"
    );
    let mut opt = build::<f64>("sgd:lr=0.1").unwrap();
    let mut s = Scheduler::new("plateau", opt.as_mut()).unwrap();
    assert!(matches!(s.step(opt.as_mut()), Err(Error::NeedsLoss { .. })));
    assert!(Scheduler::new(" ; ", opt.as_mut()).is_err());
}

/// The lr of both groups (base 0.1 and 0.02) over 60 steps of `spec` against `formula`
/// (base lr, t) computed here, within 1e-12 relative.
fn check_table(spec: &str, formula: impl Fn(f64, f64) -> f64) {
    let mut opt = build::<f64>("sgd:lr=0.1").unwrap();
    opt.add_group(&[ParamId::fresh()], "lr=0.02").unwrap();
    let mut sched = Scheduler::new(spec, opt.as_mut()).unwrap();
    for t in 0..60 {
        for (g, base) in [(0, 0.1), (1, 0.02)] {
            let (got, want) = (opt.lr(g).unwrap(), formula(base, t as f64));
            assert!(
                (got - want).abs() <= 1e-12 * want.abs(),
                "{spec}: group {g} step {t}: {got} vs {want}"
            );
        }
        sched.step(opt.as_mut()).unwrap();
    }
}

#[test]
fn inverse_sqrt_is_the_formula() {
    check_table("inverse_sqrt:k=0.3", |a, t| a * (1.0 + 0.3 * t).powf(-0.5));
    check_table("inverse_sqrt", |a, t| a / (1.0 + t).sqrt());
}

#[test]
fn linear_then_exponential_is_the_formula() {
    // Linear from a to 0.2a over 20 steps, then 0.2a·0.9^(t − 20).
    let f = |a: f64, t: f64| match t <= 20.0 {
        true => a - (a - 0.2 * a) * t / 20.0,
        false => 0.2 * a * ((t - 20.0) * 0.9f64.ln()).exp(),
    };
    check_table(
        "linear_then_exponential:tau=20,final_factor=0.2,gamma=0.9",
        f,
    );
    // The defaults: tau=100, final_factor=0.1, gamma=0.99.
    check_table("linear_then_exponential", |a, t| a - 0.9 * a * t / 100.0);
    let err = parse_schedule("linear_then_exponential:ratio=0.1")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "linear_then_exponential: unknown key ratio; allowed keys: tau, final_factor, gamma"
    );
    let err = parse_schedule("inverse_squareroot")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("inverse_time, inverse_sqrt, linear_decay, linear_then_exponential"),
        "{err}"
    );
    assert!(descent_optim::first_order::SCHEDULES.contains(&"inverse_sqrt"));
    assert!(descent_optim::first_order::SCHEDULES.contains(&"linear_then_exponential"));
}
