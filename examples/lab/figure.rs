//! Writing a figure as SVG and PNG from one drawing: a figure draws itself on any plotters
//! backend ([`Figure::draw`]), and [`save`] renders it once per format and writes each file
//! atomically (`write_atomic`), so a half-written figure is never left behind. The text is
//! laid out with the system's sans-serif font (plotters' `ttf` engine, through fontconfig).

use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::{Path, PathBuf};

/// Any failure while drawing or writing.
pub type Error = Box<dyn std::error::Error>;

/// Something that draws itself on a drawing area of the given size.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws the whole figure on `root`.
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), Error>
    where
        DB::ErrorType: 'static;
}

/// The figure as an SVG document.
pub fn svg(figure: &impl Figure) -> Result<String, Error> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, figure.size()).into_drawing_area();
        figure.draw(&root)?;
        root.present()?;
    }
    Ok(out)
}

/// The figure as PNG bytes.
pub fn png(figure: &impl Figure) -> Result<Vec<u8>, Error> {
    let (w, h) = figure.size();
    let mut rgb = vec![0u8; 3 * w as usize * h as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        figure.draw(&root)?;
        root.present()?;
    }
    let mut bytes = Vec::new();
    use image::ImageEncoder;
    image::codecs::png::PngEncoder::new(&mut bytes).write_image(
        &rgb,
        w,
        h,
        image::ColorType::Rgb8,
    )?;
    Ok(bytes)
}

/// Writes `<stem>.svg` and `<stem>.png`; the paths written.
pub fn save(stem: &Path, figure: &impl Figure) -> Result<Vec<PathBuf>, Error> {
    let (svg_path, png_path) = (stem.with_extension("svg"), stem.with_extension("png"));
    write(&svg_path, figure)?;
    write(&png_path, figure)?;
    Ok(vec![svg_path, png_path])
}

/// Writes the figure to `path` in the format its extension names (`.svg` or `.png`).
pub fn write(path: &Path, figure: &impl Figure) -> Result<(), Error> {
    let bytes = match path.extension().and_then(|e| e.to_str()) {
        Some("png") => png(figure).map_err(|e| format!("{}: {e}", path.display()))?,
        _ => svg(figure)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .into_bytes(),
    };
    descent::tensor::io::write_atomic(path, &bytes)?;
    Ok(())
}
