//! A training program's command line, for any model: [`TrainArgs`], the flags every
//! training run shares, to `#[command(flatten)]` into a program's own clap `Parser`;
//! [`parse`], which lets `--resume` take the checkpoint's settings for every flag not
//! given; [`TrainArgs::check`] (every output writable, no two the same file, the flags
//! agreeing) before any work; [`TrainArgs::split`] (training subset, validation split,
//! input normalization fitted on the training images); and [`run`], which trains, writes
//! what the flags ask for and prints the result. A program keeps its model, its data and
//! the flags that shape them.
//!
//! ```no_run
//! use clap::Parser;
//! use descent_data::Dataset;
//! use descent_nn::Linear;
//! use descent_train::checkpoint::Settings;
//! use descent_train::cli::{self, Flag, Program, TrainArgs};
//! use descent_train::evaluate::Classification;
//!
//! /// Trains a linear classifier on random points, as a minimal training program.
//! #[derive(Parser)]
//! struct Args {
//!     /// Input features.
//!     #[arg(long, default_value_t = 4)]
//!     features: usize,
//!     #[command(flatten)]
//!     train: TrainArgs,
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let args: Args = cli::parse::<f32, Args>(&[Flag::value("features", "features")], |c| c);
//!     args.train.check()?;
//!     let mut rng = rand::rng();
//!     let mut points = |n| -> Result<Dataset<f32>, Box<dyn std::error::Error>> {
//!         let x = descent_tensor::Tensor::randn(&[n, args.features], 0.0, 1.0, &mut rng)?;
//!         let labels = x.to_vec().chunks(args.features).map(|r| usize::from(r[0] > 0.0)).collect();
//!         Ok(Dataset::new(x, labels)?)
//!     };
//!     let (train, test) = (points(1000)?, points(200)?);
//!     let data = args.train.split(train, test)?;
//!     let model = Linear::new(args.features, 2, &mut rand::rng())?;
//!     let program = Program {
//!         name: "linear",
//!         title: "random points".into(),
//!         settings: Settings::new().with("features", args.features),
//!         describe: String::new(),
//!         epochs: 5,
//!         batch_size: 32,
//!     };
//!     cli::run(&args.train, model, data, Classification, program)?;
//!     Ok(())
//! }
//! ```

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::RangedU64ValueParser;
use clap::parser::ValueSource;
use clap::{Command, CommandFactory, FromArgMatches, ValueEnum};
use descent_data::transforms::{Standardize, Whiten, Whitening};
use descent_data::{DataLoader, Dataset, Targets};
use descent_nn::Module;
use descent_optim::first_order::{parse_schedule, Averager};
use descent_tensor::Float;

use crate::checkpoint::{Checkpointer, Settings};
use crate::diagnostics::{
    CurvatureMonitor, LayerMonitor, NoiseMonitor, RangeTest, RateLabel, Recorder, Report,
};
use crate::evaluate::{evaluate, Task};
use crate::progress::ProgressMode;
use crate::{Error, Result, SchedulePer, Trainer};

/// The flags every training program shares. Each is checked as it is parsed; what
/// parsing alone cannot see is checked by [`TrainArgs::check`].
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// Optimizer spec, e.g. `adam:lr=1e-3`, `sgd:lr=0.1,momentum=0.9,nesterov=true`,
    /// `rprop:variant=irprop+`; any of sgd, adagrad, rmsprop, adadelta, adam, adamw, adamax,
    /// nadam, rprop.
    #[arg(long, default_value = "adam:lr=1e-3", value_parser = check_optimizer)]
    pub optimizer: String,
    /// Learning-rate schedule, a spec such as `step:step_size=3,gamma=0.1` or
    /// `plateau:patience=2`, or `none` for a constant rate. Default: cosine annealing from
    /// the optimizer's lr to 0 over the run (`cosine:T_max=EPOCHS`, or EPOCHS × batches per
    /// epoch with `--schedule-per step`).
    #[arg(long, value_parser = check_schedule)]
    pub schedule: Option<String>,
    /// Whether the schedule's `t` counts epochs or optimizer steps (plateau: epochs only).
    #[arg(long, value_enum, default_value_t = SchedulePer::Epoch)]
    pub schedule_per: SchedulePer,
    /// Passes over the training set (1 to 100000). Default: the program's.
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=100_000))]
    pub epochs: Option<usize>,
    /// Mini-batch size (1 to 1000000). Default: the program's.
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000))]
    pub batch_size: Option<usize>,
    /// Input normalization fitted on the training inputs and applied to every split:
    /// inputs as loaded (`none`), per-feature standardization, or PCA or ZCA whitening.
    #[arg(long, value_enum, default_value_t = Normalize::None)]
    pub whiten: Normalize,
    /// ε added to the covariance's eigenvalues for `--whiten pca|zca` (features of zero
    /// variance, such as MNIST's blank border pixels, need it); finite, > 0.
    #[arg(long, default_value_t = 0.1, value_parser = check_positive)]
    pub whiten_eps: f64,
    /// Clip the gradients' global 2-norm to this value before each step (torch's
    /// `clip_grad_norm_`); finite, > 0.
    #[arg(long, value_parser = check_positive)]
    pub clip_norm: Option<f64>,
    /// Visit the training samples in file order every epoch instead of a seeded shuffle
    /// (the lectures' cyclic order).
    #[arg(long)]
    pub no_shuffle: bool,
    /// Seed for initialization, shuffling, dropout and the validation split.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Threads for the kernels, 1 to 1024 (default: all cores).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub threads: Option<usize>,
    /// Evaluate (and save) averaged weights: `ema:0.999` (EMA with that decay) or `poly:3`
    /// (polynomial-decay averaging with γ = 3; `poly:0` is the plain mean).
    #[arg(long, value_parser = check_average)]
    pub average: Option<String>,
    /// Stop when the validation loss has not improved for this many epochs, and restore
    /// the best epoch's weights (needs a validation set: --val, else 5000 samples, at most
    /// a tenth of the training set).
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000_000))]
    pub early_stopping: Option<usize>,
    /// Hold out this many training samples for validation.
    #[arg(long, default_value_t = 0)]
    pub val: usize,
    /// Train on the first N training samples only (quick runs); N ≥ 1.
    #[arg(long, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000_000))]
    pub limit_train: Option<usize>,
    /// Write the final weights (safetensors, PyTorch's names).
    #[arg(long)]
    pub save: Option<PathBuf>,
    /// Write a checkpoint (model, optimizer, averaging, epoch, history) after every epoch.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Continue from a checkpoint written by --checkpoint, with its settings for every flag
    /// not given again.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Write per-epoch and every-N-steps metrics as CSV (JSON lines for `.jsonl`), the step
    /// rows with a running average of the batch loss (on resume, rows after the
    /// checkpoint's epoch are dropped and the new ones appended).
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// Steps between rows of step metrics in --metrics (≥ 1).
    #[arg(long, default_value_t = 100, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1_000_000_000))]
    pub metrics_every: usize,
    /// Draw the learning curves (loss, accuracy, learning rate) into this SVG or PNG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
    /// Measure while training, comma-separated: `layers` (each layer's activation and
    /// gradient statistics, dead ReLUs), `noise` (the mini-batch gradient's variance
    /// against batch size, after each epoch), `curvature` (gᵀHg/gᵀg against 2/lr). Each
    /// writes a CSV beside --metrics (`M.layers.csv`, ...) and, with --plot, a figure beside
    /// it (`P.layers.svg`, ...), after every epoch.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub diagnose: Vec<Diagnostic>,
    /// Steps between the `layers` and `curvature` measurements of --diagnose (≥ 1).
    #[arg(long, default_value_t = 100, value_parser = RangedU64ValueParser::<u64>::new().range(1..=1_000_000_000))]
    pub diagnose_every: u64,
    /// Instead of training, run a learning-rate range test: 29 rates from 1e-6 to 10,
    /// each 10 steps of gradient descent from the same weights, labelled slow / good /
    /// oscillating / diverging; prints them and a suggested rate, and writes the CSV beside
    /// --metrics (`M.lr-range.csv`) and the figure beside --plot.
    #[arg(long)]
    pub lr_range_test: bool,
    /// No progress bars or lines, no per-epoch lines: only the final result.
    #[arg(long)]
    pub quiet: bool,
    /// Print a JSON summary as the last line.
    #[arg(long)]
    pub json: bool,
}

/// `--whiten`: how inputs are normalized, fitted on the training inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Normalize {
    /// Inputs as loaded.
    None,
    /// (x − mean) / std per feature.
    Standardize,
    /// PCA whitening.
    Pca,
    /// ZCA whitening.
    Zca,
}

/// What `--diagnose` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Diagnostic {
    /// Per-layer activation and gradient statistics ([`LayerMonitor`]).
    Layers,
    /// The mini-batch gradient's variance against batch size ([`NoiseMonitor`]).
    Noise,
    /// The curvature along the gradient against `2/lr` ([`CurvatureMonitor`]).
    Curvature,
}

impl Diagnostic {
    fn name(self) -> &'static str {
        match self {
            Diagnostic::Layers => "layers",
            Diagnostic::Noise => "noise",
            Diagnostic::Curvature => "curvature",
        }
    }
}

fn check_optimizer(spec: &str) -> std::result::Result<String, String> {
    descent_optim::build::<f32>(spec).map_err(|e| e.to_string())?;
    Ok(spec.to_string())
}

fn check_schedule(spec: &str) -> std::result::Result<String, String> {
    if spec != "none" {
        for part in spec.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            parse_schedule(part).map_err(|e| e.to_string())?;
        }
    }
    Ok(spec.to_string())
}

fn check_average(spec: &str) -> std::result::Result<String, String> {
    Averager::<f32>::parse(&average_spec(spec))
        .map_err(|e| format!("{e} (expected ema:DECAY or poly:GAMMA)"))?;
    Ok(spec.to_string())
}

fn check_positive(s: &str) -> std::result::Result<f64, String> {
    match s.parse::<f64>() {
        Ok(x) if x > 0.0 && x.is_finite() => Ok(x),
        _ => Err(format!("{s} is not a finite number > 0")),
    }
}

/// `ema:0.999` → `ema:decay=0.999`, `poly:3` → `polynomial:gamma=3`; full specs unchanged.
fn average_spec(spec: &str) -> String {
    match spec.split_once(':') {
        Some(("ema", d)) if d.parse::<f64>().is_ok() => format!("ema:decay={d}"),
        Some(("poly" | "polynomial", g)) if g.parse::<f64>().is_ok() => {
            format!("polynomial:gamma={g}")
        }
        Some(("poly", rest)) => format!("polynomial:{rest}"),
        _ => spec.to_string(),
    }
}

/// A setting a checkpoint records and the flag that sets it: how `--resume` turns the
/// checkpoint's settings back into flags ([`parse`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    /// The setting's name in the checkpoint (`"hidden widths"`).
    pub setting: &'static str,
    /// The clap id of the argument: its field's name (`"hidden"`).
    pub id: &'static str,
    /// For a switch (a flag without a value): the recorded value meaning it was given.
    pub on: Option<&'static str>,
    /// A recorded value meaning the flag was not given (`"none"`, `"all"`).
    pub unset: Option<&'static str>,
}

impl Flag {
    /// A flag whose value is the setting's.
    pub const fn value(setting: &'static str, id: &'static str) -> Flag {
        Flag {
            setting,
            id,
            on: None,
            unset: None,
        }
    }

    /// A switch, given when the setting is `on`.
    pub const fn switch(setting: &'static str, id: &'static str, on: &'static str) -> Flag {
        Flag {
            setting,
            id,
            on: Some(on),
            unset: None,
        }
    }

    /// The same flag, not given when the setting is `value`.
    pub const fn unset_by(mut self, value: &'static str) -> Flag {
        self.unset = Some(value);
        self
    }
}

/// The settings [`TrainArgs`] and the [`Trainer`] record, and their flags.
pub const TRAIN_FLAGS: [Flag; 13] = [
    Flag::value("input normalization", "whiten"),
    Flag::value("whitening eps", "whiten_eps"),
    Flag::value("validation images", "val"),
    Flag::value("training images", "limit_train").unset_by("all"),
    Flag::switch("order", "no_shuffle", "file order"),
    Flag::value("schedule as given", "schedule").unset_by("default"),
    Flag::value("schedule per", "schedule_per"),
    Flag::value("optimizer", "optimizer"),
    Flag::value("weight averaging", "average").unset_by("none"),
    Flag::value("batch size", "batch_size"),
    Flag::value("seed", "seed"),
    Flag::value("early-stopping patience", "early_stopping"),
    Flag::value("gradient clipping norm", "clip_norm"),
];

/// Parses the process's arguments into the program's `A` (whose command `command` may
/// adjust, e.g. to state the program's defaults in a flag's help), exiting as clap does on
/// a bad flag. With `--resume`, every setting of the checkpoint whose flag — in
/// [`TRAIN_FLAGS`] or the program's `own` — was not given is taken from the checkpoint
/// (an unreadable checkpoint is left for the resume itself to report). `F` is the float
/// type the checkpoint was written in.
pub fn parse<F: Float, A: CommandFactory + FromArgMatches>(
    own: &[Flag],
    command: impl Fn(Command) -> Command,
) -> A {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let cmd = command(A::command());
    let matches = cmd.clone().get_matches_from(&argv);
    let saved = matches
        .try_get_one::<PathBuf>("resume")
        .ok()
        .flatten()
        .and_then(|p| Checkpointer::new(p).settings::<F>().ok());
    let Some(saved) = saved else {
        return A::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    };
    let mut extra: Vec<OsString> = Vec::new();
    for flag in TRAIN_FLAGS.iter().chain(own) {
        let given = matches.value_source(flag.id) == Some(ValueSource::CommandLine);
        let long = cmd
            .get_arguments()
            .find(|a| a.get_id() == flag.id)
            .and_then(|a| a.get_long());
        let (Some(value), Some(long), false) = (saved.get(flag.setting), long, given) else {
            continue;
        };
        match flag.on {
            Some(on) if value == on => extra.push(format!("--{long}").into()),
            Some(_) => {}
            None if flag.unset == Some(value) => {}
            None => extra.extend([format!("--{long}").into(), value.into()]),
        }
    }
    let matches = cmd.get_matches_from(argv.into_iter().chain(extra));
    A::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// The training, validation and test sets of a run.
pub struct Splits<F: Float, Y = Vec<usize>> {
    /// What is trained on.
    pub train: Dataset<F, Y>,
    /// What is evaluated on after every epoch, when held out.
    pub val: Option<Dataset<F, Y>>,
    /// What the final weights are tested on (and evaluated on per epoch without `val`).
    pub test: Dataset<F, Y>,
}

/// What a program tells [`run`] beside the flags.
pub struct Program {
    /// The program's name, starting its messages.
    pub name: &'static str,
    /// The learning curves' title (the number of epochs is appended).
    pub title: String,
    /// The settings of the program's own flags (model shape, data) that a checkpoint must
    /// match, named as in the program's [`Flag`]s.
    pub settings: Settings,
    /// More words for the line that describes the run (`"init he_normal"`).
    pub describe: String,
    /// Epochs when `--epochs` is not given.
    pub epochs: usize,
    /// Batch size when `--batch-size` is not given.
    pub batch_size: usize,
}

/// A flag that cannot work, in one sentence.
fn usage(message: String) -> Error {
    Error::Usage(message)
}

/// Whether two paths name one file: equal once their directories are resolved.
fn same_file(a: &Path, b: &Path) -> bool {
    let resolve = |p: &Path| {
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        dir.canonicalize()
            .map(|d| d.join(p.file_name().unwrap_or_default()))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    resolve(a) == resolve(b)
}

/// `path` with `.{what}` before its extension and `ext` as the extension:
/// `beside("m.csv", "layers", None)` is `m.layers.csv`.
fn beside(path: &Path, what: &str, ext: Option<&str>) -> PathBuf {
    let stem = path.file_stem().unwrap_or_default().to_string_lossy();
    let ext = ext
        .map(str::to_string)
        .or_else(|| path.extension().map(|e| e.to_string_lossy().into_owned()))
        .unwrap_or_default();
    path.with_file_name(format!("{stem}.{what}.{ext}"))
}

impl TrainArgs {
    /// Sets the kernels' thread count (once per process, before any work) and checks what
    /// parsing alone cannot: every output path can be written, no two outputs are the same
    /// file, the resumed checkpoint exists, and the flags agree.
    ///
    /// # Errors
    /// [`Error::Usage`] naming the flag; [`Error::Setting`] if the threads cannot start.
    pub fn check(&self) -> Result<()> {
        descent_tensor::set_num_threads(self.threads.unwrap_or(0)).map_err(|why| {
            Error::Setting {
                name: "--threads".into(),
                why,
            }
        })?;
        let outputs = [
            ("--save", &self.save),
            ("--checkpoint", &self.checkpoint),
            ("--metrics", &self.metrics),
            ("--plot", &self.plot),
        ];
        let outputs: Vec<(&str, &PathBuf)> = outputs
            .into_iter()
            .filter_map(|(flag, p)| Some((flag, p.as_ref()?)))
            .collect();
        for (flag, path) in &outputs {
            descent_tensor::io::check_writable(path).map_err(|e| usage(format!("{flag} {e}")))?;
        }
        for (i, (flag_a, a)) in outputs.iter().enumerate() {
            for (flag_b, b) in &outputs[i + 1..] {
                if same_file(a, b) {
                    return Err(usage(format!(
                        "{flag_a} and {flag_b} name the same file, {}; give them different paths",
                        a.display()
                    )));
                }
            }
        }
        if let Some(p) = &self.plot {
            crate::plot::check(p).map_err(|e| usage(format!("--plot {e}")))?;
        }
        if let Some(p) = &self.resume {
            if !p.is_file() {
                return Err(usage(format!(
                    "--resume {}: no such checkpoint file",
                    p.display()
                )));
            }
            // Only --checkpoint may overwrite the checkpoint being resumed.
            if let Some((flag, _)) = outputs
                .iter()
                .find(|(flag, out)| *flag != "--checkpoint" && same_file(p, out))
            {
                return Err(usage(format!(
                    "--resume and {flag} name the same file, {}; {flag} would overwrite the \
                     checkpoint",
                    p.display()
                )));
            }
        }
        if let Some(n) = self.limit_train {
            if self.val >= n {
                return Err(usage(format!(
                    "--val {} leaves no training data out of --limit-train {n}",
                    self.val
                )));
            }
        }
        let plateau = |s: &str| s.split(';').any(|p| p.trim().starts_with("plateau"));
        if self.schedule_per == SchedulePer::Step && self.schedule.as_deref().is_some_and(plateau) {
            return Err(usage(
                "--schedule plateau watches the validation loss of each epoch: use it with \
                 --schedule-per epoch"
                    .into(),
            ));
        }
        if !self.diagnose.is_empty() && self.metrics.is_none() {
            return Err(usage(
                "--diagnose writes its CSVs beside the metrics: also pass --metrics PATH".into(),
            ));
        }
        Ok(())
    }

    /// The training, validation and test sets as the flags ask: the first `--limit-train`
    /// training samples, `--val` of them held out (5000, at most a tenth, for
    /// `--early-stopping` without `--val`), and `--whiten` fitted on the training inputs
    /// only and applied unchanged to every split.
    ///
    /// # Errors
    /// [`Error::Usage`] for a validation split that leaves no training data, or early
    /// stopping without validation samples (selecting the best epoch on the test set
    /// would bias the test accuracy); the data's errors.
    pub fn split<F: Float, Y: Targets<F>>(
        &self,
        train: Dataset<F, Y>,
        test: Dataset<F, Y>,
    ) -> Result<Splits<F, Y>> {
        let mut train = match self.limit_train {
            Some(n) => train.take(n)?,
            None => train,
        };
        let n_val = match (self.val, self.early_stopping) {
            (0, Some(_)) => 5000.min(train.len() / 10),
            (n, _) => n,
        };
        if n_val >= train.len() {
            return Err(usage(format!(
                "--val {n_val} leaves no training data out of {} samples",
                train.len()
            )));
        }
        if n_val == 0 && self.early_stopping.is_some() {
            return Err(usage(format!(
                "--early-stopping needs a validation set, and a tenth of {} training samples \
                 is none; pass --val N",
                train.len()
            )));
        }
        let mut val = None;
        if n_val > 0 {
            let (t, v) = train.split(n_val, self.seed ^ 0x5EED)?;
            (train, val) = (t, Some(v));
        }
        let mut test = test;
        // Fitted chunk by chunk, so items kept as bytes are never all decoded; a
        // standardization keeps them bytes (applied per batch), a whitening makes floats.
        type Transform<F, Y> = Box<dyn Fn(Dataset<F, Y>) -> descent_data::Result<Dataset<F, Y>>>;
        let transform: Option<Transform<F, Y>> = match self.whiten {
            Normalize::None => None,
            Normalize::Standardize => {
                let s = Standardize::fit(&train)?;
                Some(Box::new(move |d| d.standardize(&s)))
            }
            Normalize::Pca | Normalize::Zca => {
                let kind = if self.whiten == Normalize::Pca {
                    Whiten::Pca
                } else {
                    Whiten::Zca
                };
                let w = Whitening::fit(&train, kind, self.whiten_eps)?;
                Some(Box::new(move |d| d.map_images(|x| w.apply(x))))
            }
        };
        if let Some(f) = &transform {
            train = f(train)?;
            test = f(test)?;
            val = val.map(f).transpose()?;
        }
        Ok(Splits { train, val, test })
    }

    /// The settings of the data flags, which a checkpoint must match (and the schedule as
    /// given, recorded as a note).
    pub fn settings(&self) -> Settings {
        let mut s = Settings::new().with(
            "input normalization",
            format!("{:?}", self.whiten).to_lowercase(),
        );
        if matches!(self.whiten, Normalize::Pca | Normalize::Zca) {
            s = s.with("whitening eps", self.whiten_eps);
        }
        s = s.with("validation images", self.val);
        let limit = self.limit_train.map_or("all".into(), |n| n.to_string());
        s = s.with("training images", limit);
        let order = if self.no_shuffle {
            "file order"
        } else {
            "shuffled"
        };
        s = s.with("order", order);
        let given = self.schedule.as_deref().unwrap_or("default");
        s.with_note("schedule as given", given)
    }

    /// The schedule spec in effect (`None`: a constant rate); the default cosine spans the
    /// run's `epochs` in the schedule's unit.
    pub fn schedule_spec(&self, epochs: usize, batches_per_epoch: usize) -> Option<String> {
        match self.schedule.as_deref() {
            None => {
                let t_max = match self.schedule_per {
                    SchedulePer::Epoch => epochs,
                    SchedulePer::Step => epochs * batches_per_epoch,
                };
                Some(format!("cosine:T_max={t_max}"))
            }
            Some("none") => None,
            Some(spec) => Some(spec.to_string()),
        }
    }

    /// Where diagnostic `what` writes its CSV and, with `--plot`, its figure.
    fn report_paths(&self, what: &str) -> (Option<PathBuf>, Option<PathBuf>) {
        let csv = self
            .metrics
            .as_deref()
            .map(|m| beside(m, what, Some("csv")));
        let figure = self.plot.as_deref().map(|p| beside(p, what, None));
        (csv, figure)
    }
}

/// Trains `model` on `data` as `args` ask, with `task`'s loss: the trainer configured
/// from the flags (schedule, averaging, clipping, early stopping, checkpoints, metrics,
/// diagnostics), resumed with `--resume`, fitted, then the evaluated weights saved, the
/// curves drawn and the test set scored. Prints a line per epoch and the test result
/// (and a JSON line with `--json`). `--lr-range-test` runs the range test instead.
///
/// # Errors
/// [`Error::Usage`] for flags that do not fit the checkpoint resumed; the trainer's and
/// the files' errors. A run that diverges is not an error: it prints the divergence (and
/// that the last checkpoint is kept) and returns failure.
pub fn run<F, M, Y, T>(
    args: &TrainArgs,
    model: M,
    data: Splits<F, Y>,
    task: T,
    program: Program,
) -> Result<ExitCode>
where
    F: Float,
    M: Module<F>,
    Y: Targets<F> + 'static,
    T: Task<F, Y> + Clone + 'static,
{
    let epochs = args.epochs.unwrap_or(program.epochs);
    let batch_size = args.batch_size.unwrap_or(program.batch_size);
    let loader = DataLoader::new(data.train.clone(), batch_size)?;
    let loader = if args.no_shuffle {
        loader
    } else {
        loader.shuffle(args.seed)
    };
    let schedule = args.schedule_spec(epochs, loader.num_batches());
    let (eval_name, eval) = match &data.val {
        Some(v) => ("val", v.clone()),
        None => ("test", data.test.clone()),
    };
    let settings = program.settings.clone().merged(&args.settings());
    let mut trainer = Trainer::new(model, args.optimizer.as_str(), loader, task.clone())?
        .epochs(epochs)
        .seed(args.seed)
        .validation(eval_name, eval)
        .settings(settings)
        .progress(if args.quiet {
            ProgressMode::Quiet
        } else {
            ProgressMode::Auto
        });
    if let Some(spec) = &schedule {
        trainer = trainer.schedule(spec, args.schedule_per)?;
    }
    if let Some(spec) = &args.average {
        trainer = trainer.average(&average_spec(spec))?;
    }
    if let Some(c) = args.clip_norm {
        trainer = trainer.clip_grad_norm(c);
    }
    if let Some(p) = args.early_stopping {
        trainer = trainer.early_stopping(p)?;
    }
    if let Some(p) = &args.checkpoint {
        trainer = trainer.checkpoint(p);
    }
    if let Some(p) = &args.metrics {
        trainer = trainer.metrics(p, args.metrics_every);
    }
    trainer = diagnostics(args, trainer, &data.train, &task, batch_size)?;
    if let Some(path) = &args.resume {
        resume(args, &mut trainer, path, epochs)?;
    }
    eprintln!(
        "model: {} parameters{}; optimizer {}; schedule {} per {}; {} threads",
        trainer.model().num_params(),
        if program.describe.is_empty() {
            String::new()
        } else {
            format!(", {}", program.describe)
        },
        args.optimizer,
        schedule.as_deref().unwrap_or("none"),
        if args.schedule_per == SchedulePer::Step {
            "step"
        } else {
            "epoch"
        },
        descent_tensor::num_threads()
    );
    if args.lr_range_test {
        return range_test(args, &mut trainer);
    }
    // The other workers poll between kernels instead of sleeping (see keep_workers_awake).
    let awake = descent_tensor::keep_workers_awake();
    let summary = match trainer.fit() {
        Err(e @ Error::Diverged { .. }) => {
            let kept = match &args.checkpoint {
                Some(p) if p.exists() => {
                    format!("; the last good checkpoint, {}, is kept", p.display())
                }
                _ => String::new(),
            };
            eprintln!("{}: {e}{kept}", program.name);
            return Ok(ExitCode::FAILURE);
        }
        r => r?,
    };
    drop(awake);
    // Test and save the weights that were evaluated: the averages, if averaging. The
    // weights first: a plot that fails must not lose them.
    trainer.use_evaluated_weights()?;
    if let Some(p) = &args.save {
        descent_nn::save(trainer.model(), p).map_err(|e| Error::Setting {
            name: format!("--save {}", p.display()),
            why: e.to_string(),
        })?;
    }
    if let Some(p) = &args.plot {
        let title = format!("{}: {} epochs", program.title, trainer.state().epochs_done);
        trainer.plot(p, &title)?;
    }
    let test = evaluate(
        trainer.model(),
        &data.test,
        &task,
        trainer.eval_batch(),
        None,
    )?;
    let (epochs, secs, samples) = (
        summary.epochs_done,
        summary.train_seconds,
        summary.trained_samples,
    );
    let mut line = format!("test loss {:.4}", test.loss);
    if let Some(a) = test.accuracy {
        line += &format!("  test accuracy {:.2}%", 100.0 * a);
    }
    let mut out = std::io::stdout().lock();
    let stdout = |e| Error::os(Path::new("stdout"), e);
    writeln!(out, "{line}  ({epochs} epochs, {secs:.1}s training)").map_err(stdout)?;
    if args.json {
        // No epoch left to train (a resume at its last epoch) measures no rate: `null`.
        let rate = if samples > 0 && secs > 0.0 {
            format!("{:.1}", samples as f64 / secs)
        } else {
            "null".to_string()
        };
        let acc = test.accuracy.map_or("null".into(), |a| format!("{a:.6}"));
        writeln!(
            out,
            "{{\"test_accuracy\":{acc},\"test_loss\":{:.6},\"epochs\":{epochs},\"train_seconds\":{secs:.3},\"samples_per_second\":{rate}}}",
            test.loss
        )
        .map_err(stdout)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds the hooks `--diagnose` asks for, each writing its report after every epoch.
fn diagnostics<F, M, Y, T>(
    args: &TrainArgs,
    mut trainer: Trainer<F, M, Y, T>,
    train: &Dataset<F, Y>,
    task: &T,
    batch_size: usize,
) -> Result<Trainer<F, M, Y, T>>
where
    F: Float,
    M: Module<F>,
    Y: Targets<F> + 'static,
    T: Task<F, Y> + Clone + 'static,
{
    for &what in &args.diagnose {
        let (Some(csv), figure) = args.report_paths(what.name()) else {
            continue;
        };
        trainer = match what {
            Diagnostic::Layers => {
                let monitor = LayerMonitor::new().every(args.diagnose_every);
                trainer.hook(recorder(monitor, csv, figure))
            }
            Diagnostic::Curvature => {
                let monitor = CurvatureMonitor::new(args.diagnose_every)?;
                trainer.hook(recorder(monitor, csv, figure))
            }
            Diagnostic::Noise => {
                // A quarter of the batch, the batch and four times it: variance × size
                // should come out the same for all three.
                let n = train.len();
                let mut sizes: Vec<usize> = [batch_size / 4, batch_size, 4 * batch_size]
                    .into_iter()
                    .map(|b| b.clamp(1, n.saturating_sub(1).max(1)))
                    .collect();
                sizes.dedup();
                sizes.retain(|&b| b < n);
                let monitor = NoiseMonitor::new(train.clone(), task.clone(), &sizes, 16)?;
                trainer.hook(recorder(monitor.seed(args.seed), csv, figure))
            }
        };
    }
    Ok(trainer)
}

fn recorder<D: Report>(inner: D, csv: PathBuf, figure: Option<PathBuf>) -> Recorder<D> {
    let r = Recorder::new(inner, csv);
    match figure {
        Some(f) => r.figure(f),
        None => r,
    }
}

/// `--resume`: restores the run, refusing in plain words a checkpoint that does not fit.
fn resume<F, M, Y, T>(
    args: &TrainArgs,
    trainer: &mut Trainer<F, M, Y, T>,
    path: &Path,
    epochs: usize,
) -> Result<()>
where
    F: Float,
    M: Module<F>,
    Y: Targets<F>,
    T: Task<F, Y>,
{
    let at = format!("--resume {}", path.display());
    let saved = Checkpointer::new(path).settings::<F>();
    let now = trainer.run_settings();
    if let (None, Ok(saved)) = (&args.schedule, &saved) {
        // The default cosine spans --epochs: a longer run needs the old one passed.
        let (old, new) = (saved.get("schedule"), now.get("schedule"));
        if saved.get("schedule as given") == Some("default") && old != new {
            let old = old.unwrap_or("none");
            return Err(usage(format!(
                "{at}: the checkpoint's run had the default schedule {old}, which spans its \
                 --epochs; to continue it to epoch {epochs}, also pass --schedule {old}"
            )));
        }
    }
    let done = match trainer.resume(path) {
        Err(e @ (Error::Checkpoint { .. } | Error::Optim(_))) => {
            return Err(usage(format!("--resume {e}")))
        }
        r => r?.epochs_done,
    };
    if done > epochs {
        return Err(usage(format!(
            "{at}: the checkpoint is after epoch {done}, past --epochs {epochs}"
        )));
    }
    eprintln!("resumed from {} after epoch {done}", path.display());
    Ok(())
}

/// `--lr-range-test`: the test on the run's model and loss, printed and written.
fn range_test<F, M, Y, T>(args: &TrainArgs, trainer: &mut Trainer<F, M, Y, T>) -> Result<ExitCode>
where
    F: Float,
    M: Module<F>,
    Y: Targets<F>,
    T: Task<F, Y>,
{
    let report = trainer.range_test(&RangeTest::default())?;
    if let (Some(csv), figure) = args.report_paths("lr-range") {
        report.write(&csv, figure.as_deref())?;
    }
    let mut out = std::io::stdout().lock();
    let stdout = |e| Error::os(Path::new("stdout"), e);
    for t in &report.trials {
        let fell = t.log_decrease();
        writeln!(
            out,
            "lr {:.3e}  ln(loss before/after) {fell:+.4}  {}",
            t.lr,
            t.label.name()
        )
        .map_err(stdout)?;
    }
    match report.suggested() {
        Some(lr) => writeln!(out, "suggested learning rate {lr:.3e}"),
        None => writeln!(
            out,
            "no rate was {}: widen the range or check the loss",
            RateLabel::Good.name()
        ),
    }
    .map_err(stdout)?;
    Ok(ExitCode::SUCCESS)
}
