//! Products against PyTorch: `matmul` with 1-D operands, `dot`, `outer`, `einsum`, values
//! and the gradients of `sum(u * out)`, from reference/gen_products.py (float64, seeded, with
//! 0, ±inf and NaN entries), to 1e-12; each case on contiguous inputs and on column-major
//! views of the same values. The harness here serves `linalg_torch` too.

#[rustfmt::skip]
#[path = "reference/products.rs"]
mod reference;

use descent_autodiff::{Result, Tape, Var};
use descent_tensor::Tensor;

/// One op on float64 inputs: PyTorch's output and the gradients of `sum(u * out)` with
/// respect to each input (none where the op has no gradient there).
pub(crate) struct Case {
    pub name: &'static str,
    pub op: &'static str,
    pub inputs: &'static [(&'static [usize], &'static [f64])],
    pub out_shape: &'static [usize],
    pub out: &'static [f64],
    pub u: &'static [f64],
    pub grads: &'static [&'static [f64]],
}

/// `got` equals `want` to `tol` relative (plus `tol` absolute), NaN where `want` is NaN,
/// the same infinity where `want` is infinite.
#[track_caller]
pub(crate) fn assert_close(got: &Tensor<f64>, want: &[f64], tol: f64, what: &str) {
    let got = got.to_vec();
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= tol * (1.0 + w.abs())
        };
        assert!(ok, "{what}: element {i}: descent {g}, PyTorch {w}");
    }
}

/// Runs every case through `f` (the op named by `case.op`) on both layouts and compares the
/// value and the gradients with PyTorch's.
pub(crate) fn check(
    cases: &[Case],
    tol: f64,
    f: impl for<'t> Fn(&str, &[Var<'t, f64>]) -> Result<Var<'t, f64>>,
) {
    for c in cases {
        for column_major in [false, true] {
            let what = format!(
                "{}{}",
                c.name,
                if column_major { " (column-major)" } else { "" }
            );
            let tape = Tape::<f64>::new();
            let xs: Vec<_> = c
                .inputs
                .iter()
                .map(|(shape, data)| {
                    let t = Tensor::from_slice(data, shape).unwrap();
                    let t = if column_major && shape.len() >= 2 {
                        t.transpose(-2, -1)
                            .unwrap()
                            .contiguous()
                            .transpose(-2, -1)
                            .unwrap()
                    } else {
                        t
                    };
                    tape.var(t)
                })
                .collect();
            let out = f(c.op, &xs).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(out.shape(), c.out_shape, "{what}");
            assert_close(&out.value().unwrap(), c.out, tol, &format!("{what} value"));
            if c.grads.is_empty() {
                continue;
            }
            let u = tape.constant(Tensor::from_slice(c.u, c.out_shape).unwrap());
            let grads = out
                .mul(u)
                .unwrap()
                .sum(&[], false)
                .unwrap()
                .backward()
                .unwrap();
            for (i, (x, want)) in xs.iter().zip(c.grads).enumerate() {
                let got = grads
                    .wrt(*x)
                    .cloned()
                    .unwrap_or_else(|| Tensor::zeros(&x.shape()));
                assert_close(&got, want, tol, &format!("{what} gradient {i}"));
            }
        }
    }
}

#[test]
fn products_match_pytorch() {
    check(reference::CASES, 1e-12, |op, v| match op {
        "matmul" => v[0].matmul(v[1]),
        "dot" => v[0].dot(v[1]),
        "outer" => v[0].outer(v[1]),
        spec => Var::einsum(spec.strip_prefix("einsum:").expect("an einsum"), v),
    });
}

#[test]
fn product_errors_name_the_op_and_shapes() {
    let tape = Tape::<f64>::new();
    let a = tape.var(Tensor::zeros(&[2, 3]));
    let b = tape.var(Tensor::zeros(&[4]));
    let msg = |r: Result<Var<'_, f64>>| r.unwrap_err().to_string();
    assert_eq!(
        msg(a.dot(b)),
        "dot: expected a 1-D tensor, got shape [2, 3]"
    );
    assert_eq!(
        msg(a.matmul(b)),
        "matmul: inner dimensions differ: [2, 3] x [4, 1]"
    );
    assert!(msg(Var::einsum("ij,jk->ik", &[a, b])).contains("einsum"));
    assert!(msg(Var::einsum("ij->k", &[a])).contains("einsum"));
    assert!(msg(Var::einsum("...j->j", &[a])).contains("ellipsis"));
    let c = tape.var(Tensor::zeros(&[4, 2]));
    assert_eq!(
        msg(Var::einsum("ij,jk->ik", &[a, c])),
        "einsum: expected shape [3], got [4]"
    );
}
