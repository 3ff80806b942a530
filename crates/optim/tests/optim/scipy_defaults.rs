//! CG (FR and PR+) and BFGS with their default settings against SciPy's `minimize` with its
//! defaults (numbers from reference/gen_scipy_defaults.py): they stop on the gradient, as
//! SciPy does, at a loss and after a number of iterations comparable to SciPy's.

use crate::problems::{Problem, ALL};
use crate::scipy_defaults_ref::SCIPY_DEFAULTS;

use descent_optim::batch::{
    BatchMethod, BatchReport, Beta, Bfgs, CgConfig, ConjugateGradient, Method, StopReason,
};

/// SciPy's (nit, final loss) for `problem` and `method`.
fn scipy(problem: Problem, method: &str) -> (usize, f64) {
    let row = SCIPY_DEFAULTS
        .iter()
        .find(|r| r.0 == problem.name() && r.1 == method)
        .unwrap();
    (row.2, row.4)
}

/// The run stopped on the gradient test, at a loss within 1000× SciPy's (or below 1e-14),
/// in at most `ratio` × SciPy's iterations + 2. A gradient of 1e-5 pins the loss only to
/// about `‖g‖²/λ_min` (1e-10 on Rosenbrock), so where in that range each stops is chance.
fn check(problem: Problem, what: &str, scipy_name: &str, ratio: f64, report: &BatchReport) {
    let (nit, loss) = scipy(problem, scipy_name);
    let name = problem.name();
    assert_eq!(
        report.reason,
        StopReason::GradientTolerance,
        "{what} on {name}: {report:?}"
    );
    assert!(report.grad_max <= 1e-5, "{what} on {name}: {report:?}");
    assert!(
        report.loss <= (1e3 * loss).max(1e-14),
        "{what} on {name}: loss {:e}, SciPy {scipy_name}: {loss:e}",
        report.loss
    );
    assert!(
        report.iterations as f64 <= ratio * nit as f64 + 2.0,
        "{what} on {name}: {} iterations, SciPy {scipy_name}: {nit}",
        report.iterations
    );
}

#[test]
fn bfgs_defaults_stop_like_scipy() {
    for p in ALL {
        let mut x = p.start();
        let report = Bfgs::default()
            .minimize(&mut x, &mut p.clone(), 10_000)
            .unwrap();
        check(p, "bfgs", "BFGS", 1.5, &report);
    }
}

#[test]
fn cg_defaults_stop_like_scipy() {
    // SciPy's CG is PR+; FR is held to the same iteration ratio.
    for (beta, ratio) in [(Beta::PolakRibierePlus, 1.5), (Beta::FletcherReeves, 1.5)] {
        for p in ALL {
            let mut x = p.start();
            let mut cg = ConjugateGradient::new(CgConfig {
                beta,
                ..Default::default()
            })
            .unwrap();
            let report = cg.minimize(&mut x, &mut p.clone(), 10_000).unwrap();
            check(p, &format!("cg {beta:?}"), "CG", ratio, &report);
        }
    }
}

#[test]
fn spec_defaults_are_the_same_as_the_configs() {
    for (spec, scipy_name) in [("cg", "CG"), ("cg:beta=fr", "CG"), ("bfgs", "BFGS")] {
        let p = Problem::Beale;
        let mut x = p.start();
        let report = Method::from_spec(spec)
            .unwrap()
            .minimize(&mut x, &mut p.clone(), 10_000)
            .unwrap();
        check(p, spec, scipy_name, 1.5, &report);
        assert_eq!(
            report.reason.to_string(),
            "converged: max |g| <= tolerance_grad"
        );
    }
}
