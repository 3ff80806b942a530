//! Trains a multi-layer perceptron on MNIST (or any dataset in its IDX layout, such as
//! Fashion-MNIST) and reports test accuracy.
//!
//! ```sh
//! cargo run --release --example mnist    # 784-512-256-10 ReLU, Adam 1e-3 with cosine decay, 10 epochs: ≥ 98%
//! cargo run --release --example mnist -- --epochs 1 --json
//! cargo run --release --example mnist -- --data ~/fashion --batchnorm --dropout 0.2 \
//!     --optimizer sgd:lr=0.1,momentum=0.9,nesterov=true --schedule step:step_size=3 \
//!     --average ema:0.999 --val 5000 --early-stopping 3 --metrics m.csv --plot curves.svg
//! ```
//!
//! The data is found in `--data DIR`, else `$MNIST_DIR`, else the cache directory, else it
//! is downloaded (checksums verified). After each epoch one line reports the training loss
//! and accuracy, the validation (or, without `--val`, test) loss and accuracy, and seconds.
//! A NaN or infinite loss stops the run, naming the epoch and step; the last checkpoint is
//! kept. With `--json` the last line is
//! `{"test_accuracy":..,"test_loss":..,"epochs":..,"train_seconds":..,"samples_per_second":..}`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use descent::autodiff::{Tape, Var};
use descent::data::{mnist, DataLoader, Dataset, Mnist};
use descent::nn::activation::Relu;
use descent::nn::serialize::{Buffer, BufferMut};
use descent::nn::{self, loss, BatchNorm1d, Dropout, Init, Linear, Mode, Module, Reduction};
use descent::optim::{self, Averager, Scheduler};
use descent::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

type Error = Box<dyn std::error::Error>;

/// Train an MLP on MNIST (or any dataset in MNIST's IDX layout).
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Directory with the four IDX files (else $MNIST_DIR, else the cache, else download).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Optimizer spec, e.g. `adam:lr=1e-3`, `sgd:lr=0.1,momentum=0.9,nesterov=true`.
    #[arg(long, default_value = "adam:lr=1e-3")]
    optimizer: String,
    /// Learning-rate schedule, stepped once per epoch: a spec such as
    /// `step:step_size=3,gamma=0.1` or `plateau:patience=2`, or `none` for a constant rate.
    /// Default: cosine annealing from the optimizer's lr to 0 over the epochs
    /// (`cosine:T_max=EPOCHS`), which takes the default run from ~97.9% (constant lr)
    /// to ~98.4%.
    #[arg(long)]
    schedule: Option<String>,
    /// Passes over the training set.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Mini-batch size.
    #[arg(long, default_value_t = 128)]
    batch_size: usize,
    /// Hidden layer widths, comma-separated (empty: logistic regression).
    #[arg(long, default_value = "512,256", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// Batch normalization after each hidden linear layer.
    #[arg(long)]
    batchnorm: bool,
    /// Dropout probability after each hidden activation.
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// Weight initializer (`default` is PyTorch's, LeCun uniform; `he_normal`, `xavier_uniform`, ...).
    #[arg(long, default_value = "default")]
    init: String,
    /// Seed for initialization, shuffling, dropout and the validation split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Threads for the kernels (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Evaluate (and save) averaged weights: `ema:0.999` (EMA with that decay) or `poly:3`
    /// (polynomial-decay averaging with γ = 3; `poly:0` is the plain mean).
    #[arg(long)]
    average: Option<String>,
    /// Stop when the validation loss has not improved for this many epochs (needs --val; 5000 if not given).
    #[arg(long)]
    early_stopping: Option<usize>,
    /// Hold out this many training images for validation.
    #[arg(long, default_value_t = 0)]
    val: usize,
    /// Train on the first N training images only (quick runs).
    #[arg(long)]
    limit_train: Option<usize>,
    /// Write the final weights (safetensors, PyTorch's names).
    #[arg(long)]
    save: Option<PathBuf>,
    /// Write a checkpoint (model, optimizer, averaging, epoch, history) after every epoch.
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Continue from a checkpoint written by --checkpoint.
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Write per-epoch and every-N-steps metrics as CSV.
    #[arg(long)]
    metrics: Option<PathBuf>,
    /// Steps between rows of step metrics in --metrics.
    #[arg(long, default_value_t = 100)]
    metrics_every: usize,
    /// Draw loss and accuracy curves against epochs into this SVG file.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Print a JSON summary as the last line.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    // Here rather than in `run`, which the tests call more than once in one process; the
    // thread that trains joins the pool (see `set_num_threads`).
    if let Err(e) = descent::tensor::set_num_threads(args.threads.unwrap_or(0)) {
        eprintln!("mnist: {e}");
        return ExitCode::FAILURE;
    }
    match run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mnist: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The training, validation and test sets, pixels scaled to [0, 1].
struct Data {
    train: Dataset<f32>,
    val: Option<Dataset<f32>>,
    test: Dataset<f32>,
}

fn load_data(args: &Args) -> Result<Data, Error> {
    let (dir, source) = mnist::locate(args.data.as_deref())?;
    let Mnist {
        train: train_bytes,
        test: test_bytes,
    } = Mnist::load(&dir)?;
    eprintln!(
        "data: {} ({source:?}): {} training and {} test images of {:?}",
        dir.display(),
        train_bytes.len(),
        test_bytes.len(),
        train_bytes.item_shape
    );
    // One split at a time, freeing its bytes once converted: a lower peak memory.
    let test = test_bytes.to_dataset::<f32>()?;
    drop(test_bytes);
    let mut train = train_bytes.to_dataset::<f32>()?;
    drop(train_bytes);
    if let Some(n) = args.limit_train {
        train = train.take(n)?;
    }
    let n_val = match (args.val, args.early_stopping) {
        (0, Some(_)) => 5000.min(train.len() / 10),
        (n, _) => n,
    };
    let val = if n_val > 0 {
        let (t, v) = train.split(n_val, args.seed ^ 0x5EED)?;
        train = t;
        Some(v)
    } else {
        None
    };
    Ok(Data { train, val, test })
}

/// One row of history: an epoch's averages.
#[derive(Debug, Clone, Copy)]
struct EpochStats {
    epoch: usize,
    train_loss: f64,
    train_acc: f64,
    eval_loss: f64,
    eval_acc: f64,
    seconds: f64,
}

impl EpochStats {
    /// The fields, comma-separated, numbers in shortest round-trip form.
    fn to_record(self) -> String {
        let s = self;
        format!(
            "{},{},{},{},{},{}",
            s.epoch, s.train_loss, s.train_acc, s.eval_loss, s.eval_acc, s.seconds
        )
    }

    fn from_record(r: &str) -> Result<Self, Error> {
        let bad = || format!("bad history record {r:?}");
        let f: Vec<f64> = r
            .split(',')
            .map(|v| v.parse::<f64>().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        match f[..] {
            [epoch, train_loss, train_acc, eval_loss, eval_acc, seconds] => Ok(EpochStats {
                epoch: epoch as usize,
                train_loss,
                train_acc,
                eval_loss,
                eval_acc,
                seconds,
            }),
            _ => Err(bad().into()),
        }
    }
}

/// What a checkpoint restores besides the model and optimizer: the epochs done and their
/// statistics.
#[derive(Default)]
struct Progress {
    epochs_done: usize,
    history: Vec<EpochStats>,
    /// With early stopping: the model's state at the best validation loss so far.
    best: Option<Vec<Buffer<f32>>>,
}

fn run(args: &Args) -> Result<ExitCode, Error> {
    if let Some(p) = &args.plot {
        plot::check(p)?;
    }
    let data = load_data(args)?;
    let eval_name = if data.val.is_some() { "val" } else { "test" };
    let features = data.train.images().shape()[1];
    let mut model = Mlp::new(args, features, mnist::CLASSES)?;
    let mut opt = optim::build::<f32>(&args.optimizer)?;
    // The schedule takes its base learning rates from the fresh optimizer, before a resumed
    // state overwrites them, and is then replayed to the resumed epoch.
    let mut schedule = match schedule_spec(args) {
        Some(spec) => Some(Scheduler::new(&spec, opt.as_mut())?),
        None => None,
    };
    let mut averager = match &args.average {
        Some(spec) => Some(
            Averager::<f32>::parse(&average_spec(spec))
                .map_err(|e| format!("--average {spec}: {e} (expected ema:DECAY or poly:GAMMA)"))?,
        ),
        None => None,
    };
    let mut progress = Progress::default();
    if let Some(path) = &args.resume {
        progress = checkpoint::load(path, args, &mut model, opt.as_mut(), averager.as_mut())?;
        if let Some(s) = schedule.as_mut() {
            for stats in &progress.history {
                s.step_with_metric(opt.as_mut(), stats.eval_loss)?;
            }
        }
        eprintln!(
            "resumed from {} after epoch {}",
            path.display(),
            progress.epochs_done
        );
    }
    eprintln!(
        "model: {} parameters; optimizer {}; schedule {}; {} threads",
        model.num_params(),
        args.optimizer,
        schedule_spec(args).as_deref().unwrap_or("none"),
        descent::tensor::num_threads()
    );
    let loader = DataLoader::new(data.train.clone(), args.batch_size)?.shuffle(args.seed);
    let mut metrics = match &args.metrics {
        Some(p) => Some(Metrics::open(p, args.resume.is_some())?),
        None => None,
    };
    let (mut train_seconds, mut trained_samples) = (0.0, 0usize);
    // The other workers poll between kernels instead of sleeping (3–5% of a step).
    let awake = descent::tensor::keep_workers_awake();
    for epoch in progress.epochs_done + 1..=args.epochs {
        // Dropout masks depend only on (seed, epoch), so a resumed run draws the same ones.
        model.reseed_dropout(args.seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))?;
        let bar = progress_bar(loader.num_batches(), epoch, args.epochs);
        let start = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0.0f64, 0usize, 0usize);
        for (step, (x, y)) in loader.epoch(epoch as u64 - 1).enumerate() {
            // The tape (and the parameter values it holds) is gone before the optimizer
            // runs, so parameters are updated in place rather than copied on write.
            let (loss_value, grads) = {
                let tape = Tape::new();
                let logits = model.forward(&tape, tape.constant(x), Mode::Train)?;
                let loss = loss::cross_entropy(logits, &y, Reduction::Mean)?;
                let loss_value = f64::from(loss.item()?);
                if loss_value.is_finite() {
                    correct += count_correct(&logits.value()?, &y)?;
                    (loss_value, Some(loss.backward()?))
                } else {
                    (loss_value, None)
                }
            };
            let diverged = match grads {
                None => Some(format!("the loss is {loss_value}")),
                Some(grads) => match opt.step(&mut model.params_mut(), &grads) {
                    Err(optim::Error::NonFiniteGradient { index, shape, .. }) => Some(format!(
                        "the gradient of parameter {index} (shape {shape:?}) is not finite"
                    )),
                    r => {
                        r?;
                        if let Some(a) = averager.as_mut() {
                            a.update(&model.params())?;
                        }
                        None
                    }
                },
            };
            if let Some(what) = diverged {
                bar.abandon();
                let kept = match &args.checkpoint {
                    Some(p) if p.exists() => {
                        format!("; the last good checkpoint, {}, is kept", p.display())
                    }
                    _ => String::new(),
                };
                eprintln!(
                    "mnist: training diverged at epoch {epoch}, step {}: {what}. Try a smaller \
                     learning rate, e.g. --optimizer {}{kept}",
                    step + 1,
                    smaller_lr(&args.optimizer, opt.lr(0)),
                );
                return Ok(ExitCode::FAILURE);
            }
            loss_sum += loss_value * y.len() as f64;
            seen += y.len();
            if let Some(m) = metrics.as_mut() {
                let global = (epoch - 1) * loader.num_batches() + step + 1;
                if global % args.metrics_every == 0 {
                    m.step(epoch, global, loss_value)?;
                }
            }
            bar.inc(1);
            if step % 10 == 0 {
                let rate = seen as f64 / start.elapsed().as_secs_f64();
                bar.set_message(format!(
                    "loss {:.4} · {rate:.0} samples/s",
                    loss_sum / seen as f64
                ));
            }
        }
        let epoch_seconds = start.elapsed().as_secs_f64();
        bar.finish_and_clear();
        train_seconds += epoch_seconds;
        trained_samples += seen;
        let eval_set = data.val.as_ref().unwrap_or(&data.test);
        let keep = args.early_stopping.is_some();
        let (eval_loss, eval_acc, snapshot) = with_average(&mut model, &mut averager, |m| {
            let (loss, acc) = evaluate(m, eval_set)?;
            Ok((loss, acc, keep.then(|| model_state(m))))
        })?;
        let stats = EpochStats {
            epoch,
            train_loss: loss_sum / seen as f64,
            train_acc: correct as f64 / seen as f64,
            eval_loss,
            eval_acc,
            seconds: epoch_seconds,
        };
        println!(
            "epoch {epoch:>3}  train loss {:.4} acc {:.2}%  {eval_name} loss {:.4} acc {:.2}%  {:.1}s ({:.0} samples/s)",
            stats.train_loss,
            100.0 * stats.train_acc,
            stats.eval_loss,
            100.0 * stats.eval_acc,
            stats.seconds,
            seen as f64 / epoch_seconds,
        );
        if let Some(m) = metrics.as_mut() {
            m.epoch(&stats)?;
        }
        progress.history.push(stats);
        progress.epochs_done = epoch;
        if let Some(s) = schedule.as_mut() {
            s.step_with_metric(opt.as_mut(), eval_loss)?;
        }
        let best_epoch = progress
            .history
            .iter()
            .min_by(|a, b| a.eval_loss.total_cmp(&b.eval_loss))
            .map_or(epoch, |s| s.epoch);
        if best_epoch == epoch && snapshot.is_some() {
            progress.best = snapshot;
        }
        if let Some(path) = &args.checkpoint {
            checkpoint::save(
                path,
                args,
                &model,
                opt.as_ref(),
                averager.as_ref(),
                &progress,
            )?;
        }
        if let Some(patience) = args.early_stopping {
            if epoch - best_epoch >= patience {
                eprintln!(
                    "early stopping: the validation loss has not improved for {patience} \
                     epochs; restoring the weights of epoch {best_epoch}"
                );
                if let Some(best) = progress.best.take() {
                    // The best weights are the evaluated ones (averaged, if averaging).
                    set_model_state(&mut model, best)?;
                    averager = None;
                }
                break;
            }
        }
    }
    drop(awake);
    if let Some(p) = &args.plot {
        plot::curves(p, &progress.history, eval_name)?;
    }
    // Test and save the weights that were evaluated: the averages, if averaging.
    if let Some(a) = averager.as_mut() {
        a.swap(&mut model.params_mut())?;
    }
    if let Some(p) = &args.save {
        nn::save(&model, p)?;
    }
    let (test_loss, test_acc) = evaluate(&model, &data.test)?;
    println!(
        "test loss {test_loss:.4}  test accuracy {:.2}%  ({} epochs, {train_seconds:.1}s training)",
        100.0 * test_acc,
        progress.epochs_done
    );
    if args.json {
        println!(
            "{{\"test_accuracy\":{test_acc:.6},\"test_loss\":{test_loss:.6},\"epochs\":{},\"train_seconds\":{train_seconds:.3},\"samples_per_second\":{:.1}}}",
            progress.epochs_done,
            trained_samples as f64 / train_seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The schedule spec in effect (`None`: constant learning rate).
fn schedule_spec(args: &Args) -> Option<String> {
    match args.schedule.as_deref() {
        None => Some(format!("cosine:T_max={}", args.epochs)),
        Some("none") => None,
        Some(spec) => Some(spec.to_string()),
    }
}

/// Runs `f` with the averaged weights swapped in, if averaging.
fn with_average<R>(
    model: &mut Mlp,
    averager: &mut Option<Averager<f32>>,
    f: impl FnOnce(&mut Mlp) -> Result<R, Error>,
) -> Result<R, Error> {
    if let Some(a) = averager.as_mut() {
        a.swap(&mut model.params_mut())?;
    }
    let result = f(model);
    if let Some(a) = averager.as_mut() {
        a.swap(&mut model.params_mut())?;
    }
    result
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

/// The optimizer spec with a learning rate ten times smaller, for the divergence message.
fn smaller_lr(spec: &str, lr: Option<f64>) -> String {
    let lr = lr.map_or("1e-4".to_string(), |lr| format!("{:e}", lr / 10.0));
    let (name, opts) = spec.split_once(':').unwrap_or((spec, ""));
    let mut opts: Vec<String> = opts
        .split(',')
        .filter(|o| !o.is_empty() && !o.trim_start().starts_with("lr="))
        .map(str::to_string)
        .collect();
    opts.insert(0, format!("lr={lr}"));
    format!("{name}:{}", opts.join(","))
}

fn progress_bar(len: usize, epoch: usize, epochs: usize) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{prefix} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta} {msg}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(format!("epoch {epoch}/{epochs}"));
    bar
}

/// How many rows of `logits` have their largest entry at the label.
fn count_correct(logits: &Tensor<f32>, labels: &[usize]) -> Result<usize, Error> {
    let pred = logits.argmax(1)?;
    Ok(pred.iter().zip(labels).filter(|(p, l)| p == l).count())
}

/// Mean loss and accuracy over a dataset, in evaluation mode, without recording gradients.
fn evaluate(model: &Mlp, data: &Dataset<f32>) -> Result<(f64, f64), Error> {
    let loader = DataLoader::new(data.clone(), 1000)?;
    let (mut loss_sum, mut correct) = (0.0, 0);
    for (x, y) in loader.epoch(0) {
        let tape = Tape::new();
        let (loss, c) = tape.no_grad(|| -> Result<_, Error> {
            let logits = model.forward(&tape, tape.constant(x), Mode::Eval)?;
            let c = count_correct(&logits.value()?, &y)?;
            let loss = loss::cross_entropy(logits, &y, Reduction::Sum)?.item()?;
            Ok((f64::from(loss), c))
        })?;
        loss_sum += loss;
        correct += c;
    }
    let n = data.len() as f64;
    Ok((loss_sum / n, correct as f64 / n))
}

/// The `--metrics` CSV: one row per epoch and one every `--metrics-every` steps.
struct Metrics {
    out: std::io::BufWriter<std::fs::File>,
}

impl Metrics {
    /// Creates the file with its header, or appends to it when resuming.
    fn open(path: &Path, resume: bool) -> Result<Self, Error> {
        let append = resume && path.exists();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(append)
            .write(true)
            .truncate(!append)
            .open(path)?;
        let mut out = std::io::BufWriter::new(file);
        if !append {
            writeln!(
                out,
                "kind,epoch,step,train_loss,train_acc,eval_loss,eval_acc,seconds"
            )?;
        }
        Ok(Metrics { out })
    }

    fn step(&mut self, epoch: usize, step: usize, loss: f64) -> Result<(), Error> {
        writeln!(self.out, "step,{epoch},{step},{loss},,,,")?;
        Ok(())
    }

    fn epoch(&mut self, s: &EpochStats) -> Result<(), Error> {
        let r = s.to_record();
        let (epoch, rest) = r.split_once(',').unwrap_or((&r, ""));
        writeln!(self.out, "epoch,{epoch},,{rest}")?;
        self.out.flush()?;
        Ok(())
    }
}

mod plot {
    //! Loss and accuracy against epochs, training and evaluation, side by side.
    use super::{EpochStats, Error};
    use plotters::prelude::*;
    use std::path::Path;

    /// Refuses, before training, a path this build cannot draw to.
    pub fn check(path: &Path) -> Result<(), Error> {
        if path.extension().and_then(|e| e.to_str()) == Some("svg") {
            return Ok(());
        }
        Err(format!(
            "--plot {}: only SVG is built in (the workspace enables plotters' svg_backend, \
             not its bitmap backend); give a .svg path",
            path.display()
        )
        .into())
    }

    pub fn curves(path: &Path, history: &[EpochStats], eval_name: &str) -> Result<(), Error> {
        // Drawn into memory, then written atomically like every other output file.
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, (1000, 420)).into_drawing_area();
            root.fill(&WHITE)?;
            let (left, right) = root.split_horizontally(500);
            let epochs = history.len().max(2) as f64;
            type Pick = fn(&EpochStats) -> (f64, f64);
            let panels: [(_, &str, SeriesLabelPosition, Pick); 2] = [
                (left, "loss", SeriesLabelPosition::UpperRight, |s| {
                    (s.train_loss, s.eval_loss)
                }),
                (
                    right,
                    "accuracy (%)",
                    SeriesLabelPosition::LowerRight,
                    |s| (100.0 * s.train_acc, 100.0 * s.eval_acc),
                ),
            ];
            for (area, name, legend, get) in panels {
                let points: Vec<(f64, f64, f64)> = history
                    .iter()
                    .map(|s| {
                        let (a, b) = get(s);
                        (s.epoch as f64, a, b)
                    })
                    .collect();
                let lo = points
                    .iter()
                    .map(|p| p.1.min(p.2))
                    .fold(f64::INFINITY, f64::min);
                let hi = points
                    .iter()
                    .map(|p| p.1.max(p.2))
                    .fold(f64::NEG_INFINITY, f64::max);
                let pad = ((hi - lo) * 0.05).max(1e-3);
                let mut chart = ChartBuilder::on(&area)
                    .caption(name, ("sans-serif", 20))
                    .margin(12)
                    .x_label_area_size(35)
                    .y_label_area_size(55)
                    .build_cartesian_2d(1.0..epochs, (lo - pad)..(hi + pad))?;
                chart
                    .configure_mesh()
                    .x_labels(history.len().clamp(2, 20))
                    .x_label_formatter(&|x| format!("{x:.0}"))
                    .x_desc("epoch")
                    .y_desc(name)
                    .draw()?;
                for (label, color, pick) in [("train", BLUE, 1usize), (eval_name, RED, 2usize)] {
                    let series = points
                        .iter()
                        .map(|p| (p.0, if pick == 1 { p.1 } else { p.2 }));
                    chart
                        .draw_series(LineSeries::new(series.clone(), color.stroke_width(2)))?
                        .label(label)
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
                    chart.draw_series(series.map(|p| Circle::new(p, 3, color.filled())))?;
                }
                chart
                    .configure_series_labels()
                    .position(legend)
                    .border_style(BLACK)
                    .background_style(WHITE.mix(0.8))
                    .draw()?;
            }
            root.present()?;
        }
        descent::optim::write_atomic(path, svg.as_bytes())?;
        Ok(())
    }
}

/// The MLP: `[Linear, BatchNorm1d?, ReLU, Dropout?]` per hidden width, then `Linear`. Its
/// layers are numbered as the same `torch.nn.Sequential` numbers them, so the saved weights
/// load into PyTorch under the same names.
struct Mlp {
    layers: Vec<(String, Box<dyn Module<f32>>)>,
    /// Positions of the dropout layers in `layers`.
    dropout_at: Vec<usize>,
    dropout: f64,
}

impl Mlp {
    fn new(args: &Args, features: usize, classes: usize) -> Result<Self, Error> {
        let init: Init = args.init.parse()?;
        let mut rng = StdRng::seed_from_u64(args.seed);
        let mut layers: Vec<Box<dyn Module<f32>>> = Vec::new();
        let mut dropout_at = Vec::new();
        let mut width = features;
        for &h in &args.hidden {
            layers.push(Box::new(Linear::with_init(width, h, init, &mut rng)?));
            if args.batchnorm {
                layers.push(Box::new(BatchNorm1d::new(h)?));
            }
            layers.push(Box::new(Relu));
            if args.dropout > 0.0 {
                dropout_at.push(layers.len());
                layers.push(Box::new(Dropout::new(args.dropout, 0)?));
            }
            width = h;
        }
        layers.push(Box::new(Linear::with_init(width, classes, init, &mut rng)?));
        let layers = layers.into_iter().enumerate();
        Ok(Mlp {
            layers: layers.map(|(i, l)| (i.to_string(), l)).collect(),
            dropout_at,
            dropout: args.dropout,
        })
    }

    /// Replaces each dropout layer by one whose generator is seeded from `seed`.
    fn reseed_dropout(&mut self, seed: u64) -> Result<(), Error> {
        for (k, &i) in self.dropout_at.iter().enumerate() {
            self.layers[i].1 = Box::new(Dropout::new(self.dropout, seed.wrapping_add(k as u64))?);
        }
        Ok(())
    }
}

impl Module<f32> for Mlp {
    fn forward<'t>(
        &self,
        tape: &'t Tape<f32>,
        x: Var<'t, f32>,
        mode: Mode,
    ) -> nn::Result<Var<'t, f32>> {
        self.layers
            .iter()
            .try_fold(x, |h, (_, layer)| layer.forward(tape, h, mode))
    }

    fn children(&self) -> Vec<(String, &dyn Module<f32>)> {
        let layers = self.layers.iter();
        layers.map(|(n, l)| (n.clone(), l.as_ref())).collect()
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<f32>)> {
        let layers = self.layers.iter_mut();
        layers.map(|(n, l)| (n.clone(), l.as_mut() as _)).collect()
    }
}

/// The model's parameters then buffers, in [`Module::state_dict`] order (tensors share
/// storage, so this copies nothing until the model is next updated).
fn model_state(model: &Mlp) -> Vec<Buffer<f32>> {
    model.state_dict().into_iter().map(|(_, b)| b).collect()
}

/// Puts back what [`model_state`] returned.
fn set_model_state(model: &mut Mlp, state: Vec<Buffer<f32>>) -> Result<(), Error> {
    let mut values = state.into_iter();
    for (name, p) in model.named_params_mut() {
        match values.next() {
            Some(Buffer::Float(v)) if v.shape() == p.shape() => p.value = v,
            _ => return Err(format!("no value of shape {:?} for {name}", p.shape()).into()),
        }
    }
    for (name, slot) in model.named_buffers_mut() {
        match (slot, values.next()) {
            (BufferMut::Float(t), Some(Buffer::Float(v))) if v.shape() == t.shape() => *t = v,
            (BufferMut::Count(c), Some(Buffer::Count(v))) => *c = v,
            _ => return Err(format!("no value of the right kind for buffer {name}").into()),
        }
    }
    Ok(())
}

mod checkpoint {
    //! One file holding everything a run needs to continue exactly: the model's parameters
    //! and buffers (`model.<name>`), the best ones so far for early stopping
    //! (`best.<name>`), the optimizer's state (its own keys), the weight averages if
    //! averaging (`average.<i>`), the epochs done and their
    //! statistics, and the settings that must not change between the two runs. Written
    //! atomically (a temporary file, fsync, rename) by the optimizer's `StateDict::save`.
    use super::{model_state, set_model_state, Args, EpochStats, Error, Mlp, Progress};
    use descent::nn::serialize::Buffer;
    use descent::nn::Module;
    use descent::optim::{Averager, Optimizer, StateDict};
    use std::path::Path;

    const FORMAT: &str = "descent-mnist-checkpoint/1";

    /// The settings a checkpoint is only valid for (`--epochs` may grow).
    fn settings(args: &Args) -> String {
        format!(
            "hidden={:?} batchnorm={} dropout={} init={} optimizer={} schedule={:?} \
             batch_size={} seed={} val={} early_stopping={:?} limit_train={:?} average={:?}",
            args.hidden,
            args.batchnorm,
            args.dropout,
            args.init,
            args.optimizer,
            super::schedule_spec(args),
            args.batch_size,
            args.seed,
            args.val,
            args.early_stopping,
            args.limit_train,
            args.average
        )
    }

    fn ids(model: &Mlp) -> Vec<descent::autodiff::ParamId> {
        model.params().iter().map(|p| p.id()).collect()
    }

    fn put(sd: &mut StateDict<f32>, prefix: &str, model: &Mlp, state: &[Buffer<f32>]) {
        for ((name, _), buf) in model.state_dict().iter().zip(state) {
            let key = format!("{prefix}.{name}");
            match buf {
                Buffer::Float(t) => {
                    sd.tensors.insert(key, t.clone());
                }
                Buffer::Count(c) => sd.set_meta(&key, c),
            }
        }
    }

    /// The values under `prefix`, each checked against the model's shapes.
    fn get(
        sd: &StateDict<f32>,
        prefix: &str,
        model: &Mlp,
        at: &str,
    ) -> Result<Vec<Buffer<f32>>, Error> {
        model
            .state_dict()
            .iter()
            .map(|(name, like)| {
                let key = format!("{prefix}.{name}");
                Ok(match like {
                    Buffer::Float(want) => {
                        let t = sd
                            .tensors
                            .get(&key)
                            .ok_or_else(|| format!("{at}: no tensor {key}"))?;
                        if t.shape() != want.shape() {
                            return Err(format!(
                                "{at}: {key} has shape {:?}, the model {:?}",
                                t.shape(),
                                want.shape()
                            )
                            .into());
                        }
                        Buffer::Float(t.clone())
                    }
                    Buffer::Count(_) => Buffer::Count(sd.meta_parse(&key)?),
                })
            })
            .collect()
    }

    pub fn save(
        path: &Path,
        args: &Args,
        model: &Mlp,
        opt: &dyn Optimizer<f32>,
        averager: Option<&Averager<f32>>,
        progress: &Progress,
    ) -> Result<(), Error> {
        let mut sd = opt.state_dict(&ids(model))?;
        if let Some(a) = averager {
            let averages = a.state_dict(&model.params())?;
            sd.meta.extend(averages.meta);
            sd.tensors.extend(averages.tensors);
        }
        sd.set_meta("checkpoint.format", FORMAT);
        sd.set_meta("checkpoint.settings", settings(args));
        sd.set_meta("checkpoint.epochs_done", progress.epochs_done);
        let history: Vec<String> = progress.history.iter().map(|s| s.to_record()).collect();
        sd.set_meta("checkpoint.history", history.join(";"));
        put(&mut sd, "model", model, &model_state(model));
        if let Some(best) = &progress.best {
            put(&mut sd, "best", model, best);
        }
        sd.save(path)?;
        Ok(())
    }

    /// Restores the model and optimizer from `path` and returns the progress; checks
    /// everything before changing anything.
    pub fn load(
        path: &Path,
        args: &Args,
        model: &mut Mlp,
        opt: &mut dyn Optimizer<f32>,
        averager: Option<&mut Averager<f32>>,
    ) -> Result<Progress, Error> {
        let sd = StateDict::<f32>::load(path)?;
        let at = path.display().to_string();
        if sd.meta_str("checkpoint.format").ok() != Some(FORMAT) {
            return Err(
                format!("{at}: not a checkpoint of this example (no format {FORMAT})").into(),
            );
        }
        let (saved, now) = (sd.meta_str("checkpoint.settings")?, settings(args));
        if saved != now {
            return Err(format!(
                "{at}: the checkpoint was written with {saved}; this run has {now}"
            )
            .into());
        }
        let current = get(&sd, "model", model, &at)?;
        let best = if sd.tensors.keys().any(|k| k.starts_with("best.")) {
            Some(get(&sd, "best", model, &at)?)
        } else {
            None
        };
        let history = sd
            .meta_str("checkpoint.history")?
            .split(';')
            .filter(|r| !r.is_empty())
            .map(EpochStats::from_record)
            .collect::<Result<Vec<_>, _>>()?;
        let epochs_done = sd.meta_parse("checkpoint.epochs_done")?;
        opt.load_state_dict(&sd, &ids(model))?;
        if let Some(a) = averager {
            a.load_state_dict(&sd, &model.params())?;
        }
        set_model_state(model, current)?;
        Ok(Progress {
            epochs_done,
            history,
            best,
        })
    }
}

/// Run by `cargo test` (`test = true` for this example in Cargo.toml) on the real data.
#[cfg(test)]
mod tests {
    use super::*;

    /// A checkpoint after epoch 2 resumed to epoch 3 gives the same weights, byte for byte, as
    /// an uninterrupted 3-epoch run — with BatchNorm, dropout, momentum and a step schedule,
    /// so every piece of state (model, buffers, optimizer, schedule, RNG streams, and the
    /// weight averages when averaging) must be restored.
    #[test]
    fn resume_reproduces_the_uninterrupted_run_bit_for_bit() {
        let dir = std::env::temp_dir().join(format!("descent-mnist-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
        let train = |averaging: &[&str], extra: &[&str]| {
            let mut argv = vec![
                "mnist",
                "--limit-train",
                "640",
                "--batch-size",
                "64",
                "--hidden",
                "32",
                "--batchnorm",
            ];
            argv.extend([
                "--dropout",
                "0.2",
                "--optimizer",
                "sgd:lr=0.05,momentum=0.9",
                "--schedule",
                "step:step_size=1,gamma=0.5",
                "--seed",
                "5",
            ]);
            argv.extend(averaging);
            argv.extend(extra);
            // Offline without MNIST_DIR, the team's copy beside the repository.
            let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/mnist");
            if std::env::var_os("MNIST_DIR").is_none() && Path::new(shared).is_dir() {
                argv.extend(["--data", shared]);
            }
            let code = run(&Args::parse_from(argv)).expect("training runs");
            assert_eq!(code, ExitCode::SUCCESS);
        };
        // Without and with weight averaging (then the saved weights are the averages).
        for averaging in [&[][..], &["--average", "ema:0.9"]] {
            train(
                averaging,
                &["--epochs", "3", "--save", &path("straight.safetensors")],
            );
            train(
                averaging,
                &["--epochs", "2", "--checkpoint", &path("after2.ckpt")],
            );
            train(
                averaging,
                &[
                    "--epochs",
                    "3",
                    "--resume",
                    &path("after2.ckpt"),
                    "--save",
                    &path("resumed.safetensors"),
                ],
            );
            let straight = std::fs::read(path("straight.safetensors")).expect("saved");
            let resumed = std::fs::read(path("resumed.safetensors")).expect("saved");
            assert!(
                straight == resumed,
                "resumed weights differ from the uninterrupted run ({averaging:?})"
            );
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
