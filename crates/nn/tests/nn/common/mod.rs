//! Shared test helpers: gradient checks of whole modules (input and parameters).
#![allow(dead_code)]

use descent_autodiff::{Tape, Var};
use descent_nn::{Mode, Module};
use descent_tensor::Tensor;
use rand::{rngs::StdRng, SeedableRng};

/// An nn result as the autodiff result `descent_autodiff::gradcheck`'s closures return.
pub fn ad<T>(r: descent_nn::Result<T>) -> descent_autodiff::Result<T> {
    r.map_err(|e| match e {
        descent_nn::Error::Autodiff(e) => e,
        other => descent_autodiff::Error::GradcheckFailed(other.to_string()),
    })
}

/// Seeded N(0, 1) samples.
pub fn randn(shape: &[usize], seed: u64) -> Tensor<f64> {
    Tensor::randn(shape, 0.0, 1.0, &mut StdRng::seed_from_u64(seed)).unwrap()
}

/// `⟨u, model(x)⟩` on a fresh tape.
fn contracted(model: &dyn Module<f64>, x: &Tensor<f64>, u: &Tensor<f64>, mode: Mode) -> f64 {
    let tape = Tape::new();
    let y = model
        .forward(&tape, tape.constant(x.clone()), mode)
        .unwrap();
    y.value().unwrap().mul(u).unwrap().sum_all()
}

/// Checks the tape's gradient of `⟨u, model(x)⟩` (u a fixed random cotangent) with respect
/// to `x` and to every parameter against central differences (eps 1e-6, atol 1e-5, rtol
/// 1e-3: PyTorch's gradcheck defaults). Returns the number of elements checked.
pub fn check_module(model: &mut dyn Module<f64>, x: &Tensor<f64>, mode: Mode) -> usize {
    let (eps, atol, rtol) = (1e-6, 1e-5, 1e-3);
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y: Var<'_, f64> = model.forward(&tape, xv, mode).unwrap();
    let u = randn(&y.shape(), 99);
    let grads = y
        .mul(tape.constant(u.clone()))
        .unwrap()
        .sum(&[], false)
        .unwrap()
        .backward()
        .unwrap();
    let mut checked = 0;
    let mut compare = |what: &str, j: usize, analytic: f64, numeric: f64| {
        let err = (analytic - numeric).abs();
        assert!(
            err <= atol + rtol * numeric.abs(),
            "{what}[{j}]: analytic {analytic}, numeric {numeric}"
        );
        checked += 1;
    };
    let gx = grads
        .wrt(xv)
        .map(Tensor::to_vec)
        .unwrap_or_else(|| vec![0.0; x.numel()]);
    for (j, &a) in gx.iter().enumerate() {
        let shifted = |d: f64| {
            let mut xs = x.contiguous();
            xs.data_mut()[j] += d;
            contracted(model, &xs, &u, mode)
        };
        let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
        compare("input", j, a, numeric);
    }
    let names: Vec<(String, Vec<f64>)> = model
        .named_params()
        .into_iter()
        .map(|(n, p)| {
            (
                n,
                grads
                    .get(p)
                    .map(Tensor::to_vec)
                    .unwrap_or_else(|| vec![0.0; p.value.numel()]),
            )
        })
        .collect();
    for (i, (name, analytic)) in names.iter().enumerate() {
        for (j, &a) in analytic.iter().enumerate() {
            let mut shifted = |d: f64| {
                model.params_mut()[i].value.data_mut()[j] += d;
                let f = contracted(model, x, &u, mode);
                model.params_mut()[i].value.data_mut()[j] -= d;
                f
            };
            let numeric = (shifted(eps) - shifted(-eps)) / (2.0 * eps);
            compare(name, j, a, numeric);
        }
    }
    checked
}
