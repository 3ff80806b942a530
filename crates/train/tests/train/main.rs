//! descent-train's integration tests: one binary, one module per file.

mod bad_checkpoints;
mod cli_split;
mod common;
mod divergence;
mod early_stopping;
mod evaluate;
mod kill_during_save;
mod metrics;
mod plot;
mod resume;

/// Every crate's error converts into the toolkit's, so `?` works across them.
#[test]
fn errors_convert() {
    let e: descent_train::Error = descent_tensor::Tensor::<f32>::zeros(&[2])
        .reshape(&[3])
        .unwrap_err()
        .into();
    assert!(e.to_string().contains("reshape"), "{e}");
}
mod diag_curvature;
mod diag_hooks;
mod diag_layers;
mod diag_lr_range;
mod diag_noise;
mod diag_running;
