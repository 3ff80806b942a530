//! What a run measured, per epoch ([`EpochRecord`]) and per step, and the
//! [`MetricsLogger`] that writes it as CSV or as JSON lines.
//!
//! Rows are held until their epoch ends and then written together with it, after the
//! epoch's checkpoint, so the file never holds an epoch the checkpoint lacks; a resumed run
//! drops any rows past the checkpoint's epoch and appends, so each row appears once.
//!
//! ```
//! use descent_train::metrics::{EpochRecord, MetricsLogger};
//! let dir = std::env::temp_dir().join(format!("descent-doc-metrics-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("m.jsonl");
//! let mut log = MetricsLogger::create(&path)?;
//! log.step(1, 1, 2.5, Some(2.5), 0.1);
//! log.epoch(&EpochRecord { epoch: 1, step: 1, train_loss: 2.5, lr: 0.1, ..Default::default() })?;
//! let text = std::fs::read_to_string(&path)?;
//! assert!(text.lines().nth(1).unwrap().starts_with(r#"{"kind":"epoch","epoch":1,"step":1,"train_loss":2.5"#));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// One epoch's results. Fields that a run did not measure (accuracy for a regression,
/// evaluation without a validation set) are `None`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EpochRecord {
    /// The epoch, counted from 1.
    pub epoch: usize,
    /// Optimizer steps over the whole run at the epoch's end.
    pub step: usize,
    /// Mean training loss over the epoch's samples.
    pub train_loss: f64,
    /// Training accuracy, in [0, 1].
    pub train_acc: Option<f64>,
    /// Evaluation loss.
    pub eval_loss: Option<f64>,
    /// Evaluation accuracy, in [0, 1].
    pub eval_acc: Option<f64>,
    /// Whether the evaluation ran on averaged weights rather than the model's own.
    pub averaged: bool,
    /// The learning rate of the epoch's last step (group 0).
    pub lr: f64,
    /// Wall-clock seconds of the epoch's training.
    pub seconds: f64,
}

/// The columns of a CSV file, in order.
pub const CSV_HEADER: &str =
    "kind,epoch,step,train_loss,running_loss,train_acc,eval_loss,eval_acc,eval_weights,lr,seconds";

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn json_num(v: Option<f64>) -> String {
    match v {
        Some(x) if x.is_finite() => format!("{x:?}"),
        _ => "null".into(),
    }
}

impl EpochRecord {
    /// The fields, comma-separated, numbers in shortest round-trip form (how a checkpoint
    /// keeps the history, so a resumed run reports the same numbers).
    pub fn to_record(&self) -> String {
        format!(
            "{},{},{},{},{},{},{},{},{}",
            self.epoch,
            self.step,
            self.train_loss,
            opt(self.train_acc),
            opt(self.eval_loss),
            opt(self.eval_acc),
            u8::from(self.averaged),
            self.lr,
            self.seconds
        )
    }

    /// Parses [`EpochRecord::to_record`]'s text; `None` if it is not one.
    pub fn from_record(r: &str) -> Option<Self> {
        let f: Vec<&str> = r.split(',').collect();
        let [epoch, step, train_loss, train_acc, eval_loss, eval_acc, averaged, lr, seconds] =
            f[..]
        else {
            return None;
        };
        let num = |s: &str| s.parse::<f64>().ok();
        let maybe = |s: &str| {
            if s.is_empty() {
                Some(None)
            } else {
                num(s).map(Some)
            }
        };
        Some(EpochRecord {
            epoch: epoch.parse().ok()?,
            step: step.parse().ok()?,
            train_loss: num(train_loss)?,
            train_acc: maybe(train_acc)?,
            eval_loss: maybe(eval_loss)?,
            eval_acc: maybe(eval_acc)?,
            averaged: averaged == "1",
            lr: num(lr)?,
            seconds: num(seconds)?,
        })
    }
}

/// The file format, chosen by the extension: `.jsonl`, `.ndjson` and `.json` are JSON lines,
/// anything else CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A header line, then one comma-separated row per epoch or logged step.
    Csv,
    /// One JSON object per line, `null` for what was not measured.
    JsonLines,
}

impl Format {
    /// The format `path`'s extension names.
    pub fn of(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson" | "json") => Format::JsonLines,
            _ => Format::Csv,
        }
    }
}

/// Writes per-epoch and per-step metrics to a CSV or JSON-lines file ([`Format::of`]).
#[derive(Debug)]
pub struct MetricsLogger {
    path: PathBuf,
    format: Format,
    out: std::io::BufWriter<std::fs::File>,
    pending: Vec<String>,
}

impl MetricsLogger {
    /// A new file (any old one replaced), holding only the CSV header.
    ///
    /// # Errors
    /// [`Error::File`] if it cannot be written.
    pub fn create(path: &Path) -> Result<Self> {
        Self::open(path, None)
    }

    /// Continues the file of a run resumed after `epochs_done` epochs: keeps its rows of
    /// those epochs, drops any later ones (a run that went on past the checkpoint), and
    /// appends. A missing file is created.
    ///
    /// # Errors
    /// [`Error::File`] if it cannot be read or written.
    pub fn resume(path: &Path, epochs_done: usize) -> Result<Self> {
        Self::open(path, Some(epochs_done))
    }

    fn open(path: &Path, resume: Option<usize>) -> Result<Self> {
        let format = Format::of(path);
        let mut kept = Vec::new();
        if format == Format::Csv {
            kept.push(CSV_HEADER.to_string());
        }
        if let (Some(done), true) = (resume, path.exists()) {
            let old = std::fs::read_to_string(path).map_err(|e| Error::os(path, e))?;
            let rows = old.lines().filter(|row| {
                let epoch = match format {
                    Format::Csv => row.split(',').nth(1).and_then(|e| e.parse::<usize>().ok()),
                    Format::JsonLines => row
                        .split_once("\"epoch\":")
                        .and_then(|(_, r)| r.split(',').next()?.parse::<usize>().ok()),
                };
                epoch.is_some_and(|e| e <= done)
            });
            kept.extend(rows.map(str::to_string));
        }
        let mut text = kept.join("\n");
        if !text.is_empty() {
            text.push('\n');
        }
        descent_tensor::io::write_atomic(path, text.as_bytes())?;
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map_err(|e| Error::os(path, e))?;
        Ok(MetricsLogger {
            path: path.to_path_buf(),
            format,
            out: std::io::BufWriter::new(file),
            pending: Vec::new(),
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Holds a step's row (written with its epoch's): the batch loss at global `step`, and
    /// the running average of the batch losses so far
    /// ([`crate::diagnostics::RunningLoss`]), whose trend a single noisy batch hides.
    pub fn step(&mut self, epoch: usize, step: usize, loss: f64, running: Option<f64>, lr: f64) {
        let row = match self.format {
            Format::Csv => format!("step,{epoch},{step},{loss},{},,,,,{lr},", opt(running)),
            Format::JsonLines => format!(
                r#"{{"kind":"step","epoch":{epoch},"step":{step},"train_loss":{},"running_loss":{},"lr":{}}}"#,
                json_num(Some(loss)),
                json_num(running),
                json_num(Some(lr))
            ),
        };
        self.pending.push(row);
    }

    /// Writes the epoch's held step rows and its own row, and flushes.
    ///
    /// # Errors
    /// [`Error::File`] if the file cannot be written.
    pub fn epoch(&mut self, r: &EpochRecord) -> Result<()> {
        let weights = if r.averaged { "average" } else { "model" };
        let row = match self.format {
            Format::Csv => format!(
                "epoch,{},{},{},,{},{},{},{weights},{},{}",
                r.epoch,
                r.step,
                r.train_loss,
                opt(r.train_acc),
                opt(r.eval_loss),
                opt(r.eval_acc),
                r.lr,
                r.seconds
            ),
            Format::JsonLines => {
                let mut s = format!(
                    r#"{{"kind":"epoch","epoch":{},"step":{},"train_loss":{}"#,
                    r.epoch,
                    r.step,
                    json_num(Some(r.train_loss))
                );
                let _ = write!(
                    s,
                    r#","train_acc":{},"eval_loss":{},"eval_acc":{},"eval_weights":"{weights}","lr":{},"seconds":{}}}"#,
                    json_num(r.train_acc),
                    json_num(r.eval_loss),
                    json_num(r.eval_acc),
                    json_num(Some(r.lr)),
                    json_num(Some(r.seconds))
                );
                s
            }
        };
        self.pending.push(row);
        let written = self
            .pending
            .iter()
            .try_for_each(|row| writeln!(self.out, "{row}"))
            .and_then(|()| self.out.flush());
        written.map_err(|e| Error::os(&self.path, e))?;
        self.pending.clear();
        Ok(())
    }
}
