//! Gradient-checks every differentiable op (the autodiff catalog) and a two-layer tanh
//! network against central finite differences in f64, first and second derivatives.
//!
//! ```sh
//! cargo run --release --example gradcheck -- [--json] [--seed N]
//! ```
//! With `--json`, one object per case and, last, `{"checked":N,"passed":N,"worst_rel_error":x}`.

use descent::autodiff::{catalog, gradcheck, gradgradcheck, Report, Tolerances};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let seed = match args
        .iter()
        .position(|a| a == "--seed")
        .map(|i| args.get(i + 1).map(|s| s.parse::<u64>()))
    {
        None => 1,
        Some(Some(Ok(seed))) => seed,
        Some(_) => {
            eprintln!("gradcheck: --seed needs an unsigned integer");
            return ExitCode::from(2);
        }
    };
    let cases = match catalog::cases(seed) {
        Ok(cases) => cases,
        Err(e) => {
            eprintln!("gradcheck: {e}");
            return ExitCode::FAILURE;
        }
    };
    let tol = Tolerances::default();
    let (mut checked, mut passed, mut worst_rel) = (0, 0, 0.0f64);
    if !json {
        println!(
            "{:<58} {:>6} {:>12} {:>12}  result",
            "op", "elems", "rel err", "rel err (2nd)"
        );
    }
    for case in &cases {
        let first = gradcheck(&*case.f, &case.inputs, tol);
        let second = gradgradcheck(|t, v| (case.f)(t, v)?.square(), &case.inputs, tol);
        let rel = |r: &Report| r.worst.as_ref().map_or(0.0, |w| w.rel_error);
        let (ok, elems, rel1, rel2, note) = match (&first, &second) {
            (Ok(a), Ok(b)) => (
                a.passed && b.passed,
                a.checked,
                rel(a),
                rel(b),
                if a.passed && b.passed {
                    String::new()
                } else {
                    format!("{a}; {b}")
                },
            ),
            (Err(e), _) | (_, Err(e)) => (false, 0, f64::NAN, f64::NAN, e.to_string()),
        };
        checked += 1;
        passed += usize::from(ok);
        worst_rel = worst_rel.max(rel1).max(rel2);
        if json {
            println!(
                r#"{{"op":{:?},"elements":{elems},"rel_error":{rel1:e},"rel_error_2nd":{rel2:e},"passed":{ok}}}"#,
                case.name
            );
        } else {
            println!(
                "{:<58} {elems:>6} {rel1:>12.2e} {rel2:>12.2e}  {}{}",
                case.name,
                if ok { "ok" } else { "FAILED " },
                note
            );
        }
    }
    if json {
        println!(r#"{{"checked":{checked},"passed":{passed},"worst_rel_error":{worst_rel:e}}}"#);
    } else {
        println!("\n{passed}/{checked} ops passed; worst relative error {worst_rel:.2e}");
    }
    if passed == checked {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
