//! Gradient clipping, as torch.nn.utils: by the global norm of all gradients together, or
//! element-wise by value. Gradients are visited in [`ParamId`] order, so the norm is the
//! same number on every run.
//!
//! ```
//! use descent_autodiff::{Gradients, ParamId};
//! use descent_optim::first_order::clip_grad_norm;
//! use descent_tensor::Tensor;
//! let mut g = Gradients::new();
//! g.insert(ParamId::fresh(), Tensor::<f64>::from_vec(vec![3.0, 4.0], &[2])?);
//! let norm = clip_grad_norm(&mut g, 1.0, 2.0)?;                // returns the norm before
//! assert_eq!(norm, 5.0);
//! let (_, clipped) = g.iter().next().unwrap();
//! assert!((clipped.to_vec()[0] - 0.6).abs() < 1e-6);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{Error, Result};
use crate::spec::Allowed;
use descent_autodiff::{Gradients, ParamId};
use descent_tensor::{Float, Tensor};

/// torch's `clip_grad_norm_`: the `norm_type`-norm of all gradients together (`f64::INFINITY`
/// for the max-norm); if it exceeds `max_norm`, every gradient is scaled by
/// `max_norm / (norm + 1e-6)`. Returns the norm before clipping.
///
/// # Errors
/// [`crate::Error::Hyperparameter`] for a negative `max_norm` or a `norm_type` ≤ 0.
pub fn clip_grad_norm<F: Float>(
    grads: &mut Gradients<F>,
    max_norm: f64,
    norm_type: f64,
) -> Result<f64> {
    Allowed::NonNegative.check("clip_grad_norm", "max_norm", max_norm)?;
    if norm_type.is_nan() || norm_type <= 0.0 {
        return Err(Error::hyper(
            "clip_grad_norm",
            "norm_type",
            norm_type,
            "a number > 0 or infinity",
        ));
    }
    let mut items: Vec<(ParamId, &Tensor<F>)> = grads.iter().collect();
    items.sort_by_key(|(id, _)| *id);
    let norms = items
        .iter()
        .map(|(_, g)| Ok(g.norm(norm_type, &[], false)?.item()?.as_f64()))
        .collect::<Result<Vec<f64>>>()?;
    let total = if norm_type.is_infinite() {
        norms
            .iter()
            .fold(0.0f64, |m, &n| if n > m || n.is_nan() { n } else { m })
    } else {
        let stacked =
            Tensor::<F>::from_vec(norms.iter().map(|&n| F::of(n)).collect(), &[norms.len()])?;
        stacked.norm(norm_type, &[], false)?.item()?.as_f64()
    };
    let coef = (max_norm / (total + 1e-6)).min(1.0);
    let coef = if total.is_nan() { f64::NAN } else { coef };
    if coef != 1.0 {
        for g in grads.values_mut() {
            g.scale_inplace(F::of(coef));
        }
    }
    Ok(total)
}

/// torch's `clip_grad_value_`: clamps every gradient element to `[−clip_value, clip_value]`.
///
/// # Errors
/// [`crate::Error::Hyperparameter`] for a negative `clip_value`.
pub fn clip_grad_value<F: Float>(grads: &mut Gradients<F>, clip_value: f64) -> Result<()> {
    Allowed::NonNegative.check("clip_grad_value", "clip_value", clip_value)?;
    let c = F::of(clip_value);
    for g in grads.values_mut() {
        g.map_inplace(|x| {
            if x > c {
                c
            } else if x < -c {
                -c
            } else {
                x // NaN stays NaN, for the optimizer to report
            }
        });
    }
    Ok(())
}
