//! safetensors files: round trips, PyTorch's file, and every way a load can fail.

use descent_autodiff::Tape;
use descent_nn::activation::Relu;
use descent_nn::serialize::{load_tensors, read_state, save_buffers, Buffer};
use descent_nn::{load, save, BatchNorm1d, Error, Linear, Mode, Module, Sequential};
use descent_tensor::{Float, Tensor};
use rand::{rngs::StdRng, SeedableRng};
use std::path::PathBuf;

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("descent-nn-serialize-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn state() -> Vec<(String, Buffer<f32>)> {
    vec![
        (
            "0.weight".into(),
            Buffer::Float(
                Tensor::arange(0.0, 6.0, 1.0)
                    .unwrap()
                    .reshape(&[2, 3])
                    .unwrap(),
            ),
        ),
        (
            "0.bias".into(),
            Buffer::Float(Tensor::from_vec(vec![0.5, -0.25], &[2]).unwrap()),
        ),
        ("1.num_batches_tracked".into(), Buffer::Count(7)),
    ]
}

/// What a model shaped like `state()` expects (zeros, count 0).
fn expected() -> Vec<(String, Buffer<f32>)> {
    vec![
        ("0.weight".into(), Buffer::Float(Tensor::zeros(&[2, 3]))),
        ("0.bias".into(), Buffer::Float(Tensor::zeros(&[2]))),
        ("1.num_batches_tracked".into(), Buffer::Count(0)),
    ]
}

fn floats(b: &Buffer<f32>) -> Vec<f32> {
    match b {
        Buffer::Float(t) => t.to_vec(),
        Buffer::Count(_) => panic!("expected a float tensor"),
    }
}

#[test]
fn round_trip_f32_and_counts() {
    let path = tmp("round_trip.safetensors");
    save_buffers(&path, &state()).unwrap();
    assert!(
        !tmp("round_trip.safetensors.tmp").exists(),
        "the temporary file is renamed away"
    );
    let got = read_state(&path, &expected()).unwrap();
    assert_eq!(floats(&got[0]), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(floats(&got[1]), vec![0.5, -0.25]);
    assert!(matches!(got[2], Buffer::Count(7)));
}

#[test]
fn round_trip_f64_is_exact() {
    let path = tmp("f64.safetensors");
    let x = Tensor::<f64>::from_vec(vec![std::f64::consts::PI, 1e-300, -0.1], &[3]).unwrap();
    save_buffers(&path, &[("x".to_string(), Buffer::Float(x.clone()))]).unwrap();
    let loaded = load_tensors::<f64>(&path).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].0, "x");
    assert_eq!(loaded[0].1.to_vec(), x.to_vec());
}

#[test]
fn saving_over_an_existing_file_replaces_it() {
    let path = tmp("replace.safetensors");
    save_buffers(&path, &state()).unwrap();
    let one = vec![("only".to_string(), Buffer::Float(Tensor::<f32>::ones(&[1])))];
    save_buffers(&path, &one).unwrap();
    assert_eq!(load_tensors::<f32>(&path).unwrap().len(), 1);
}

#[test]
fn duplicate_names_are_refused() {
    let mut s = state();
    s.push(("0.bias".into(), Buffer::Float(Tensor::zeros(&[2]))));
    let err = save_buffers(tmp("dup.safetensors"), &s)
        .unwrap_err()
        .to_string();
    assert!(err.contains("0.bias"), "{err}");
}

#[test]
fn missing_tensor_names_it_and_leaves_targets_unchanged() {
    let path = tmp("missing.safetensors");
    save_buffers(&path, &state()[..2]).unwrap();
    let err = read_state(&path, &expected()).unwrap_err();
    assert!(
        matches!(err, Error::MissingTensor { ref name, .. } if name == "1.num_batches_tracked"),
        "{err}"
    );
    assert!(err.to_string().contains("I64 []"), "{err}");
}

#[test]
fn unexpected_tensor_is_refused() {
    let path = tmp("extra.safetensors");
    let mut s = state();
    s.push(("2.weight".into(), Buffer::Float(Tensor::zeros(&[1]))));
    save_buffers(&path, &s).unwrap();
    let err = read_state(&path, &expected()).unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedTensor { ref name, .. } if name == "2.weight"),
        "{err}"
    );
}

#[test]
fn wrong_shape_names_tensor_expected_and_found() {
    let path = tmp("shape.safetensors");
    let mut s = state();
    s[1].1 = Buffer::Float(Tensor::zeros(&[3]));
    save_buffers(&path, &s).unwrap();
    let err = read_state(&path, &expected()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: tensor \"0.bias\" has shape [3] in the file, the model expects [2]",
            path.display()
        )
    );
}

#[test]
fn wrong_dtype_names_tensor_expected_and_found() {
    let path = tmp("dtype.safetensors");
    let s64 = vec![(
        "0.weight".to_string(),
        Buffer::Float(Tensor::<f64>::zeros(&[2, 3])),
    )];
    save_buffers(&path, &s64).unwrap();
    let err = read_state(&path, &expected()[..1]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: tensor \"0.weight\" has dtype F64 in the file, the model expects F32",
            path.display()
        )
    );
}

#[test]
fn truncated_file_names_the_tensor_cut_short() {
    let path = tmp("truncated.safetensors");
    save_buffers(&path, &state()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // Tensors are laid out by dtype (I64 first), then name: 0.bias (8 bytes), 0.weight (24).
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    let err = read_state(&path, &expected()).unwrap_err();
    match &err {
        Error::Truncated {
            name,
            start,
            end,
            found,
            ..
        } => {
            assert_eq!(
                (name.as_str(), *start, *end, *found),
                ("0.weight", 16, 40, 35),
                "{err}"
            );
        }
        _ => panic!("expected Truncated, got {err}"),
    }
    // Cut inside the header.
    std::fs::write(&path, &bytes[..20]).unwrap();
    let err = read_state(&path, &expected()).unwrap_err().to_string();
    assert!(
        err.contains("header length") && err.contains("12 bytes"),
        "{err}"
    );
    // Not even a header length.
    std::fs::write(&path, b"abc").unwrap();
    assert!(matches!(
        read_state(&path, &expected()).unwrap_err(),
        Error::Format { .. }
    ));
}

#[test]
fn missing_file_is_an_io_error_naming_it() {
    let err = load_tensors::<f32>("/nonexistent/descent.safetensors")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("/nonexistent/descent.safetensors: "),
        "{err}"
    );
}

#[test]
fn reads_pytorchs_file() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/nn/reference/mlp.safetensors"
    );
    // The file also holds the I64 num_batches_tracked, which load_tensors refuses by name.
    let err = load_tensors::<f32>(path).unwrap_err().to_string();
    assert!(
        err.contains("1.num_batches_tracked") && err.contains("I64"),
        "{err}"
    );
}

/// Linear(4, 8)-BatchNorm1d(8)-ReLU-Linear(8, out).
fn mlp<F: Float>(out: usize, seed: u64) -> Sequential<F> {
    let mut rng = StdRng::seed_from_u64(seed);
    Sequential::new()
        .add(Linear::new(4, 8, &mut rng).unwrap())
        .add(BatchNorm1d::new(8).unwrap())
        .add(Relu)
        .add(Linear::new(8, out, &mut rng).unwrap())
}

fn model(seed: u64) -> Sequential<f32> {
    mlp(3, seed)
}

fn snapshot(m: &Sequential<f32>) -> Vec<(String, Vec<f32>)> {
    m.state_dict()
        .into_iter()
        .map(|(n, b)| match b {
            Buffer::Float(t) => (n, t.to_vec()),
            Buffer::Count(c) => (n, vec![c as f32]),
        })
        .collect()
}

#[test]
fn model_round_trip_restores_params_and_buffers_and_keeps_ids() {
    let path = tmp("model.safetensors");
    let a = model(1);
    // Move the running statistics away from their initial values.
    let tape = Tape::new();
    let x = Tensor::randn(&[5, 4], 0.0, 1.0, &mut StdRng::seed_from_u64(2)).unwrap();
    a.forward(&tape, tape.constant(x), Mode::Train).unwrap();
    save(&a, &path).unwrap();
    let mut b = model(3);
    let ids: Vec<_> = b.params().iter().map(|p| p.id()).collect();
    assert_ne!(snapshot(&a), snapshot(&b));
    load(&mut b, &path).unwrap();
    assert_eq!(snapshot(&a), snapshot(&b));
    assert_eq!(b.params().iter().map(|p| p.id()).collect::<Vec<_>>(), ids);
    let names: Vec<String> = a.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "0.weight",
            "0.bias",
            "1.weight",
            "1.bias",
            "3.weight",
            "3.bias",
            "1.running_mean",
            "1.running_var",
            "1.num_batches_tracked"
        ]
    );
}

#[test]
fn failed_loads_leave_the_model_unchanged() {
    let path = tmp("bad_model.safetensors");
    let mut m = model(4);
    let before = snapshot(&m);
    // A file from a model whose last layer is wider: every other tensor would load fine,
    // and the shape error is found before anything is written.
    let wider = mlp::<f32>(4, 5);
    save(&wider, &path).unwrap();
    let err = load(&mut m, &path).unwrap_err().to_string();
    assert!(
        err.contains("\"3.weight\" has shape [4, 8]") && err.contains("[3, 8]"),
        "{err}"
    );
    assert_eq!(snapshot(&m), before);
    // A truncated copy of a good file.
    save(&model(6), &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    let err = load(&mut m, &path).unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err}");
    assert_eq!(snapshot(&m), before);
    // An f64 model's file.
    let m64 = mlp::<f64>(3, 5);
    save(&m64, &path).unwrap();
    let err = load(&mut m, &path).unwrap_err().to_string();
    assert!(
        err.contains("dtype F64") && err.contains("expects F32"),
        "{err}"
    );
    assert_eq!(snapshot(&m), before);
}

#[test]
fn reads_are_bounded_by_the_file_size() {
    // /dev/zero used to be read until memory ran out.
    #[cfg(unix)]
    {
        let err = load_tensors::<f32>("/dev/zero").unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "{err}");
        assert!(
            err.to_string()
                .contains("at byte offset 0: not a regular file"),
            "{err}"
        );
    }
    // A valid file followed by a terabyte of (sparse) zeros: refused from the sizes alone.
    let path = tmp("huge.safetensors");
    save_buffers(&path, &state()).unwrap();
    let valid = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1 << 40)
        .unwrap();
    let err = read_state(&path, &expected()).unwrap_err().to_string();
    assert!(
        err.contains(&format!("at byte offset {valid}: "))
            && err.contains("bytes follow the last tensor"),
        "{err}"
    );
    // A header that declares far more data than the file holds.
    let header =
        br#"{"0.weight":{"dtype":"F32","shape":[4294967296],"data_offsets":[0,17179869184]}}"#;
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header);
    std::fs::write(&path, &bytes).unwrap();
    let err = load_tensors::<f32>(&path).unwrap_err();
    assert!(
        matches!(err, Error::Truncated { ref name, end: 17179869184, found: 0, .. } if name == "0.weight"),
        "{err}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn non_finite_weights_and_negative_counts_are_refused_naming_the_tensor() {
    let path = tmp("nonfinite.safetensors");
    let mut s = state();
    s[1].1 = Buffer::Float(Tensor::from_vec(vec![0.5, f32::NAN], &[2]).unwrap());
    save_buffers(&path, &s).unwrap();
    let want = "tensor \"0.bias\" (shape [2]) holds NaN or infinity";
    let err = read_state(&path, &expected()).unwrap_err();
    assert!(
        matches!(err, Error::Format { .. }) && err.to_string().contains(want),
        "{err}"
    );
    let err = load_tensors::<f32>(&path).unwrap_err().to_string();
    assert!(err.contains(want), "{err}");
    // PyTorch never writes a negative count; one used to read as 0.
    use descent_tensor::io::{save_safetensors, RawTensor};
    let raws: Vec<(String, RawTensor)> = state()
        .iter()
        .map(|(n, b)| match b {
            Buffer::Float(t) => (n.clone(), RawTensor::from_tensor(t)),
            Buffer::Count(_) => (n.clone(), RawTensor::i64_scalar(-3)),
        })
        .collect();
    save_safetensors(&path, &raws, None).unwrap();
    let err = read_state(&path, &expected()).unwrap_err().to_string();
    assert!(
        err.contains("count \"1.num_batches_tracked\" is negative"),
        "{err}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn weights_round_trip_through_bytes_and_match_the_file() {
    let path = tmp("bytes.safetensors");
    let a = model(11);
    let tape = Tape::new();
    let x = Tensor::randn(&[5, 4], 0.0, 1.0, &mut StdRng::seed_from_u64(12)).unwrap();
    a.forward(&tape, tape.constant(x), Mode::Train).unwrap();
    let bytes = descent_nn::to_bytes(&a).unwrap();
    save(&a, &path).unwrap();
    assert_eq!(
        bytes,
        std::fs::read(&path).unwrap(),
        "one codec: the file's bytes"
    );
    let mut b = model(13);
    let ids: Vec<_> = b.params().iter().map(|p| p.id()).collect();
    descent_nn::load_bytes(&mut b, &bytes).unwrap();
    assert_eq!(snapshot(&a), snapshot(&b));
    assert_eq!(b.params().iter().map(|p| p.id()).collect::<Vec<_>>(), ids);
    // Bad bytes: an error naming the in-memory source, and the model unchanged.
    let before = snapshot(&b);
    let err = descent_nn::load_bytes(&mut b, &bytes[..bytes.len() - 1]).unwrap_err();
    assert!(matches!(err, Error::Truncated { .. }), "{err}");
    assert!(err.to_string().starts_with("<bytes>: truncated"), "{err}");
    let err = descent_nn::load_bytes(&mut b, b"not safetensors").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("<bytes>: not a valid safetensors file"),
        "{err}"
    );
    let wider = descent_nn::to_bytes(&mlp::<f32>(4, 5)).unwrap();
    let err = descent_nn::load_bytes(&mut b, &wider)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"3.weight\" has shape [4, 8]") && err.contains("[3, 8]"),
        "{err}"
    );
    assert_eq!(snapshot(&b), before);
}

#[test]
fn a_state_dict_in_memory_restores_best_weights_with_every_check() {
    let mut m = model(21);
    let best = m.state_dict();
    let best_values = snapshot(&m);
    let ids: Vec<_> = m.params().iter().map(|p| p.id()).collect();
    // Train a little: every parameter changes.
    for p in m.params_mut() {
        p.value = p.value.add_scalar(1.0);
    }
    assert_ne!(snapshot(&m), best_values);
    descent_nn::load_state_dict(&mut m, &best).unwrap();
    assert_eq!(snapshot(&m), best_values);
    assert_eq!(m.params().iter().map(|p| p.id()).collect::<Vec<_>>(), ids);

    let before = snapshot(&m);
    let mut missing = best.clone();
    missing.remove(2);
    let err = descent_nn::load_state_dict(&mut m, &missing)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("<state dict>: missing tensor \"1.weight\""),
        "{err}"
    );
    let mut twice = best.clone();
    twice.push(best[0].clone());
    let err = descent_nn::load_state_dict(&mut m, &twice)
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "<state dict>: not a valid safetensors file: tensor \"0.weight\" is given twice"
    );
    let mut extra = best.clone();
    extra.push(("4.weight".into(), Buffer::Float(Tensor::zeros(&[1]))));
    let err = descent_nn::load_state_dict(&mut m, &extra)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unexpected tensor \"4.weight\""), "{err}");
    let mut nan = best.clone();
    nan[1].1 = Buffer::Float(Tensor::full(&[8], f32::NAN));
    let err = descent_nn::load_state_dict(&mut m, &nan)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"0.bias\" (shape [8]) holds NaN"), "{err}");
    let wider = mlp::<f32>(4, 5).state_dict();
    let err = descent_nn::load_state_dict(&mut m, &wider)
        .unwrap_err()
        .to_string();
    assert!(err.contains("\"3.weight\" has shape [4, 8]"), "{err}");
    assert_eq!(snapshot(&m), before);
}
