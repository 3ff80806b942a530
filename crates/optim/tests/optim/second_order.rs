//! The batch methods against SciPy and PyTorch (numbers from reference/gen_second_order.py),
//! the strong Wolfe conditions on accepted steps, and bad inputs.

use crate::problems;
use crate::reference;

use descent_optim::{
    batch::{
        BatchMethod, BatchReport, Beta, Bfgs, BfgsConfig, CgConfig, ConjugateGradient,
        HessianObjective, Lbfgs, LbfgsConfig, LeastSquares, LeastSquaresMethod, LevenbergMarquardt,
        LineSearch, LmConfig, Method, Newton, NewtonConfig, Objective, SearchConfig,
        SteepestDescent, StopReason, StopTolerances,
    },
    Error,
};
use nalgebra::{DMatrix, DVector};
use problems::{max_diff, Problem, ALL};

/// StopTolerances that stop only on the gradient, so the runs reach the optimum to 1e-8.
const TIGHT: StopTolerances = StopTolerances {
    tolerance_grad: 1e-10,
    tolerance_change: 0.0,
};

fn tight(ls: LineSearch) -> SearchConfig {
    SearchConfig {
        tolerances: TIGHT,
        ..SearchConfig::new(ls)
    }
}

fn scipy(problem: Problem, method: &str) -> (usize, usize, &'static [f64]) {
    let row = reference::SCIPY_MINIMIZE
        .iter()
        .find(|r| r.0 == problem.name() && r.1 == method)
        .unwrap();
    (row.2, row.3, row.4)
}

/// Within `1e-8` of the minimum, stopped by a convergence test: the gradient tolerance, or
/// a line search that can no longer decrease the loss in f64 (near the optimum the decrease
/// `~ ‖g‖²/λ` falls below the rounding of `f`), never by the iteration budget.
fn assert_at_minimum(problem: Problem, x: &[f64], report: &BatchReport, what: &str) {
    let err = max_diff(x, &problem.minimum());
    assert!(
        err < 1e-8,
        "{what} on {}: |x − x*| = {err:e}, {report:?}",
        problem.name()
    );
    assert!(
        matches!(
            report.reason,
            StopReason::GradientTolerance | StopReason::LineSearchFailed
        ),
        "{what} on {}: {report:?}",
        problem.name()
    );
}

#[test]
fn lbfgs_matches_torch_step_for_step() {
    for (name, wolfe, history, steps) in reference::LBFGS {
        let problem = ALL.into_iter().find(|p| p.name() == *name).unwrap();
        let config = LbfgsConfig {
            history_size: *history,
            line_search: wolfe.then_some(LineSearch::WOLFE),
            ..Default::default()
        };
        let mut opt = Lbfgs::new(config).unwrap();
        let mut x = problem.start();
        let mut evals = 0;
        for (k, (want, n_iter, func_evals)) in steps.iter().enumerate() {
            let report = opt.step(&mut x, &mut problem.clone()).unwrap();
            evals += report.function_evals;
            // The same function evaluated in a different order (½eᵀAe here, ½xᵀAx − bᵀx + c
            // in torch) rounds differently; 20 fixed steps of L-BFGS amplify that to ~1e-10.
            let err = max_diff(&x, want);
            assert!(
                err < 1e-9 * (1.0 + want.iter().fold(0.0f64, |m, v| m.max(v.abs()))),
                "{name} wolfe={wolfe} history={history} step {k}: {x:?} vs torch {want:?}"
            );
            assert_eq!(
                (opt.total_iterations(), evals),
                (*n_iter, *func_evals),
                "{name} wolfe={wolfe} step {k}: n_iter, func_evals"
            );
        }
    }
}

/// Runs `method` from the problem's start and checks the optimum and the iteration count
/// against SciPy's `minimize(method=scipy_name)`: within `factor` × SciPy's + 5.
fn check_against_scipy(
    problem: Problem,
    what: &str,
    scipy_name: &str,
    factor: f64,
    run: impl FnOnce(&mut Vec<f64>, &mut Problem) -> BatchReport,
) {
    let mut x = problem.start();
    let report = run(&mut x, &mut problem.clone());
    assert_at_minimum(problem, &x, &report, what);
    let (nit, _, _) = scipy(problem, scipy_name);
    assert!(
        report.iterations as f64 <= factor * nit as f64 + 5.0,
        "{what} on {}: {} iterations, SciPy {scipy_name}: {nit}",
        problem.name(),
        report.iterations
    );
}

#[test]
fn bfgs_reaches_the_minimum_like_scipy() {
    for p in ALL {
        check_against_scipy(p, "bfgs", "BFGS", 1.5, |x, obj| {
            Bfgs::new(BfgsConfig {
                search: tight(LineSearch::WOLFE),
                ..Default::default()
            })
            .unwrap()
            .minimize(x, obj, 500)
            .unwrap()
        });
    }
}

#[test]
fn lbfgs_reaches_the_minimum_like_scipy() {
    for p in ALL {
        // PyTorch's rule skips pairs with yᵀs ≤ 1e-10 (an absolute threshold): once steps are
        // below ~1e-5 the history freezes and the last digits converge linearly, so reaching
        // ‖g‖∞ ≤ 1e-10 takes up to ~5x SciPy's L-BFGS-B (which scales its test).
        check_against_scipy(p, "lbfgs", "L-BFGS-B", 5.0, |x, obj| {
            let config = LbfgsConfig {
                line_search: Some(LineSearch::WOLFE),
                tolerance_grad: 1e-10,
                tolerance_change: 0.0,
                history_size: 10,
                ..Default::default()
            };
            Lbfgs::new(config).unwrap().minimize(x, obj, 50).unwrap()
        });
    }
}

#[test]
fn conjugate_gradient_reaches_the_minimum_like_scipy() {
    for beta in [Beta::PolakRibierePlus, Beta::FletcherReeves] {
        // FR is known to need many more iterations than PR+ on Rosenbrock (N&W §5.2).
        let factor = if beta == Beta::FletcherReeves {
            6.0
        } else {
            2.0
        };
        for p in ALL {
            check_against_scipy(p, &format!("cg {beta:?}"), "CG", factor, |x, obj| {
                ConjugateGradient::new(CgConfig {
                    beta,
                    search: tight(LineSearch::StrongWolfe { c1: 1e-4, c2: 0.1 }),
                    restart: None,
                })
                .unwrap()
                .minimize(x, obj, 2000)
                .unwrap()
            });
        }
    }
}

#[test]
fn steepest_descent_reaches_the_minimum_slowly() {
    for p in ALL {
        let mut x = p.start();
        let report = SteepestDescent::new(tight(LineSearch::StrongWolfe { c1: 1e-4, c2: 0.1 }))
            .unwrap()
            .minimize(&mut x, &mut p.clone(), 100_000)
            .unwrap();
        assert_at_minimum(p, &x, &report, "steepest");
        let (nit, _, _) = scipy(p, "BFGS");
        assert!(
            report.iterations > nit,
            "steepest descent should be slower than BFGS: {report:?}"
        );
    }
    let mut x = Problem::Quadratic.start();
    let report = SteepestDescent::new(tight(LineSearch::ARMIJO))
        .unwrap()
        .minimize(&mut x, &mut Problem::Quadratic, 100_000)
        .unwrap();
    assert_at_minimum(Problem::Quadratic, &x, &report, "steepest (armijo)");
}

#[test]
fn newton_reaches_the_minimum_and_is_exact_on_a_quadratic() {
    for p in ALL {
        let mut x = p.start();
        let report = Newton::new(NewtonConfig {
            search: tight(LineSearch::ARMIJO),
            ..Default::default()
        })
        .unwrap()
        .minimize(&mut x, &mut p.clone(), 100)
        .unwrap();
        assert_at_minimum(p, &x, &report, "newton");
        assert!(report.iterations <= 30, "{report:?}");
    }
    let mut x = Problem::Quadratic.start();
    let report = Newton::default()
        .step(&mut x, &mut Problem::Quadratic)
        .unwrap();
    assert!(
        max_diff(&x, &Problem::Quadratic.minimum()) < 1e-12,
        "one Newton step: {x:?}"
    );
    assert_eq!(
        (
            report.iterations,
            report.function_evals,
            report.hessian_evals
        ),
        (1, 2, 1)
    );
}

#[test]
fn newton_damps_an_indefinite_hessian_and_descends() {
    // Beale from (1, 1.5): the Hessian there is indefinite.
    let mut beale = Problem::Beale;
    let x0 = vec![1.0, 1.5];
    let eig = beale.hessian(&x0).unwrap().symmetric_eigenvalues();
    assert!(eig.min() < 0.0, "the test point must be indefinite: {eig}");
    let mut newton = Newton::default();
    let mut x = x0.clone();
    let f0 = beale.value_grad(&x0).unwrap().0;
    let report = newton.step(&mut x, &mut beale).unwrap();
    assert!(
        newton.last_shift() > 0.0 && report.loss < f0,
        "shift {} loss {} -> {}",
        newton.last_shift(),
        f0,
        report.loss
    );
    // Without damping it is an error saying so.
    let mut strict = Newton::new(NewtonConfig {
        damping: false,
        ..Default::default()
    })
    .unwrap();
    let err = strict.step(&mut x0.clone(), &mut beale).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Singular {
                method: "newton",
                ..
            }
        ) && err.to_string().contains("damping=true"),
        "{err}"
    );
}

#[test]
fn lm_matches_scipy_least_squares() {
    for (name, nfev, want) in reference::SCIPY_LM {
        let mut x;
        let report = if *name == "expfit" {
            x = vec![1.0, 1.0, 0.0];
            lm(&mut x, &mut ExpFit)
        } else {
            let mut p = ALL.into_iter().find(|p| p.name() == *name).unwrap();
            x = p.start();
            lm(&mut x, &mut p)
        };
        assert!(
            max_diff(&x, want) < 1e-8,
            "lm on {name}: {x:?} vs SciPy {want:?}; {report:?}"
        );
        assert!(
            report.function_evals <= 3 * nfev + 5,
            "lm on {name}: {} evaluations, SciPy {nfev}",
            report.function_evals
        );
    }
}

fn lm(x: &mut [f64], obj: &mut dyn LeastSquares) -> BatchReport {
    let config = LmConfig {
        tolerances: StopTolerances {
            tolerance_grad: 1e-12,
            tolerance_change: 1e-15,
        },
        ..Default::default()
    };
    LevenbergMarquardt::new(config)
        .unwrap()
        .minimize(x, obj, 200)
        .unwrap()
}

/// r(a, b, c) = a exp(−b t) + c − y on the script's data.
struct ExpFit;
impl Objective for ExpFit {
    fn value_grad(&mut self, x: &[f64]) -> descent_optim::Result<(f64, Vec<f64>)> {
        self.sum_of_squares(x)
    }
}
impl LeastSquares for ExpFit {
    fn residuals(&mut self, p: &[f64]) -> descent_optim::Result<(DVector<f64>, DMatrix<f64>)> {
        let (t, y) = (reference::FIT_T, reference::FIT_Y);
        let r = DVector::from_fn(t.len(), |i, _| p[0] * (-p[1] * t[i]).exp() + p[2] - y[i]);
        let j = DMatrix::from_fn(t.len(), 3, |i, k| match k {
            0 => (-p[1] * t[i]).exp(),
            1 => -p[0] * t[i] * (-p[1] * t[i]).exp(),
            _ => 1.0,
        });
        Ok((r, j))
    }
}

/// Records every evaluation, so accepted steps can be checked afterwards.
struct Recorder(Problem);
impl Objective for Recorder {
    fn value_grad(&mut self, x: &[f64]) -> descent_optim::Result<(f64, Vec<f64>)> {
        self.0.value_grad(x)
    }
}

#[test]
fn accepted_steps_satisfy_the_strong_wolfe_conditions() {
    let (c1, c2) = (1e-4, 0.9);
    for p in [Problem::Rosenbrock, Problem::Beale] {
        let mut bfgs = Bfgs::new(BfgsConfig {
            search: tight(LineSearch::StrongWolfe { c1, c2 }),
            ..Default::default()
        })
        .unwrap();
        let mut obj = Recorder(p);
        let mut x = p.start();
        let mut checked = 0;
        for _ in 0..100 {
            let (f, g) = obj.value_grad(&x).unwrap();
            let before = x.clone();
            let report = bfgs.step(&mut x, &mut obj).unwrap();
            if report.reason == StopReason::GradientTolerance {
                break;
            }
            let s: Vec<f64> = x.iter().zip(&before).map(|(a, b)| a - b).collect();
            let (f_new, g_new) = obj.value_grad(&x).unwrap();
            let gts: f64 = g.iter().zip(&s).map(|(a, b)| a * b).sum();
            let gts_new: f64 = g_new.iter().zip(&s).map(|(a, b)| a * b).sum();
            assert!(gts < 0.0, "descent");
            assert!(
                f_new <= f + c1 * gts,
                "sufficient decrease on {}: {f_new} > {f} + c1·{gts}",
                p.name()
            );
            assert!(
                gts_new.abs() <= c2 * gts.abs() * (1.0 + 1e-12),
                "curvature on {}: |{gts_new}| > c2·|{gts}|",
                p.name()
            );
            checked += 1;
        }
        assert!(checked > 5, "{checked}");
    }
}

#[test]
fn line_search_reports_what_holds() {
    // Along the anti-gradient of Rosenbrock from many points: `satisfied` means both hold.
    let mut p = Problem::Rosenbrock;
    for (i, x) in [[-1.2, 1.0], [0.0, 0.0], [2.0, -1.0], [0.5, 0.9], [1.1, 1.2]]
        .iter()
        .enumerate()
    {
        let (f, g) = p.value_grad(x).unwrap();
        let d: Vec<f64> = g.iter().map(|v| -v).collect();
        let gtd: f64 = g.iter().zip(&d).map(|(a, b)| a * b).sum();
        for ls in [
            LineSearch::WOLFE,
            LineSearch::StrongWolfe { c1: 1e-4, c2: 0.1 },
            LineSearch::ARMIJO,
        ] {
            let step = ls
                .search(&mut p, x, 1.0, &d, f, &g, gtd, 25, 1e-12)
                .unwrap();
            assert!(step.satisfied, "point {i} {ls:?}: {step:?}");
            let xn: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + step.t * b).collect();
            let (fn_, gn) = p.value_grad(&xn).unwrap();
            assert_eq!((fn_, gn.clone()), (step.f, step.g.clone()));
            assert!(fn_ <= f + 1e-4 * step.t * gtd);
            if let LineSearch::StrongWolfe { c2, .. } = ls {
                let gtd_new: f64 = gn.iter().zip(&d).map(|(a, b)| a * b).sum();
                assert!(
                    gtd_new.abs() <= c2 * gtd.abs(),
                    "point {i}: {gtd_new} vs {gtd}"
                );
            }
            assert!(step.evals <= 25);
        }
    }
}

#[test]
fn unsatisfiable_line_search_is_reported_not_hung() {
    // A gradient with the wrong sign: every "descent" direction goes uphill.
    let mut liar = |x: &[f64]| Ok((x[0] * x[0] + x[1] * x[1], vec![-2.0 * x[0], -2.0 * x[1]]));
    for ls in [LineSearch::ARMIJO, LineSearch::WOLFE] {
        let mut x = vec![1.0, 2.0];
        let report = SteepestDescent::new(SearchConfig::new(ls))
            .unwrap()
            .minimize(&mut x, &mut liar, 1000)
            .unwrap();
        assert_eq!(
            report.reason,
            StopReason::LineSearchFailed,
            "{ls:?}: {report:?}"
        );
        assert_eq!(x, vec![1.0, 2.0], "no step is taken");
        assert!(report.function_evals <= 26, "{report:?}");
    }
    let mut x = vec![1.0, 2.0];
    let report = Bfgs::default().minimize(&mut x, &mut liar, 1000).unwrap();
    assert_eq!(report.reason, StopReason::LineSearchFailed, "{report:?}");
}

#[test]
fn non_finite_trial_points_make_the_search_back_off() {
    // f = x² + y², but NaN outside the disc of radius 3: the first trial steps leave it.
    let mut fenced = |x: &[f64]| {
        let r2 = x[0] * x[0] + x[1] * x[1];
        Ok(if r2 > 9.0 {
            (f64::NAN, vec![f64::NAN; 2])
        } else {
            (r2, vec![2.0 * x[0], 2.0 * x[1]])
        })
    };
    for ls in [LineSearch::ARMIJO, LineSearch::WOLFE] {
        let mut x = vec![2.0, 1.0];
        let config = SearchConfig {
            tolerances: TIGHT,
            ..SearchConfig::new(ls)
        };
        let mut cg = ConjugateGradient::new(CgConfig {
            search: config,
            ..Default::default()
        })
        .unwrap();
        // A first trial step of 10 (well outside) via a huge gradient scale is not needed:
        // steepest's first step is 1/‖g‖₁ · ..., so force it with a Newton-like scale.
        let report = cg.minimize(&mut x, &mut fenced, 100).unwrap();
        assert!(x.iter().all(|v| v.abs() < 1e-8), "{ls:?}: {x:?} {report:?}");
    }
    let mut lbfgs = Lbfgs::new(LbfgsConfig {
        lr: 100.0,
        line_search: Some(LineSearch::WOLFE),
        ..Default::default()
    })
    .unwrap();
    let mut x = vec![2.0, 1.0];
    let report = lbfgs.step(&mut x, &mut fenced).unwrap();
    assert!(
        report.loss.is_finite() && x.iter().all(|v| v.is_finite()),
        "{x:?} {report:?}"
    );
}

#[test]
fn bad_objectives_are_errors() {
    let mut nan = |_: &[f64]| Ok((f64::NAN, vec![0.0, 0.0]));
    let err = Bfgs::default().step(&mut [1.0, 1.0], &mut nan).unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { what: "loss", .. }),
        "{err}"
    );
    let err = Lbfgs::default()
        .step(&mut [1.0, 1.0], &mut nan)
        .unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { what: "loss", .. }),
        "{err}"
    );
    let mut short = |_: &[f64]| Ok((1.0, vec![0.0]));
    let err = ConjugateGradient::default()
        .step(&mut [1.0, 1.0], &mut short)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Length {
                expected: 2,
                got: 1,
                ..
            }
        ),
        "{err}"
    );
    // Chosen by name at run time, Newton and LM refuse an objective without a Hessian or
    // residuals (with the typed methods this does not compile).
    let mut plain = |x: &[f64]| Ok((x[0] * x[0], vec![2.0 * x[0]]));
    let err = Method::from_spec("newton")
        .unwrap()
        .step(&mut [1.0], &mut plain)
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                method: "newton",
                ..
            }
        ) && err.to_string().contains("HessianObjective"),
        "{err}"
    );
    let err = Method::from_spec("lm")
        .unwrap()
        .step(&mut [1.0], &mut plain)
        .unwrap_err();
    assert!(err.to_string().contains("least-squares"), "{err}");
}

#[test]
fn too_large_for_a_dense_hessian_says_how_large_and_what_instead() {
    /// Σ xᵢ², whose Hessian and Jacobian are never formed: the size check comes first.
    struct Big;
    impl Objective for Big {
        fn value_grad(&mut self, x: &[f64]) -> descent_optim::Result<(f64, Vec<f64>)> {
            Ok((
                x.iter().map(|v| v * v).sum::<f64>(),
                x.iter().map(|v| 2.0 * v).collect(),
            ))
        }
    }
    impl HessianObjective for Big {
        fn hessian(&mut self, _: &[f64]) -> descent_optim::Result<DMatrix<f64>> {
            unreachable!("the size check comes first")
        }
    }
    impl LeastSquares for Big {
        fn residuals(&mut self, _: &[f64]) -> descent_optim::Result<(DVector<f64>, DMatrix<f64>)> {
            unreachable!("the size check comes first")
        }
    }
    let n = 5000;
    let mut big = Big;
    let mut x = vec![1.0; n];
    for err in [
        Newton::default().step(&mut x, &mut big).unwrap_err(),
        Bfgs::default().step(&mut x, &mut big).unwrap_err(),
        LevenbergMarquardt::default()
            .step(&mut x, &mut big)
            .unwrap_err(),
    ] {
        let msg = err.to_string();
        assert!(
            matches!(
                err,
                Error::TooLarge {
                    n: 5000,
                    limit: 4096,
                    ..
                }
            ) && msg.contains("190.7 MiB")
                && msg.contains("lbfgs"),
            "{msg}"
        );
    }
    // L-BFGS has no such limit.
    let report = Lbfgs::default().step(&mut x, &mut big).unwrap();
    assert_eq!(report.reason, StopReason::GradientTolerance);
}

#[test]
fn singular_lm_system_is_an_error() {
    // r = (x + y, x + y): J has rank 1; with tau = 0 the first system is singular.
    struct RankOne;
    impl Objective for RankOne {
        fn value_grad(&mut self, x: &[f64]) -> descent_optim::Result<(f64, Vec<f64>)> {
            self.sum_of_squares(x)
        }
    }
    impl LeastSquares for RankOne {
        fn residuals(&mut self, p: &[f64]) -> descent_optim::Result<(DVector<f64>, DMatrix<f64>)> {
            Ok((
                DVector::from_element(2, p[0] + p[1] - 1.0),
                DMatrix::from_element(2, 2, 1.0),
            ))
        }
    }
    let err = LevenbergMarquardt::new(LmConfig {
        tau: 0.0,
        ..Default::default()
    })
    .unwrap()
    .step(&mut [3.0, 4.0], &mut RankOne)
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Singular {
                method: "lm",
                n: 2,
                ..
            }
        ) && err.to_string().contains("tau > 0"),
        "{err}"
    );
    // Damped, it converges to a point on the line x + y = 1.
    let mut x = [3.0, 4.0];
    let report = LevenbergMarquardt::default()
        .minimize(&mut x, &mut RankOne, 100)
        .unwrap();
    assert!((x[0] + x[1] - 1.0).abs() < 1e-6, "{x:?} {report:?}");
}

#[test]
fn hyperparameters_are_validated() {
    assert!(matches!(
        Lbfgs::new(LbfgsConfig {
            history_size: 0,
            ..Default::default()
        }),
        Err(Error::Hyperparameter { .. })
    ));
    assert!(matches!(
        Lbfgs::new(LbfgsConfig {
            lr: -1.0,
            ..Default::default()
        }),
        Err(Error::Hyperparameter { .. })
    ));
    assert!(matches!(
        SteepestDescent::new(SearchConfig::new(LineSearch::StrongWolfe {
            c1: 0.5,
            c2: 0.1
        })),
        Err(Error::Hyperparameter { .. })
    ));
    assert!(matches!(
        ConjugateGradient::new(CgConfig {
            restart: Some(0),
            ..Default::default()
        }),
        Err(Error::Hyperparameter { .. })
    ));
    assert!(matches!(
        LevenbergMarquardt::new(LmConfig {
            tau: f64::NAN,
            ..Default::default()
        }),
        Err(Error::Hyperparameter { .. })
    ));
}

#[test]
fn loss_change_is_relative_to_the_loss() {
    // f = 1e12 + x² + 100y²: the first step lowers f by ~1e-2, 1e-14 of f (SciPy's ftol
    // test stops), though far above an absolute 1e-9.
    let mut f = |x: &[f64]| {
        Ok((
            1e12 + x[0] * x[0] + 100.0 * x[1] * x[1],
            vec![2.0 * x[0], 200.0 * x[1]],
        ))
    };
    let config = SearchConfig {
        tolerances: StopTolerances {
            tolerance_grad: 0.0,
            tolerance_change: 1e-9,
        },
        ..SearchConfig::new(LineSearch::WOLFE)
    };
    let mut x = vec![1e-2, 1e-2];
    let report = Bfgs::new(BfgsConfig {
        search: config,
        ..Default::default()
    })
    .unwrap()
    .minimize(&mut x, &mut f, 100)
    .unwrap();
    assert_eq!(
        (report.reason, report.iterations),
        (StopReason::LossChange, 1),
        "{report:?}"
    );
    // Below |f| = 1 the same test is absolute.
    let mut g = |x: &[f64]| {
        Ok((
            x[0] * x[0] + 100.0 * x[1] * x[1],
            vec![2.0 * x[0], 200.0 * x[1]],
        ))
    };
    let mut x = vec![1e-2, 1e-2];
    let report = Bfgs::new(BfgsConfig {
        search: config,
        ..Default::default()
    })
    .unwrap()
    .minimize(&mut x, &mut g, 100)
    .unwrap();
    assert!(report.iterations > 1, "{report:?}");
}

#[test]
fn cg_restarted_every_iteration_is_steepest_descent() {
    // With restart = 1 every direction is −g: the same iterates as steepest descent with the
    // same search, step for step; with the default restart (n) they differ.
    let search = SearchConfig::new(LineSearch::StrongWolfe { c1: 1e-4, c2: 0.1 });
    let mut cg = ConjugateGradient::new(CgConfig {
        restart: Some(1),
        search,
        beta: Beta::PolakRibierePlus,
    })
    .unwrap();
    let mut cg_n = ConjugateGradient::new(CgConfig {
        search,
        ..Default::default()
    })
    .unwrap();
    let mut sd = SteepestDescent::new(search).unwrap();
    let (mut x, mut y, mut z) = (
        Problem::Rosenbrock.start(),
        Problem::Rosenbrock.start(),
        Problem::Rosenbrock.start(),
    );
    let mut differs = false;
    for _ in 0..20 {
        cg.step(&mut x, &mut Problem::Rosenbrock).unwrap();
        sd.step(&mut y, &mut Problem::Rosenbrock).unwrap();
        cg_n.step(&mut z, &mut Problem::Rosenbrock).unwrap();
        assert_eq!(x, y);
        differs |= max_diff(&x, &z) > 1e-6;
    }
    assert!(differs, "conjugate directions should change the path");
}
