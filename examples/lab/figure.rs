//! Writing a figure as SVG and PNG from one drawing: a figure draws itself on any plotters
//! backend ([`Figure::draw`]) and `descent::train::plot::render` renders it once per format,
//! written atomically, with the same text rasterizer as the learning curves.

use std::path::{Path, PathBuf};

pub use descent::train::plot::{DrawError as Error, Figure};

/// Writes `<stem>.svg` and `<stem>.png`; the paths written.
pub fn save(stem: &Path, figure: &impl Figure) -> Result<Vec<PathBuf>, Error> {
    let (svg_path, png_path) = (stem.with_extension("svg"), stem.with_extension("png"));
    write(&svg_path, figure)?;
    write(&png_path, figure)?;
    Ok(vec![svg_path, png_path])
}

/// Writes the figure to `path` in the format its extension names (`.svg` or `.png`).
pub fn write(path: &Path, figure: &impl Figure) -> Result<(), Error> {
    descent::train::plot::render(path, figure)?;
    Ok(())
}
