//! NaN propagates through every element-wise kernel, activation and reduction as in
//! PyTorch (a NaN input gives a NaN output; a NaN in a reduced slice makes it NaN), in both
//! element types and on every traversal path (contiguous, strided, row-folded).
//! `argmax`/`argmin` count a NaN as the extreme and break ties at the first index.

use descent_tensor::{Error, Tensor};

type TestResult = Result<(), Error>;

const NAN: f64 = f64::NAN;

/// Element-wise kernels in f32 and f64, with NaN in every lane position of a vector loop
/// (a 37-element input crosses the 16-lane body and its tail).
#[test]
fn element_wise_kernels_propagate_nan() -> TestResult {
    fn run<F: descent_tensor::Float>() -> TestResult {
        let x: Vec<F> = (0..37)
            .map(|i| {
                if i % 3 == 0 {
                    F::nan()
                } else {
                    F::of(i as f64 / 7.0 - 2.0)
                }
            })
            .collect();
        let t = Tensor::from_vec(x.clone(), &[37])?;
        let zero = Tensor::scalar(F::zero());
        let outs: Vec<(&str, Tensor<F>)> = vec![
            ("relu", t.relu()),
            ("maximum_scalar", t.maximum_scalar(F::zero())),
            ("maximum", t.maximum(&zero)?),
            ("minimum", zero.minimum(&t)?),
            ("clamp", t.clamp(F::of(-0.5), F::of(0.5))),
            ("sigmoid", t.sigmoid()),
            ("tanh", t.tanh()),
            ("exp", t.exp()),
            ("softplus", t.softplus()),
            ("abs", t.abs()),
            ("relu strided", t.broadcast_to(&[2, 37])?.t()?.relu().t()?),
        ];
        for (name, y) in outs {
            for (i, (&xi, yi)) in x.iter().cycle().zip(y.to_vec()).enumerate() {
                assert_eq!(xi.is_nan(), yi.is_nan(), "{name}[{i}]: {xi} -> {yi}");
            }
        }
        Ok(())
    }
    run::<f32>()?;
    run::<f64>()
}

/// `relu(NaN)` agrees with `maximum_scalar(NaN, 0)`; `torch.heaviside(NaN, 0)` is 0.
#[test]
fn relu_of_nan_is_nan() -> TestResult {
    let t = Tensor::<f32>::from_vec(vec![f32::NAN, -1.0, 0.0, 2.0], &[4])?;
    let r = t.relu().to_vec();
    assert!(r[0].is_nan());
    assert_eq!(&r[1..], &[0.0, 0.0, 2.0]);
    assert_eq!(t.heaviside().to_vec()[..], [0.0, 0.0, 0.0, 1.0]);
    // torch.sign(NaN) is 0 (NumPy's is NaN).
    assert_eq!(t.sign().to_vec()[..], [0.0, -1.0, 0.0, 1.0]);
    Ok(())
}

/// max/min/sum/mean/logsumexp/norm over each axis, on the row-folding path (a contiguous
/// tensor reduced over a leading axis), the general walk (trailing axis) and a transposed
/// view.
#[test]
fn reductions_propagate_nan_on_every_path() -> TestResult {
    // Row 1, column 2 holds the only NaN.
    let mut v: Vec<f64> = (0..12).map(|i| i as f64 - 5.0).collect();
    v[6] = NAN;
    let x = Tensor::from_vec(v, &[3, 4])?;
    for t in [x.clone(), x.t()?.contiguous().t()?] {
        type Reduce = fn(&Tensor<f64>, &[isize]) -> Result<Tensor<f64>, Error>;
        let ops: [(&str, Reduce); 7] = [
            ("max", |t, d| t.max(d, false)),
            ("min", |t, d| t.min(d, false)),
            ("sum", |t, d| t.sum(d, false)),
            ("mean", |t, d| t.mean(d, false)),
            ("logsumexp", |t, d| t.logsumexp(d, false)),
            ("norm2", |t, d| t.norm(2.0, d, false)),
            ("norm_inf", |t, d| t.norm(f64::INFINITY, d, false)),
        ];
        for (name, f) in ops {
            let nan_at =
                |y: Tensor<f64>| -> Vec<bool> { y.to_vec().iter().map(|v| v.is_nan()).collect() };
            assert_eq!(
                nan_at(f(&t, &[0])?),
                [false, false, true, false],
                "{name} over rows"
            );
            assert_eq!(
                nan_at(f(&t, &[1])?),
                [false, true, false],
                "{name} over columns"
            );
            assert_eq!(nan_at(f(&t, &[])?), [true], "{name} over all");
        }
    }
    Ok(())
}

#[test]
fn softmax_rows_with_nan_are_nan() -> TestResult {
    let x = Tensor::<f32>::from_vec(vec![1.0, f32::NAN, 2.0, 1.0, 2.0, 3.0], &[2, 3])?;
    for y in [x.softmax(1)?, x.log_softmax(1)?] {
        let y = y.to_vec();
        assert!(y[..3].iter().all(|v| v.is_nan()), "{y:?}");
        assert!(y[3..].iter().all(|v| v.is_finite()), "{y:?}");
    }
    Ok(())
}

#[test]
fn arg_extremes_count_nan_as_the_extreme_and_ties_go_first() -> TestResult {
    let x = Tensor::<f64>::from_vec(vec![1.0, NAN, 3.0, NAN, 3.0, 3.0, -1.0, -1.0], &[2, 4])?;
    // torch.argmax / argmin: the first NaN, else the first of equal extremes.
    assert_eq!(x.argmax(1)?, vec![1, 0]);
    assert_eq!(x.argmin(1)?, vec![1, 2]);
    // Per column: 3 beats 1; NaN beats 3; 3 beats −1; NaN beats −1.
    assert_eq!(x.argmax(0)?, vec![1, 0, 0, 0]);
    // The same rows through a transposed view.
    assert_eq!(x.t()?.argmax(0)?, vec![1, 0]);
    assert_eq!(x.t()?.argmin(0)?, vec![1, 2]);
    Ok(())
}
