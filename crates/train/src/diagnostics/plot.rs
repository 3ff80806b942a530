//! The diagnostics' figures, as SVG text (the caller writes them where it writes its other
//! outputs): the variance-propagation picture — each layer's standard deviation against
//! depth, one line per observed step — and the range test's loss decrease against the
//! rate, coloured by label.

use super::layers::{LayerMonitor, Quantity};
use super::lr_range::{RangeReport, RateLabel};
use crate::error::{Error, Result};
use plotters::prelude::*;

/// The most lines one figure draws; more observed steps are thinned evenly.
const MAX_LINES: usize = 8;

/// One line of a figure: its (epoch, step) and its points.
type Line = ((usize, u64), Vec<(f64, f64)>);

/// A plotters error as the toolkit's.
fn plot_error(figure: &'static str) -> impl Fn(String) -> Error {
    move |why| Error::Figure { figure, why }
}

impl LayerMonitor {
    /// The standard deviation of `quantity` at each layer (in the order the model reported
    /// them) on a log scale, one line per observed step (at most eight, evenly chosen): the
    /// picture of Glorot & Bengio (2010) — flat lines for a well-scaled network, lines that
    /// fall or climb with depth where signals vanish or explode.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if nothing positive was observed for `quantity` (a log
    /// scale needs a positive std); [`Error::Figure`] if drawing fails.
    pub fn std_svg(&self, quantity: Quantity) -> Result<String> {
        let mut layers: Vec<&str> = Vec::new();
        let mut steps: Vec<(usize, u64)> = Vec::new();
        for r in self.rows().iter().filter(|r| r.quantity == quantity) {
            if !layers.contains(&r.layer.as_str()) {
                layers.push(&r.layer);
            }
            if !steps.contains(&(r.epoch, r.step)) {
                steps.push((r.epoch, r.step));
            }
        }
        let stride = steps.len().div_ceil(MAX_LINES).max(1);
        let chosen: Vec<(usize, u64)> = steps.iter().copied().step_by(stride).collect();
        let lines: Vec<Line> = chosen
            .iter()
            .map(|&(epoch, step)| {
                let points = self
                    .rows()
                    .iter()
                    .filter(|r| r.quantity == quantity && (r.epoch, r.step) == (epoch, step))
                    .filter(|r| r.stats.std > 0.0 && r.stats.std.is_finite())
                    .map(|r| {
                        let x = layers.iter().position(|l| *l == r.layer).unwrap_or(0);
                        (x as f64, r.stats.std.log10())
                    })
                    .collect();
                ((epoch, step), points)
            })
            .collect();
        let ys = lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.1));
        let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        });
        if lo > hi {
            return Err(Error::InvalidArgument {
                op: "LayerMonitor::std_svg",
                arg: "quantity",
                value: quantity.name().into(),
                why: "has no positive standard deviation observed".into(),
            });
        }
        let pad = ((hi - lo) * 0.1).max(0.1);
        let title = format!("std of {} by layer", quantity.name().replace('_', " "));
        let err = plot_error("LayerMonitor::std_svg");
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (760, 480)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
            let last = layers.len().saturating_sub(1).max(1) as f64;
            let mut chart = ChartBuilder::on(&root)
                .caption(&title, ("sans-serif", 20))
                .margin(14)
                .x_label_area_size(44)
                .y_label_area_size(64)
                .build_cartesian_2d(-0.2..last + 0.2, (lo - pad)..(hi + pad))
                .map_err(|e| err(e.to_string()))?;
            let name_of = |x: &f64| {
                let i = x.round();
                let near = (x - i).abs() < 1e-6 && i >= 0.0;
                let name = layers.get(i as usize).filter(|_| near);
                name.map_or(String::new(), |n| n.to_string())
            };
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .x_labels(layers.len().max(2) * 4 + 1)
                .x_label_formatter(&name_of)
                .x_desc("layer")
                .y_desc("log₁₀ std")
                .axis_desc_style(("sans-serif", 15))
                .draw()
                .map_err(|e| err(e.to_string()))?;
            for (k, ((epoch, step), points)) in lines.into_iter().enumerate() {
                let colour = Palette99::pick(k).to_rgba();
                let dots = points.clone();
                chart
                    .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                    .map_err(|e| err(e.to_string()))?
                    .label(format!("epoch {epoch}, step {step}"))
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(2))
                    });
                chart
                    .draw_series(dots.into_iter().map(|p| Circle::new(p, 3, colour.filled())))
                    .map_err(|e| err(e.to_string()))?;
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| err(e.to_string()))?;
            root.present().map_err(|e| err(e.to_string()))?;
        }
        Ok(svg)
    }
}

impl RangeReport {
    /// Each rate's `ln(start/end)` against the rate on a log axis, one colour per label,
    /// with the suggested rate marked: the range test as a figure.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a report with no finite trial; [`Error::Figure`] if
    /// drawing fails.
    pub fn svg(&self) -> Result<String> {
        let points: Vec<(f64, f64, RateLabel)> = self
            .trials
            .iter()
            .map(|t| (t.lr.log10(), t.log_decrease(), t.label))
            .filter(|p| p.1.is_finite())
            .collect();
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(x, y, _) in &points {
            (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
        }
        if points.is_empty() {
            return Err(Error::InvalidArgument {
                op: "RangeReport::svg",
                arg: "trials",
                value: self.trials.len().to_string(),
                why: "hold no finite loss".into(),
            });
        }
        let (xp, yp) = (((x1 - x0) * 0.05).max(0.1), ((y1 - y0) * 0.05).max(0.1));
        let err = plot_error("RangeReport::svg");
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (760, 480)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
            let mut chart = ChartBuilder::on(&root)
                .caption("learning-rate range test", ("sans-serif", 20))
                .margin(14)
                .x_label_area_size(44)
                .y_label_area_size(64)
                .build_cartesian_2d((x0 - xp)..(x1 + xp), (y0 - yp)..(y1 + yp))
                .map_err(|e| err(e.to_string()))?;
            chart
                .configure_mesh()
                .light_line_style(WHITE)
                .x_desc("log₁₀ learning rate")
                .y_desc("ln(loss before / loss after)")
                .axis_desc_style(("sans-serif", 15))
                .draw()
                .map_err(|e| err(e.to_string()))?;
            let line: Vec<(f64, f64)> = points.iter().map(|p| (p.0, p.1)).collect();
            chart
                .draw_series(LineSeries::new(line, BLACK.mix(0.3)))
                .map_err(|e| err(e.to_string()))?;
            let labels = [
                (RateLabel::Slow, BLUE),
                (RateLabel::Good, GREEN),
                (RateLabel::Oscillating, MAGENTA),
                (RateLabel::Diverging, RED),
            ];
            for (label, colour) in labels {
                let dots = points.iter().filter(|p| p.2 == label);
                chart
                    .draw_series(dots.map(|p| Circle::new((p.0, p.1), 4, colour.filled())))
                    .map_err(|e| err(e.to_string()))?
                    .label(label.name())
                    .legend(move |(x, y)| Circle::new((x + 9, y), 4, colour.filled()));
            }
            if let Some(lr) = self.suggested() {
                let x = lr.log10();
                chart
                    .draw_series(LineSeries::new(
                        vec![(x, y0 - yp), (x, y1 + yp)],
                        BLACK.stroke_width(1),
                    ))
                    .map_err(|e| err(e.to_string()))?
                    .label(format!("suggested {lr:.3e}"))
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK));
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerLeft)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()
                .map_err(|e| err(e.to_string()))?;
            root.present().map_err(|e| err(e.to_string()))?;
        }
        Ok(svg)
    }
}
