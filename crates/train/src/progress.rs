//! Progress while training: a bar per epoch on a terminal, a plain line every quarter
//! epoch when stderr is not a terminal (a log file, CI), nothing when quiet.

use std::io::IsTerminal;
use std::time::Instant;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// Bars if stderr is a terminal, else plain lines.
    #[default]
    Auto,
    /// A bar per epoch on stderr.
    Bars,
    /// A line on stderr every quarter epoch.
    Lines,
    /// Nothing.
    Quiet,
}

/// Shows one run's progress, epoch by epoch.
#[derive(Debug)]
pub struct ProgressReporter {
    mode: ProgressMode,
    bar: Option<indicatif::ProgressBar>,
    epoch: usize,
    epochs: usize,
    len: usize,
    start: Instant,
}

impl ProgressReporter {
    /// A reporter in `mode` ([`ProgressMode::Auto`] is resolved here, once).
    pub fn new(mode: ProgressMode) -> Self {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bars,
            ProgressMode::Auto => ProgressMode::Lines,
            m => m,
        };
        ProgressReporter {
            mode,
            bar: None,
            epoch: 0,
            epochs: 0,
            len: 0,
            start: Instant::now(),
        }
    }

    /// The mode in effect (never `Auto`).
    pub fn mode(&self) -> ProgressMode {
        self.mode
    }

    /// Starts epoch `epoch` of `epochs`, of `len` steps.
    pub fn start_epoch(&mut self, epoch: usize, epochs: usize, len: usize) {
        (self.epoch, self.epochs, self.len, self.start) = (epoch, epochs, len, Instant::now());
        if self.mode == ProgressMode::Bars {
            let bar = indicatif::ProgressBar::new(len as u64);
            if let Ok(style) = indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {msg}",
            ) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_prefix(format!("epoch {epoch}/{epochs}"));
            self.bar = Some(bar);
        }
    }

    /// After step `step` (from 1) of the epoch, with the epoch's mean loss so far and the
    /// samples seen.
    pub fn step(&mut self, step: usize, mean_loss: f64, samples: usize) {
        let rate = samples as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
        match self.mode {
            ProgressMode::Bars => {
                if let Some(bar) = &self.bar {
                    bar.inc(1);
                    if step % 10 == 1 || step == self.len {
                        bar.set_message(format!("loss {mean_loss:.4} · {rate:.0} samples/s"));
                    }
                }
            }
            ProgressMode::Lines => {
                let quarter = self.len.div_ceil(4).max(1);
                if step.is_multiple_of(quarter) && step < self.len {
                    eprintln!(
                        "epoch {}/{}: step {step}/{}, loss {mean_loss:.4}, {rate:.0} samples/s",
                        self.epoch, self.epochs, self.len
                    );
                }
            }
            _ => {}
        }
    }

    /// Ends the epoch (the bar is cleared: the caller prints the epoch's line).
    pub fn finish_epoch(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }

    /// Leaves the bar where it stopped (the run failed).
    pub fn abandon(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}
