//! The lectures' diagnostics, on any model: plain types with methods a hand-written loop
//! calls (`observe`, `update`, `measure`, `run`), which are also [`crate::Hook`]s a
//! [`crate::Trainer`] runs (the range test runs through [`crate::Trainer::range_test`]).
//! Each keeps its numbers for a CSV and draws a figure, SVG or PNG, through
//! [`crate::plot::render`]; a [`Recorder`] writes both after every epoch.
//!
//! - [`LayerMonitor`]: per-layer activation and gradient statistics — mean, standard
//!   deviation, dead ReLUs, histograms at chosen epochs ([`TensorStats`], [`Histogram`]);
//! - [`GradientNoise`]: the variance of the mini-batch gradient against the batch size
//!   ([`NoiseMonitor`] as a hook);
//! - [`RangeTest`]: a learning-rate range test that labels each rate slow, good,
//!   oscillating or diverging, and suggests one;
//! - [`CurvatureMonitor`]: the curvature along the gradient, `gᵀHg / gᵀg`, against the
//!   stability limit `2/η`;
//! - [`RunningLoss`]: a bias-corrected running average of the batch loss.

mod curvature;
mod layers;
mod lr_range;
mod noise;
mod plot;
mod record;
mod running;
mod stats;

pub use curvature::{curvature_along_gradient, Curvature, CurvatureMonitor, CurvatureRow};
pub use layers::{LayerHistogram, LayerMonitor, LayerRow, Observation, Quantity};
pub use lr_range::{RangeReport, RangeTest, RateLabel, RateTrial};
pub use noise::{GradientNoise, NoiseMonitor, NoiseRow};
pub use plot::{CurvatureFigure, LayerFigure, NoiseFigure, RangeFigure};
pub use record::{Recorder, Report};
pub use running::RunningLoss;
pub use stats::{Histogram, TensorStats};

/// Appends one CSV line of `fields`, comma-separated (the diagnostics write numbers and
/// names without commas, so no quoting is needed).
fn csv_row(out: &mut String, fields: &[&dyn std::fmt::Display]) {
    let cells: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    *out += &cells.join(",");
    out.push('\n');
}
