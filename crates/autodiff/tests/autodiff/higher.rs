//! Hessian-vector products, Hessians and Jacobians against finite differences and closed forms.

use descent_autodiff::{
    hessian, hessian_vector_product, jacobian, jvp, vjp, Error, Result, Tape, Var, DENSE_LIMIT,
};
use descent_tensor::Tensor;

/// f(x) = Σ tanh(A x)² + (x·x)², a non-quadratic scalar function.
fn f<'t>(tape: &'t Tape<f64>, x: Var<'t, f64>) -> Result<Var<'t, f64>> {
    let a = tape.constant(Tensor::from_vec(
        vec![0.5, -1.0, 0.3, 0.8, 0.2, -0.4, 1.1, 0.0, 0.7],
        &[3, 3],
    )?);
    let ax = a.matmul(x.reshape(&[3, 1])?)?;
    let quartic = x.square()?.sum(&[], false)?.square()?;
    ax.tanh()?.square()?.sum(&[], false)?.add(quartic)
}

fn x0() -> Tensor<f64> {
    Tensor::from_vec(vec![0.3, -0.6, 0.9], &[3]).unwrap()
}

/// Central difference of the tape gradient along each coordinate: column j of the Hessian.
fn numeric_hessian() -> Vec<f64> {
    let grad = |x: Tensor<f64>| {
        let tape = Tape::new();
        let v = tape.var(x);
        f(&tape, v)
            .unwrap()
            .backward()
            .unwrap()
            .wrt(v)
            .unwrap()
            .to_vec()
    };
    let eps = 1e-6;
    let mut h = vec![0.0; 9];
    for j in 0..3 {
        let (mut plus, mut minus) = (x0().to_vec(), x0().to_vec());
        plus[j] += eps;
        minus[j] -= eps;
        let (gp, gm) = (
            grad(Tensor::from_vec(plus, &[3]).unwrap()),
            grad(Tensor::from_vec(minus, &[3]).unwrap()),
        );
        for i in 0..3 {
            h[i * 3 + j] = (gp[i] - gm[i]) / (2.0 * eps);
        }
    }
    h
}

#[test]
fn hessian_matches_finite_differences_and_is_symmetric() {
    let h = hessian(f, &x0()).unwrap();
    assert_eq!(h.shape(), &[3, 3]);
    let numeric = Tensor::from_vec(numeric_hessian(), &[3, 3]).unwrap();
    assert!(h.allclose(&numeric, 1e-6, 1e-7), "{h}\n{numeric}");
    assert!(h.allclose(&h.t().unwrap(), 1e-12, 1e-12));
}

#[test]
fn hessian_vector_product_is_h_times_v() {
    let h = hessian(f, &x0()).unwrap();
    let v = Tensor::from_vec(vec![1.0, -2.0, 0.5], &[3]).unwrap();
    let hv = hessian_vector_product(f, &x0(), &v).unwrap();
    let expected = h.matmul(&v.reshape(&[3, 1]).unwrap()).unwrap().flatten();
    assert!(hv.allclose(&expected, 1e-12, 1e-12));
    let bad = hessian_vector_product(f, &x0(), &Tensor::ones(&[2])).unwrap_err();
    assert!(bad.to_string().contains("hessian_vector_product"), "{bad}");
}

#[test]
fn jacobian_of_a_vector_function() {
    // g(x) = (x0·x1, sin x2, x0 + x2²): J = [[x1, x0, 0], [0, 0, cos x2], [1, 0, 2 x2]].
    fn g<'t>(_: &'t Tape<f64>, x: Var<'t, f64>) -> Result<Var<'t, f64>> {
        let p = x.narrow(0, 0, 1)?.mul(x.narrow(0, 1, 1)?)?;
        let s = x.narrow(0, 2, 1)?.sin()?;
        let q = x.narrow(0, 0, 1)?.add(x.narrow(0, 2, 1)?.square()?)?;
        Var::concat(&[p, s, q], 0)
    }
    let x = x0().to_vec();
    let j = jacobian(g, &x0()).unwrap();
    let expected = vec![x[1], x[0], 0.0, 0.0, 0.0, x[2].cos(), 1.0, 0.0, 2.0 * x[2]];
    assert!(
        j.allclose(&Tensor::from_vec(expected, &[3, 3]).unwrap(), 1e-14, 1e-14),
        "{j}"
    );
}

#[test]
fn dense_matrices_refuse_huge_inputs() {
    let big = Tensor::<f64>::zeros(&[DENSE_LIMIT + 1]);
    let err = hessian(|_, x| x.sum(&[], false), &big).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }));
    assert!(err.to_string().contains("hessian_vector_product"), "{err}");
}

/// A vector function of a vector: g(x) = tanh(A x) ⊙ x + x₀·x.
fn g<'t>(tape: &'t Tape<f64>, x: Var<'t, f64>) -> Result<Var<'t, f64>> {
    let a = tape.constant(Tensor::from_vec(
        vec![0.5, -1.0, 0.3, 0.8, 0.2, -0.4, 1.1, 0.0, 0.7],
        &[3, 3],
    )?);
    let x0 = x.narrow(0, 0, 1)?;
    a.matmul(x)?.tanh()?.mul(x)?.add(x0.mul(x)?)
}

#[test]
fn jvp_matches_central_differences() {
    let (x, v) = (x0(), Tensor::from_vec(vec![0.7, -0.2, 0.4], &[3]).unwrap());
    let (y, jv) = jvp(g, &x, &v).unwrap();
    let at = |t: f64| {
        let tape = Tape::new();
        let xv = tape.var(x.add(&v.mul_scalar(t)).unwrap());
        g(&tape, xv).unwrap().value().unwrap().to_vec()
    };
    let h = 1e-6;
    let (plus, minus) = (at(h), at(-h));
    assert_eq!(y.to_vec(), at(0.0));
    for i in 0..3 {
        let numeric = (plus[i] - minus[i]) / (2.0 * h);
        assert!(
            (jv.to_vec()[i] - numeric).abs() < 1e-8,
            "{i}: {jv} vs {numeric}"
        );
    }
}

#[test]
fn forward_over_reverse_hvp_equals_reverse_over_reverse_and_finite_differences() {
    let (x, v) = (x0(), Tensor::from_vec(vec![0.7, -0.2, 0.4], &[3]).unwrap());
    fn grad<'t>(t: &'t Tape<f64>, x: Var<'t, f64>) -> Result<Var<'t, f64>> {
        Ok(f(t, x)?.grad(&[x], None)?[0])
    }
    let (_, forward) = jvp(grad, &x, &v).unwrap();
    let reverse = hessian_vector_product(f, &x, &v).unwrap();
    let numeric = numeric_hessian();
    for i in 0..3 {
        let (a, b) = (forward.to_vec()[i], reverse.to_vec()[i]);
        assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "{i}: {a} vs {b}");
        let fd: f64 = (0..3).map(|j| numeric[i * 3 + j] * v.to_vec()[j]).sum();
        assert!((a - fd).abs() < 1e-6, "{i}: {a} vs finite differences {fd}");
    }
}

#[test]
fn vjp_is_the_transpose_of_jvp() {
    let x = x0();
    let v = Tensor::from_vec(vec![0.7, -0.2, 0.4], &[3]).unwrap();
    let u = Tensor::from_vec(vec![-0.3, 0.5, 0.9], &[3]).unwrap();
    let (_, jv) = jvp(g, &x, &v).unwrap();
    let (_, ujt) = vjp(g, &x, &u).unwrap();
    let lhs: f64 = u.mul(&jv).unwrap().sum_all();
    let rhs: f64 = ujt.mul(&v).unwrap().sum_all();
    assert!((lhs - rhs).abs() < 1e-12, "{lhs} vs {rhs}");
    let err = jvp(g, &x, &Tensor::zeros(&[2])).unwrap_err();
    assert_eq!(err.to_string(), "jvp: expected shape [3], got [2]");
}
