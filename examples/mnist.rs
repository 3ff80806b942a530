//! Trains a multi-layer perceptron, or PyTorch's classic MNIST CNN, on MNIST (or any
//! dataset in its IDX layout, such as Fashion-MNIST) and reports test accuracy: the models
//! and their flags here, the training loop and every other flag in `descent::train::cli`.
//!
//! ```sh
//! cargo run --release --example mnist    # 784-512-256-10 ReLU, Adam 1e-3 with cosine decay, 10 epochs: ≥ 98%
//! cargo run --release --example mnist -- --model cnn    # the CNN, batch 64, 4 epochs: 99.1%
//! cargo run --release --example mnist -- --epochs 1 --json
//! cargo run --release --example mnist -- --data ~/fashion --batchnorm --dropout 0.2 \
//!     --optimizer sgd:lr=0.1,momentum=0.9,nesterov=true --schedule step:step_size=3 \
//!     --average ema:0.999 --val 5000 --early-stopping 3 --metrics m.csv --plot curves.png
//! cargo run --release --example mnist -- --activation sigmoid --init xavier_uniform \
//!     --whiten zca --clip-norm 1 --optimizer rprop:variant=irprop+ --no-shuffle
//! cargo run --release --example mnist -- --diagnose layers,noise,curvature --metrics m.csv --plot c.svg
//! cargo run --release --example mnist -- --lr-range-test --metrics m.csv --plot c.svg
//! ```
//!
//! The data is found in `--data DIR`, else `$MNIST_DIR`, else the cache directory, else it
//! is downloaded (checksums verified). After each epoch one line reports the training loss
//! and accuracy, the validation (or, without `--val`, test) loss and accuracy — of the
//! averaged weights, and labelled so, with `--average` — and seconds.
//! A NaN or infinite loss stops the run, naming the epoch, step and parameter and a smaller
//! learning rate; the last checkpoint is kept. `--resume` takes the checkpoint's settings
//! for every flag not given. With `--json` the last line is
//! `{"test_accuracy":..,"test_loss":..,"epochs":..,"train_seconds":..,"samples_per_second":..}`
//! (`samples_per_second` is `null` when no epoch was left to train).
//!
//! Every flag is checked before any work starts: a bad one is one line naming it, exit
//! code 2; a failure while loading or training (a missing or corrupt data file, a mirror
//! that cannot be reached) is one line naming the file, exit code 1.

mod cli;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::RangedU64ValueParser;
use clap::{Parser, ValueEnum};
use descent::autodiff::{Tape, Var};
use descent::data::{mnist, Mnist};
use descent::nn::activation::{Relu, Sigmoid, Tanh};
use descent::nn::{self, BatchNorm1d, Conv2d, Dropout, Flatten, Init, Linear, MaxPool2d};
use descent::nn::{Mode, Module};
use descent::tensor::ConvOptions;
use descent::train::checkpoint::Settings;
use descent::train::cli::{self as train_cli, Flag, Program, TrainArgs};
use descent::train::evaluate::Classification;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Epochs and batch size without `--epochs` / `--batch-size`: the MLP's, the CNN's
/// (99.1% test accuracy on MNIST in those; more epochs for 99.2%).
const MLP_DEFAULTS: (usize, usize) = (10, 128);
const CNN_DEFAULTS: (usize, usize) = (4, 64);

/// Trains a multi-layer perceptron (or, with `--model cnn`, PyTorch's classic MNIST CNN) on
/// MNIST, or on any dataset in MNIST's IDX layout such as Fashion-MNIST, printing the training and validation (or test) loss and accuracy after
/// every epoch and the test accuracy at the end; it can checkpoint and resume exactly,
/// average weights, stop early, write metrics, weights and learning curves, and measure
/// the lectures' diagnostics.
#[derive(Parser, Debug, Clone)]
#[command(version, long_about = None)]
struct Args {
    /// Directory with the four IDX files (else $MNIST_DIR, else the cache, else download).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The network: `mlp` (`--hidden` widths, `--activation`, `--batchnorm`, `--dropout`) or
    /// `cnn`, PyTorch's classic MNIST CNN with its state_dict names (conv1 1→32 3×3, ReLU,
    /// conv2 32→64 3×3, ReLU, max-pool 2, dropout 0.25, flatten, fc1 9216→128, ReLU,
    /// dropout 0.5, fc2 128→10), which needs 28×28 images.
    #[arg(long, value_enum, default_value_t = ModelKind::Mlp)]
    model: ModelKind,
    /// Hidden layer widths, comma-separated, each 1 to 65536 (empty: logistic regression).
    #[arg(long, default_value = "512,256", value_delimiter = ',', value_parser = RangedU64ValueParser::<usize>::new().range(1..=65_536))]
    hidden: Vec<usize>,
    /// The hidden units' nonlinearity.
    #[arg(long, value_enum, default_value_t = Activation::Relu)]
    activation: Activation,
    /// Batch normalization after each hidden linear layer.
    #[arg(long)]
    batchnorm: bool,
    /// Dropout probability after each hidden activation, in [0, 1).
    #[arg(long, default_value_t = 0.0, value_parser = parse_dropout)]
    dropout: f64,
    /// Weight initializer (`default` is PyTorch's, LeCun uniform; `he_normal`,
    /// `xavier_uniform`, `xavier_uniform:gain=2`, ...). Without a `gain=`, a scaled scheme
    /// (Xavier, He, orthogonal) takes the gain that fits `--activation` (tanh 1, sigmoid 4,
    /// the lecture's values) except under ReLU, where the library's defaults stay (He √2,
    /// Xavier 1).
    #[arg(long, default_value = "default", value_parser = parse_init)]
    init: String,
    #[command(flatten)]
    train: TrainArgs,
}

/// The settings this example's own flags record in a checkpoint.
const FLAGS: [Flag; 6] = [
    Flag::value("model", "model"),
    Flag::value("hidden widths", "hidden"),
    Flag::value("activation", "activation"),
    Flag::switch("batch normalization", "batchnorm", "on"),
    Flag::value("dropout", "dropout"),
    Flag::value("init", "init"),
];

/// `--model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ModelKind {
    /// The multi-layer perceptron.
    Mlp,
    /// PyTorch's classic MNIST CNN.
    Cnn,
}

/// The hidden units' nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Activation {
    /// max(0, x).
    Relu,
    /// tanh(x).
    Tanh,
    /// The logistic 1 / (1 + e^(−x)).
    Sigmoid,
}

fn parse_init(spec: &str) -> Result<String, String> {
    spec.parse::<Init>().map_err(|e| e.to_string())?;
    Ok(spec.to_string())
}

fn parse_dropout(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(p) if (0.0..1.0).contains(&p) => Ok(p),
        _ => Err(format!("{s} is not a probability in [0, 1)")),
    }
}

fn main() -> ExitCode {
    let (mlp, cnn) = (MLP_DEFAULTS, CNN_DEFAULTS);
    let args: Args = train_cli::parse::<f32, Args>(&FLAGS, |c| {
        c.mut_arg("epochs", |a| {
            a.help(format!("Passes over the training set (1 to 100000). Default: {} for the MLP, {} for the CNN", mlp.0, cnn.0))
        })
        .mut_arg("batch_size", |a| {
            a.help(format!("Mini-batch size (1 to 1000000). Default: {} for the MLP, {} for the CNN", mlp.1, cnn.1))
        })
    });
    cli::finish("mnist", run(&args))
}

fn run(args: &Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    args.train.check()?;
    let cnn = args.model == ModelKind::Cnn;
    let mlp_only = [
        ("--hidden", args.hidden != [512, 256]),
        ("--activation", args.activation != Activation::Relu),
        ("--batchnorm", args.batchnorm),
        ("--dropout", args.dropout != 0.0),
    ];
    if let Some((flag, _)) = mlp_only.iter().find(|(_, set)| cnn && *set) {
        return Err(usage(format!(
            "{flag} shapes the MLP; --model cnn is a fixed network (drop {flag}, or use --model mlp)"
        )));
    }
    if let Some(d) = args.data.as_ref().filter(|d| !d.is_dir()) {
        return Err(format!("--data {}: no such directory", d.display()).into());
    }
    let (dir, source) = mnist::locate(args.data.as_deref())?;
    let Mnist { train, test } = Mnist::load(&dir)?;
    eprintln!(
        "data: {} ({source:?}): {} training and {} test images of {:?}",
        dir.display(),
        train.len(),
        test.len(),
        train.item_shape
    );
    // One split at a time, freeing its bytes once converted: a lower peak memory.
    let test = test.to_dataset::<f32>()?;
    let train = train.to_dataset::<f32>()?;
    let data = args.train.split(train, test)?;
    let features = data.train.images().shape()[1];
    let (model, settings) = match args.model {
        ModelKind::Mlp => (mlp_model(args, features)?, mlp_settings(args)),
        ModelKind::Cnn => (
            cnn_model(args, features)?,
            Settings::new().with("model", "cnn"),
        ),
    };
    let (epochs, batch_size) = if cnn { CNN_DEFAULTS } else { MLP_DEFAULTS };
    let program = Program {
        name: "mnist",
        title: format!("MNIST, {:?}", args.model),
        settings: settings.with("init", &args.init),
        describe: format!("init {}", init_spec(args)),
        epochs,
        batch_size,
    };
    Ok(train_cli::run(
        &args.train,
        model,
        data,
        Classification,
        program,
    )?)
}

fn usage(message: String) -> Box<dyn std::error::Error> {
    Box::new(descent::train::Error::Usage(message))
}

fn mlp_settings(args: &Args) -> Settings {
    let widths: Vec<String> = args.hidden.iter().map(ToString::to_string).collect();
    let name = format!("{:?}", args.activation).to_lowercase();
    Settings::new()
        .with("model", "mlp")
        .with("hidden widths", widths.join(","))
        .with("activation", name)
        .with(
            "batch normalization",
            if args.batchnorm { "on" } else { "off" },
        )
        .with("dropout", args.dropout)
}

/// The initializer spec in effect: `--init`, with the activation's gain when a scaled
/// scheme is given none (under ReLU, the library's defaults already fit).
fn init_spec(args: &Args) -> String {
    let (name, opts) = args.init.split_once(':').unwrap_or((&args.init, ""));
    let scaled = ["xavier", "glorot", "he_", "kaiming", "orthogonal"];
    let takes_gain = scaled.iter().any(|s| name.trim().starts_with(s));
    if !takes_gain || opts.contains("gain") || args.activation == Activation::Relu {
        return args.init.clone();
    }
    let gain = format!("gain={}", format!("{:?}", args.activation).to_lowercase());
    match opts.trim() {
        "" => format!("{}:{gain}", name.trim()),
        _ => format!("{}:{opts},{gain}", name.trim()),
    }
}

/// `[Linear, BatchNorm1d?, activation, Dropout?]` per hidden width, then `Linear`, numbered
/// as the same `torch.nn.Sequential` numbers them, so the saved weights load into PyTorch.
fn mlp_model(args: &Args, features: usize) -> Result<Named, Box<dyn std::error::Error>> {
    let init: Init = init_spec(args).parse()?;
    let mut rng = StdRng::seed_from_u64(args.train.seed);
    let (mut layers, mut width): (Vec<Box<dyn Module<f32>>>, _) = (Vec::new(), features);
    for &h in &args.hidden {
        layers.push(Box::new(Linear::with_init(width, h, init, &mut rng)?));
        if args.batchnorm {
            layers.push(Box::new(BatchNorm1d::new(h)?));
        }
        layers.push(match args.activation {
            Activation::Relu => Box::new(Relu),
            Activation::Tanh => Box::new(Tanh),
            Activation::Sigmoid => Box::new(Sigmoid),
        });
        if args.dropout > 0.0 {
            layers.push(Box::new(Dropout::new(args.dropout, 0)?));
        }
        width = h;
    }
    layers.push(Box::new(Linear::with_init(
        width,
        mnist::CLASSES,
        init,
        &mut rng,
    )?));
    Ok(Named(
        layers
            .into_iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), l))
            .collect(),
    ))
}

/// PyTorch's example's layers under its attribute names (`conv1`, `conv2`, `fc1`, `fc2`;
/// the others hold no weights), so the saved weights load into it.
fn cnn_model(args: &Args, features: usize) -> Result<Named, Box<dyn std::error::Error>> {
    if features != 28 * 28 {
        return Err(usage(format!(
            "--model cnn takes 28×28 images; these have {features} pixels"
        )));
    }
    let init: Init = init_spec(args).parse()?;
    let mut rng = StdRng::seed_from_u64(args.train.seed);
    let conv = ConvOptions::default();
    Ok(Named(vec![
        ("image".into(), Box::new(Image([1, 28, 28]))),
        (
            "conv1".into(),
            Box::new(Conv2d::with_init(1, 32, [3, 3], conv, init, &mut rng)?),
        ),
        ("relu1".into(), Box::new(Relu)),
        (
            "conv2".into(),
            Box::new(Conv2d::with_init(32, 64, [3, 3], conv, init, &mut rng)?),
        ),
        ("relu2".into(), Box::new(Relu)),
        ("pool".into(), Box::new(MaxPool2d::new([2, 2]))),
        ("dropout1".into(), Box::new(Dropout::new(0.25, 0)?)),
        ("flatten".into(), Box::new(Flatten::default())),
        (
            "fc1".into(),
            Box::new(Linear::with_init(9216, 128, init, &mut rng)?),
        ),
        ("relu3".into(), Box::new(Relu)),
        ("dropout2".into(), Box::new(Dropout::new(0.5, 0)?)),
        (
            "fc2".into(),
            Box::new(Linear::with_init(128, mnist::CLASSES, init, &mut rng)?),
        ),
    ]))
}

/// Layers applied in order, under names of their own (reported to diagnostics by them).
struct Named(Vec<(String, Box<dyn Module<f32>>)>);

impl Module<f32> for Named {
    fn forward<'t>(
        &self,
        tape: &'t Tape<f32>,
        x: Var<'t, f32>,
        mode: Mode,
    ) -> nn::Result<Var<'t, f32>> {
        self.0
            .iter()
            .try_fold(x, |h, (_, layer)| layer.forward(tape, h, mode))
    }

    fn forward_observed<'t>(
        &self,
        tape: &'t Tape<f32>,
        x: Var<'t, f32>,
        mode: Mode,
        observer: &mut dyn FnMut(&str, Var<'t, f32>),
    ) -> nn::Result<Var<'t, f32>> {
        self.0.iter().try_fold(x, |h, (name, layer)| {
            let y = layer.forward(tape, h, mode)?;
            observer(name, y);
            Ok(y)
        })
    }

    fn children(&self) -> Vec<(String, &dyn Module<f32>)> {
        self.0
            .iter()
            .map(|(n, l)| (n.clone(), l.as_ref()))
            .collect()
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<f32>)> {
        self.0
            .iter_mut()
            .map(|(n, l)| (n.clone(), l.as_mut() as _))
            .collect()
    }
}

/// Reshapes flat `[N, C·H·W]` rows into `[N, C, H, W]` images for the CNN.
struct Image([usize; 3]);

impl Module<f32> for Image {
    fn forward<'t>(&self, _: &'t Tape<f32>, x: Var<'t, f32>, _: Mode) -> nn::Result<Var<'t, f32>> {
        let [c, h, w] = self.0.map(|d| d as isize);
        Ok(x.reshape(&[-1, c, h, w])?)
    }
}
