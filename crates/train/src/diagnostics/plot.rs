//! The diagnostics' figures, each a [`Figure`] that [`crate::plot::render`] writes as SVG or
//! PNG: the variance-propagation picture (each layer's standard deviation against depth,
//! forward and backward), the range test's loss decrease against the rate coloured by
//! label, the gradient's variance against the batch size with the `1/b` law, and the
//! curvature along the gradient against the stability limit `2/η`.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::curvature::CurvatureMonitor;
use super::layers::{LayerMonitor, Quantity};
use super::lr_range::{RangeReport, RateLabel};
use super::noise::NoiseRow;
use crate::plot::{legend, DrawError, Figure};

/// The most lines one panel draws; more observed steps are thinned evenly.
const MAX_LINES: usize = 8;

/// The size of every diagnostic figure, in pixels.
const SIZE: (u32, u32) = (1200, 620);

/// `lo..hi` of `values`, widened by `pad` (a factor, for log axes) or to `fallback` when
/// there is nothing to span.
fn log_range(values: impl Iterator<Item = f64>, fallback: (f64, f64)) -> (f64, f64) {
    let (lo, hi) = values
        .filter(|v| *v > 0.0 && v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
    if lo.is_finite() {
        (lo / 1.5, hi * 1.5)
    } else {
        fallback
    }
}

/// The figure of a [`LayerMonitor`]: [`LayerMonitor::figure`].
pub struct LayerFigure<'a> {
    monitor: &'a LayerMonitor,
}

impl LayerMonitor {
    /// The standard deviation of each layer's output (left) and of the loss's gradient with
    /// respect to it (right), layer by layer in the order the model reported them, on a log
    /// axis, one line per observed step (at most eight, evenly chosen): the picture of
    /// Glorot & Bengio (2010) — flat lines for a well-scaled network, lines that fall or
    /// climb with depth where signals vanish or explode. Write it with
    /// [`crate::plot::render`].
    pub fn figure(&self) -> LayerFigure<'_> {
        LayerFigure { monitor: self }
    }
}

impl Figure for LayerFigure<'_> {
    fn size(&self) -> (u32, u32) {
        SIZE
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError>
    where
        DB::ErrorType: 'static,
    {
        root.fill(&WHITE)?;
        let body = root.titled(
            "per-layer standard deviation (variance propagation)",
            ("sans-serif", 24),
        )?;
        let (w, _) = body.dim_in_pixel();
        let (left, right) = body.split_horizontally(w / 2);
        self.panel(&left, Quantity::Activation, "forward: layer outputs")?;
        self.panel(
            &right,
            Quantity::ActivationGrad,
            "backward: gradient of the loss w.r.t. layer outputs",
        )
    }
}

impl LayerFigure<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        quantity: Quantity,
        caption: &str,
    ) -> Result<(), DrawError>
    where
        DB::ErrorType: 'static,
    {
        let rows = self
            .monitor
            .rows()
            .iter()
            .filter(|r| r.quantity == quantity);
        let mut layers: Vec<&str> = Vec::new();
        let mut steps: Vec<(usize, u64)> = Vec::new();
        for r in rows.clone() {
            if !layers.contains(&r.layer.as_str()) {
                layers.push(&r.layer);
            }
            if !steps.contains(&(r.epoch, r.step)) {
                steps.push((r.epoch, r.step));
            }
        }
        let stride = steps.len().div_ceil(MAX_LINES).max(1);
        let (lo, hi) = log_range(rows.clone().map(|r| r.stats.std), (0.1, 10.0));
        let last = layers.len().saturating_sub(1).max(1) as f64;
        let mut chart = ChartBuilder::on(area)
            .caption(caption, ("sans-serif", 17))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(-0.2..last + 0.2, (lo..hi).log_scale())?;
        let name_of = |x: &f64| {
            let i = x.round();
            let near = (x - i).abs() < 1e-6 && i >= 0.0;
            let name = layers.get(i as usize).filter(|_| near);
            name.map_or(String::new(), |n| n.to_string())
        };
        chart
            .configure_mesh()
            .x_labels(layers.len().max(2) * 4 + 1)
            .x_label_formatter(&name_of)
            .y_label_formatter(&|y| format!("{y:.1e}"))
            .x_desc("layer (as the model names it)")
            .y_desc("standard deviation (log scale)")
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 15))
            .draw()?;
        for (k, &(epoch, step)) in steps.iter().step_by(stride).enumerate() {
            let points: Vec<(f64, f64)> = rows
                .clone()
                .filter(|r| (r.epoch, r.step) == (epoch, step))
                .filter(|r| r.stats.std > 0.0 && r.stats.std.is_finite())
                .map(|r| {
                    let x = layers.iter().position(|l| *l == r.layer).unwrap_or(0);
                    (x as f64, r.stats.std)
                })
                .collect();
            let colour = Palette99::pick(k).to_rgba();
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))?
                .label(format!("epoch {epoch}, step {step}"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 3, colour.filled())),
            )?;
        }
        Ok(legend(&mut chart, SeriesLabelPosition::UpperRight)?)
    }
}

/// The figure of a [`RangeReport`]: [`RangeReport::figure`].
pub struct RangeFigure<'a> {
    report: &'a RangeReport,
}

impl RangeReport {
    /// Each rate's `ln(start/end)` against the rate on a log axis, one colour per label,
    /// with the suggested rate marked: the range test as a figure, for
    /// [`crate::plot::render`].
    pub fn figure(&self) -> RangeFigure<'_> {
        RangeFigure { report: self }
    }
}

impl Figure for RangeFigure<'_> {
    fn size(&self) -> (u32, u32) {
        SIZE
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError>
    where
        DB::ErrorType: 'static,
    {
        let points: Vec<(f64, f64, RateLabel)> = self
            .report
            .trials
            .iter()
            .map(|t| (t.lr, t.log_decrease(), t.label))
            .filter(|p| p.1.is_finite())
            .collect();
        let (x0, x1) = log_range(self.report.trials.iter().map(|t| t.lr), (1e-6, 10.0));
        let (mut y0, mut y1) = points
            .iter()
            .fold((0.0f64, 0.0f64), |(a, b), p| (a.min(p.1), b.max(p.1)));
        let pad = ((y1 - y0) * 0.08).max(0.05);
        (y0, y1) = (y0 - pad, y1 + pad);
        root.fill(&WHITE)?;
        let steps = self.report.trials.first().map_or(0, |t| t.losses.len());
        let mut chart = ChartBuilder::on(root)
            .caption(
                format!("learning-rate range test ({steps} steps of gradient descent per rate)"),
                ("sans-serif", 22),
            )
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(70)
            .build_cartesian_2d((x0..x1).log_scale(), y0..y1)?;
        chart
            .configure_mesh()
            .x_desc("learning rate (log scale)")
            .y_desc("ln(loss before / loss after)")
            .x_label_formatter(&|x| format!("{x:.0e}"))
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 15))
            .draw()?;
        let line: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.1)).collect();
        chart.draw_series(LineSeries::new(line, BLACK.mix(0.3)))?;
        let labels = [
            (RateLabel::Slow, BLUE),
            (RateLabel::Good, RGBColor(0, 150, 60)),
            (RateLabel::Oscillating, MAGENTA),
            (RateLabel::Diverging, RED),
        ];
        for (label, colour) in labels {
            let dots = points.iter().filter(|p| p.2 == label);
            chart
                .draw_series(dots.map(|p| Circle::new((p.0, p.1), 5, colour.filled())))?
                .label(label.name())
                .legend(move |(x, y)| Circle::new((x + 9, y), 5, colour.filled()));
        }
        if let Some(lr) = self.report.suggested() {
            chart
                .draw_series(LineSeries::new(
                    vec![(lr, y0), (lr, y1)],
                    BLACK.stroke_width(2),
                ))?
                .label(format!("suggested rate {lr:.3e}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
        }
        Ok(legend(&mut chart, SeriesLabelPosition::UpperLeft)?)
    }
}

/// The figure of gradient-noise measurements: [`NoiseFigure::new`].
pub struct NoiseFigure<'a> {
    rows: &'a [(usize, NoiseRow)],
}

impl<'a> NoiseFigure<'a> {
    /// The variance of the mini-batch gradient against the batch size on log-log axes, one
    /// line per measured epoch, with the law `tr(Σ)/b · (n − b)/(n − 1)` dashed: the measured
    /// points should lie on it.
    pub fn new(rows: &'a [(usize, NoiseRow)]) -> Self {
        NoiseFigure { rows }
    }
}

impl Figure for NoiseFigure<'_> {
    fn size(&self) -> (u32, u32) {
        SIZE
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError>
    where
        DB::ErrorType: 'static,
    {
        let (x0, x1) = log_range(self.rows.iter().map(|r| r.1.batch_size as f64), (1.0, 1e3));
        let (y0, y1) = log_range(self.rows.iter().map(|r| r.1.variance), (1e-6, 1.0));
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption(
                "gradient noise: variance of the mini-batch gradient against batch size",
                ("sans-serif", 22),
            )
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(80)
            .build_cartesian_2d((x0..x1).log_scale(), (y0..y1).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("batch size b (samples, log scale)")
            .y_desc("E‖g_b − ḡ‖² (squared gradient norm, log scale)")
            .y_label_formatter(&|y| format!("{y:.1e}"))
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 15))
            .draw()?;
        let mut epochs: Vec<usize> = self.rows.iter().map(|r| r.0).collect();
        epochs.dedup();
        for (k, &epoch) in epochs.iter().enumerate() {
            let colour = Palette99::pick(k).to_rgba();
            let rows: Vec<&NoiseRow> = self
                .rows
                .iter()
                .filter(|r| r.0 == epoch)
                .map(|r| &r.1)
                .collect();
            let measured: Vec<(f64, f64)> = rows
                .iter()
                .map(|r| (r.batch_size as f64, r.variance))
                .collect();
            chart
                .draw_series(LineSeries::new(measured.clone(), colour.stroke_width(2)))?
                .label(format!("measured after epoch {epoch}"))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                });
            chart.draw_series(
                measured
                    .into_iter()
                    .map(|p| Circle::new(p, 4, colour.filled())),
            )?;
            // The law through the per-sample variance estimated at the smallest batch.
            if let Some(first) = rows.first() {
                let n = first.samples as f64;
                let law = |b: f64| first.trace / b * (n - b) / (n - 1.0);
                let dashes: Vec<(f64, f64)> = (0..=40)
                    .map(|i| x0 * (x1 / x0).powf(f64::from(i) / 40.0))
                    .filter(|&b| b < n)
                    .map(|b| (b, law(b)))
                    .collect();
                chart
                    .draw_series(DashedLineSeries::new(dashes, 6, 4, colour.stroke_width(1)))?
                    .label(format!("tr(Σ)/b law, epoch {epoch}"))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour));
            }
        }
        Ok(legend(&mut chart, SeriesLabelPosition::UpperRight)?)
    }
}

/// The figure of a [`CurvatureMonitor`]: [`CurvatureMonitor::figure`].
pub struct CurvatureFigure<'a> {
    monitor: &'a CurvatureMonitor,
}

impl CurvatureMonitor {
    /// The curvature along the gradient at each measured step against the stability limit
    /// `2/η` of that step's rate, on a log axis; points above the limit are the unstable
    /// ones. For [`crate::plot::render`].
    pub fn figure(&self) -> CurvatureFigure<'_> {
        CurvatureFigure { monitor: self }
    }
}

impl Figure for CurvatureFigure<'_> {
    fn size(&self) -> (u32, u32) {
        SIZE
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), DrawError>
    where
        DB::ErrorType: 'static,
    {
        let rows = self.monitor.rows();
        let along: Vec<(f64, f64, bool)> = rows
            .iter()
            .filter_map(|r| Some((r.step as f64, r.curvature.along_gradient()?, r.unstable())))
            .filter(|p| p.1 > 0.0 && p.1.is_finite())
            .collect();
        let limits: Vec<(f64, f64)> = rows.iter().map(|r| (r.step as f64, r.limit())).collect();
        let values = along.iter().map(|p| p.1).chain(limits.iter().map(|p| p.1));
        let (y0, y1) = log_range(values, (0.1, 10.0));
        let last = rows.last().map_or(1.0, |r| r.step as f64).max(1.0);
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption(
                "curvature along the gradient, gᵀHg / gᵀg, against the stability limit 2/η",
                ("sans-serif", 22),
            )
            .margin(14)
            .x_label_area_size(46)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..last * 1.02, (y0..y1).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("optimizer step")
            .y_desc("curvature (1 / learning-rate units, log scale)")
            .y_label_formatter(&|y| format!("{y:.1e}"))
            .label_style(("sans-serif", 13))
            .axis_desc_style(("sans-serif", 15))
            .draw()?;
        let red = RGBColor(200, 30, 30);
        chart
            .draw_series(LineSeries::new(limits, red.stroke_width(2)))?
            .label("stability limit 2/η")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], red.stroke_width(2)));
        let blue = RGBColor(30, 80, 200);
        let line: Vec<(f64, f64)> = along.iter().map(|p| (p.0, p.1)).collect();
        chart
            .draw_series(LineSeries::new(line, blue.stroke_width(2)))?
            .label("gᵀHg / gᵀg")
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], blue.stroke_width(2))
            });
        let stable = along.iter().filter(|p| !p.2);
        chart.draw_series(stable.map(|p| Circle::new((p.0, p.1), 4, blue.filled())))?;
        let unstable = along.iter().filter(|p| p.2);
        chart
            .draw_series(unstable.map(|p| Cross::new((p.0, p.1), 6, red.stroke_width(2))))?
            .label("above the limit (unstable)")
            .legend(move |(x, y)| Cross::new((x + 9, y), 6, red.stroke_width(2)));
        Ok(legend(&mut chart, SeriesLabelPosition::LowerRight)?)
    }
}
