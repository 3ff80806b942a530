//! Every differentiable op in the catalog, checked against central differences in f64:
//! first derivatives with `gradcheck`, second derivatives with `gradgradcheck` (of the op's
//! output squared, so the gradient flowing into each rule depends on the input).

use descent_autodiff::{catalog, gradcheck, gradgradcheck, Tolerances};

fn failures(
    check: impl Fn(&catalog::Case) -> descent_autodiff::Result<descent_autodiff::Report>,
) -> Vec<String> {
    let mut failed = Vec::new();
    for seed in [1, 2] {
        for case in catalog::cases(seed).expect("catalog builds") {
            match check(&case) {
                Ok(report) if report.passed => {}
                Ok(report) => failed.push(format!("seed {seed}, {}: {report}", case.name)),
                Err(e) => failed.push(format!("seed {seed}, {}: error {e}", case.name)),
            }
        }
    }
    failed
}

#[test]
fn every_op_passes_gradcheck() {
    let failed = failures(|case| gradcheck(&*case.f, &case.inputs, Tolerances::default()));
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn every_op_passes_gradgradcheck() {
    let failed = failures(|case| {
        gradgradcheck(
            |t, v| (case.f)(t, v)?.square(),
            &case.inputs,
            Tolerances::default(),
        )
    });
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[test]
fn catalog_covers_both_layouts_and_broadcasting() {
    let cases = catalog::cases(7).unwrap();
    assert!(cases.len() > 100, "{} cases", cases.len());
    assert!(cases
        .iter()
        .any(|c| c.inputs.iter().any(|x| !x.is_contiguous())));
    assert!(cases
        .iter()
        .any(|c| c.inputs.len() == 2 && c.inputs[0].shape() != c.inputs[1].shape()));
}
