//! Shared test helpers: gradient checks of whole modules (input and parameters).
#![allow(dead_code)]

use descent_autodiff::Tolerances;
use descent_nn::check::gradcheck_module;
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

/// Asserts `model` passes `descent_nn::check::gradcheck_module` at `x` (input and every
/// parameter, PyTorch's tolerances); returns the number of elements checked.
pub fn check_module(model: &mut dyn Module<f64>, x: &Tensor<f64>, mode: Mode) -> usize {
    let report = gradcheck_module(&*model, x, mode, Tolerances::default()).unwrap();
    assert!(report.passed(), "{report}");
    report.report.checked
}
