//! The lab's figures: line charts (with optional log₁₀ axes) and 2-D paths over a contour
//! map, each drawn once for any backend and written as SVG and PNG (`figure::save`).

use crate::contour::{self, PALETTE};
use crate::figure::{self, Figure};
use crate::Common;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::PathBuf;

/// How a series is drawn.
#[derive(Clone, Copy, PartialEq)]
pub enum Style {
    /// A coloured line.
    Line,
    /// Coloured dots, unconnected.
    Dots,
    /// A thin black reference line (a theory curve, a threshold).
    Reference,
}

/// One labelled series.
pub struct Series {
    /// The legend text.
    pub label: String,
    /// The points, in data coordinates.
    pub points: Vec<(f64, f64)>,
    /// How it is drawn.
    pub style: Style,
}

impl Series {
    /// A line.
    pub fn line(label: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            points,
            style: Style::Line,
        }
    }

    /// Dots.
    pub fn dots(label: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            points,
            style: Style::Dots,
        }
    }

    /// A reference line.
    pub fn reference(label: impl Into<String>, points: Vec<(f64, f64)>) -> Series {
        Series {
            label: label.into(),
            points,
            style: Style::Reference,
        }
    }
}

/// A line chart.
pub struct Chart {
    /// The title.
    pub title: String,
    /// The x axis label; `log_x` plots log₁₀ x.
    pub x_label: String,
    /// Whether x is on a log scale.
    pub log_x: bool,
    /// The y axis label.
    pub y_label: String,
    /// Whether y is on a log scale.
    pub log_y: bool,
    /// The series.
    pub series: Vec<Series>,
}

impl Chart {
    /// A chart with linear axes and no series.
    pub fn new(title: impl Into<String>, x_label: &str, y_label: &str) -> Chart {
        Chart {
            title: title.into(),
            x_label: x_label.into(),
            log_x: false,
            y_label: y_label.into(),
            log_y: false,
            series: Vec::new(),
        }
    }

    /// Log₁₀ axes.
    pub fn log(mut self, x: bool, y: bool) -> Chart {
        self.log_x = x;
        self.log_y = y;
        self
    }

    /// Adds a series.
    pub fn with(mut self, series: Series) -> Chart {
        self.series.push(series);
        self
    }

    /// Writes the chart as `<out>/<file>` (SVG) and its PNG beside it; the paths written.
    pub fn save(&self, common: &Common, file: &str) -> Result<Vec<PathBuf>, crate::Error> {
        figure::save(&common.out.join(file), self)
    }
}

impl Figure for Chart {
    fn size(&self) -> (u32, u32) {
        (760, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), crate::Error>
    where
        DB::ErrorType: 'static,
    {
        let tx = |v: f64| if self.log_x { v.log10() } else { v };
        let ty = |v: f64| if self.log_y { v.log10() } else { v };
        let series: Vec<Vec<(f64, f64)>> = self
            .series
            .iter()
            .map(|s| {
                let pts: Vec<(f64, f64)> = s
                    .points
                    .iter()
                    .map(|&(x, y)| (tx(x), ty(y)))
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .collect();
                thin(pts)
            })
            .collect();
        let (xr, yr) = ranges(series.iter().flatten().copied());
        let label = |l: &str, log: bool| {
            if log {
                format!("log₁₀ {l}")
            } else {
                l.to_string()
            }
        };
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_desc(label(&self.x_label, self.log_x))
            .y_desc(label(&self.y_label, self.log_y))
            .axis_desc_style(("sans-serif", 15))
            .draw()?;
        let mut colour = 0;
        for (s, pts) in self.series.iter().zip(series) {
            let c = match s.style {
                Style::Reference => BLACK,
                _ => {
                    colour += 1;
                    PALETTE[(colour - 1) % PALETTE.len()]
                }
            };
            let width = if s.style == Style::Reference { 1 } else { 2 };
            let anno = match s.style {
                Style::Dots => chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 2, c.mix(0.6).filled())))?,
                _ => chart.draw_series(LineSeries::new(pts, c.stroke_width(width)))?,
            };
            anno.label(s.label.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(width))
            });
        }
        contour::legend(&mut chart)?;
        Ok(())
    }
}

/// At most about 600 of `pts`, evenly spaced, keeping the last (a figure stays small and
/// a line with more points than pixels looks the same).
fn thin(pts: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let every = pts.len().div_ceil(600).max(1);
    if every == 1 {
        return pts;
    }
    let last = pts.last().copied();
    let mut out: Vec<(f64, f64)> = pts.into_iter().step_by(every).collect();
    out.extend(last.filter(|l| out.last() != Some(l)));
    out
}

/// The bounding box of `points`, padded by 5% (±1 around a single value).
fn ranges(points: impl Iterator<Item = (f64, f64)>) -> ((f64, f64), (f64, f64)) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in points {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    let pad = |lo: f64, hi: f64| {
        if lo > hi {
            (0.0, 1.0)
        } else if hi - lo < 1e-12 {
            (lo - 1.0, hi + 1.0)
        } else {
            let d = 0.05 * (hi - lo);
            (lo - d, hi + d)
        }
    };
    (pad(x0, x1), pad(y0, y1))
}

/// A path in the plane, for [`paths`].
pub struct Path2d {
    /// The legend text.
    pub label: String,
    /// The iterates.
    pub points: Vec<(f64, f64)>,
}

/// Paths over the contours of `f` in `view`; a path is cut where it leaves the view and
/// marked there with a cross (and `(left the view)` in its legend entry). Written as SVG
/// and PNG; the paths written.
pub fn paths(
    common: &Common,
    file: &str,
    title: &str,
    f: &dyn Fn(f64, f64) -> f64,
    view: ((f64, f64), (f64, f64)),
    paths: &[Path2d],
) -> Result<Vec<PathBuf>, crate::Error> {
    let figure = PathsFigure {
        title,
        f,
        view,
        paths,
    };
    figure::save(&common.out.join(file), &figure)
}

/// What [`paths`] draws.
struct PathsFigure<'a> {
    title: &'a str,
    f: &'a dyn Fn(f64, f64) -> f64,
    view: ((f64, f64), (f64, f64)),
    paths: &'a [Path2d],
}

impl Figure for PathsFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (720, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), crate::Error>
    where
        DB::ErrorType: 'static,
    {
        let ((x0, x1), (y0, y1)) = self.view;
        root.fill(&WHITE)?;
        let grid = contour::Grid::sample(self.f, self.view, 160);
        let levels = grid.levels(14);
        let (plot, bar) = root.split_horizontally(self.size().0 - 80);
        let mut chart = ChartBuilder::on(&plot)
            .caption(self.title, ("sans-serif", 20))
            .margin(14)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("w₁")
            .y_desc("w₂")
            .draw()?;
        contour::draw(&mut chart, &grid, &levels)?;
        contour::colour_bar(&bar, &levels, "f")?;
        let inside = |p: &(f64, f64)| (x0..=x1).contains(&p.0) && (y0..=y1).contains(&p.1);
        for (k, path) in self.paths.iter().enumerate() {
            let c = PALETTE[k % PALETTE.len()];
            let shown: Vec<(f64, f64)> = path.points.iter().copied().take_while(inside).collect();
            let left = shown.len() < path.points.len();
            let shown = thin(shown);
            let label = if left {
                format!("{} (left the view)", path.label)
            } else {
                path.label.clone()
            };
            chart
                .draw_series(LineSeries::new(shown.iter().copied(), c.stroke_width(2)))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            if let Some(&first) = shown.first() {
                chart.draw_series([Circle::new(first, 5, BLACK.stroke_width(1))])?;
            }
            if let (true, Some(&last)) = (left, shown.last()) {
                chart.draw_series([Cross::new(last, 7, c.stroke_width(3))])?;
            }
        }
        contour::legend(&mut chart)?;
        Ok(())
    }
}
