//! safetensors files: round trips, PyTorch's file, and every way a load can fail.

use descent_nn::serialize::{load_buffers, load_tensors, save_buffers, Buffer, BufferMut};
use descent_nn::Error;
use descent_tensor::Tensor;
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

/// Zeroed targets shaped like `state()`.
struct Targets {
    w: Tensor<f32>,
    b: Tensor<f32>,
    n: u64,
}

impl Targets {
    fn new() -> Self {
        Targets {
            w: Tensor::zeros(&[2, 3]),
            b: Tensor::zeros(&[2]),
            n: 0,
        }
    }
    fn slots(&mut self) -> Vec<(String, BufferMut<'_, f32>)> {
        vec![
            ("0.weight".into(), BufferMut::Float(&mut self.w)),
            ("0.bias".into(), BufferMut::Float(&mut self.b)),
            (
                "1.num_batches_tracked".into(),
                BufferMut::Count(&mut self.n),
            ),
        ]
    }
    fn untouched(&self) -> bool {
        self.w.to_vec() == vec![0.0; 6] && self.b.to_vec() == vec![0.0; 2] && self.n == 0
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
    let mut t = Targets::new();
    load_buffers(&path, t.slots()).unwrap();
    assert_eq!(t.w.to_vec(), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    assert_eq!(t.b.to_vec(), vec![0.5, -0.25]);
    assert_eq!(t.n, 7);
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
    let mut t = Targets::new();
    let err = load_buffers(&path, t.slots()).unwrap_err();
    assert!(
        matches!(err, Error::MissingTensor { ref name, .. } if name == "1.num_batches_tracked"),
        "{err}"
    );
    assert!(err.to_string().contains("I64 []"), "{err}");
    assert!(t.untouched());
}

#[test]
fn unexpected_tensor_is_refused() {
    let path = tmp("extra.safetensors");
    let mut s = state();
    s.push(("2.weight".into(), Buffer::Float(Tensor::zeros(&[1]))));
    save_buffers(&path, &s).unwrap();
    let mut t = Targets::new();
    let err = load_buffers(&path, t.slots()).unwrap_err();
    assert!(
        matches!(err, Error::UnexpectedTensor { ref name, .. } if name == "2.weight"),
        "{err}"
    );
    assert!(t.untouched());
}

#[test]
fn wrong_shape_names_tensor_expected_and_found() {
    let path = tmp("shape.safetensors");
    let mut s = state();
    s[1].1 = Buffer::Float(Tensor::zeros(&[3]));
    save_buffers(&path, &s).unwrap();
    let mut t = Targets::new();
    let err = load_buffers(&path, t.slots()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: tensor \"0.bias\" has shape [3] in the file, the model expects [2]",
            path.display()
        )
    );
    assert!(t.untouched());
}

#[test]
fn wrong_dtype_names_tensor_expected_and_found() {
    let path = tmp("dtype.safetensors");
    let s64 = vec![(
        "0.weight".to_string(),
        Buffer::Float(Tensor::<f64>::zeros(&[2, 3])),
    )];
    save_buffers(&path, &s64).unwrap();
    let mut w = Tensor::<f32>::ones(&[2, 3]);
    let err = load_buffers(&path, vec![("0.weight".into(), BufferMut::Float(&mut w))]).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: tensor \"0.weight\" has dtype F64 in the file, the model expects F32",
            path.display()
        )
    );
    assert_eq!(w.to_vec(), vec![1.0; 6]);
}

#[test]
fn truncated_file_names_the_tensor_cut_short() {
    let path = tmp("truncated.safetensors");
    save_buffers(&path, &state()).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // Tensors are laid out by dtype (I64 first), then name: 0.bias (8 bytes), 0.weight (24).
    std::fs::write(&path, &bytes[..bytes.len() - 5]).unwrap();
    let mut t = Targets::new();
    let err = load_buffers(&path, t.slots()).unwrap_err();
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
    assert!(t.untouched());
    // Cut inside the header.
    std::fs::write(&path, &bytes[..20]).unwrap();
    let err = load_buffers(&path, t.slots()).unwrap_err().to_string();
    assert!(
        err.contains("header length") && err.contains("12 bytes"),
        "{err}"
    );
    // Not even a header length.
    std::fs::write(&path, b"abc").unwrap();
    assert!(matches!(
        load_buffers(&path, t.slots()).unwrap_err(),
        Error::Format { .. }
    ));
    assert!(t.untouched());
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
        "/tests/reference/mlp.safetensors"
    );
    // The file also holds the I64 num_batches_tracked, which load_tensors refuses by name.
    let err = load_tensors::<f32>(path).unwrap_err().to_string();
    assert!(
        err.contains("1.num_batches_tracked") && err.contains("I64"),
        "{err}"
    );
}
