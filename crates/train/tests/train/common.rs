//! A custom model and a synthetic regression problem for the toolkit's tests: not the MNIST
//! MLP, but with dropout (so resuming must reseed it), momentum, a schedule and averaging.

use descent_autodiff::{Tape, Var};
use descent_data::{DataLoader, Dataset};
use descent_nn::activation::Tanh;
use descent_nn::{Dropout, Linear, Mode, Module};
use descent_tensor::Tensor;
use descent_train::evaluate::Regression;
use descent_train::progress::ProgressMode;
use descent_train::{SchedulePer, Trainer};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// `y = l2(dropout(tanh(l1(x))))`.
pub struct Net {
    pub l1: Linear<f64>,
    pub drop: Dropout,
    pub l2: Linear<f64>,
}

impl Net {
    pub fn new(hidden: usize, seed: u64) -> Net {
        let mut rng = StdRng::seed_from_u64(seed);
        Net {
            l1: Linear::new(3, hidden, &mut rng).unwrap(),
            drop: Dropout::new(0.1, 0).unwrap(),
            l2: Linear::new(hidden, 1, &mut rng).unwrap(),
        }
    }
}

impl Module<f64> for Net {
    fn forward<'t>(
        &self,
        tape: &'t Tape<f64>,
        x: Var<'t, f64>,
        mode: Mode,
    ) -> descent_nn::Result<Var<'t, f64>> {
        let h = self.l1.forward(tape, x, mode)?;
        let h = Tanh.forward(tape, h, mode)?;
        let h = self.drop.forward(tape, h, mode)?;
        self.l2.forward(tape, h, mode)
    }

    fn children(&self) -> Vec<(String, &dyn Module<f64>)> {
        vec![
            ("l1".into(), &self.l1 as &dyn Module<f64>),
            ("drop".into(), &self.drop),
            ("l2".into(), &self.l2),
        ]
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<f64>)> {
        vec![
            ("l1".into(), &mut self.l1 as &mut dyn Module<f64>),
            ("drop".into(), &mut self.drop),
            ("l2".into(), &mut self.l2),
        ]
    }
}

/// `n` points `x ∈ [-1, 1]³` with `y = sin(x₀) + x₁·x₂ + 0.5`, and `sign` flipping `y`.
pub fn data(n: usize, seed: u64, sign: f64) -> Dataset<f64, Tensor<f64>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Tensor::<f64>::rand(&[n, 3], -1.0, 1.0, &mut rng).unwrap();
    let v = x.to_vec();
    let y: Vec<f64> = v
        .chunks(3)
        .map(|r| sign * (r[0].sin() + r[1] * r[2] + 0.5))
        .collect();
    Dataset::new(x, Tensor::from_vec(y, &[n, 1]).unwrap()).unwrap()
}

pub type RegressionTrainer = Trainer<f64, Net, Tensor<f64>, Regression>;

/// The trainer every resume test uses: SGD with momentum, a step schedule, EMA weights,
/// dropout (which the trainer reseeds per epoch), a shuffled loader, a validation set.
pub fn trainer(epochs: usize, optimizer: &str) -> RegressionTrainer {
    let loader = DataLoader::new(data(96, 1, 1.0), 16).unwrap().shuffle(7);
    Trainer::new(Net::new(8, 3), optimizer, loader, Regression)
        .unwrap()
        .epochs(epochs)
        .seed(11)
        .validation("val", data(40, 2, 1.0))
        .schedule("step:step_size=1,gamma=0.7", SchedulePer::Epoch)
        .unwrap()
        .average("ema:decay=0.9")
        .unwrap()
        .progress(ProgressMode::Quiet)
}

/// Every parameter and buffer of `model`, as bits.
pub fn bits(model: &dyn Module<f64>) -> Vec<(String, Vec<u64>)> {
    model
        .named_params()
        .into_iter()
        .map(|(n, p)| (n, p.value.to_vec().iter().map(|v| v.to_bits()).collect()))
        .collect()
}

/// A fresh directory under the system's temporary one.
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("descent-train-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
