//! What the lab's figures and the `optimizers` example's share: contour lines of a function
//! of two variables (marching squares over a sampled grid, with levels spaced on a log
//! scale above the minimum, so a long flat valley gets as many lines as its steep walls),
//! the palette and the legend box.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

/// Ten colours that stay distinct and visible on white (matplotlib's `tab10`).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A chart over `f64 × f64`, as both the lab and the `optimizers` example draw them.
pub type Chart2d<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws `levels` contour lines of `f` over the view, `n × n` cells, shaded light to dark
/// as the value grows.
pub fn draw<DB: DrawingBackend>(
    chart: &mut Chart2d<'_, DB>,
    f: &dyn Fn(f64, f64) -> f64,
    view: ((f64, f64), (f64, f64)),
    n: usize,
    levels: usize,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let grid = Grid::sample(f, view, n);
    let levels = grid.levels(levels);
    for (k, &level) in levels.iter().enumerate() {
        let shade = (225.0 - 150.0 * k as f64 / levels.len() as f64) as u8;
        let colour = RGBColor(shade, shade, 240);
        chart.draw_series(
            grid.contour(level)
                .into_iter()
                .map(|s| PathElement::new(vec![s[0], s[1]], colour.stroke_width(1))),
        )?;
    }
    Ok(())
}

/// The legend: upper right, on a nearly opaque white box with a black border.
pub fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font(("sans-serif", 14))
        .position(SeriesLabelPosition::UpperRight)
        .draw()?;
    Ok(())
}

/// `f` sampled on an `(n + 1) × (n + 1)` grid over a view.
pub struct Grid {
    xs: Vec<f64>,
    ys: Vec<f64>,
    /// `values[j][i] = f(xs[i], ys[j])`.
    values: Vec<Vec<f64>>,
}

impl Grid {
    /// Samples `f` over `view = ((x0, x1), (y0, y1))`.
    pub fn sample(f: &dyn Fn(f64, f64) -> f64, view: ((f64, f64), (f64, f64)), n: usize) -> Grid {
        let ((x0, x1), (y0, y1)) = view;
        let xs: Vec<f64> = (0..=n)
            .map(|i| x0 + (x1 - x0) * i as f64 / n as f64)
            .collect();
        let ys: Vec<f64> = (0..=n)
            .map(|j| y0 + (y1 - y0) * j as f64 / n as f64)
            .collect();
        let values = ys
            .iter()
            .map(|&y| xs.iter().map(|&x| f(x, y)).collect())
            .collect();
        Grid { xs, ys, values }
    }

    /// `n` levels: log-spaced from 10⁻³ above the grid's minimum to its maximum, or evenly
    /// spaced when the function goes below zero (a saddle).
    pub fn levels(&self, n: usize) -> Vec<f64> {
        let (lo, hi) = self
            .values
            .iter()
            .flatten()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        if lo < 0.0 {
            return (1..n)
                .map(|i| lo + (hi - lo) * i as f64 / n as f64)
                .collect();
        }
        let floor = lo + 1e-3;
        let (a, b) = (floor.ln(), hi.ln());
        (0..n)
            .map(|i| (a + (b - a) * i as f64 / (n - 1) as f64).exp())
            .collect()
    }

    /// The segments where the grid's bilinear interpolant crosses `level`.
    pub fn contour(&self, level: f64) -> Vec<[(f64, f64); 2]> {
        let (xs, ys, v) = (&self.xs, &self.ys, &self.values);
        let mut segs = Vec::new();
        let cross = |a: (f64, f64, f64), b: (f64, f64, f64)| {
            let t = (level - a.2) / (b.2 - a.2);
            (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
        };
        for j in 0..ys.len() - 1 {
            for i in 0..xs.len() - 1 {
                let c = [
                    (xs[i], ys[j], v[j][i]),
                    (xs[i + 1], ys[j], v[j][i + 1]),
                    (xs[i + 1], ys[j + 1], v[j + 1][i + 1]),
                    (xs[i], ys[j + 1], v[j + 1][i]),
                ];
                let mut pts = Vec::with_capacity(4);
                for k in 0..4 {
                    let (a, b) = (c[k], c[(k + 1) % 4]);
                    if (a.2 < level) != (b.2 < level) {
                        pts.push(cross(a, b));
                    }
                }
                if pts.len() >= 2 {
                    segs.push([pts[0], pts[1]]);
                }
                if pts.len() == 4 {
                    segs.push([pts[2], pts[3]]);
                }
            }
        }
        segs
    }
}
