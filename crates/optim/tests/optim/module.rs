//! Batch methods on a model in place: L-BFGS on a small `Sequential` takes, step for step
//! and bit for bit, the steps of L-BFGS on the same parameters through the closure API with
//! the forward pass written out by hand; a model with other parameters is refused by name;
//! closures return any error that converts.

use descent_autodiff::{Param, Tape, Var};
use descent_nn::activation::Tanh;
use descent_nn::{Linear, Mode, Module, Sequential};
use descent_optim::batch::{with_params, BatchMethod, Lbfgs, LbfgsConfig, LineSearch};
use descent_optim::{build_method, Error};
use descent_tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

pub fn model(hidden: usize) -> Sequential<f64> {
    let mut rng = StdRng::seed_from_u64(7);
    Sequential::new()
        .add(Linear::new(2, hidden, &mut rng).unwrap())
        .add(Tanh)
        .add(Linear::new(hidden, 1, &mut rng).unwrap())
}

pub fn data() -> (Tensor<f64>, Tensor<f64>) {
    let x = Tensor::from_vec(
        vec![0.0, 1.0, 1.0, 0.5, -1.0, 2.0, 0.3, -0.7, 1.5, 1.5],
        &[5, 2],
    )
    .unwrap();
    let y = Tensor::from_vec(vec![1.0, -0.5, 0.25, 2.0, 0.0], &[5, 1]).unwrap();
    (x, y)
}

fn lbfgs() -> Lbfgs {
    Lbfgs::new(LbfgsConfig {
        line_search: Some(LineSearch::WOLFE),
        max_iter: 5,
        ..Default::default()
    })
    .unwrap()
}

fn sum_of_squares<'t>(pred: Var<'t, f64>, y: &Tensor<f64>) -> descent_optim::Result<Var<'t, f64>> {
    let tape = pred.tape();
    Ok(pred
        .sub(tape.constant(y.clone()))?
        .square()?
        .sum(&[], false)?)
}

#[test]
fn lbfgs_on_a_sequential_equals_lbfgs_on_its_parameters_bit_for_bit() {
    let (x, y) = data();
    let mut net = model(3);
    // The closure API on clones of the same parameters (same ids), the forward by hand.
    let mut params: Vec<Param<f64>> = net.params().into_iter().cloned().collect();
    let (w1, b1, w2, b2) = (
        params[0].clone(),
        params[1].clone(),
        params[2].clone(),
        params[3].clone(),
    );
    let (mut on_model, mut on_params) = (lbfgs(), lbfgs());
    for step in 0..4 {
        let a = on_model
            .step_module(&mut net, |tape, net| -> descent_optim::Result<_> {
                let pred = net
                    .forward(tape, tape.constant(x.clone()), Mode::Eval)
                    .map_err(|e| Error::Objective(Box::new(e)))?;
                sum_of_squares(pred, &y)
            })
            .unwrap();
        let b = with_params(
            &mut params,
            |tape| -> descent_optim::Result<_> {
                let h = tape
                    .constant(x.clone())
                    .matmul(tape.param(&w1).t()?)?
                    .add(tape.param(&b1))?
                    .tanh()?;
                let pred = h.matmul(tape.param(&w2).t()?)?.add(tape.param(&b2))?;
                sum_of_squares(pred, &y)
            },
            |x, obj| on_params.step(x, obj),
        )
        .unwrap();
        assert_eq!(a, b, "step {step}: the reports differ");
        for ((name, p), q) in net.named_params().into_iter().zip(&params) {
            let (got, want) = (p.value.to_vec(), q.value.to_vec());
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "step {step}: {name}");
        }
    }
    assert!(on_model.config().max_iter == 5);
}

/// The sum of squares of `net` on `(x, y)`, as a closure for `step_module`.
pub fn fit(
    x: Tensor<f64>,
    y: Tensor<f64>,
) -> impl for<'t> FnMut(&'t Tape<f64>, &Sequential<f64>) -> descent_optim::Result<Var<'t, f64>> {
    move |tape, net| {
        let pred = net
            .forward(tape, tape.constant(x.clone()), Mode::Eval)
            .map_err(|e| Error::Objective(Box::new(e)))?;
        sum_of_squares(pred, &y)
    }
}

#[test]
fn a_model_whose_parameters_changed_shape_is_refused_by_name() {
    let (x, y) = data();
    let mut method = build_method("lbfgs:max_iter=2").unwrap();
    let mut loss = fit(x, y);
    method.step_module(&mut model(3), &mut loss).unwrap();
    let mut wider = model(4);
    let before: Vec<Vec<f64>> = wider.params().iter().map(|p| p.value.to_vec()).collect();
    let err = method.step_module(&mut wider, &mut loss).unwrap_err();
    assert!(matches!(err, Error::ModuleShape { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the model's parameter `0.weight` is of shape [4, 2] but was of shape [3, 2] at the previous call; this method's history is for the old parameters: build a new method for the new model"
    );
    let after: Vec<Vec<f64>> = wider.params().iter().map(|p| p.value.to_vec()).collect();
    assert_eq!(before, after, "a refused model is left as it was");
}

/// A program's own error type, as a facade's would be.
#[derive(Debug)]
enum AppError {
    Nn(descent_nn::Error),
    Optim(descent_optim::Error),
    Mine(&'static str),
}
impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
impl std::error::Error for AppError {}
impl From<descent_nn::Error> for AppError {
    fn from(e: descent_nn::Error) -> Self {
        AppError::Nn(e)
    }
}
impl From<descent_autodiff::Error> for AppError {
    fn from(e: descent_autodiff::Error) -> Self {
        AppError::Nn(e.into())
    }
}
impl From<descent_optim::Error> for AppError {
    fn from(e: descent_optim::Error) -> Self {
        AppError::Optim(e)
    }
}

#[test]
fn closures_return_their_own_error_type_and_get_it_back() {
    let (x, y) = data();
    let mut net = model(3);
    let mut calls = 0;
    let err = lbfgs()
        .step_module(&mut net, |tape, net| -> Result<_, AppError> {
            calls += 1;
            if calls == 3 {
                return Err(AppError::Mine("stop at the third evaluation"));
            }
            let pred = net.forward(tape, tape.constant(x.clone()), Mode::Eval)?;
            Ok(pred
                .sub(tape.constant(y.clone()))?
                .square()?
                .sum(&[], false)?)
        })
        .unwrap_err();
    assert!(
        matches!(err, AppError::Mine("stop at the third evaluation")),
        "{err:?}"
    );
    // optim's own errors arrive converted: a wrong input shape is nn's, a non-scalar optim's.
    let err = lbfgs()
        .step_module(&mut net, |tape, net| -> Result<_, AppError> {
            Ok(net.forward(tape, tape.constant(y.clone()), Mode::Eval)?)
        })
        .unwrap_err();
    assert!(
        matches!(err, AppError::Nn(descent_nn::Error::InputShape { .. })),
        "{err:?}"
    );
    let err = lbfgs()
        .step_module(&mut net, |tape, net| -> Result<_, AppError> {
            Ok(net.forward(tape, tape.constant(x.clone()), Mode::Eval)?)
        })
        .unwrap_err();
    assert!(
        matches!(err, AppError::Optim(Error::NotScalar { .. })),
        "{err:?}"
    );
}
