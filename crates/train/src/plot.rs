//! Learning curves as SVG or PNG (by the path's extension), drawn once over any plotters
//! backend: the loss on a log axis with every step's batch loss behind the per-epoch
//! points, the accuracy, the learning rate; the best epoch and an early stop marked; the
//! run's settings in a caption; evaluation on averaged weights labelled as such.
//!
//! SVG text is left to the viewer's fonts. PNG text is rasterized here (plotters' bitmap
//! backend draws no text without a font library) from a TrueType font: `$DESCENT_FONT`, else
//! DejaVu Sans or Arial where the system keeps them.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters_backend::{
    text_anchor::{HPos, VPos},
    BackendColor, BackendCoord, BackendTextStyle, DrawingErrorKind,
};

use crate::checkpoint::Settings;
use crate::metrics::EpochRecord;
use crate::{Error, Result};

/// What to draw.
#[derive(Debug, Clone, Copy)]
pub struct Curves<'a> {
    /// The figure's title.
    pub title: &'a str,
    /// One record per epoch.
    pub history: &'a [EpochRecord],
    /// Every step's batch loss, in order (may be empty).
    pub step_losses: &'a [f64],
    /// What the evaluation ran on: `val`, `test`, ...
    pub eval_name: &'a str,
    /// The averager's spec, when the evaluation ran on averaged weights.
    pub averaged: Option<&'a str>,
    /// The epoch with the best evaluation loss, to mark.
    pub best_epoch: Option<usize>,
    /// The epoch after which early stopping ended the run, to mark.
    pub stopped_early: Option<usize>,
    /// The run's settings, for the caption.
    pub settings: &'a Settings,
}

/// The image kinds [`draw`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// Scalable vector graphics.
    Svg,
    /// A PNG bitmap.
    Png,
}

/// The kind `path` names by its extension.
///
/// # Errors
/// [`Error::Plot`] for any extension but `.svg` and `.png`.
pub fn kind(path: &Path) -> Result<ImageKind> {
    match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("svg") => Ok(ImageKind::Svg),
        Some(e) if e.eq_ignore_ascii_case("png") => Ok(ImageKind::Png),
        _ => Err(Error::Plot {
            path: path.into(),
            why: "give a .svg or .png path".into(),
        }),
    }
}

/// Checks, before training, that `path` names an image kind this build draws and, for a
/// PNG, that a font for its text is found.
///
/// # Errors
/// [`Error::Plot`] naming what is missing.
pub fn check(path: &Path) -> Result<()> {
    if kind(path)? == ImageKind::Png {
        font(path)?;
    }
    Ok(())
}

const SIZE: (u32, u32) = (1200, 900);

/// What a drawing on a plotters backend may fail with.
pub type DrawError = Box<dyn std::error::Error>;

/// A figure that draws itself on any plotters backend, so one drawing gives both the SVG
/// and the PNG ([`render`]).
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws the whole figure on `root`.
    ///
    /// # Errors
    /// Whatever plotters returns.
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError>
    where
        DB::ErrorType: 'static;
}

/// Renders `figure` into `path` in the format its extension names (`.svg` or `.png`),
/// written atomically.
///
/// # Errors
/// [`Error::Plot`] for an unknown extension, a missing font or a drawing failure;
/// [`Error::File`] if the file cannot be written.
pub fn render(path: &Path, figure: &impl Figure) -> Result<()> {
    let fail = |why: String| Error::Plot {
        path: path.into(),
        why,
    };
    let size = figure.size();
    let bytes = match kind(path)? {
        ImageKind::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
                figure.draw(&root).map_err(|e| fail(e.to_string()))?;
                root.present().map_err(|e| fail(e.to_string()))?;
            }
            svg.into_bytes()
        }
        ImageKind::Png => {
            let font = font(path)?;
            let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
            {
                let inner = BitMapBackend::with_buffer(&mut rgb, size);
                let root = TextBitmap { inner, font }.into_drawing_area();
                figure.draw(&root).map_err(|e| fail(e.to_string()))?;
                root.present().map_err(|e| fail(e.to_string()))?;
            }
            png_bytes(&rgb, size).map_err(fail)?
        }
    };
    descent_tensor::io::write_atomic(path, &bytes)?;
    Ok(())
}

/// Draws `curves` into `path` (SVG or PNG), written atomically.
///
/// # Errors
/// As [`render`].
pub fn draw(path: &Path, curves: &Curves<'_>) -> Result<()> {
    render(path, curves)
}

impl Figure for Curves<'_> {
    fn size(&self) -> (u32, u32) {
        SIZE
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), DrawError>
    where
        DB::ErrorType: 'static,
    {
        Ok(figure(root, self)?)
    }
}

fn png_bytes(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Anything a plotters call returns, as text.
fn s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

fn figure<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, c: &Curves<'_>) -> Result<(), String> {
    root.fill(&WHITE).map_err(s)?;
    let body = root.titled(c.title, ("sans-serif", 26)).map_err(s)?;
    // The caption: the settings, wrapped.
    let mut lines = vec![String::new()];
    for (name, value) in c.settings.iter() {
        let item = format!("{name} {value}");
        let last = lines.last_mut().expect("one line");
        if !last.is_empty() && last.len() + item.len() > 150 {
            lines.push(item);
        } else {
            if !last.is_empty() {
                last.push_str(" · ");
            }
            last.push_str(&item);
        }
    }
    let (_, h) = body.dim_in_pixel();
    let caption_h = 20 * lines.len() as u32 + 10;
    let (plots, caption) = body.split_vertically(h.saturating_sub(caption_h));
    for (i, line) in lines.iter().enumerate() {
        caption
            .draw(&Text::new(
                line.clone(),
                (12, 4 + 20 * i as i32),
                ("sans-serif", 14).into_font().color(&BLACK.mix(0.8)),
            ))
            .map_err(s)?;
    }
    let (_, ph) = plots.dim_in_pixel();
    let (top, bottom) = plots.split_vertically(ph * 2 / 3);
    let has_acc = c
        .history
        .iter()
        .any(|r| r.train_acc.is_some() || r.eval_acc.is_some());
    if has_acc {
        let (w, _) = top.dim_in_pixel();
        let (left, right) = top.split_horizontally(w / 2);
        loss_panel(&left, c)?;
        accuracy_panel(&right, c)?;
    } else {
        loss_panel(&top, c)?;
    }
    lr_panel(&bottom, c)?;
    root.present().map_err(s)?;
    Ok(())
}

fn eval_label(c: &Curves<'_>) -> String {
    match c.averaged {
        Some(spec) => format!("{} ({spec} averaged weights)", c.eval_name),
        None => c.eval_name.to_string(),
    }
}

fn epochs(c: &Curves<'_>) -> f64 {
    c.history.last().map_or(1, |r| r.epoch).max(1) as f64
}

/// The per-epoch training and evaluation series, as lines through points.
fn train_and_eval<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    c: &Curves<'_>,
    train: Vec<(f64, f64)>,
    eval: Vec<(f64, f64)>,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let eval_name = eval_label(c);
    for (label, color, points) in [("train", BLUE, train), (eval_name.as_str(), RED, eval)] {
        if points.is_empty() {
            continue;
        }
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))
            .map_err(s)?
            .label(label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 4, color.filled())),
            )
            .map_err(s)?;
    }
    Ok(())
}

/// Vertical lines at the best epoch and the early stop, over `lo..hi`.
fn marks<'a, DB: DrawingBackend + 'a, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    c: &Curves<'_>,
    lo: f64,
    hi: f64,
) -> Result<(), String>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let green = RGBColor(0, 140, 60);
    if let Some(b) = c.best_epoch {
        let x = b as f64;
        chart
            .draw_series(LineSeries::new([(x, lo), (x, hi)], green.stroke_width(2)))
            .map_err(s)?
            .label(format!("best epoch {b}"))
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], green.stroke_width(2)));
    }
    if let Some(e) = c.stopped_early {
        let x = e as f64;
        chart
            .draw_series(LineSeries::new([(x, lo), (x, hi)], BLACK.stroke_width(2)))
            .map_err(s)?
            .label(format!("early stop after epoch {e}"))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK.stroke_width(2)));
    }
    Ok(())
}

/// The legend box every figure uses, at `at`.
pub(crate) fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    at: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(at)
        .border_style(BLACK)
        .background_style(WHITE.mix(0.85))
        .label_font(("sans-serif", 14))
        .draw()
        .map_err(s)
}

fn loss_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &Curves<'_>,
) -> Result<(), String> {
    let per_epoch = c.history.first().map_or(1, |r| r.step.max(1)) as f64;
    let steps: Vec<(f64, f64)> = c
        .step_losses
        .iter()
        .enumerate()
        .map(|(i, &l)| ((i + 1) as f64 / per_epoch, l))
        .filter(|p| p.1 > 0.0 && p.1.is_finite())
        .collect();
    let train: Vec<(f64, f64)> = c
        .history
        .iter()
        .map(|r| (r.epoch as f64, r.train_loss))
        .collect();
    let eval: Vec<(f64, f64)> = c
        .history
        .iter()
        .filter_map(|r| Some((r.epoch as f64, r.eval_loss?)))
        .collect();
    let all = steps.iter().chain(&train).chain(&eval).map(|p| p.1);
    let positive: Vec<f64> = all.filter(|v| *v > 0.0 && v.is_finite()).collect();
    let lo = positive.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = positive.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() {
        (lo / 1.3, hi * 1.3)
    } else {
        (0.1, 10.0)
    };
    let mut chart = ChartBuilder::on(area)
        .caption("loss (log scale)", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(65)
        .build_cartesian_2d(0.0..epochs(c), (lo..hi).log_scale())
        .map_err(s)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("loss")
        .y_label_formatter(&|y| format!("{y:.3}"))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(s)?;
    let grey = RGBColor(160, 160, 160);
    if !steps.is_empty() {
        chart
            .draw_series(LineSeries::new(steps, grey.stroke_width(1)))
            .map_err(s)?
            .label("train, each step")
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], grey));
    }
    train_and_eval(&mut chart, c, train, eval)?;
    marks(&mut chart, c, lo, hi)?;
    legend(&mut chart, SeriesLabelPosition::UpperRight)
}

fn accuracy_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &Curves<'_>,
) -> Result<(), String> {
    let pick = |f: fn(&EpochRecord) -> Option<f64>| -> Vec<(f64, f64)> {
        c.history
            .iter()
            .filter_map(|r| Some((r.epoch as f64, 100.0 * f(r)?)))
            .collect()
    };
    let (train, eval) = (pick(|r| r.train_acc), pick(|r| r.eval_acc));
    let values = train.iter().chain(&eval).map(|p| p.1);
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.08).max(0.5);
    let (lo, hi) = ((lo - pad).max(0.0), (hi + pad).min(100.0));
    let mut chart = ChartBuilder::on(area)
        .caption("accuracy", ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(65)
        .build_cartesian_2d(0.0..epochs(c), lo..hi)
        .map_err(s)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("accuracy (%)")
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(s)?;
    train_and_eval(&mut chart, c, train, eval)?;
    marks(&mut chart, c, lo, hi)?;
    legend(&mut chart, SeriesLabelPosition::LowerRight)
}

fn lr_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    c: &Curves<'_>,
) -> Result<(), String> {
    let points: Vec<(f64, f64)> = c.history.iter().map(|r| (r.epoch as f64, r.lr)).collect();
    let hi = points.iter().map(|p| p.1).fold(0.0, f64::max);
    let hi = if hi > 0.0 { hi * 1.1 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(
            "learning rate (at each epoch's last step)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(65)
        .build_cartesian_2d(0.0..epochs(c), 0.0..hi)
        .map_err(s)?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc("lr")
        .y_label_formatter(&|y| format!("{y:.1e}"))
        .label_style(("sans-serif", 13))
        .axis_desc_style(("sans-serif", 15))
        .draw()
        .map_err(s)?;
    let purple = RGBColor(120, 40, 160);
    chart
        .draw_series(LineSeries::new(points.clone(), purple.stroke_width(2)))
        .map_err(s)?;
    chart
        .draw_series(
            points
                .into_iter()
                .map(|p| Circle::new(p, 3, purple.filled())),
        )
        .map_err(s)?;
    Ok(())
}

/// The PNG's font, read once.
fn font(path: &Path) -> Result<ab_glyph::FontArc> {
    static FONT: OnceLock<Option<ab_glyph::FontArc>> = OnceLock::new();
    let candidates = || -> Vec<PathBuf> {
        let mut c: Vec<PathBuf> = std::env::var_os("DESCENT_FONT")
            .map(PathBuf::from)
            .into_iter()
            .collect();
        c.extend(
            [
                "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                "/usr/share/fonts/TTF/DejaVuSans.ttf",
                "/usr/share/fonts/dejavu/DejaVuSans.ttf",
                "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
                "/usr/local/share/fonts/DejaVuSans.ttf",
                "/System/Library/Fonts/Supplemental/Arial.ttf",
                "/Library/Fonts/Arial.ttf",
                "C:\\Windows\\Fonts\\arial.ttf",
            ]
            .map(PathBuf::from),
        );
        c
    };
    let found = FONT.get_or_init(|| {
        candidates().into_iter().find_map(|p| {
            let bytes = std::fs::read(p).ok()?;
            ab_glyph::FontArc::try_from_vec(bytes).ok()
        })
    });
    found.clone().ok_or_else(|| Error::Plot {
        path: path.into(),
        why: format!(
            "a PNG needs a TrueType font for its text and none was found (looked in {}); set \
             DESCENT_FONT to a .ttf file, or give a .svg path",
            candidates()
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    })
}

/// plotters' bitmap backend with text drawn by ab_glyph.
struct TextBitmap<'a> {
    inner: BitMapBackend<'a>,
    font: ab_glyph::FontArc,
}

type Drawn<E> = std::result::Result<(), DrawingErrorKind<E>>;

impl TextBitmap<'_> {
    /// Each covered pixel of `text` at `size` px, relative to the text's top left, and the
    /// text's width and height.
    fn raster(&self, text: &str, size: f64) -> (Vec<(i32, i32, f32)>, i32, i32) {
        use ab_glyph::{Font, ScaleFont};
        let font = self.font.as_scaled(size as f32);
        let ascent = font.ascent();
        let (mut x, mut prev, mut pixels) = (0f32, None, Vec::new());
        for ch in text.chars() {
            let id = font.glyph_id(ch);
            if let Some(p) = prev {
                x += font.kern(p, id);
            }
            let glyph = id.with_scale_and_position(size as f32, ab_glyph::point(x, ascent));
            if let Some(outline) = self.font.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, cov| {
                    pixels.push((b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32, cov));
                });
            }
            x += font.h_advance(id);
            prev = Some(id);
        }
        let height = (font.ascent() - font.descent()).ceil() as i32;
        (pixels, x.ceil() as i32, height)
    }
}

impl DrawingBackend for TextBitmap<'_> {
    type ErrorType = <BitMapBackend<'static> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.inner.get_size()
    }

    fn ensure_prepared(&mut self) -> Drawn<Self::ErrorType> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Drawn<Self::ErrorType> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Drawn<Self::ErrorType> {
        self.inner.draw_pixel(point, color)
    }

    fn draw_text<TStyle: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &TStyle,
        pos: BackendCoord,
    ) -> Drawn<Self::ErrorType> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let (pixels, width, height) = self.raster(text, style.size());
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        for (x, y, cov) in pixels {
            let (x, y) = trans.transform(x + dx, y + dy);
            let (x, y) = (pos.0 + x, pos.1 + y);
            if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                let c = BackendColor {
                    alpha: color.alpha * f64::from(cov.min(1.0)),
                    rgb: color.rgb,
                };
                self.inner.draw_pixel((x, y), c)?;
            }
        }
        Ok(())
    }

    fn estimate_text_size<TStyle: BackendTextStyle>(
        &self,
        text: &str,
        style: &TStyle,
    ) -> std::result::Result<(u32, u32), DrawingErrorKind<Self::ErrorType>> {
        let (_, width, height) = self.raster(text, style.size());
        Ok((width.max(0) as u32, height.max(0) as u32))
    }
}
