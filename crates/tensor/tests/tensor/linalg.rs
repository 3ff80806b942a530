//! The factorizations against their defining identities, checked with naive loops on random
//! batched matrices in both layouts and in f32 and f64: `A·A⁻¹ = I`, `A·X = B`, `det` by
//! cofactor expansion, `L·Lᵀ = A`, `Q·R = A` with `QᵀQ = I`, `A·v = λ·v`, `U·diag(S)·Vh = A`.

use crate::products::laid_out;
use descent_tensor::{Float, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Row-major `[m, n]` matrices of a `[..., m, n]` tensor, in f64.
fn mats<F: Float>(t: &Tensor<F>) -> Vec<Vec<f64>> {
    let nd = t.ndim();
    let size = t.shape()[nd - 2] * t.shape()[nd - 1];
    let v: Vec<f64> = t.to_vec().iter().map(|x| x.as_f64()).collect();
    if size == 0 {
        return vec![];
    }
    v.chunks(size).map(|c| c.to_vec()).collect()
}

fn mm(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    (0..m * n)
        .map(|p| (0..k).map(|j| a[p / n * k + j] * b[j * n + p % n]).sum())
        .collect()
}

fn transpose(a: &[f64], m: usize, n: usize) -> Vec<f64> {
    (0..m * n).map(|p| a[p % m * n + p / m]).collect()
}

fn det(a: &[f64], n: usize) -> f64 {
    if n == 1 {
        return a[0];
    }
    (0..n)
        .map(|c| {
            let minor: Vec<f64> = (1..n)
                .flat_map(|r| (0..n).filter(move |&j| j != c).map(move |j| a[r * n + j]))
                .collect();
            let sign = if c % 2 == 0 { 1.0 } else { -1.0 };
            sign * a[c] * det(&minor, n - 1)
        })
        .sum()
}

#[track_caller]
fn close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}: {i}: {g} vs {w}"
        );
    }
}

fn eye(n: usize) -> Vec<f64> {
    (0..n * n)
        .map(|p| if p / n == p % n { 1.0 } else { 0.0 })
        .collect()
}

fn check<F: Float>(tol: f64, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..12 {
        let n = rng.random_range(1..=4);
        let m = rng.random_range(1..=5);
        let batch = rng.random_range(1..=3);
        let layout = rng.random_range(0..3);
        let mut draw =
            |len: usize| -> Vec<f64> { (0..len).map(|_| rng.random_range(-1.0..1.0)).collect() };
        let square: Vec<f64> = {
            let r = draw(batch * n * n);
            // + 3·I keeps the matrices well-conditioned.
            r.iter()
                .enumerate()
                .map(|(p, x)| x + if p % (n * n) / n == p % n { 3.0 } else { 0.0 })
                .collect()
        };
        let a = laid_out(&[batch, n, n], &square, layout).cast::<F>();
        let what = format!("{} [{batch}, {n}, {n}] layout {layout}", F::DTYPE);
        let am = mats(&a);
        for (x, inv) in am.iter().zip(mats(&a.inverse().unwrap())) {
            close(
                &mm(x, &inv, n, n, n),
                &eye(n),
                tol,
                &format!("inverse {what}"),
            );
        }
        // [1, n, 3], broadcast over the batch (a [n, k] right-hand side equal to A's shape
        // without its last axis would be a batch of vectors, as in torch).
        let rhs = laid_out(&[1, n, 3], &draw(n * 3), layout).cast::<F>();
        let xs = a.solve(&rhs).unwrap();
        assert_eq!(xs.shape(), &[batch, n, 3]);
        for (x, sol) in am.iter().zip(mats(&xs)) {
            close(
                &mm(x, &sol, n, n, 3),
                &mats(&rhs)[0],
                tol,
                &format!("solve {what}"),
            );
        }
        let dets = a.det().unwrap().to_vec();
        let (signs, logs) = a.slogdet().unwrap();
        for (i, x) in am.iter().enumerate() {
            let d = det(x, n);
            close(&[dets[i].as_f64()], &[d], tol, &format!("det {what}"));
            let s = signs.to_vec()[i].as_f64() * logs.to_vec()[i].as_f64().exp();
            close(&[s], &[d], tol, &format!("slogdet {what}"));
        }
        // X·Xᵀ + I is positive-definite.
        let spd: Vec<Vec<f64>> = am
            .iter()
            .map(|x| {
                mm(x, &transpose(x, n, n), n, n, n)
                    .iter()
                    .zip(eye(n))
                    .map(|(p, q)| p + q)
                    .collect()
            })
            .collect();
        let spd_t = laid_out(&[batch, n, n], &spd.concat(), layout).cast::<F>();
        for (s, l) in spd.iter().zip(mats(&spd_t.cholesky().unwrap())) {
            assert!(
                (0..n * n).all(|p| p / n >= p % n || l[p] == 0.0),
                "cholesky lower {what}"
            );
            close(
                &mm(&l, &transpose(&l, n, n), n, n, n),
                s,
                tol,
                &format!("cholesky {what}"),
            );
        }
        let (vals, vecs) = spd_t.eigh().unwrap();
        for ((s, l), v) in spd
            .iter()
            .zip(mats(&vals.unsqueeze(-2).unwrap()))
            .zip(mats(&vecs))
        {
            assert!(l.windows(2).all(|w| w[0] <= w[1]), "eigh ascending {what}");
            let lv: Vec<f64> = (0..n * n).map(|p| v[p] * l[p % n]).collect();
            close(
                &mm(s, &v, n, n, n),
                &lv,
                tol * 10.0,
                &format!("eigh {what}"),
            );
        }
        // Rectangular: QR and SVD of [batch, m, n].
        let rect = laid_out(&[batch, m, n], &draw(batch * m * n), layout).cast::<F>();
        let k = m.min(n);
        let (q, r) = rect.qr().unwrap();
        assert_eq!(
            (q.shape(), r.shape()),
            (&[batch, m, k][..], &[batch, k, n][..])
        );
        for ((x, q), r) in mats(&rect).iter().zip(mats(&q)).zip(mats(&r)) {
            close(&mm(&q, &r, m, k, n), x, tol, &format!("qr {what}"));
            close(
                &mm(&transpose(&q, m, k), &q, k, m, k),
                &eye(k),
                tol,
                &format!("qᵀq {what}"),
            );
            assert!(
                (0..k * n).all(|p| p / n <= p % n || r[p] == 0.0),
                "r upper {what}"
            );
            assert!((0..k).all(|i| r[i * n + i] >= 0.0), "r diagonal {what}");
        }
        let (u, s, vh) = rect.svd().unwrap();
        for (((x, u), s), vh) in mats(&rect)
            .iter()
            .zip(mats(&u))
            .zip(mats(&s.unsqueeze(-2).unwrap()))
            .zip(mats(&vh))
        {
            assert!(
                s.windows(2).all(|w| w[0] >= w[1]) && s.iter().all(|&v| v >= 0.0),
                "svd order {what}"
            );
            let us: Vec<f64> = (0..m * k).map(|p| u[p] * s[p % k]).collect();
            close(&mm(&us, &vh, m, k, n), x, tol, &format!("svd {what}"));
        }
    }
}

#[test]
fn factorizations_satisfy_their_identities_f64() {
    check::<f64>(1e-12, 1);
}

#[test]
fn factorizations_satisfy_their_identities_f32() {
    check::<f32>(2e-5, 2);
}

#[test]
fn non_finite_entries_give_nan_not_a_hang() {
    for bad in [f64::NAN, f64::INFINITY] {
        let a = Tensor::from_vec(vec![1.0, bad, bad, 2.0], &[2, 2]).unwrap();
        let (l, v) = a.eigh().unwrap();
        assert!(l.to_vec().iter().chain(&v.to_vec()).all(|x| x.is_nan()));
        let (u, s, vh) = a.svd().unwrap();
        assert!([u, s, vh]
            .iter()
            .all(|t| t.to_vec().iter().all(|x| x.is_nan())));
        if bad.is_nan() {
            assert!(a.inverse().unwrap().to_vec().iter().any(|x| x.is_nan()));
            assert!(a.det().unwrap().item().unwrap().is_nan());
        }
    }
    // NaN is not positive-definite, as LAPACK's potrf decides.
    let a = Tensor::from_vec(vec![f64::NAN, 0.0, 0.0, 1.0], &[2, 2]).unwrap();
    assert!(a.cholesky().is_err());
}
