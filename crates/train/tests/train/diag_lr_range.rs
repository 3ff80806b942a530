//! The learning-rate range test on a quadratic, whose rates' fates are known in closed
//! form: gradient descent on ½Σλᵢxᵢ² multiplies xᵢ by (1 − ηλᵢ) each step, so it diverges
//! for η > 2/λ_max, overshoots (the top component flips sign) for 1/λ_max < η < 2/λ_max,
//! and crawls for ηλ_max ≪ 1.

use descent_autodiff::{Param, Tape, Var};
use descent_nn::{Mode, Module};
use descent_tensor::{Float, Tensor};
use descent_train::diagnostics::{RangeTest, RateLabel};

/// A model that is only its point `x`.
struct Point<F: Float> {
    x: Param<F>,
}

impl<F: Float> Module<F> for Point<F> {
    fn forward<'t>(
        &self,
        _: &'t Tape<F>,
        x: Var<'t, F>,
        _: Mode,
    ) -> descent_nn::Result<Var<'t, F>> {
        Ok(x)
    }
    descent_nn::params!(F; x);
}

const LAMBDA: [f64; 2] = [1.0, 10.0];
const START: [f64; 2] = [1.0, 1.0];
const STEPS: usize = 10;

/// ½Σλᵢxᵢ² after `STEPS` steps at rate `lr`, in closed form.
fn loss_after(lr: f64) -> f64 {
    let k = STEPS as i32;
    (0..2)
        .map(|i| 0.5 * LAMBDA[i] * (1.0 - lr * LAMBDA[i]).powi(2 * k) * START[i] * START[i])
        .sum()
}

#[test]
fn a_quadratic_s_rates_are_labelled_by_its_curvature() {
    let mut model = Point {
        x: Param::new(Tensor::from_vec(START.to_vec(), &[2]).unwrap()),
    };
    let lambda = Tensor::from_vec(LAMBDA.to_vec(), &[2]).unwrap();
    let test = RangeTest {
        lr_min: 1e-4,
        lr_max: 1.0,
        rates: 41,
        steps: STEPS,
    };
    let report = test
        .run(&mut model, |m: &Point<f64>, tape: &Tape<f64>, _| {
            let x = tape.param(&m.x);
            Ok(x.square()?
                .mul(tape.constant(lambda.clone()))?
                .sum(&[], false)?
                .mul_scalar(0.5)?)
        })
        .unwrap();
    assert_eq!(model.x.value.to_vec(), START, "the model is restored");
    assert_eq!(report.trials.len(), 41);

    let lambda_max = 10.0;
    let mut seen = Vec::new();
    for t in &report.trials {
        let exact = loss_after(t.lr);
        if exact.is_finite() && t.end.is_finite() {
            assert!(
                (t.end - exact).abs() <= 1e-9 * exact.max(1e-300),
                "lr {}: {} vs {exact}",
                t.lr,
                t.end
            );
        }
        if t.lr > 2.0 / lambda_max {
            assert_eq!(t.label, RateLabel::Diverging, "lr {}", t.lr);
        } else if t.lr >= 1.5 / lambda_max {
            assert_eq!(t.label, RateLabel::Oscillating, "lr {}", t.lr);
        } else if t.lr <= 1e-3 {
            assert_eq!(t.label, RateLabel::Slow, "lr {}", t.lr);
        }
        if t.lr < 1.0 / lambda_max {
            assert!(
                matches!(t.label, RateLabel::Slow | RateLabel::Good),
                "lr {}: {:?}",
                t.lr,
                t.label
            );
        }
        seen.push(t.label);
    }
    for label in [
        RateLabel::Slow,
        RateLabel::Good,
        RateLabel::Oscillating,
        RateLabel::Diverging,
    ] {
        assert!(seen.contains(&label), "no {label:?} in {seen:?}");
    }
    // The suggestion is the good rate whose closed-form loss is lowest, well inside the
    // stability limit.
    let suggested = report.suggested().unwrap();
    let good = report.trials.iter().filter(|t| t.label == RateLabel::Good);
    let best = good
        .min_by(|a, b| loss_after(a.lr).total_cmp(&loss_after(b.lr)))
        .unwrap();
    assert_eq!(suggested, best.lr);
    assert!(
        suggested < 1.5 / lambda_max && suggested > 1e-2,
        "{suggested}"
    );
    assert!(report.to_csv().contains(",diverging\n"));
    let dir = crate::common::temp_dir("diag-lr-range");
    let path = dir.join("range.svg");
    descent_train::plot::render(&path, &report.figure()).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    for want in [
        "learning-rate range test",
        "oscillating",
        "suggested rate",
        "learning rate (log scale)",
    ] {
        assert!(svg.contains(want), "{want:?} missing from the SVG");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_settings_are_errors_naming_the_argument() {
    let mut model = Point {
        x: Param::new(Tensor::<f64>::zeros(&[1])),
    };
    fn loss<'t>(
        m: &Point<f64>,
        tape: &'t Tape<f64>,
        _: usize,
    ) -> descent_train::Result<Var<'t, f64>> {
        Ok(tape.param(&m.x).sum(&[], false)?)
    }
    let test = RangeTest {
        lr_min: 0.0,
        ..RangeTest::default()
    };
    let e = test.run(&mut model, loss).unwrap_err();
    assert_eq!(
        e.to_string(),
        "RangeTest::run: lr_min = 0 must be positive and finite"
    );
    let test = RangeTest {
        lr_min: 1.0,
        lr_max: 0.1,
        ..RangeTest::default()
    };
    assert!(test
        .run(&mut model, loss)
        .unwrap_err()
        .to_string()
        .contains("lr_max = 0.1"));
}
