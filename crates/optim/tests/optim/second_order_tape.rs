//! The batch methods on the tape: exact Hessians and Jacobians (checked against finite
//! differences and the analytic ones), parameter sets, spec strings, and the curvature
//! diagnostics (eigenvalues, Lanczos, gradient descent's rate `(κ−1)/(κ+1)`).

use crate::problems;
use crate::reference;

use descent_autodiff::{Param, Tape, Var};
use descent_optim::batch::curvature::{hessian_spectrum, lanczos, spectrum};
use descent_optim::{
    batch::{
        BatchMethod, HessianObjective, LeastSquares, LeastSquaresMethod, LevenbergMarquardt,
        LmConfig, Method, Newton, Objective, StopReason, StopTolerances, TapeObjective,
        TapeResiduals,
    },
    Error,
};
use descent_tensor::Tensor;
use nalgebra::DMatrix;
use problems::{max_diff, quadratic_a, Problem};

type R<'t> = descent_autodiff::Result<Var<'t, f64>>;

fn rosenbrock<'t>(_: &'t Tape<f64>, w: Var<'t, f64>) -> R<'t> {
    let (x, y) = (w.narrow(0, 0, 1)?, w.narrow(0, 1, 1)?);
    x.rsub_scalar(1.0)?
        .square()?
        .add(y.sub(x.square()?)?.square()?.mul_scalar(100.0)?)?
        .sum(&[], false)
}

fn expfit_residuals<'t>(tape: &'t Tape<f64>, p: Var<'t, f64>) -> R<'t> {
    let t = tape.constant(Tensor::from_slice(
        reference::FIT_T,
        &[reference::FIT_T.len()],
    )?);
    let y = tape.constant(Tensor::from_slice(
        reference::FIT_Y,
        &[reference::FIT_Y.len()],
    )?);
    let (a, b, c) = (p.narrow(0, 0, 1)?, p.narrow(0, 1, 1)?, p.narrow(0, 2, 1)?);
    a.mul(t.mul(b)?.neg()?.exp()?)?.add(c)?.sub(y)
}

/// Central differences of `f` at `x`, one column per coordinate.
fn finite_differences(x: &[f64], mut f: impl FnMut(&[f64]) -> Vec<f64>) -> DMatrix<f64> {
    let h = 1e-6;
    let m = f(x).len();
    let mut out = DMatrix::zeros(m, x.len());
    for j in 0..x.len() {
        let (mut xp, mut xm) = (x.to_vec(), x.to_vec());
        xp[j] += h;
        xm[j] -= h;
        let (fp, fm) = (f(&xp), f(&xm));
        for i in 0..m {
            out[(i, j)] = (fp[i] - fm[i]) / (2.0 * h);
        }
    }
    out
}

#[test]
fn tape_hessian_matches_analytic_and_finite_differences() {
    let mut obj = TapeObjective::new(rosenbrock);
    for x in [[-1.2, 1.0], [0.3, -0.7], [1.0, 1.0]] {
        let h = obj.hessian(&x).unwrap();
        let exact = Problem::Rosenbrock.hessian(&x).unwrap();
        assert!((&h - &exact).amax() < 1e-10, "{h} vs {exact}");
        let fd = finite_differences(&x, |p| obj.value_grad(p).unwrap().1);
        assert!(
            (&h - &fd).amax() < 1e-5 * (1.0 + exact.amax()),
            "{h} vs {fd}"
        );
        let (f, g) = obj.value_grad(&x).unwrap();
        let (f0, g0) = Problem::Rosenbrock.value_grad(&x).unwrap();
        assert!((f - f0).abs() < 1e-12 && max_diff(&g, &g0) < 1e-10);
    }
}

#[test]
fn tape_jacobian_matches_finite_differences() {
    let mut obj = TapeResiduals::new(expfit_residuals);
    let x = [1.0, 0.7, 0.1];
    let (r, j) = obj.residuals(&x).unwrap();
    assert_eq!((r.len(), j.nrows(), j.ncols()), (20, 20, 3));
    let fd = finite_differences(&x, |p| obj.residuals(p).unwrap().0.as_slice().to_vec());
    assert!((&j - &fd).amax() < 1e-8, "{j} vs {fd}");
    // The loss and gradient are those of Σ r²: 2Jᵀr.
    let (f, g) = obj.value_grad(&x).unwrap();
    assert!(
        (f - r.norm_squared()).abs() < 1e-12
            && max_diff(&g, (j.tr_mul(&r) * 2.0).as_slice()) < 1e-12
    );
}

#[test]
fn lm_on_the_tape_matches_scipy() {
    let (_, nfev, want) = reference::SCIPY_LM
        .iter()
        .find(|r| r.0 == "expfit")
        .unwrap();
    let mut x = vec![1.0, 1.0, 0.0];
    let config = LmConfig {
        tolerances: StopTolerances {
            tolerance_grad: 1e-12,
            tolerance_change: 1e-15,
        },
        ..Default::default()
    };
    let report = LevenbergMarquardt::new(config)
        .unwrap()
        .minimize(&mut x, &mut TapeResiduals::new(expfit_residuals), 100)
        .unwrap();
    assert!(
        max_diff(&x, want) < 1e-8,
        "{x:?} vs SciPy {want:?}: {report:?}"
    );
    assert!(
        report.function_evals <= 3 * nfev + 5,
        "{report:?} vs SciPy nfev {nfev}"
    );
}

#[test]
fn newton_on_the_tape_hessian() {
    let mut x = vec![-1.2, 1.0];
    let report = Method::from_spec("newton:tolerance_grad=1e-10,tolerance_change=0")
        .unwrap()
        .minimize(&mut x, &mut TapeObjective::new(rosenbrock), 100)
        .unwrap();
    assert!(
        max_diff(&x, &[1.0, 1.0]) < 1e-8 && report.hessian_evals > 0,
        "{x:?} {report:?}"
    );
    // On a quadratic, one step.
    let mut x = vec![0.0; 4];
    let mut quad = TapeObjective::new(|tape, w| half_wtaw(tape, w)?.sub(w.sum(&[], false)?));
    Newton::default().step(&mut x, &mut quad).unwrap();
    assert!(max_diff(&x, &Problem::Quadratic.minimum()) < 1e-12, "{x:?}");
}

#[test]
fn every_spec_name_builds_and_runs() {
    for spec in [
        "steepest",
        "steepest:line_search=armijo",
        "cg:beta=pr",
        "cg:beta=fr",
        "bfgs",
        "lbfgs:history_size=10",
        "lbfgs:line_search=strong_wolfe",
        "newton",
        "newton:line_search=wolfe",
        "lm",
    ] {
        let mut m = Method::from_spec(spec).unwrap();
        let mut x = vec![-1.2, 1.0];
        let before = Problem::Rosenbrock.value_grad(&x).unwrap().0;
        let report = if m.needs_residuals() {
            m.step(&mut x, &mut TapeResiduals::new(rosenbrock_residuals))
        } else {
            m.step(&mut x, &mut TapeObjective::new(rosenbrock))
        }
        .unwrap();
        assert!(report.loss < before, "{spec}: {report:?}");
    }
    let err = Method::from_spec("lbfgs:history=10")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("lbfgs: unknown key history; allowed keys:")
            && err.contains("history_size"),
        "{err}"
    );
    let err = Method::from_spec("gauss").unwrap_err().to_string();
    assert!(
        err.contains("steepest, cg, bfgs, lbfgs, newton, lm"),
        "{err}"
    );
    let err = Method::from_spec("steepest:line_search=exact")
        .unwrap_err()
        .to_string();
    assert!(err.contains("wolfe, strong_wolfe, armijo"), "{err}");
    // LM on an objective without residuals: a clear error.
    let err = Method::from_spec("lm")
        .unwrap()
        .step(&mut [0.0, 0.0], &mut TapeObjective::new(rosenbrock))
        .unwrap_err();
    assert!(
        matches!(err, Error::Unsupported { method: "lm", .. }),
        "{err}"
    );
}

/// ½ wᵀAw for the test quadratic's A.
fn half_wtaw<'t>(tape: &'t Tape<f64>, w: Var<'t, f64>) -> R<'t> {
    let a = quadratic_a();
    let at = tape.constant(Tensor::from_vec(
        a.transpose().as_slice().to_vec(),
        &[4, 4],
    )?);
    w.mul(at.matmul(w.reshape(&[4, 1])?)?.reshape(&[4])?)?
        .sum(&[], false)?
        .mul_scalar(0.5)
}

fn rosenbrock_residuals<'t>(_: &'t Tape<f64>, w: Var<'t, f64>) -> R<'t> {
    let (x, y) = (w.narrow(0, 0, 1)?, w.narrow(0, 1, 1)?);
    Var::concat(
        &[y.sub(x.square()?)?.mul_scalar(10.0)?, x.rsub_scalar(1.0)?],
        0,
    )
}

#[test]
fn parameter_sets_step_like_flat_vectors() {
    // Two parameters (a [2] and a [1]) in a least-squares fit, vs the same run on a flat vector.
    let mut params = vec![
        Param::new(Tensor::<f64>::from_vec(vec![0.5, -0.5], &[2]).unwrap()),
        Param::new(Tensor::scalar(0.0).reshape(&[1]).unwrap()),
    ];
    let (w, b) = (params[0].clone(), params[1].clone());
    let mut m = Method::from_spec("lbfgs:line_search=strong_wolfe").unwrap();
    let report = m
        .step_params(&mut params, |tape| -> descent_optim::Result<_> {
            let (w, b) = (tape.param(&w), tape.param(&b));
            let y = w.square()?.sum(&[], false)?.reshape(&[1])?.add(b)?;
            Ok(y.rsub_scalar(3.0)?
                .square()?
                .add(w.add_scalar(-1.0)?.square()?.sum(&[], false)?)?
                .sum(&[], false)?)
        })
        .unwrap();
    let mut flat = vec![0.5, -0.5, 0.0];
    let mut f = |x: &[f64]| {
        Ok((
            (3.0 - x[0] * x[0] - x[1] * x[1] - x[2]).powi(2)
                + (x[0] - 1.0).powi(2)
                + (x[1] - 1.0).powi(2),
            {
                let r = 3.0 - x[0] * x[0] - x[1] * x[1] - x[2];
                vec![
                    -4.0 * r * x[0] + 2.0 * (x[0] - 1.0),
                    -4.0 * r * x[1] + 2.0 * (x[1] - 1.0),
                    -2.0 * r,
                ]
            },
        ))
    };
    let flat_report = Method::from_spec("lbfgs:line_search=strong_wolfe")
        .unwrap()
        .step(&mut flat, &mut f)
        .unwrap();
    let got: Vec<f64> = params.iter().flat_map(|p| p.value.to_vec()).collect();
    assert!(max_diff(&got, &flat) < 1e-10, "{got:?} vs {flat:?}");
    assert_eq!(
        (report.iterations, report.function_evals),
        (flat_report.iterations, flat_report.function_evals)
    );
    assert!(report.loss < 1e-10, "{report:?}");
}

#[test]
fn non_scalar_and_nan_losses_are_errors() {
    let mut params = vec![Param::new(Tensor::<f64>::ones(&[3]))];
    let p = params[0].clone();
    let err = Method::from_spec("bfgs")
        .unwrap()
        .step_params(&mut params, |tape| Ok(tape.param(&p).square()?))
        .unwrap_err();
    assert!(
        matches!(&err, Error::NotScalar { shape, .. } if shape == &vec![3])
            && err.to_string().contains("must be a scalar"),
        "{err}"
    );
    let err = Method::from_spec("lbfgs")
        .unwrap()
        .step_params(&mut params, |tape| {
            Ok(tape.param(&p).ln()?.mul_scalar(f64::NAN)?.sum(&[], false)?)
        })
        .unwrap_err();
    assert!(
        matches!(err, Error::NonFinite { what: "loss", .. }),
        "{err}"
    );
    assert_eq!(
        params[0].value.to_vec(),
        vec![1.0; 3],
        "an error leaves the parameters"
    );
}

#[test]
fn dense_spectrum_and_condition_number() {
    let s = spectrum(&quadratic_a()).unwrap();
    assert!(
        max_diff(&s.eigenvalues, &[1.0, 10.0, 100.0, 1000.0]) < 1e-9,
        "{s:?}"
    );
    assert!((s.condition_number().unwrap() - 1000.0).abs() < 1e-8);
    // Of the tape's Hessian: Rosenbrock at its minimum, [[802, −400], [−400, 200]].
    let s = hessian_spectrum(&mut TapeObjective::new(rosenbrock), &[1.0, 1.0], 4096).unwrap();
    let disc = (602.0f64 * 602.0 + 4.0 * 400.0 * 400.0).sqrt();
    assert!(
        max_diff(
            &s.eigenvalues,
            &[(1002.0 - disc) / 2.0, (1002.0 + disc) / 2.0]
        ) < 1e-9,
        "{s:?}"
    );
    // Indefinite: no condition number, no rate.
    let s = spectrum(&DMatrix::from_row_slice(2, 2, &[1.0, 0.0, 0.0, -1.0])).unwrap();
    assert_eq!(
        (s.condition_number(), s.gradient_descent_rate()),
        (None, None)
    );
    let err = hessian_spectrum(&mut TapeObjective::new(rosenbrock), &vec![0.0; 5000], 4096)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("5000x5000") && err.contains("lanczos"),
        "{err}"
    );
}

#[test]
fn lanczos_finds_the_extremes_from_hessian_vector_products() {
    let obj = TapeObjective::new(half_wtaw);
    let x = [0.3, -0.2, 0.1, 0.5];
    let e = lanczos(4, &mut |v| obj.hvp(&x, v), 10, 7).unwrap();
    assert_eq!(e.steps, 4);
    assert!(
        (e.largest - 1000.0).abs() < 1e-8 && (e.smallest - 1.0).abs() < 1e-8,
        "{e:?}"
    );
    // A larger operator, diag(1, 2, …, 500): 80 products resolve the extremes to ~1e-5.
    let mut hvp = |v: &[f64]| {
        Ok(v.iter()
            .enumerate()
            .map(|(i, x)| (i + 1) as f64 * x)
            .collect())
    };
    let e = lanczos(500, &mut hvp, 80, 1).unwrap();
    assert!(
        (e.largest - 500.0).abs() < 1e-4
            && (e.smallest - 1.0).abs() < 1e-4
            && e.smallest >= 1.0 - 1e-9,
        "{e:?}"
    );
    assert!(matches!(
        lanczos(3, &mut |_| Ok(vec![0.0; 2]), 3, 0),
        Err(Error::Length { .. })
    ));
}

#[test]
fn gradient_descent_rate_is_kappa_minus_one_over_kappa_plus_one() {
    let a = quadratic_a();
    let s = spectrum(&a).unwrap();
    let (step, theory) = s.gradient_descent_rate().unwrap();
    let mut quad = Problem::Quadratic;
    let x_star = quad.minimum();
    let mut x = vec![1.0, -2.0, 0.5, 3.0];
    let err = |x: &[f64]| {
        x.iter()
            .zip(&x_star)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
            .sqrt()
    };
    let mut ratios = vec![];
    for _ in 0..2000 {
        let e0 = err(&x);
        let g = quad.value_grad(&x).unwrap().1;
        x.iter_mut().zip(&g).for_each(|(xi, gi)| *xi -= step * gi);
        ratios.push(err(&x) / e0);
    }
    // The middle eigen-components die out; the extreme two shrink by exactly the rate.
    let measured = ratios[ratios.len() - 1];
    assert!(
        (measured - theory).abs() < 1e-9,
        "measured {measured}, theory {theory}"
    );
    assert!(
        ratios.iter().all(|r| *r <= theory + 1e-12),
        "no step is slower than the bound"
    );
    // Newton converges in one step on the same quadratic.
    let mut x = vec![1.0, -2.0, 0.5, 3.0];
    let report = Newton::default().step(&mut x, &mut quad).unwrap();
    assert!(err(&x) < 1e-12 && report.reason != StopReason::LineSearchFailed);
}

#[test]
fn test_functions_least_squares_forms_sum_to_the_functions() {
    use descent_optim::functions::TestFunction;
    let functions = [
        TestFunction::Rosenbrock,
        TestFunction::Beale,
        TestFunction::Quadratic { a: 1.0, b: 10.0 },
    ];
    for f in functions {
        for (x, y) in [(-1.2, 1.0), (0.3, -0.7), (2.5, 0.25)] {
            let tape = Tape::<f64>::new();
            let p = tape.var(Tensor::from_vec(vec![x, y], &[2]).unwrap());
            let r = f.residuals(p).unwrap().value().unwrap().to_vec();
            let squares: f64 = r.iter().map(|v| v * v).sum();
            let want = f.value(x, y); // plain f64, written out apart
            assert!(
                (squares - want).abs() <= 1e-12 * want.abs().max(1.0),
                "{f:?} at ({x}, {y}): {squares} vs {want}"
            );
        }
    }
    let tape = Tape::<f64>::new();
    let err = TestFunction::Saddle
        .residuals(tape.var(Tensor::<f64>::zeros(&[2])))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                method: "saddle",
                ..
            }
        ) && err.to_string().contains("unbounded below"),
        "{err}"
    );
}
