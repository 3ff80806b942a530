//! The convolutional layers: module gradchecks (input and every parameter, f64), PyTorch's
//! default initialization bounds, unbatched inputs, parameter names and shape errors.

use crate::common;

use common::{check_module, randn};
use descent_autodiff::Tape;
use descent_nn::activation::Tanh;
use descent_nn::{
    AdaptiveAvgPool2d, AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, Mode, Module, Sequential,
};
use descent_tensor::{ConvOptions, Tensor, Window2d};
use rand::{rngs::StdRng, SeedableRng};

fn rng() -> StdRng {
    StdRng::seed_from_u64(11)
}

#[test]
fn conv2d_gradcheck_with_stride_padding_dilation_groups() {
    let opts = ConvOptions {
        stride: [2, 1],
        padding: [1, 2],
        dilation: [1, 2],
        groups: 2,
    };
    let mut conv = Conv2d::<f64>::new(4, 6, [3, 2], opts, &mut rng()).unwrap();
    let checked = check_module(&mut conv, &randn(&[2, 4, 5, 4], 1), Mode::Train);
    assert_eq!(checked, 2 * 4 * 5 * 4 + 6 * 2 * 3 * 2 + 6);
}

/// A small CNN: every layer of this family between an input and a loss-ready output.
#[test]
fn small_cnn_gradcheck() {
    let mut rng = rng();
    let pad = ConvOptions {
        padding: [1, 1],
        ..Default::default()
    };
    let mut model = Sequential::new()
        .add(Conv2d::<f64>::new(2, 4, [3, 3], pad, &mut rng).unwrap())
        .add(Tanh)
        .add(MaxPool2d::new([2, 2]))
        .add(
            Conv2d::new(4, 4, [2, 2], ConvOptions { groups: 4, ..pad }, &mut rng)
                .unwrap()
                .without_bias(),
        )
        .add(AvgPool2d {
            window: Window2d::new([3, 3]).stride([1, 1]).padding([1, 1]),
            count_include_pad: false,
        })
        .add(AdaptiveAvgPool2d {
            output_size: [2, 3],
        })
        .add(Flatten::default())
        .add(Linear::new(24, 3, &mut rng).unwrap());
    let names: Vec<String> = model.named_params().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["0.weight", "0.bias", "3.weight", "7.weight", "7.bias"]
    );
    let checked = check_module(&mut model, &randn(&[2, 2, 7, 6], 2), Mode::Train);
    assert!(checked > 2 * 2 * 7 * 6 + 72, "{checked}");
}

/// PyTorch's default: weight and bias uniform within ±1/√fan_in, fan_in = in/groups·kh·kw.
#[test]
fn default_init_is_pytorchs() {
    let opts = ConvOptions {
        groups: 2,
        ..Default::default()
    };
    let conv = Conv2d::<f64>::new(16, 64, [3, 5], opts, &mut rng()).unwrap();
    let bound = 1.0 / ((8 * 3 * 5) as f64).sqrt();
    let w = conv.weight.value.to_vec();
    assert_eq!(conv.weight.value.shape(), [64, 8, 3, 5]);
    assert!(w.iter().all(|v| v.abs() <= bound));
    // U(−b, b) has standard deviation b/√3; 7680 samples pin it within a few percent.
    let std = (w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64).sqrt();
    assert!(
        (std / (bound / 3f64.sqrt()) - 1.0).abs() < 0.05,
        "std {std}"
    );
    let b = conv.bias.as_ref().unwrap().value.to_vec();
    assert!(b.len() == 64 && b.iter().all(|v| v.abs() <= bound));
}

#[test]
fn unbatched_input_is_a_batch_of_one() {
    let conv = Conv2d::<f64>::new(3, 2, [2, 2], ConvOptions::default(), &mut rng()).unwrap();
    let x = randn(&[3, 5, 4], 3);
    let tape = Tape::new();
    let layers: [&dyn Module<f64>; 3] = [&conv, &MaxPool2d::new([2, 2]), &AvgPool2d::new([2, 1])];
    for layer in layers {
        let single = layer
            .forward(&tape, tape.constant(x.clone()), Mode::Eval)
            .unwrap();
        let batch = x.unsqueeze(0).unwrap();
        let batched = layer
            .forward(&tape, tape.constant(batch), Mode::Eval)
            .unwrap();
        assert_eq!(single.shape().len(), 3);
        assert_eq!(
            single.value().unwrap().to_vec(),
            batched.value().unwrap().to_vec()
        );
    }
}

#[test]
fn bad_inputs_are_errors_naming_the_layer() {
    let conv = Conv2d::<f32>::new(3, 8, [3, 3], ConvOptions::default(), &mut rng()).unwrap();
    let tape = Tape::new();
    let err = |m: &dyn Module<f32>, shape: &[usize]| {
        m.forward(&tape, tape.constant(Tensor::ones(shape)), Mode::Eval)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        err(&conv, &[2, 3, 28]),
        "Conv2d(3, 8, kernel_size=[3, 3], stride=[1, 1]): expected input [N, 3, H, W] or [3, H, W], got shape [2, 3, 28]"
    );
    assert_eq!(
        err(&conv, &[2, 3, 2, 28]),
        "conv2d: output height would be zero: the kernel spans 3 but the padded input height is 2: [2, 3, 2, 28] * [8, 3, 3, 3]"
    );
    assert_eq!(
        err(&MaxPool2d::new([2, 2]), &[4, 4]),
        "MaxPool2d(Window2d { kernel: [2, 2], stride: [2, 2], padding: [0, 0], dilation: [1, 1], ceil_mode: false }): expected input [N, C, H, W] or [C, H, W], got shape [4, 4]"
    );
    let bad = Conv2d::<f32>::new(
        3,
        8,
        [3, 3],
        ConvOptions {
            groups: 2,
            ..Default::default()
        },
        &mut rng(),
    );
    assert_eq!(
        bad.unwrap_err().to_string(),
        "Conv2d: invalid groups = 2: must be positive and divide in_channels and out_channels"
    );
}

/// Dropout2d drops whole channels with probability p and scales the others by 1/(1 − p),
/// as `nn.Dropout2d`; its gradient is the same mask; the identity in eval mode; the same
/// seed draws the same channels, another seed others; a 3-D input draws per `(n, c)` row.
#[test]
fn dropout2d_drops_whole_channels() {
    use descent_nn::Dropout2d;
    let p = 0.3;
    let tape = Tape::<f64>::new();
    let x = tape.var(randn(&[40, 100, 3, 2], 3));
    let drop = Dropout2d::new(p, 9).unwrap();
    let y = drop.forward(&tape, x, Mode::Train).unwrap();
    let (xv, yv) = (x.value().unwrap().to_vec(), y.value().unwrap().to_vec());
    let grad = y.sum(&[], false).unwrap().backward().unwrap();
    let gx = grad.wrt(x).unwrap().to_vec();
    let mut dropped = 0;
    for (i, plane) in gx.chunks(6).enumerate() {
        let scale = plane[0];
        assert!(
            scale == 0.0 || (scale - 1.0 / (1.0 - p)).abs() < 1e-15,
            "channel {i}: {scale}"
        );
        assert!(
            plane.iter().all(|&s| s == scale),
            "channel {i} is not one mask value"
        );
        for j in 0..6 {
            assert_eq!(yv[i * 6 + j], xv[i * 6 + j] * scale);
        }
        dropped += usize::from(scale == 0.0);
    }
    // 4000 channels: the dropped fraction is within 4 standard deviations (0.029) of p.
    let frac = dropped as f64 / 4000.0;
    assert!((frac - p).abs() < 0.03, "dropped {frac}");

    let mask = |seed: u64, shape: &[usize]| -> Vec<f64> {
        let tape = Tape::<f64>::new();
        let ones = tape.constant(Tensor::ones(shape));
        let y = Dropout2d::new(0.5, seed)
            .unwrap()
            .forward(&tape, ones, Mode::Train)
            .unwrap();
        y.value().unwrap().to_vec()
    };
    assert_eq!(mask(4, &[8, 16, 2, 2]), mask(4, &[8, 16, 2, 2]));
    assert_ne!(mask(4, &[8, 16, 2, 2]), mask(5, &[8, 16, 2, 2]));
    for row in mask(6, &[8, 16, 5]).chunks(5) {
        assert!(row.iter().all(|&v| v == row[0]), "{row:?}");
    }
    let eval = drop.forward(&tape, x, Mode::Eval).unwrap();
    assert_eq!(eval.value().unwrap().to_vec(), xv);
    assert!(Dropout2d::new(1.5, 0).is_err());
}

/// `ceil_mode` on the pool layers, against PyTorch's `nn.MaxPool2d(2, ceil_mode=True)`,
/// `nn.AvgPool2d(2, ceil_mode=True)` and `nn.AvgPool2d(3, stride=2, padding=1,
/// ceil_mode=True)` on `arange` inputs (values printed by PyTorch 2.x; the f32 ones to 1e-6).
#[test]
fn pool_layers_ceil_mode_match_pytorch() {
    let tape = Tape::<f32>::new();
    let x = tape.constant(
        Tensor::arange(0., 25., 1.)
            .unwrap()
            .reshape(&[1, 1, 5, 5])
            .unwrap(),
    );
    let max = MaxPool2d::new([2, 2]).ceil_mode(true);
    let y = max.forward(&tape, x, Mode::Eval).unwrap();
    assert_eq!(y.shape(), [1, 1, 3, 3]);
    assert_eq!(
        y.value().unwrap().to_vec(),
        [6., 8., 9., 16., 18., 19., 21., 23., 24.]
    );
    let avg = AvgPool2d::new([2, 2]).ceil_mode(true);
    let y = avg.forward(&tape, x, Mode::Eval).unwrap();
    let want = [3.0, 5.0, 6.5, 13.0, 15.0, 16.5, 20.5, 22.5, 24.0];
    assert_eq!(y.value().unwrap().to_vec(), want);
    let x = tape.constant(
        Tensor::arange(0., 36., 1.)
            .unwrap()
            .reshape(&[1, 1, 6, 6])
            .unwrap(),
    );
    let avg = AvgPool2d {
        window: Window2d::new([3, 3]).stride([2, 2]).padding([1, 1]),
        count_include_pad: true,
    }
    .ceil_mode(true);
    let y = avg
        .forward(&tape, x, Mode::Eval)
        .unwrap()
        .value()
        .unwrap()
        .to_vec();
    let want = [
        1.5555555820465088,
        3.3333332538604736,
        4.666666507720947,
        2.6666667461395264,
        8.333333015441895,
        14.0,
        16.0,
        8.5,
        16.33333396911621,
        26.0,
        28.0,
        14.5,
        10.166666984558105,
        16.0,
        17.0,
        8.75,
    ];
    assert_eq!(y.len(), want.len());
    for (g, w) in y.iter().zip(want) {
        assert!((f64::from(*g) - w).abs() <= 1e-6 * w.abs(), "{g} vs {w}");
    }
    // Floor mode on the same input drops the partial windows.
    let y = avg.ceil_mode(false).forward(&tape, x, Mode::Eval).unwrap();
    assert_eq!(y.shape(), [1, 1, 3, 3]);
}

#[test]
fn conv2d_refuses_zero_stride_or_dilation_when_built() {
    for (opts, msg) in [
        (
            ConvOptions {
                stride: [0, 1],
                ..Default::default()
            },
            "Conv2d: invalid stride = [0, 1]: must be positive",
        ),
        (
            ConvOptions {
                dilation: [1, 0],
                ..Default::default()
            },
            "Conv2d: invalid dilation = [1, 0]: must be positive",
        ),
    ] {
        let r = Conv2d::<f32>::new(3, 8, [3, 3], opts, &mut rng());
        assert_eq!(r.unwrap_err().to_string(), msg);
    }
}

/// Random small layer configurations and input shapes (zeros included): every forward is
/// `Ok` or `Err`, never a panic, and an `Ok` keeps the input's rank (the sizes themselves
/// are checked against PyTorch's formula by the tensor crate's proptest).
#[test]
fn layers_on_random_small_shapes_return_ok_or_err() {
    use rand::Rng;
    let mut rng = StdRng::seed_from_u64(5);
    let mut ok = 0;
    for _ in 0..400 {
        let mut r = |hi: usize| rng.random_range(0..hi);
        let shape: Vec<usize> = (0..[3, 4, 4, 4, 5][r(5)]).map(|_| r(6)).collect();
        let k = [1 + r(3), 1 + r(3)];
        let window = Window2d::new(k)
            .stride([r(3), r(3)])
            .padding([r(2), r(2)])
            .dilation([1 + r(2), 1 + r(2)])
            .ceil_mode(r(2) == 1);
        let opts = ConvOptions {
            stride: window.stride,
            padding: window.padding,
            dilation: window.dilation,
            groups: 1 + r(2),
        };
        let tape = Tape::<f32>::new();
        let x = tape.constant(Tensor::ones(&shape));
        let results = [
            Conv2d::<f32>::new(2, 2, k, opts, &mut StdRng::seed_from_u64(0))
                .map_err(|e| e.to_string())
                .and_then(|c| c.forward(&tape, x, Mode::Train).map_err(|e| e.to_string())),
            MaxPool2d { window }
                .forward(&tape, x, Mode::Train)
                .map_err(|e| e.to_string()),
            AvgPool2d {
                window: window.dilation([1, 1]),
                count_include_pad: r(2) == 1,
            }
            .forward(&tape, x, Mode::Train)
            .map_err(|e| e.to_string()),
            AdaptiveAvgPool2d { output_size: k }
                .forward(&tape, x, Mode::Train)
                .map_err(|e| e.to_string()),
        ];
        for y in results.into_iter().flatten() {
            assert!(y.shape().len() == shape.len());
            ok += 1;
        }
    }
    assert!(ok > 100, "only {ok} layers ran");
}
