//! The running loss against its definition summed directly.

use descent_train::diagnostics::RunningLoss;

/// After t values, Σⱼ (1 − β)·β^(t−j)·xⱼ / (1 − βᵗ).
#[test]
fn running_loss_is_the_debiased_weighted_sum() {
    let xs = [3.0, 1.5, 2.25, 0.5, 4.0, 1.0];
    let beta = 0.9;
    let mut avg = RunningLoss::new(beta).unwrap();
    for t in 1..=xs.len() {
        let got = avg.update(xs[t - 1]).unwrap();
        let weighted: f64 = (1..=t)
            .map(|j| (1.0 - beta) * beta.powi((t - j) as i32) * xs[j - 1])
            .sum();
        let want = weighted / (1.0 - beta.powi(t as i32));
        assert!((got - want).abs() < 1e-12, "step {t}: {got} vs {want}");
    }
    assert_eq!(avg.count(), 6);
    assert!(RunningLoss::new(1.0).is_err());
    assert_eq!(RunningLoss::new(0.5).unwrap().value(), None);
}
