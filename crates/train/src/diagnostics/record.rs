//! Writing a diagnostic where a run writes its other outputs: its rows as CSV and its
//! figure as SVG or PNG ([`Report`]), after every epoch when it runs as a hook
//! ([`Recorder`]), so a long or failed run leaves what was measured on disk.

use std::path::{Path, PathBuf};

use descent_tensor::Float;

use super::{CurvatureMonitor, LayerMonitor, NoiseFigure, NoiseMonitor, RangeReport};
use crate::evaluate::Task;
use crate::hooks::{EpochInfo, Hook, StepInfo};
use crate::plot::render;
use crate::Result;

/// A diagnostic's output: CSV rows and a figure.
pub trait Report {
    /// The rows as CSV, header first.
    fn to_csv(&self) -> String;

    /// Whether nothing was measured yet (then there is no figure to draw).
    fn is_empty(&self) -> bool;

    /// Draws the figure into `path`, SVG or PNG by its extension.
    ///
    /// # Errors
    /// [`crate::plot::render`]'s.
    fn render(&self, path: &Path) -> Result<()>;

    /// Writes the CSV to `csv` (atomically) and, once something was measured, the figure
    /// to `figure`.
    ///
    /// # Errors
    /// [`crate::Error::File`] if the CSV cannot be written; [`Report::render`]'s.
    fn write(&self, csv: &Path, figure: Option<&Path>) -> Result<()> {
        descent_tensor::io::write_atomic(csv, self.to_csv().as_bytes())?;
        match figure {
            Some(path) if !self.is_empty() => self.render(path),
            _ => Ok(()),
        }
    }
}

impl Report for LayerMonitor {
    fn to_csv(&self) -> String {
        LayerMonitor::to_csv(self)
    }

    fn is_empty(&self) -> bool {
        self.rows().is_empty()
    }

    fn render(&self, path: &Path) -> Result<()> {
        render(path, &self.figure())
    }
}

impl Report for CurvatureMonitor {
    fn to_csv(&self) -> String {
        CurvatureMonitor::to_csv(self)
    }

    fn is_empty(&self) -> bool {
        self.rows().is_empty()
    }

    fn render(&self, path: &Path) -> Result<()> {
        render(path, &self.figure())
    }
}

impl<F: Float, Y: descent_data::Targets<F>, T: Task<F, Y>> Report for NoiseMonitor<F, Y, T> {
    fn to_csv(&self) -> String {
        NoiseMonitor::to_csv(self)
    }

    fn is_empty(&self) -> bool {
        self.rows().is_empty()
    }

    fn render(&self, path: &Path) -> Result<()> {
        render(path, &NoiseFigure::new(self.rows()))
    }
}

impl Report for RangeReport {
    fn to_csv(&self) -> String {
        RangeReport::to_csv(self)
    }

    fn is_empty(&self) -> bool {
        self.trials.is_empty()
    }

    fn render(&self, path: &Path) -> Result<()> {
        render(path, &self.figure())
    }
}

/// A diagnostic hook that writes its [`Report`] after every epoch: attach it in one line,
/// `trainer.hook(Recorder::new(LayerMonitor::new().every(100), "layers.csv").figure("layers.png"))`.
///
/// ```
/// use descent_data::{DataLoader, Dataset};
/// use descent_nn::Linear;
/// use descent_tensor::Tensor;
/// use descent_train::diagnostics::{CurvatureMonitor, Recorder};
/// use descent_train::{evaluate::Regression, Trainer};
/// let dir = std::env::temp_dir().join(format!("descent-doc-recorder-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let x = Tensor::<f64>::randn(&[16, 2], 0.0, 1.0, &mut rand::rng())?;
/// let data = Dataset::new(x.clone(), x.sum(&[1], true)?)?;
/// let model = Linear::<f64>::new(2, 1, &mut rand::rng())?;
/// let curvature = Recorder::new(CurvatureMonitor::new(2)?, dir.join("c.csv")).figure(dir.join("c.svg"));
/// let mut trainer = Trainer::new(model, "sgd:lr=0.1", DataLoader::new(data, 4)?, Regression)?
///     .print_epochs(false)
///     .hook(curvature);
/// trainer.fit()?;
/// assert_eq!(std::fs::read_to_string(dir.join("c.csv"))?.lines().count(), 1 + 2);
/// assert!(std::fs::read_to_string(dir.join("c.svg"))?.contains("stability limit"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Recorder<D> {
    inner: D,
    csv: PathBuf,
    figure: Option<PathBuf>,
}

impl<D: Report> Recorder<D> {
    /// Runs `inner` and writes its CSV to `csv` after every epoch.
    pub fn new(inner: D, csv: impl Into<PathBuf>) -> Self {
        Recorder {
            inner,
            csv: csv.into(),
            figure: None,
        }
    }

    /// Also draws its figure into `path` (SVG or PNG) after every epoch.
    pub fn figure(mut self, path: impl Into<PathBuf>) -> Self {
        self.figure = Some(path.into());
        self
    }

    /// The diagnostic.
    pub fn inner(&self) -> &D {
        &self.inner
    }
}

impl<F: Float, D: Report + Hook<F>> Hook<F> for Recorder<D> {
    fn on_step(&mut self, info: &StepInfo<'_, F>) -> Result<()> {
        self.inner.on_step(info)
    }

    fn on_epoch(&mut self, info: &EpochInfo<'_, F>) -> Result<()> {
        self.inner.on_epoch(info)?;
        self.inner.write(&self.csv, self.figure.as_deref())
    }
}
