//! Gradient-checks every differentiable op (the autodiff catalog) and a two-layer tanh
//! network against central finite differences in f64, first and second derivatives.
//!
//! ```sh
//! cargo run --release --example gradcheck -- [--json] [--seed N]
//! ```
//! With `--json`, one object per case and, last, `{"checked":N,"passed":N,"worst_rel_error":x}`.

mod cli;

use clap::Parser;
use descent::autodiff::{catalog, gradcheck, gradgradcheck, Report, Tolerances};
use std::io::Write;
use std::process::ExitCode;

/// Checks the first and second derivatives of every differentiable op in the autodiff
/// catalog, and of a two-layer tanh network, against central finite differences in f64,
/// and prints each op's worst relative error; exits 1 if any op fails.
#[derive(Parser, Debug)]
#[command(version, long_about = None)]
struct Args {
    /// Print one JSON object per op and a summary object last, instead of the table.
    #[arg(long)]
    json: bool,
    /// Seed for the random inputs.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> ExitCode {
    cli::finish("gradcheck", run(&Args::parse()))
}

fn run(args: &Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let json = args.json;
    let cases = catalog::cases(args.seed)?;
    let mut out = std::io::stdout().lock();
    let tol = Tolerances::default();
    let (mut checked, mut passed, mut worst_rel) = (0, 0, 0.0f64);
    if !json {
        writeln!(
            out,
            "{:<58} {:>6} {:>12} {:>12}  result",
            "op", "elems", "rel err", "rel err (2nd)"
        )?;
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
            writeln!(
                out,
                r#"{{"op":{:?},"elements":{elems},"rel_error":{},"rel_error_2nd":{},"passed":{ok}}}"#,
                case.name,
                json_number(rel1),
                json_number(rel2)
            )?;
        } else {
            writeln!(
                out,
                "{:<58} {elems:>6} {rel1:>12.2e} {rel2:>12.2e}  {}{}",
                case.name,
                if ok { "ok" } else { "FAILED " },
                note
            )?;
        }
    }
    if json {
        writeln!(
            out,
            r#"{{"checked":{checked},"passed":{passed},"worst_rel_error":{}}}"#,
            json_number(worst_rel)
        )?;
    } else {
        writeln!(
            out,
            "\n{passed}/{checked} ops passed; worst relative error {worst_rel:.2e}"
        )?;
    }
    Ok(if passed == checked {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `x` in exponent form, or `null` when it is not finite (a case that failed to run), which
/// JSON cannot write as a number.
fn json_number(x: f64) -> String {
    if x.is_finite() {
        format!("{x:e}")
    } else {
        "null".to_string()
    }
}
