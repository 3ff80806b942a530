//! Linear algebra against PyTorch (`torch.linalg`): values and the gradients of
//! `sum(u * out)`, from reference/gen_linalg.py (float64, seeded), on both layouts. The bound
//! is 1e-10 relative, not 1e-12: nalgebra's and LAPACK's factorizations take different
//! (equally stable) paths, and their rounding differs by a few ulp times the condition
//! number. Eigen- and singular vectors enter as sign-free functions of them.

#[rustfmt::skip]
#[path = "reference/linalg.rs"]
mod reference;

use crate::products_torch::{check, Case};
use descent_autodiff::{MatrixNorm, Result, Tape, Var};
use descent_tensor::{Error as TensorError, Tensor};

fn flat<'t>(parts: &[Var<'t, f64>]) -> Result<Var<'t, f64>> {
    let parts = parts
        .iter()
        .map(|p| p.flatten())
        .collect::<Result<Vec<_>>>()?;
    Var::concat(&parts, 0)
}

fn matrix_ord(ord: &str) -> MatrixNorm {
    match ord {
        "fro" => MatrixNorm::Fro,
        "nuc" => MatrixNorm::Nuc,
        "2" => MatrixNorm::Two,
        "-2" => MatrixNorm::NegTwo,
        "1" => MatrixNorm::One,
        "-1" => MatrixNorm::NegOne,
        "inf" => MatrixNorm::Inf,
        "-inf" => MatrixNorm::NegInf,
        other => panic!("unknown ord {other}"),
    }
}

fn op<'t>(op: &str, v: &[Var<'t, f64>]) -> Result<Var<'t, f64>> {
    let x = v[0];
    match op {
        "inverse" => x.inverse(),
        "det" => x.det(),
        "slogdet" => {
            let (sign, logabs) = x.slogdet()?;
            flat(&[x.tape().constant(sign), logabs])
        }
        "cholesky" => x.cholesky(),
        "eigh" => {
            let (l, v) = x.eigh()?;
            flat(&[l, v.square()?])
        }
        "solve" => x.solve(v[1]),
        "qr" => {
            let (q, r) = x.qr()?;
            flat(&[q, r])
        }
        "svd" => {
            let (u, s, vh) = x.svd()?;
            flat(&[s, u.square()?, vh.square()?])
        }
        "svdvals" => x.svdvals(),
        _ => match op.split_once(':') {
            Some(("matrix_norm", ord)) => x.matrix_norm(matrix_ord(ord), false),
            Some(("vector_norm", ord)) => x.vector_norm(ord.parse().expect("ord"), &[-1], false),
            _ => panic!("unknown op {op}"),
        },
    }
}

#[test]
fn linalg_matches_pytorch() {
    let cases: &[Case] = reference::CASES;
    check(cases, 1e-10, op);
}

#[test]
fn singular_and_indefinite_matrices_are_errors_naming_op_and_shape() {
    let tape = Tape::<f64>::new();
    let s = tape
        .var(Tensor::from_vec(vec![1.0, 2.0, 2.0, 4.0, 0.0, 0.0, 0.0, 0.0], &[2, 2, 2]).unwrap());
    let msg = |r: Result<Var<'_, f64>>| r.unwrap_err().to_string();
    assert_eq!(
        msg(s.inverse()),
        "inverse: a matrix of the batch [2, 2, 2] is singular"
    );
    let b = tape.var(Tensor::ones(&[2, 2]));
    assert_eq!(
        msg(s.solve(b)),
        "solve: a matrix of the batch [2, 2, 2] is singular"
    );
    let neg = tape.var(Tensor::from_vec(vec![-1.0, 0.0, 0.0, 1.0], &[2, 2]).unwrap());
    assert_eq!(
        msg(neg.cholesky()),
        "cholesky: a matrix of the batch [2, 2] is not positive-definite"
    );
    let rect = tape.var(Tensor::zeros(&[2, 3]));
    assert_eq!(
        msg(rect.det()),
        "det: expected a batch of square matrices [..., n, n], got shape [2, 3]"
    );
    // The tensor ops say the same.
    let err = Tensor::<f32>::zeros(&[3, 3]).inverse().unwrap_err();
    assert!(
        matches!(err, TensorError::Singular { op: "inverse", .. }),
        "{err}"
    );
}

#[test]
fn f32_factorizations_agree_with_f64() {
    let x = Tensor::<f64>::from_vec(vec![4.0, 1.0, 0.5, 1.0, 3.0, 0.2, 0.5, 0.2, 2.0], &[3, 3])
        .unwrap();
    let x32 = x.cast::<f32>();
    let close = |a: Tensor<f32>, b: Tensor<f64>| {
        assert!(a.cast::<f64>().allclose(&b, 1e-6, 1e-6), "{a} vs {b}");
    };
    close(x32.inverse().unwrap(), x.inverse().unwrap());
    close(x32.cholesky().unwrap(), x.cholesky().unwrap());
    close(x32.det().unwrap(), x.det().unwrap());
    close(x32.eigh().unwrap().0, x.eigh().unwrap().0);
    close(x32.svd().unwrap().1, x.svd().unwrap().1);
}
