//! Evaluation's accuracy and top-k against a naive count, on a model whose outputs are its
//! inputs (an identity `Linear`), so the expected counts follow from the data alone.

use descent_data::Dataset;
use descent_nn::{Linear, Module};
use descent_tensor::Tensor;
use descent_train::evaluate::{evaluate, Classification};
use rand::{Rng, SeedableRng};

#[test]
fn accuracy_and_top_k_match_a_naive_count() {
    let (n, c) = (50, 5);
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let x = Tensor::<f64>::randn(&[n, c], 0.0, 1.0, &mut rng).unwrap();
    let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..c)).collect();
    let mut model = Linear::<f64>::new(c, c, &mut rng).unwrap();
    let eye: Vec<f64> = (0..c * c)
        .map(|i| f64::from(u8::from(i % (c + 1) == 0)))
        .collect();
    model.weight.value = Tensor::from_vec(eye, &[c, c]).unwrap();
    model.bias.as_mut().unwrap().value = Tensor::zeros(&[c]);
    let rows = x.to_vec();
    // Naive: the rank of the label's score in its row (0 = largest).
    let ranks: Vec<usize> = rows
        .chunks(c)
        .zip(&labels)
        .map(|(r, &l)| r.iter().filter(|&&v| v > r[l]).count())
        .collect();
    let loss: f64 = rows
        .chunks(c)
        .zip(&labels)
        .map(|(r, &l)| r.iter().map(|v| v.exp()).sum::<f64>().ln() - r[l])
        .sum::<f64>()
        / n as f64;
    let data = Dataset::new(x, labels).unwrap();
    let report = evaluate(&model, &data, &Classification, 7, Some(2)).unwrap();
    let frac = |k: usize| ranks.iter().filter(|&&r| r < k).count() as f64 / n as f64;
    assert_eq!(report.accuracy, Some(frac(1)));
    assert_eq!(report.top_k, Some((2, frac(2))));
    assert!(
        (report.loss - loss).abs() < 1e-12,
        "{} vs {loss}",
        report.loss
    );
    assert_eq!(report.samples, n);
    assert_eq!(model.num_params(), c * c + c);
}
