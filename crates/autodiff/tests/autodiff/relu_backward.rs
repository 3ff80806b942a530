//! ReLU's backward as PyTorch's `threshold_backward`: a select on the output, so a NaN or
//! infinite upstream gradient is zeroed where the unit is off (a product with a 0/1 slope
//! would give NaN there). Numbers from `reference/gen_relu_backward.py`. And ReLU fused
//! into the max pool after it, against the two ops apart.

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

/// `relu_max_pool2d` against `relu` then `max_pool2d` on inputs full of ties, zeros (±0),
/// NaNs and all-negative windows, with an upstream gradient holding NaN and ∞: the same
/// value, input gradient and (one order up) gradient with respect to the upstream
/// gradient, bit for bit, for non-overlapping and overlapping windows.
fn fused_pool_matches<F: descent_tensor::Float>(seed: u64) {
    use descent_tensor::Window2d;
    use rand::{rngs::StdRng, Rng, SeedableRng};
    let mut rng = StdRng::seed_from_u64(seed);
    let windows = [
        Window2d::new([2, 2]).stride([2, 2]),
        Window2d::new([2, 2]).stride([2, 2]).ceil_mode(true),
        Window2d::new([3, 3]).stride([2, 2]).padding([1, 1]),
        Window2d::new([2, 3]).stride([1, 2]),
    ];
    for case in 0..40 {
        let win = windows[case % windows.len()];
        let shape = [
            rng.random_range(1..=2),
            rng.random_range(1..=3),
            rng.random_range(3..=9),
            rng.random_range(3..=11),
        ];
        let n: usize = shape.iter().product();
        let pick = [-1.0, -0.0, 0.0, 1.0, 2.0, -2.0, f64::NAN];
        let x: Vec<F> = (0..n)
            .map(|_| F::of(pick[rng.random_range(0..pick.len() - usize::from(case % 2 == 0))]))
            .collect();
        let x = Tensor::from_vec(x, &shape).unwrap();
        // Every (variant, case): value, dx, and d(Σ dx·v)/dg.
        let run = |fused: bool| {
            let tape = Tape::<F>::new();
            let xv = tape.var(x.clone());
            let y = if fused {
                xv.relu_max_pool2d(win).unwrap()
            } else {
                xv.relu().unwrap().max_pool2d(win).unwrap()
            };
            let ys = y.shape();
            let mut r = StdRng::seed_from_u64(case as u64);
            let g: Vec<F> = (0..ys.iter().product::<usize>())
                .map(|k| match k % 17 {
                    3 => F::nan(),
                    9 => F::infinity(),
                    _ => F::of(r.random_range(-2.0..2.0)),
                })
                .collect();
            let g = tape.var(Tensor::from_vec(g, &ys).unwrap());
            let total = y.mul(g).unwrap().sum(&[], false).unwrap();
            let dx = total.grad(&[xv], None).unwrap()[0];
            let v = tape.constant(Tensor::rand(&shape, F::of(-1.0), F::of(1.0), &mut r).unwrap());
            let second = dx.mul(v).unwrap().sum(&[], false).unwrap();
            let bits = |t: Tensor<F>| -> Vec<u64> {
                t.to_vec().iter().map(|v| v.as_f64().to_bits()).collect()
            };
            // Read before `backward`, which frees the values it no longer needs.
            let (y, dx) = (bits(y.value().unwrap()), bits(dx.value().unwrap()));
            let grads = second.backward().unwrap();
            [y, dx, bits(grads.wrt(g).unwrap().clone())]
        };
        assert_eq!(run(true), run(false), "case {case}: {shape:?} {win:?}");
    }
}

#[test]
fn relu_max_pool2d_equals_relu_then_max_pool2d_to_second_order_f64() {
    fused_pool_matches::<f64>(1);
}

#[test]
fn relu_max_pool2d_equals_relu_then_max_pool2d_to_second_order_f32() {
    fused_pool_matches::<f32>(2);
}
