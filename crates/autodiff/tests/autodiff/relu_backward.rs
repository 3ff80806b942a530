//! ReLU's backward as PyTorch's `threshold_backward`: a select on the output, so a NaN or
//! infinite upstream gradient is zeroed where the unit is off (a product with a 0/1 slope
//! would give NaN there). Numbers from `reference/gen_relu_backward.py`.

use descent_autodiff::Tape;
use descent_tensor::Tensor;

#[test]
fn relu_backward_selects_like_pytorch() {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::from_vec(vec![-1.0, 0.0, 2.0, f64::NAN, -0.0, 1e-300], &[6]).unwrap());
    let g = [f64::NAN, f64::INFINITY, 3.0, 4.0, 5.0, f64::NEG_INFINITY];
    let g = tape.constant(Tensor::from_vec(g.to_vec(), &[6]).unwrap());
    let y = x.relu().unwrap();
    let dx = y
        .mul(g)
        .unwrap()
        .sum(&[], false)
        .unwrap()
        .backward()
        .unwrap();
    let dx = dx.wrt(x).unwrap().to_vec();
    // PyTorch: [0.0, 0.0, 3.0, 4.0, 0.0, -inf].
    assert_eq!(dx, [0.0, 0.0, 3.0, 4.0, 0.0, f64::NEG_INFINITY]);
    // And one order up (a fresh tape: backward frees the first one's values): the
    // gradient of Σ g·(relu'(x)·v) with respect to v is the same select.
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::from_vec(vec![-1.0, 0.0, 2.0, f64::NAN, -0.0, 1e-300], &[6]).unwrap());
    let g = [f64::NAN, f64::INFINITY, 3.0, 4.0, 5.0, f64::NEG_INFINITY];
    let g = tape.constant(Tensor::from_vec(g.to_vec(), &[6]).unwrap());
    let v = tape.var(Tensor::ones(&[6]));
    let gx = x.relu().unwrap().mul(v).unwrap().sum(&[], false).unwrap();
    let first = gx.grad(&[x], None).unwrap();
    let second = first[0]
        .mul(g)
        .unwrap()
        .sum(&[], false)
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(
        second.wrt(v).unwrap().to_vec(),
        [0.0, 0.0, 3.0, 4.0, 0.0, f64::NEG_INFINITY]
    );
}
