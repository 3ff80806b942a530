//! The diagnostics as hooks on a custom model: attaching them changes nothing of the run
//! (bit for bit), each writes its CSV and a titled figure after every epoch, the curvature
//! hook measures the Hessian's exact value on a quadratic, and the range test through the
//! trainer labels a quadratic's rates by its curvature.

use std::cell::RefCell;
use std::rc::Rc;

use descent_data::{DataLoader, Dataset};
use descent_nn::Linear;
use descent_tensor::Tensor;
use descent_train::diagnostics::{
    CurvatureMonitor, LayerMonitor, NoiseMonitor, RangeTest, RateLabel, Recorder,
};
use descent_train::evaluate::Regression;
use descent_train::Trainer;
use rand::{rngs::StdRng, SeedableRng};

use crate::common::{bits, data, temp_dir, trainer};

#[test]
fn hooks_change_nothing_of_the_run_and_write_their_reports() {
    let dir = temp_dir("diag-hooks");
    let mut plain = trainer(3, "sgd:lr=0.05,momentum=0.9");
    plain.fit().unwrap();
    let plain_bits = bits(&plain.into_model().unwrap());

    let p = |name: &str| dir.join(name);
    let noise = NoiseMonitor::new(data(96, 1, 1.0), Regression, &[4, 16, 48], 8).unwrap();
    let mut observed = trainer(3, "sgd:lr=0.05,momentum=0.9")
        .hook(Recorder::new(LayerMonitor::new().every(4), p("layers.csv")).figure(p("layers.svg")))
        .hook(Recorder::new(CurvatureMonitor::new(5).unwrap(), p("curv.csv")).figure(p("curv.svg")))
        .hook(Recorder::new(noise.every(2), p("noise.csv")).figure(p("noise.svg")));
    observed.fit().unwrap();
    assert_eq!(
        bits(&observed.into_model().unwrap()),
        plain_bits,
        "observing changed the run"
    );

    // 3 epochs of 6 steps: layers at steps 4, 8, …, 16; curvature at 5, 10, 15; noise
    // after epoch 2 only.
    let read = |name: &str| std::fs::read_to_string(p(name)).unwrap();
    let layers = read("layers.csv");
    let steps: Vec<&str> = layers
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap())
        .collect();
    assert!(
        steps.iter().all(|s| ["4", "8", "12", "16"].contains(s)),
        "{layers}"
    );
    // The custom model reports only its output (it keeps `forward_observed`'s default).
    assert!(layers.contains(",output,activation,"), "{layers}");
    assert!(layers.contains(",l2.weight,param_grad,"), "{layers}");
    assert_eq!(read("curv.csv").lines().count(), 1 + 3);
    let noise = read("noise.csv");
    assert_eq!(noise.lines().count(), 1 + 3, "{noise}");
    assert!(
        noise.lines().skip(1).all(|l| l.starts_with("2,")),
        "{noise}"
    );
    for (file, wants) in [
        (
            "layers.svg",
            &[
                "per-layer standard deviation",
                "layer (as the model names it)",
                "epoch 1, step 4",
                "output",
            ][..],
        ),
        (
            "curv.svg",
            &["stability limit 2/η", "optimizer step", "gᵀHg / gᵀg"],
        ),
        (
            "noise.svg",
            &["batch size b", "measured after epoch 2", "tr(Σ)/b law"],
        ),
    ] {
        let svg = read(file);
        for want in wants {
            assert!(svg.contains(want), "{want:?} missing from {file}");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// `L(w) = mean((w·x − y)²)` over inputs `x ∈ {±1, ±2}` has Hessian `2·mean(x²) = 5` for
/// every `w`: the hook's curvature along the gradient is 5 at every measured step.
fn quadratic() -> (Dataset<f64, Tensor<f64>>, Linear<f64>) {
    let x = Tensor::from_vec(vec![1.0, -1.0, 2.0, -2.0, 1.0, -2.0, 2.0, -1.0], &[8, 1]).unwrap();
    let y = Tensor::from_vec(vec![0.5, -3.0, 1.0, 2.0, -1.0, 0.0, 4.0, 1.5], &[8, 1]).unwrap();
    let model = Linear::new(1, 1, &mut StdRng::seed_from_u64(0))
        .unwrap()
        .without_bias();
    (Dataset::new(x, y).unwrap(), model)
}

#[test]
fn the_curvature_hook_measures_the_hessian_of_a_quadratic() {
    let (data, model) = quadratic();
    let monitor = Rc::new(RefCell::new(CurvatureMonitor::new(1).unwrap()));
    let mut t = Trainer::new(
        model,
        "sgd:lr=0.3",
        DataLoader::new(data, 8).unwrap(),
        Regression,
    )
    .unwrap()
    .epochs(4)
    .print_epochs(false)
    .hook(monitor.clone());
    t.fit().unwrap();
    let rows = monitor.borrow().rows().to_vec();
    assert_eq!(rows.len(), 4);
    for r in &rows {
        let c = r.curvature.along_gradient().unwrap();
        assert!((c - 5.0).abs() < 1e-12, "{c}");
        // 2/η = 6.67 > 5: stable.
        assert!(!r.unstable());
    }
}

/// Through the trainer, on the full batch: gradient descent on a quadratic of curvature
/// λ = 5 diverges above 2/λ = 0.4, overshoots (oscillates) between 1/λ and 2/λ, and is
/// slow far below.
#[test]
fn the_range_test_through_the_trainer_labels_a_quadratic() {
    let (data, model) = quadratic();
    let mut t = Trainer::new(
        model,
        "sgd:lr=0.1",
        DataLoader::new(data, 8).unwrap(),
        Regression,
    )
    .unwrap();
    let before = bits(t.model());
    let test = RangeTest {
        lr_min: 1e-4,
        lr_max: 1.0,
        rates: 17,
        steps: 8,
    };
    let report = t.range_test(&test).unwrap();
    assert_eq!(bits(t.model()), before, "the weights are restored");
    for trial in &report.trials {
        let want = if trial.lr > 0.4 {
            Some(RateLabel::Diverging)
        } else if trial.lr > 0.2 && trial.lr < 0.4 {
            Some(RateLabel::Oscillating)
        } else if trial.lr < 6e-4 {
            Some(RateLabel::Slow)
        } else {
            None
        };
        if let Some(want) = want {
            assert_eq!(trial.label, want, "lr {}", trial.lr);
        }
    }
    let suggested = report.suggested().unwrap();
    assert!(suggested <= 0.2, "{suggested}");
}

/// The diagnostics' figures take the one drawing path: the same figure as PNG, of the
/// figure's size, with text and axes drawn (where a font for PNG text is found).
#[test]
fn a_diagnostic_figure_renders_as_png_too() {
    let dir = temp_dir("diag-png");
    let png = dir.join("curv.png");
    if let Err(e) = descent_train::plot::check(&png) {
        assert!(e.to_string().contains("DESCENT_FONT"), "{e}");
        return;
    }
    let (data, model) = quadratic();
    let curvature =
        Recorder::new(CurvatureMonitor::new(1).unwrap(), dir.join("c.csv")).figure(&png);
    let mut t = Trainer::new(
        model,
        "sgd:lr=0.3",
        DataLoader::new(data, 4).unwrap(),
        Regression,
    )
    .unwrap()
    .epochs(2)
    .print_epochs(false)
    .hook(curvature);
    t.fit().unwrap();
    let decoder = png::Decoder::new(std::fs::File::open(&png).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1200, 620));
    let dark = buf[..info.buffer_size()]
        .chunks(3)
        .filter(|p| p.iter().all(|&c| c < 100))
        .count();
    assert!(dark > 1000, "{dark} dark pixels: no text or axes?");
    std::fs::remove_dir_all(&dir).ok();
}
