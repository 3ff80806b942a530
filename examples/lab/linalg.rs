//! The one small dense solve the experiments need (systems of a few unknowns).

/// `A⁻¹ b` for a square `A` given row-major, by Gaussian elimination with partial
/// pivoting (the experiments' systems are symmetric positive definite).
pub fn solve(a: &[f64], b: &[f64]) -> Vec<f64> {
    let d = b.len();
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    for c in 0..d {
        let p = (c..d)
            .max_by(|&i, &j| a[i * d + c].abs().total_cmp(&a[j * d + c].abs()))
            .unwrap_or(c);
        for k in 0..d {
            a.swap(c * d + k, p * d + k);
        }
        b.swap(c, p);
        for r in c + 1..d {
            let f = a[r * d + c] / a[c * d + c];
            for k in c..d {
                a[r * d + k] -= f * a[c * d + k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; d];
    for r in (0..d).rev() {
        let s: f64 = (r + 1..d).map(|k| a[r * d + k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r * d + r];
    }
    x
}
