//! The lab's classification problem and the one training loop its experiments share:
//! MNIST when its files are given (`--data DIR`, else the `MNIST_DIR` environment
//! variable; the lab never downloads), else a synthetic stand-in of the same kind — ten
//! classes, each a mixture of Gaussian blobs, so a linear model is not enough — said so
//! in the report. A fully connected net trained by one of the library's optimizers on
//! mini-batches drawn without replacement, epoch after epoch, in a seeded order.

use crate::report::{usage, Rand};
use crate::Error;
use descent::autodiff::{Param, Tape};
use descent::nn::activation::{Relu, Tanh};
use descent::nn::{loss, Init, Linear, Mode, Module, Reduction, Sequential};
use descent::tensor::Tensor;
use std::path::PathBuf;
use std::time::Instant;

/// Where the data comes from: the flags `batch-size` and `init` share.
#[derive(clap::Args, Debug)]
pub struct DataArgs {
    /// Directory of the four MNIST files (default: the MNIST_DIR environment variable;
    /// without either, a synthetic ten-class Gaussian mixture stands in).
    #[arg(long)]
    data: Option<PathBuf>,
}

impl DataArgs {
    /// The MNIST directory to read, if any.
    fn dir(&self) -> Option<PathBuf> {
        self.data.clone().or_else(|| {
            std::env::var_os("MNIST_DIR")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
    }

    /// A `--data` that is not a directory is refused before any work.
    pub fn check(&self) -> Result<(), Error> {
        match &self.data {
            Some(d) if !d.is_dir() => Err(usage(format!(
                "--data {}: not a directory (give the one holding the MNIST files)",
                d.display()
            ))),
            _ => Ok(()),
        }
    }
}

/// A classification data set split into training and test parts.
pub struct Problem {
    /// What it is, for the report: `MNIST` or the synthetic mixture's description.
    pub name: String,
    /// Whether it is the synthetic stand-in.
    pub synthetic: bool,
    /// Training inputs, `[n, features]`.
    pub train_x: Tensor<f32>,
    /// Training labels.
    pub train_y: Vec<usize>,
    /// Test inputs.
    pub test_x: Tensor<f32>,
    /// Test labels.
    pub test_y: Vec<usize>,
}

/// The number of classes of both problems.
pub const CLASSES: usize = 10;

impl Problem {
    /// MNIST (pixels scaled to [0, 1]) when a directory is given, else the synthetic mixture with
    /// `n_train` training and `n_train / 5` test points in `features` dimensions.
    pub fn load(
        args: &DataArgs,
        seed: u64,
        n_train: usize,
        features: usize,
    ) -> Result<Problem, Error> {
        match args.dir() {
            Some(dir) => {
                let mnist = descent::data::mnist::Mnist::load(&dir)?;
                Ok(Problem {
                    name: format!("MNIST ({})", dir.display()),
                    synthetic: false,
                    train_x: mnist.train.to_dataset::<f32>()?.images().clone(),
                    train_y: mnist.train.labels.clone(),
                    test_x: mnist.test.to_dataset::<f32>()?.images().clone(),
                    test_y: mnist.test.labels.clone(),
                })
            }
            None => Problem::synthetic(seed, n_train, features),
        }
    }

    /// Ten classes of three unit-variance Gaussian blobs each, the blob centres drawn from
    /// N(0, 0.75²) per coordinate: classes overlap, and each is several clusters.
    pub fn synthetic(seed: u64, n_train: usize, features: usize) -> Result<Problem, Error> {
        const BLOBS: usize = 3;
        let mut rng = Rand::new(seed, 0xDA7A);
        let centres: Vec<f64> = (0..CLASSES * BLOBS * features)
            .map(|_| 0.75 * rng.normal())
            .collect();
        let mut draw = |n: usize| -> Result<(Tensor<f32>, Vec<usize>), Error> {
            let mut x = Vec::with_capacity(n * features);
            let mut y = Vec::with_capacity(n);
            for _ in 0..n {
                let (class, blob) = (rng.index(CLASSES), rng.index(BLOBS));
                let c = &centres[(class * BLOBS + blob) * features..][..features];
                x.extend(c.iter().map(|&m| (m + rng.normal()) as f32));
                y.push(class);
            }
            Ok((Tensor::from_vec(x, &[n, features])?, y))
        };
        let (train_x, train_y) = draw(n_train)?;
        let (test_x, test_y) = draw((n_train / 5).max(1))?;
        Ok(Problem {
            name: format!(
                "synthetic: {CLASSES} classes × {BLOBS} Gaussian blobs in {features} dimensions \
                 (no MNIST files: give --data DIR or set MNIST_DIR)"
            ),
            synthetic: true,
            train_x,
            train_y,
            test_x,
            test_y,
        })
    }

    /// Input dimension.
    pub fn features(&self) -> usize {
        self.train_x.shape()[1]
    }

    /// Training examples.
    pub fn len(&self) -> usize {
        self.train_y.len()
    }
}

/// The hidden units' nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Act {
    /// tanh.
    Tanh,
    /// max(0, x).
    Relu,
}

/// A fully connected net `features → hidden… → 10` with `init` drawing every weight; the
/// biases are zero when `zero_bias` (so the weights alone carry the signal), else
/// PyTorch's `Linear` default.
pub fn mlp(
    features: usize,
    hidden: &[usize],
    act: Act,
    init: Init,
    zero_bias: bool,
    rng: &mut Rand,
) -> Result<Sequential<f32>, Error> {
    let mut net = Sequential::new();
    let mut width = features;
    for (k, &h) in hidden.iter().chain([&CLASSES]).enumerate() {
        let mut layer = Linear::with_init(width, h, init, rng.rng())?;
        if zero_bias {
            layer.bias = Some(Param::new(Tensor::zeros(&[h])));
        }
        net.push(layer);
        if k < hidden.len() {
            match act {
                Act::Tanh => net.push(Tanh),
                Act::Relu => net.push(Relu),
            }
        }
        width = h;
    }
    Ok(net)
}

/// Mean cross-entropy and accuracy of `net` on `(x, y)`, in chunks, without gradients.
/// A net whose outputs are no longer finite has loss `NaN`.
pub fn evaluate(net: &Sequential<f32>, x: &Tensor<f32>, y: &[usize]) -> Result<(f64, f64), Error> {
    let (mut loss_sum, mut correct) = (0.0f64, 0usize);
    for start in (0..y.len()).step_by(2000) {
        let len = (y.len() - start).min(2000);
        let xb = x.narrow(0, start, len)?;
        let labels = &y[start..start + len];
        let tape = Tape::new();
        tape.no_grad(|| -> Result<(), Error> {
            let logits = net.forward(&tape, tape.constant(xb), Mode::Eval)?;
            let l = loss::cross_entropy(logits, labels, Reduction::Sum)?.item()?;
            loss_sum += f64::from(l);
            let pred = logits.value()?.argmax(1)?;
            correct += pred.iter().zip(labels).filter(|(p, l)| p == l).count();
            Ok(())
        })?;
    }
    let n = y.len() as f64;
    Ok((loss_sum / n, correct as f64 / n))
}

/// The training examples in a seeded order, epoch after epoch, handed out `batch` at a time.
pub struct Sampler {
    order: Vec<usize>,
    next: usize,
    rng: Rand,
}

impl Sampler {
    /// A sampler over `n` examples.
    pub fn new(n: usize, rng: Rand) -> Sampler {
        Sampler {
            order: (0..n).collect(),
            next: n,
            rng,
        }
    }

    /// The next `batch` indices (a new shuffle when an epoch runs out).
    pub fn batch(&mut self, batch: usize) -> Vec<usize> {
        let mut out = Vec::with_capacity(batch);
        while out.len() < batch {
            if self.next == self.order.len() {
                // Fisher–Yates with the lab's generator.
                for i in (1..self.order.len()).rev() {
                    self.order.swap(i, self.rng.index(i + 1));
                }
                self.next = 0;
            }
            let take = (batch - out.len()).min(self.order.len() - self.next);
            out.extend_from_slice(&self.order[self.next..self.next + take]);
            self.next += take;
        }
        out
    }
}

/// One training run: the loss on the evaluation set after every `eval_every` examples.
pub struct Run {
    /// `(examples seen, evaluation loss)`, starting at 0.
    pub curve: Vec<(f64, f64)>,
    /// Seconds spent in training steps (evaluations excluded) when each curve point was
    /// taken.
    pub seconds: Vec<f64>,
    /// Whether the loss stopped being finite (the run ended there).
    pub diverged: bool,
}

/// Trains `net` with the optimizer `spec` on mini-batches of `batch` until `examples`
/// examples are seen, evaluating the loss on `(eval_x, eval_y)` every `eval_every`
/// examples (rounded to whole steps).
#[allow(clippy::too_many_arguments)]
pub fn train(
    net: &mut Sequential<f32>,
    p: &Problem,
    spec: &str,
    batch: usize,
    examples: usize,
    eval_every: usize,
    eval: (&Tensor<f32>, &[usize]),
    rng: Rand,
) -> Result<Run, Error> {
    let mut opt = descent::optim::build::<f32>(spec)?;
    let mut sampler = Sampler::new(p.len(), rng);
    let steps = examples.div_ceil(batch);
    let every = (eval_every / batch).max(1);
    let mut run = Run {
        curve: vec![(0.0, evaluate(net, eval.0, eval.1)?.0)],
        seconds: vec![0.0],
        diverged: false,
    };
    let mut clock = 0.0;
    for step in 1..=steps {
        let start = Instant::now();
        let idx = sampler.batch(batch);
        let x = p.train_x.index_select(0, &idx)?;
        let y: Vec<usize> = idx.iter().map(|&i| p.train_y[i]).collect();
        let (value, grads) = {
            let tape = Tape::new();
            let logits = net.forward(&tape, tape.constant(x), Mode::Train)?;
            let l = loss::cross_entropy(logits, &y, Reduction::Mean)?;
            (f64::from(l.item()?), l.backward()?)
        };
        if !value.is_finite() {
            run.diverged = true;
            break;
        }
        if opt
            .step_with_loss(&mut net.params_mut(), &grads, value)
            .is_err()
        {
            // A non-finite gradient: the run has diverged.
            run.diverged = true;
            break;
        }
        clock += start.elapsed().as_secs_f64();
        if step % every == 0 || step == steps {
            let l = evaluate(net, eval.0, eval.1)?.0;
            run.curve.push(((step * batch) as f64, l));
            run.seconds.push(clock);
            if !l.is_finite() {
                run.diverged = true;
                break;
            }
        }
    }
    Ok(run)
}

/// The flat gradient of the mean loss over the examples `idx`.
pub fn gradient(net: &Sequential<f32>, p: &Problem, idx: &[usize]) -> Result<Vec<f64>, Error> {
    let x = p.train_x.index_select(0, idx)?;
    let y: Vec<usize> = idx.iter().map(|&i| p.train_y[i]).collect();
    let tape = Tape::new();
    let logits = net.forward(&tape, tape.constant(x), Mode::Train)?;
    let grads = loss::cross_entropy(logits, &y, Reduction::Mean)?.backward()?;
    let mut flat = Vec::new();
    for param in net.params() {
        let g = grads
            .get(param)
            .ok_or("a parameter got no gradient")?
            .to_vec();
        flat.extend(g.iter().map(|&v| f64::from(v)));
    }
    Ok(flat)
}
