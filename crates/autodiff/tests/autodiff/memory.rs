//! A training loop's memory stays flat: after a warm-up step, every buffer a step needs
//! comes back from the pool (no fresh allocations), and the tape of a step is dropped with it.
//! (In a process of its own, because the pool counters are process-wide.)

use descent_autodiff::{Param, Tape};
use descent_tensor::{Float, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

#[test]
fn steady_state_steps_allocate_no_fresh_buffers() {
    if !crate::own_process::in_own_process("memory::steady_state_steps_allocate_no_fresh_buffers") {
        return;
    }
    let mut rng = StdRng::seed_from_u64(3);
    let mut w1 = Param::new(Tensor::<f32>::randn(&[64, 128], 0.0, 0.1, &mut rng).unwrap());
    let mut w2 = Param::new(Tensor::<f32>::randn(&[128, 64], 0.0, 0.1, &mut rng).unwrap());
    let x = Tensor::<f32>::randn(&[96, 64], 0.0, 1.0, &mut rng).unwrap();
    let mut fresh_after = Vec::new();
    let mut tape_lengths = Vec::new();
    for _ in 0..8 {
        let grads = {
            let tape = Tape::new();
            let h = tape
                .constant(x.clone())
                .matmul(tape.param(&w1))
                .unwrap()
                .tanh()
                .unwrap();
            let loss = h
                .matmul(tape.param(&w2))
                .unwrap()
                .square()
                .unwrap()
                .mean(&[], false)
                .unwrap();
            let grads = loss.backward().unwrap();
            tape_lengths.push(tape.len());
            grads
        };
        w1.value
            .axpy_inplace(-0.01, grads.get(&w1).unwrap())
            .unwrap();
        w2.value
            .axpy_inplace(-0.01, grads.get(&w2).unwrap())
            .unwrap();
        fresh_after.push(f32::pool().stats().fresh);
    }
    assert!(
        fresh_after[2] > 0,
        "the step uses pooled sizes: {fresh_after:?}"
    );
    assert!(
        fresh_after[2..].windows(2).all(|w| w[0] == w[1]),
        "fresh allocations after warm-up: {fresh_after:?}"
    );
    assert!(
        tape_lengths.windows(2).all(|w| w[0] == w[1]),
        "{tape_lengths:?}"
    );
}
