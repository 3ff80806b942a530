//! Per-layer statistics against a case computed by hand, and `TensorStats` on images.

use descent_autodiff::Param;
use descent_nn::activation::Relu;
use descent_nn::{Linear, Mode, Sequential};
use descent_tensor::Tensor;
use descent_train::diagnostics::{LayerMonitor, Quantity, TensorStats};
use rand::{rngs::StdRng, SeedableRng};

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} vs {b}");
}

/// Linear(2 → 3) then ReLU on four samples, loss = Σ outputs:
///
/// ```text
/// W = [[1, 0], [0, 1], [-1, -1]], b = [0, 0, -10]
/// x = [[1, 2], [3, -1], [-2, 1], [0, 0]]
/// h = xWᵀ + b = [[1, 2, -13], [3, -1, -12], [-2, 1, -9], [0, 0, -10]]   sum -40
/// relu(h)     = [[1, 2, 0], [3, 0, 0], [0, 1, 0], [0, 0, 0]]            sum 7, Σv² 15
/// ```
/// so the ReLU output has mean 7/12, 8 zeros of 12, unit 2 dead (1 of 3 units), and
/// unbiased variance (15 − 12·(7/12)²)/11 = 131/132. Backward: ∂L/∂relu = 1 everywhere;
/// ∂L/∂h = [h > 0] (4 ones of 12, unit 2 dead); ∂L/∂W = [h > 0]ᵀx = [[4, 1], [-1, 3], [0, 0]],
/// ∂L/∂b = [2, 2, 0].
#[test]
fn activation_and_gradient_statistics_match_a_hand_computed_case() {
    let mut rng = StdRng::seed_from_u64(0);
    let mut linear = Linear::<f64>::new(2, 3, &mut rng).unwrap();
    linear.weight =
        Param::new(Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0, -1.0, -1.0], &[3, 2]).unwrap());
    linear.bias = Some(Param::new(
        Tensor::from_vec(vec![0.0, 0.0, -10.0], &[3]).unwrap(),
    ));
    let model = Sequential::new().add(linear).add(Relu);
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, -1.0, -2.0, 1.0, 0.0, 0.0], &[4, 2]).unwrap();

    let mut monitor = LayerMonitor::new().with_histograms(3, &[2]);
    let seen = monitor
        .observe(2, 17, &model, &x, Mode::Train, |out| {
            Ok(out.sum(&[], false)?)
        })
        .unwrap();
    close(seen.loss, 7.0);
    let row = |layer: &str, q: Quantity| {
        let r = monitor
            .rows()
            .iter()
            .find(|r| r.layer == layer && r.quantity == q);
        r.unwrap_or_else(|| panic!("no row {layer} {q:?}")).stats
    };

    let relu = row("1", Quantity::Activation);
    assert_eq!(relu.count, 12);
    close(relu.mean, 7.0 / 12.0);
    close(relu.std, (131.0f64 / 132.0).sqrt());
    close(relu.zero_fraction, 8.0 / 12.0);
    close(relu.dead_fraction, 1.0 / 3.0);
    close(relu.min, 0.0);
    close(relu.max, 3.0);

    let linear_out = row("0", Quantity::Activation);
    close(linear_out.mean, -40.0 / 12.0);
    close(linear_out.dead_fraction, 0.0);

    let relu_grad = row("1", Quantity::ActivationGrad);
    close(relu_grad.mean, 1.0);
    close(relu_grad.std, 0.0);
    let h_grad = row("0", Quantity::ActivationGrad);
    close(h_grad.mean, 4.0 / 12.0);
    close(h_grad.dead_fraction, 1.0 / 3.0);

    let w_grad = row("0.weight", Quantity::ParamGrad);
    close(w_grad.mean, 7.0 / 6.0);
    close(w_grad.max, 4.0);
    close(w_grad.min, -1.0);
    let params = descent_nn::Module::<f64>::params(&model);
    let g = seen.grads.get(params[0]).unwrap().to_vec();
    assert_eq!(g, [4.0, 1.0, -1.0, 3.0, 0.0, 0.0]);
    assert_eq!(seen.grads.get(params[1]).unwrap().to_vec(), [2.0, 2.0, 0.0]);

    // Histograms at epoch 2 only: the ReLU output's three bins over [0, 3].
    let hist = monitor
        .histograms()
        .iter()
        .find(|h| h.layer == "1" && h.quantity == Quantity::Activation);
    let hist = &hist.unwrap().histogram;
    assert_eq!(hist.edges, [0.0, 1.0, 2.0, 3.0]);
    assert_eq!(hist.counts, [8, 2, 2]);
    monitor
        .observe(3, 18, &model, &x, Mode::Train, |out| {
            Ok(out.sum(&[], false)?)
        })
        .unwrap();
    assert!(monitor.histograms().iter().all(|h| h.epoch == 2));

    let csv = monitor.to_csv();
    assert_eq!(csv.lines().count(), 1 + 2 * (2 * 2 + 2));
    assert!(csv.contains("\n2,17,1,activation,12,"), "{csv}");

    // The variance picture: one line per observed step, the layers named on the x axis.
    let dir = crate::common::temp_dir("diag-layers");
    let path = dir.join("layers.svg");
    descent_train::plot::render(&path, &monitor.figure()).unwrap();
    let svg = std::fs::read_to_string(&path).unwrap();
    for want in [
        "per-layer standard deviation",
        "forward: layer outputs",
        "backward: gradient of the loss",
        "standard deviation (log scale)",
        "epoch 2, step 17",
        "epoch 3, step 18",
    ] {
        assert!(svg.contains(want), "{want:?} missing from the SVG");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// A dead channel of an image batch is one whose every pixel of every sample is zero.
#[test]
fn dead_channels_of_an_image_batch() {
    // [N=2, C=3, H=1, W=2]: channel 1 is zero in both samples; channel 2 only in the first.
    let t = Tensor::<f32>::from_vec(
        vec![1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2.0, 3.0, 0.0, 0.0, 0.0, 5.0],
        &[2, 3, 1, 2],
    )
    .unwrap();
    let s = TensorStats::of(&t).unwrap();
    close(s.dead_fraction, 1.0 / 3.0);
    close(s.zero_fraction, 8.0 / 12.0);
    close(s.mean, 11.0 / 12.0);
    assert!(TensorStats::of(&Tensor::<f32>::zeros(&[0])).is_err());
}
