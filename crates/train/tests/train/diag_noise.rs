//! Gradient noise on a synthetic regression: the mini-batch gradient's variance times the
//! batch size is constant, and equals the per-sample gradients' variance computed by a
//! plain loop over the whole data set.

use descent_autodiff::{Param, Tape};
use descent_tensor::Tensor;
use descent_train::diagnostics::GradientNoise;
use rand::{rngs::StdRng, Rng, SeedableRng};

#[test]
fn variance_times_batch_size_is_constant() {
    let (n, d) = (20_000, 5);
    let mut rng = StdRng::seed_from_u64(11);
    let w_true: Vec<f64> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let xs: Vec<f64> = (0..n * d)
        .map(|_| rng.random_range(-1.0..1.0) * 1.7)
        .collect();
    let ys: Vec<f64> = (0..n)
        .map(|i| {
            (0..d).map(|j| xs[i * d + j] * w_true[j]).sum::<f64>() + rng.random_range(-0.5..0.5)
        })
        .collect();
    // Measured at w = 0.3 everywhere, away from the optimum so ‖G‖ is not 0.
    let w0 = vec![0.3; d];
    let w = Param::new(Tensor::from_vec(w0.clone(), &[d, 1]).unwrap());

    // tr(Σ) by a plain loop: per-sample gradients gᵢ = (wᵀxᵢ − yᵢ)·xᵢ of ½(wᵀxᵢ − yᵢ)².
    let per_sample: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let x = &xs[i * d..(i + 1) * d];
            let r = x.iter().zip(&w0).map(|(a, b)| a * b).sum::<f64>() - ys[i];
            x.iter().map(|v| r * v).collect()
        })
        .collect();
    let mean: Vec<f64> = (0..d)
        .map(|j| per_sample.iter().map(|g| g[j]).sum::<f64>() / n as f64)
        .collect();
    let trace: f64 = per_sample
        .iter()
        .map(|g| {
            g.iter()
                .zip(&mean)
                .map(|(a, m)| (a - m) * (a - m))
                .sum::<f64>()
        })
        .sum::<f64>()
        / n as f64;

    let noise = GradientNoise::measure(n, &[4, 16, 64, 256], 400, 5, |batch| {
        let bx: Vec<f64> = batch
            .iter()
            .flat_map(|&i| xs[i * d..(i + 1) * d].to_vec())
            .collect();
        let by: Vec<f64> = batch.iter().map(|&i| ys[i]).collect();
        let tape = Tape::new();
        let x = tape.constant(Tensor::from_vec(bx, &[batch.len(), d]).unwrap());
        let y = tape.constant(Tensor::from_vec(by, &[batch.len(), 1]).unwrap());
        let r = x.matmul(tape.param(&w))?.sub(y)?;
        let loss = r.square()?.mean(&[], false)?.mul_scalar(0.5)?;
        Ok(loss.backward()?)
    })
    .unwrap();

    let products: Vec<f64> = noise
        .rows
        .iter()
        .map(|r| r.variance_times_batch())
        .collect();
    let avg = products.iter().sum::<f64>() / products.len() as f64;
    for (row, p) in noise.rows.iter().zip(&products) {
        assert!((p / avg - 1.0).abs() < 0.2, "variance × b = {products:?}");
        // Against the plain loop's tr(Σ), the finite-population factor undone.
        assert!(
            (row.trace / trace - 1.0).abs() < 0.2,
            "{} vs {trace}",
            row.trace
        );
    }
    // The variance itself falls as 1/b: 64 times from b = 4 to b = 256.
    let ratio = noise.rows[0].variance / noise.rows[3].variance;
    assert!((ratio / 64.0 - 1.0).abs() < 0.3, "{ratio}");
    assert_eq!(noise.to_csv().lines().count(), 5);
    assert!(noise.rows[3].noise_scale().is_some());
}

#[test]
fn bad_settings_are_errors_naming_the_argument() {
    let none = |_: &[usize]| Ok(descent_autodiff::Gradients::<f64>::new());
    let e = GradientNoise::measure(10, &[4], 1, 0, none).unwrap_err();
    assert!(e.to_string().contains("draws = 1"), "{e}");
    let e = GradientNoise::measure(10, &[10], 5, 0, none).unwrap_err();
    assert!(e.to_string().contains("batch_size = 10"), "{e}");
}
