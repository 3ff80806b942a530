//! Trains a multi-layer perceptron, or PyTorch's classic MNIST CNN, on MNIST (or any
//! dataset in its IDX layout, such as Fashion-MNIST) and reports test accuracy: the models
//! and their flags here, the training loop and every other flag in `descent::train::cli`.
//!
//! ```sh
//! cargo run --release --example mnist    # 784-512-256-10 ReLU, Adam 1e-3 with cosine decay, 10 epochs: ≥ 98%
//! cargo run --release --example mnist -- --model cnn    # the CNN, batch 64, 8 epochs: 99.3%
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
//! is downloaded (checksums verified). What a run prints, writes and refuses is
//! `descent::train::cli::run`'s: a line per epoch, the test result (`--json`: a JSON line),
//! exit code 2 for a flag that cannot work and 1 for a failure, in one line naming the
//! flag or the file.

mod cli;
#[path = "cli/layers.rs"]
mod layers;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::builder::RangedU64ValueParser;
use clap::{Parser, ValueEnum};
use descent::data::{mnist, Mnist};
use descent::nn::activation::{Relu, Sigmoid, Tanh};
use descent::nn::Sequential;
use descent::nn::{BatchNorm1d, Dropout, Init, Linear};
use descent::train::checkpoint::Settings;
use descent::train::cli::{self as train_cli, Flag, Program, TrainArgs};
use descent::train::evaluate::Classification;
use descent::train::Error::Usage;
use layers::Named;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// Epochs and batch size without `--epochs` / `--batch-size`: the MLP's, the CNN's
/// (about 98.4% and 99.3% test accuracy on MNIST in those).
const MLP_DEFAULTS: (usize, usize) = (10, 128);
const CNN_DEFAULTS: (usize, usize) = (8, 64);

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
    #[arg(long, default_value = "default", value_parser = |s: &str| s.parse::<Init>().map(|_| s.to_string()))]
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
        let why = format!("{flag} shapes the MLP; --model cnn is a fixed network (drop {flag}, or use --model mlp)");
        return Err(Usage(why).into());
    }
    if let Some(d) = args.data.as_ref().filter(|d| !d.is_dir()) {
        return Err(format!("--data {}: no such directory", d.display()).into());
    }
    let (dir, source) = mnist::locate(args.data.as_deref())?;
    let Mnist { train, test } = Mnist::load(&dir)?;
    let (n, shape) = (train.len(), train.item_shape.clone());
    eprintln!(
        "data: {} ({source:?}): {n} training and {} test images of {shape:?}",
        dir.display(),
        test.len()
    );
    // The images stay bytes, scaled to [0, 1] as each batch is read: a quarter of the memory.
    let test = test.into_byte_dataset::<f32>()?;
    let train = train.into_byte_dataset::<f32>()?;
    let data = args.train.split(train, test)?;
    let features = data.train.shape()[1];
    let ((epochs, batch_size), model) = if cnn {
        (CNN_DEFAULTS, "cnn")
    } else {
        (MLP_DEFAULTS, "mlp")
    };
    let mut settings = Settings::new().with("model", model);
    if !cnn {
        let widths: Vec<String> = args.hidden.iter().map(ToString::to_string).collect();
        let activation = format!("{:?}", args.activation).to_lowercase();
        let batchnorm = if args.batchnorm { "on" } else { "off" };
        settings = settings
            .with("hidden widths", widths.join(","))
            .with("activation", activation);
        settings = settings
            .with("batch normalization", batchnorm)
            .with("dropout", args.dropout);
    }
    let program = Program {
        name: "mnist",
        title: format!("MNIST, {:?}", args.model),
        settings: settings.with("init", &args.init),
        describe: format!("init {}", init_spec(args)),
        epochs,
        batch_size,
    };
    let init: Init = init_spec(args).parse()?;
    let mut rng = StdRng::seed_from_u64(args.train.seed);
    let model = match args.model {
        ModelKind::Mlp => Named::new().add("", mlp(args, features, init, &mut rng)?),
        ModelKind::Cnn => Named::new().add("", cnn_model(features, init, &mut rng)?),
    };
    Ok(train_cli::run(
        &args.train,
        model,
        data,
        Classification,
        program,
    )?)
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

type Result<T, E = Box<dyn std::error::Error>> = std::result::Result<T, E>;

/// `[Linear, BatchNorm1d?, activation, Dropout?]` per hidden width, then `Linear`: a
/// `Sequential`, numbered as `torch.nn.Sequential` numbers it, so the weights load there.
fn mlp(args: &Args, features: usize, init: Init, rng: &mut StdRng) -> Result<Sequential<f32>> {
    let (mut net, mut width) = (Sequential::new(), features);
    for &h in &args.hidden {
        net.push(Linear::with_init(width, h, init, rng)?);
        if args.batchnorm {
            net.push(BatchNorm1d::new(h)?);
        }
        match args.activation {
            Activation::Relu => net.push(Relu),
            Activation::Tanh => net.push(Tanh),
            Activation::Sigmoid => net.push(Sigmoid),
        }
        if args.dropout > 0.0 {
            net.push(Dropout::new(args.dropout, 0)?);
        }
        width = h;
    }
    net.push(Linear::with_init(width, mnist::CLASSES, init, rng)?);
    Ok(net)
}

/// PyTorch's example's CNN (`layers::mnist_cnn`), for 28×28 images only.
fn cnn_model(features: usize, init: Init, rng: &mut StdRng) -> Result<Named> {
    if features != 28 * 28 {
        return Err(Usage(format!(
            "--model cnn takes 28×28 images; these have {features} pixels"
        ))
        .into());
    }
    Ok(layers::mnist_cnn(init, rng)?)
}
