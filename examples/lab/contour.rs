//! What the lab's figures and the `optimizers` example's share: filled contour maps of a
//! function of two variables with a colour bar, the palette and the legend box. Levels are
//! spaced on a log scale from the grid's 2nd percentile to its maximum (evenly when the
//! function goes below zero), so a long flat valley gets as many bands as its steep walls
//! and no level is finer than the grid can resolve; the lines are marching squares on the
//! logarithm of the sampled values (linear interpolation of a log is close to exact for
//! log-spaced levels), with each ambiguous cell resolved by its centre, so lines neither
//! zig-zag along Rosenbrock's valley nor close into spurious small loops.

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

/// Eight colours that stay distinct and visible on white and on the pale contour bands
/// (matplotlib's `tab10` without its grey and olive, with a darker cyan and black-olive).
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(0, 128, 128),
];

/// A chart over `f64 × f64`, as both the lab and the `optimizers` example draw them.
pub type Chart2d<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Contour levels and whether they are spaced on a log scale.
pub struct Levels {
    /// Increasing values.
    pub values: Vec<f64>,
    /// Log-spaced (the colour bar then has log ticks).
    pub log: bool,
}

/// The colour of band `k` of `n + 1` (band 0 lies below the lowest level): viridis,
/// lightened 60% towards white so that every path stays visible over it.
pub fn band_colour(k: usize, n: usize) -> RGBColor {
    const VIRIDIS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    let t = if n == 0 { 0.0 } else { k as f64 / n as f64 } * 4.0;
    let i = (t.floor() as usize).min(3);
    let u = t - i as f64;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    let mix = |x: f64, y: f64| (0.4 * (x + u * (y - x)) + 0.6 * 255.0).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// Fills the bands between `levels` of the sampled function and draws the level lines.
pub fn draw<DB: DrawingBackend>(
    chart: &mut Chart2d<'_, DB>,
    grid: &Grid,
    levels: &Levels,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let n = levels.values.len();
    chart.draw_series(
        grid.bands(levels)
            .into_iter()
            .map(|(rect, k)| Rectangle::new(rect, band_colour(k, n).filled())),
    )?;
    let line = RGBColor(40, 40, 40).mix(0.45).stroke_width(1);
    for &level in &levels.values {
        chart.draw_series(
            grid.contour(level, levels.log)
                .into_iter()
                .map(|s| PathElement::new(vec![s[0], s[1]], line)),
        )?;
    }
    Ok(())
}

/// A vertical colour bar of the bands in `area`, with log₁₀ ticks for log levels.
pub fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    levels: &Levels,
    label: &str,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let v = &levels.values;
    if v.len() < 2 {
        return Ok(());
    }
    let t = |x: f64| if levels.log { x.log10() } else { x };
    let (lo, hi) = (t(v[0]), t(v[v.len() - 1]));
    let mut bar = ChartBuilder::on(area)
        .margin_top(50)
        .margin_bottom(54)
        .margin_right(6)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..1.0, lo..hi)?;
    let log = levels.log;
    let ticks = move |y: &f64| {
        if log {
            format!("1e{}", y.round())
        } else {
            let a = y.abs();
            if a == 0.0 || (0.01..1e4).contains(&a) {
                format!("{y:.2}")
            } else {
                format!("{y:.1e}")
            }
        }
    };
    bar.configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .y_desc(label)
        .axis_desc_style(("sans-serif", 14))
        .label_style(("sans-serif", 12))
        .y_labels(if log {
            ((hi.floor() - lo.ceil()) as usize + 1).max(2)
        } else {
            6
        })
        .y_label_formatter(&ticks)
        .draw()?;
    bar.draw_series(v.windows(2).enumerate().map(|(k, w)| {
        Rectangle::new(
            [(0.0, t(w[0])), (1.0, t(w[1]))],
            band_colour(k + 1, v.len()).filled(),
        )
    }))?;
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

    /// `n` levels: log-spaced from the grid's 2nd percentile to its maximum, or evenly
    /// spaced when the function goes below zero (a saddle).
    pub fn levels(&self, n: usize) -> Levels {
        let mut all: Vec<f64> = self
            .values
            .iter()
            .flatten()
            .copied()
            .filter(|v| v.is_finite())
            .collect();
        all.sort_by(f64::total_cmp);
        let (lo, hi) = match (all.first(), all.last()) {
            (Some(&lo), Some(&hi)) if hi > lo => (lo, hi),
            _ => {
                return Levels {
                    values: Vec::new(),
                    log: false,
                }
            }
        };
        if lo < 0.0 {
            let values = (1..n)
                .map(|i| lo + (hi - lo) * i as f64 / n as f64)
                .collect();
            return Levels { values, log: false };
        }
        let floor = all[all.len() / 50].max(hi * 1e-12);
        let (a, b) = (floor.ln(), hi.ln());
        let values = (0..n)
            .map(|i| (a + (b - a) * i as f64 / (n - 1) as f64).exp())
            .collect();
        Levels { values, log: true }
    }

    /// Runs of cells in one band, row by row: each a rectangle and its band (the number of
    /// levels at or below the cell's centre value, the mean of its corners).
    pub fn bands(&self, levels: &Levels) -> Vec<([(f64, f64); 2], usize)> {
        let (xs, ys, v) = (&self.xs, &self.ys, &self.values);
        let band = |c: f64| levels.values.iter().take_while(|&&l| l <= c).count();
        let mut out = Vec::new();
        for j in 0..ys.len() - 1 {
            let mut run: Option<(usize, usize)> = None;
            for i in 0..xs.len() - 1 {
                let centre = 0.25 * (v[j][i] + v[j][i + 1] + v[j + 1][i] + v[j + 1][i + 1]);
                let k = band(centre);
                match run {
                    Some((_, rk)) if rk == k => {}
                    _ => {
                        if let Some((start, rk)) = run {
                            out.push(([(xs[start], ys[j]), (xs[i], ys[j + 1])], rk));
                        }
                        run = Some((i, k));
                    }
                }
            }
            if let Some((start, rk)) = run {
                out.push(([(xs[start], ys[j]), (xs[xs.len() - 1], ys[j + 1])], rk));
            }
        }
        out
    }

    /// The segments where the grid's interpolant crosses `level`; with `log`, interpolated
    /// in the logarithm of the values (all positive).
    pub fn contour(&self, level: f64, log: bool) -> Vec<[(f64, f64); 2]> {
        let (xs, ys, v) = (&self.xs, &self.ys, &self.values);
        let g = |x: f64| {
            if log {
                x.max(f64::MIN_POSITIVE).ln()
            } else {
                x
            }
        };
        let gl = g(level);
        let mut segs = Vec::new();
        let cross = |a: (f64, f64, f64), b: (f64, f64, f64)| {
            let t = (gl - g(a.2)) / (g(b.2) - g(a.2));
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
                match pts.len() {
                    2 => segs.push([pts[0], pts[1]]),
                    4 => {
                        // A saddle cell: corners 0 and 2 are on one side, 1 and 3 on the
                        // other. If the centre is on corner 0's side, 0 and 2 connect and
                        // the lines cut off corners 1 and 3; else they cut off 0 and 2.
                        let centre = 0.25 * (c[0].2 + c[1].2 + c[2].2 + c[3].2);
                        if (centre < level) == (c[0].2 < level) {
                            segs.push([pts[0], pts[1]]);
                            segs.push([pts[2], pts[3]]);
                        } else {
                            segs.push([pts[3], pts[0]]);
                            segs.push([pts[1], pts[2]]);
                        }
                    }
                    _ => {}
                }
            }
        }
        segs
    }
}
