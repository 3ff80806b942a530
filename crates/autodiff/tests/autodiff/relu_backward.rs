//! ReLU's backward as PyTorch's `threshold_backward`: a select on the output, so a NaN or
//! infinite upstream gradient is zeroed where the unit is off (a product with a 0/1 slope
//! would give NaN there). Numbers from `reference/gen_relu_backward.py`.

use descent_autodiff::{Tape, Var};
use descent_tensor::Tensor;

/// PyTorch's gradient for the script's `x` and upstream `g`.
const WANT: [f64; 6] = [0.0, 0.0, 3.0, 4.0, 0.0, f64::NEG_INFINITY];

/// The script's `x` (a variable) and `g` (a constant) on `tape`.
fn inputs(tape: &Tape<f64>) -> (Var<'_, f64>, Var<'_, f64>) {
    let x = vec![-1.0, 0.0, 2.0, f64::NAN, -0.0, 1e-300];
    let g = vec![f64::NAN, f64::INFINITY, 3.0, 4.0, 5.0, f64::NEG_INFINITY];
    let x = tape.var(Tensor::from_vec(x, &[6]).unwrap());
    (x, tape.constant(Tensor::from_vec(g, &[6]).unwrap()))
}

#[test]
fn relu_backward_selects_like_pytorch() {
    let tape = Tape::<f64>::new();
    let (x, g) = inputs(&tape);
    let y = x.relu().unwrap().mul(g).unwrap();
    let dx = y.sum(&[], false).unwrap().backward().unwrap();
    assert_eq!(dx.wrt(x).unwrap().to_vec(), WANT);
}

/// One order up: the gradient of `Σ g·(relu'(x)·v)` with respect to `v` is the same
/// select of `g`.
#[test]
fn relu_backward_is_itself_differentiable() {
    let tape = Tape::<f64>::new();
    let (x, g) = inputs(&tape);
    let v = tape.var(Tensor::ones(&[6]));
    let gx = x.relu().unwrap().mul(v).unwrap().sum(&[], false).unwrap();
    let first = gx.grad(&[x], None).unwrap();
    let second = first[0].mul(g).unwrap().sum(&[], false).unwrap();
    assert_eq!(second.backward().unwrap().wrt(v).unwrap().to_vec(), WANT);
}
