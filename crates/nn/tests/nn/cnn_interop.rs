//! PyTorch's classic MNIST CNN, weights both ways: reference/gen_cnn_interop.py (PyTorch)
//! wrote its state_dict (reference/cnn.safetensors) and an input with the eval-mode logits
//! (reference/cnn_io.safetensors). The same network built from descent's layers loads the
//! file and gives the same logits, and the file it saves has PyTorch's names, shapes and
//! dtypes.

use descent_autodiff::{Tape, Var};
use descent_nn::activation::relu;
use descent_nn::serialize::load_tensors;
use descent_nn::{load, save, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Mode, Module, Result};
use descent_tensor::ConvOptions;
use rand::{rngs::StdRng, SeedableRng};

const WEIGHTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/nn/reference/cnn.safetensors"
);
const IO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/nn/reference/cnn_io.safetensors"
);

/// pytorch/examples' mnist `Net`, under its attribute names.
struct Cnn {
    conv1: Conv2d<f32>,
    conv2: Conv2d<f32>,
    dropout1: Dropout,
    dropout2: Dropout,
    fc1: Linear<f32>,
    fc2: Linear<f32>,
}

impl Cnn {
    fn new(seed: u64) -> Cnn {
        let mut rng = StdRng::seed_from_u64(seed);
        let d = ConvOptions::default();
        Cnn {
            conv1: Conv2d::new(1, 32, [3, 3], d, &mut rng).unwrap(),
            conv2: Conv2d::new(32, 64, [3, 3], d, &mut rng).unwrap(),
            dropout1: Dropout::new(0.25, seed).unwrap(),
            dropout2: Dropout::new(0.5, seed + 1).unwrap(),
            fc1: Linear::new(9216, 128, &mut rng).unwrap(),
            fc2: Linear::new(128, 10, &mut rng).unwrap(),
        }
    }
}

impl Module<f32> for Cnn {
    fn forward<'t>(
        &self,
        tape: &'t Tape<f32>,
        x: Var<'t, f32>,
        mode: Mode,
    ) -> Result<Var<'t, f32>> {
        let x = relu(self.conv1.forward(tape, x, mode)?)?;
        let x = relu(self.conv2.forward(tape, x, mode)?)?;
        let x = MaxPool2d::new([2, 2]).forward(tape, x, mode)?;
        let x = self.dropout1.forward(tape, x, mode)?;
        let x = Flatten::default().forward(tape, x, mode)?;
        let x = relu(self.fc1.forward(tape, x, mode)?)?;
        let x = self.dropout2.forward(tape, x, mode)?;
        self.fc2.forward(tape, x, mode)
    }

    fn children(&self) -> Vec<(String, &dyn Module<f32>)> {
        vec![
            ("conv1".into(), &self.conv1),
            ("conv2".into(), &self.conv2),
            ("fc1".into(), &self.fc1),
            ("fc2".into(), &self.fc2),
        ]
    }

    fn children_mut(&mut self) -> Vec<(String, &mut dyn Module<f32>)> {
        vec![
            ("conv1".into(), &mut self.conv1),
            ("conv2".into(), &mut self.conv2),
            ("fc1".into(), &mut self.fc1),
            ("fc2".into(), &mut self.fc2),
        ]
    }
}

/// PyTorch's weights in descent's CNN give PyTorch's eval-mode logits. Both sum in f32 in
/// different orders (9216-term dot products in fc1), so they agree to a few float32 ulps
/// of the logits' scale, far inside 1e-5; a transposed or misnamed weight is off by ~0.1.
#[test]
fn pytorchs_weights_give_pytorchs_logits() {
    let mut model = Cnn::new(1);
    load(&mut model, WEIGHTS).unwrap();
    let io = load_tensors::<f32>(IO).unwrap();
    let get = |name: &str| io.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let (x, want) = (get("input"), get("logits"));
    assert_eq!(x.shape(), [4, 1, 28, 28]);
    let tape = Tape::new();
    let got = model.forward(&tape, tape.constant(x), Mode::Eval).unwrap();
    let got = got.value().unwrap();
    assert_eq!(got.shape(), want.shape());
    for (i, (g, w)) in got.to_vec().iter().zip(want.to_vec()).enumerate() {
        assert!((g - w).abs() <= 1e-5, "logit {i}: descent {g}, PyTorch {w}");
    }
}

/// The file descent saves has exactly the tensors of PyTorch's state_dict: the same
/// names, shapes and dtype (float32), so it loads into the PyTorch model unchanged.
#[test]
fn saved_names_shapes_and_dtypes_are_pytorchs() {
    let dir = std::env::temp_dir().join(format!("descent-nn-cnn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cnn.safetensors");
    save(&Cnn::new(2), &path).unwrap();
    // `load_tensors::<f32>` refuses any tensor that is not float32.
    let shapes = |p: &std::path::Path| -> Vec<(String, Vec<usize>)> {
        let tensors = load_tensors::<f32>(p).unwrap();
        tensors
            .into_iter()
            .map(|(n, t)| (n, t.shape().to_vec()))
            .collect()
    };
    let ours = shapes(&path);
    assert_eq!(ours, shapes(std::path::Path::new(WEIGHTS)));
    assert_eq!(ours.len(), 8);
    std::fs::remove_dir_all(&dir).ok();
}
