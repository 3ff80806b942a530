//! `keep_workers_awake`: while the guard lives the other worker polls for work, kernels
//! from the caller and from other threads still run and give the same bits, and when it
//! is dropped the worker stops polling. Run in a process of its own, because the global pool is
//! built once.

use descent_tensor::{keep_workers_awake, workers_awake, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::time::{Duration, Instant};

/// Waits up to ten seconds (a loaded machine may be slow to schedule the worker) for
/// `workers_awake()` to reach `n`.
fn wait_for_awake(n: usize) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if workers_awake() == n {
            return true;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    false
}

#[test]
fn awake_workers_run_every_kernel_and_stop_when_dropped() {
    if !crate::own_process::in_own_process(
        "awake::awake_workers_run_every_kernel_and_stop_when_dropped",
    ) {
        return;
    }
    descent_tensor::set_num_threads(2).expect("the first use of the pool");
    let mut rng = StdRng::seed_from_u64(3);
    let a = Tensor::<f32>::randn(&[160, 300], 0.0, 1.0, &mut rng).unwrap();
    let b = Tensor::<f32>::randn(&[300, 200], 0.0, 1.0, &mut rng).unwrap();
    let asleep = a.matmul(&b).unwrap().to_vec();

    let awake = keep_workers_awake();
    assert!(wait_for_awake(1), "the other worker polls");
    for _ in 0..20 {
        assert_eq!(a.matmul(&b).unwrap().to_vec(), asleep);
    }
    let (a2, b2) = (a.clone(), b.clone());
    let there = std::thread::spawn(move || a2.matmul(&b2).unwrap().to_vec())
        .join()
        .expect("a kernel from another thread runs while the worker polls");
    assert_eq!(there, asleep);
    let nested = keep_workers_awake();
    assert_eq!(a.matmul(&b).unwrap().to_vec(), asleep);

    drop(awake);
    drop(nested);
    assert!(wait_for_awake(0), "the worker stops polling");
    assert_eq!(a.matmul(&b).unwrap().to_vec(), asleep);
}

/// Guards held by several threads at once, each running kernels: every kernel finishes.
/// A polling job that a worker picks up while it waits inside another kernel must not keep
/// that kernel from returning (a watchdog turns a deadlock into a failure).
#[test]
fn guards_on_several_threads_never_deadlock() {
    if !crate::own_process::in_own_process("awake::guards_on_several_threads_never_deadlock") {
        return;
    }
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        eprintln!("deadlock: kernels under several guards did not finish in 60 s");
        std::process::exit(1);
    });
    // The pool's worker 0 is a thread that trains briefly and ends, as a test thread does.
    std::thread::spawn(|| {
        descent_tensor::set_num_threads(2).expect("the first use of the pool");
        let _awake = keep_workers_awake();
        let x = Tensor::<f32>::ones(&[256, 256]);
        assert_eq!(x.matmul(&x).unwrap().sum_all(), 256.0 * 256.0 * 256.0);
    })
    .join()
    .unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let a = Tensor::<f32>::randn(&[192, 256], 0.0, 1.0, &mut rng).unwrap();
    let b = Tensor::<f32>::randn(&[256, 320], 0.0, 1.0, &mut rng).unwrap();
    let expected = a.matmul(&b).unwrap().to_vec();
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let (a, b, expected) = (a.clone(), b.clone(), expected.clone());
            std::thread::spawn(move || {
                for _ in 0..40 {
                    let _awake = keep_workers_awake();
                    for _ in 0..5 {
                        assert_eq!(a.matmul(&b).unwrap().to_vec(), expected);
                        assert!(a.sum_all().is_finite());
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a thread's kernels finish");
    }
    assert!(wait_for_awake(0), "the workers stop polling");
}
