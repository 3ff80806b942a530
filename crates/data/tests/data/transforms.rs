//! Transforms: whitened data has identity covariance (f64, to 1e-6), ZCA's matrix is
//! symmetric, PCA's rows are orthogonal principal directions, standardization uses the
//! training statistics on test data. Checked with naive loops, not with the code under test.

use descent_data::transforms::{scale, Standardize, Whiten, Whitening};
use descent_tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// `n` samples of `d` correlated features: z · A + offset, z ~ N(0, 1), A random.
fn correlated(n: usize, d: usize, seed: u64) -> Tensor<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let z = Tensor::<f64>::randn(&[n, d], 0.0, 1.0, &mut rng).unwrap();
    let a = Tensor::<f64>::randn(&[d, d], 0.0, 1.0, &mut rng).unwrap();
    let offset = Tensor::<f64>::randn(&[d], 3.0, 2.0, &mut rng).unwrap();
    z.matmul(&a).unwrap().add(&offset).unwrap()
}

/// Sample covariance (N − 1) by nested loops.
fn naive_cov(x: &Tensor<f64>) -> Vec<Vec<f64>> {
    let (n, d) = (x.shape()[0], x.shape()[1]);
    let v = x.to_vec();
    let mean: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|i| v[i * d + j]).sum::<f64>() / n as f64)
        .collect();
    (0..d)
        .map(|a| {
            (0..d)
                .map(|b| {
                    (0..n)
                        .map(|i| (v[i * d + a] - mean[a]) * (v[i * d + b] - mean[b]))
                        .sum::<f64>()
                        / (n - 1) as f64
                })
                .collect()
        })
        .collect()
}

fn assert_identity(c: &[Vec<f64>], tol: f64) {
    for (i, row) in c.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let want = if i == j { 1.0 } else { 0.0 };
            assert!((v - want).abs() < tol, "cov[{i}][{j}] = {v}");
        }
    }
}

#[test]
fn pca_and_zca_whitened_covariance_is_identity() {
    let x = correlated(400, 6, 1);
    for kind in [Whiten::Pca, Whiten::Zca] {
        let w = Whitening::fit(&x, kind, 0.0).unwrap();
        assert_identity(&naive_cov(&w.apply(&x).unwrap()), 1e-6);
    }
}

#[test]
fn zca_matrix_is_symmetric_and_pca_rows_are_orthogonal() {
    let x = correlated(300, 5, 2);
    let zca = Whitening::fit(&x, Whiten::Zca, 1e-3).unwrap();
    let (m, d) = (zca.matrix.to_vec(), 5);
    for i in 0..d {
        for j in 0..d {
            assert!((m[i * d + j] - m[j * d + i]).abs() < 1e-10, "W[{i}][{j}]");
        }
    }
    let pca = Whitening::fit(&x, Whiten::Pca, 0.0).unwrap();
    assert!(
        pca.eigenvalues.windows(2).all(|w| w[0] >= w[1]),
        "{:?}",
        pca.eigenvalues
    );
    // W Wᵀ = (Λ)^{-1}: diagonal, entries 1/λ.
    let wwt = pca
        .matrix
        .matmul(&pca.matrix.t().unwrap())
        .unwrap()
        .to_vec();
    for i in 0..d {
        for j in 0..d {
            let want = if i == j {
                1.0 / pca.eigenvalues[i]
            } else {
                0.0
            };
            assert!(
                (wwt[i * d + j] - want).abs() < 1e-9 * (1.0 + want),
                "WWt[{i}][{j}]"
            );
        }
    }
    // The eigenvalues are the covariance's: their sum is its trace.
    let c = naive_cov(&x);
    let trace: f64 = (0..d).map(|i| c[i][i]).sum();
    assert!((pca.eigenvalues.iter().sum::<f64>() - trace).abs() < 1e-9 * trace);
}

#[test]
fn eps_shrinks_variances_to_lambda_over_lambda_plus_eps() {
    let x = correlated(200, 4, 3);
    let eps = 0.5;
    let w = Whitening::fit(&x, Whiten::Pca, eps).unwrap();
    let c = naive_cov(&w.apply(&x).unwrap());
    for (i, l) in w.eigenvalues.iter().enumerate() {
        assert!((c[i][i] - l / (l + eps)).abs() < 1e-9, "var {i}");
    }
}

#[test]
fn singular_covariance_needs_eps() {
    // A constant feature (like MNIST's border pixels).
    let mut v = correlated(50, 3, 4).to_vec();
    v.iter_mut().skip(2).step_by(3).for_each(|p| *p = 1.0);
    let x = Tensor::from_vec(v, &[50, 3]).unwrap();
    let msg = Whitening::fit(&x, Whiten::Zca, 0.0)
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with("Whitening::fit: invalid eps = 0: the covariance is singular"),
        "{msg}"
    );
    assert!(Whitening::fit(&x, Whiten::Zca, 1e-2)
        .unwrap()
        .apply(&x)
        .unwrap()
        .to_vec()
        .iter()
        .all(|v| v.is_finite()));
    let msg = Whitening::fit(&x, Whiten::Pca, -1.0)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("must be finite and ≥ 0"), "{msg}");
    let msg = Whitening::fit(&Tensor::<f64>::zeros(&[5]), Whiten::Pca, 0.0)
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "Whitening::fit: invalid x = shape [5]: expected [N, d] with N ≥ 2 rows"
    );
}

#[test]
fn whitening_works_in_f32_over_many_chunks() {
    // More rows than one accumulation chunk (4096).
    let x64 = correlated(9000, 3, 5);
    let x = x64.cast::<f32>();
    let w = Whitening::fit(&x, Whiten::Zca, 0.0).unwrap();
    let y = w.apply(&x).unwrap().cast::<f64>();
    assert_identity(&naive_cov(&y), 1e-4);
}

#[test]
fn standardize_uses_training_statistics() {
    let train = correlated(100, 3, 6);
    let test = correlated(20, 3, 7);
    let s = Standardize::fit(&train).unwrap();
    let z = s.apply(&train).unwrap();
    let c = naive_cov(&z);
    for (i, row) in c.iter().enumerate() {
        // population std in fit, (N − 1) in naive_cov
        assert!((row[i] - 100.0 / 99.0).abs() < 1e-9, "var {i} = {}", row[i]);
    }
    let (tv, zt) = (test.to_vec(), s.apply(&test).unwrap().to_vec());
    let (mean, std) = (s.mean.to_vec(), s.std.to_vec());
    for (k, (&t, &z)) in tv.iter().zip(&zt).enumerate() {
        assert!((z - (t - mean[k % 3]) / std[k % 3]).abs() < 1e-12);
    }
    // A constant feature keeps scale 1 instead of dividing by zero.
    let flat = Tensor::from_vec(vec![2.0, 1.0, 2.0, 3.0], &[2, 2]).unwrap();
    let s = Standardize::fit(&flat).unwrap();
    assert_eq!(s.std.to_vec(), vec![1.0, 1.0]);
    assert_eq!(s.apply(&flat).unwrap().to_vec(), vec![0.0, -1.0, 0.0, 1.0]);
}

#[test]
fn scale_divides() {
    let x = Tensor::<f32>::from_vec(vec![0.0, 51.0, 255.0], &[3]).unwrap();
    assert_eq!(scale(&x, 255.0).to_vec(), vec![0.0, 0.2, 1.0]);
}

#[test]
fn degenerate_shapes_and_values_are_errors_not_panics() {
    // [5, 0] reached nalgebra's eigendecomposition of a 0×0 matrix, which panics.
    for (shape, why) in [
        (&[5, 0][..], "expected [N, d] with d ≥ 1 features"),
        (&[0, 5][..], "expected [N, d] with N ≥ 2 rows"),
        (&[1, 5][..], "expected [N, d] with N ≥ 2 rows"),
    ] {
        for kind in [Whiten::Pca, Whiten::Zca] {
            let msg = Whitening::fit(&Tensor::<f64>::zeros(shape), kind, 1e-3)
                .unwrap_err()
                .to_string();
            assert_eq!(
                msg,
                format!("Whitening::fit: invalid x = shape {shape:?}: {why}")
            );
        }
    }
    let mut v = correlated(8, 3, 1).to_vec();
    v[4] = f64::NAN;
    let x = Tensor::from_vec(v, &[8, 3]).unwrap();
    let msg = Whitening::fit(&x, Whiten::Zca, 1e-3)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("holds NaN or infinity"), "{msg}");
}
