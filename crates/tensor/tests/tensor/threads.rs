//! `set_num_threads` makes the calling thread one of the pool's threads. Its own test
//! process, because the global pool is built once: kernels started on the caller and on
//! another thread (while the caller waits for it) both run, split, and give the same bits.

use descent_tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// `a·b` with a naive triple loop in f64, for a product big enough to run split.
fn naive(a: &Tensor<f32>, b: &Tensor<f32>) -> Vec<f32> {
    let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
    let (a, b) = (a.to_vec(), b.to_vec());
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let s: f64 = (0..k).map(|p| f64::from(a[i * k + p] * b[p * n + j])).sum();
            c[i * n + j] = s as f32;
        }
    }
    c
}

#[test]
fn the_caller_joins_the_pool_and_other_threads_still_run_kernels() {
    if !crate::own_process::in_own_process(
        "threads::the_caller_joins_the_pool_and_other_threads_still_run_kernels",
    ) {
        return;
    }
    descent_tensor::set_num_threads(2).expect("the first use of the pool");
    assert_eq!(descent_tensor::num_threads(), 2);
    assert_eq!(
        rayon::current_thread_index(),
        Some(0),
        "the caller is worker 0"
    );
    assert!(descent_tensor::set_num_threads(2).is_err());

    let mut rng = StdRng::seed_from_u64(7);
    let a = Tensor::<f32>::randn(&[160, 300], 0.0, 1.0, &mut rng).unwrap();
    let b = Tensor::<f32>::randn(&[300, 200], 0.0, 1.0, &mut rng).unwrap();
    let here = a.matmul(&b).unwrap();
    let (a2, b2) = (a.clone(), b.clone());
    let there = std::thread::spawn(move || a2.matmul(&b2).unwrap().to_vec())
        .join()
        .expect("a kernel on another thread finishes while the caller waits");
    assert_eq!(here.to_vec(), there, "the same split, the same bits");
    for (x, y) in here.to_vec().iter().zip(naive(&a, &b)) {
        assert!((x - y).abs() <= 1e-4 * (1.0 + y.abs()), "{x} vs {y}");
    }
}
