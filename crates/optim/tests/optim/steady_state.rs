//! In steady state a step takes no buffer from the tensor pool: updates run in place on the
//! parameters and on state allocated at the first step. (In a process of its own, so no other
//! test touches the pool's counters meanwhile.)

use descent_autodiff::{Gradients, Param};
use descent_optim::build;
use descent_tensor::{Float, Tensor};

#[test]
fn steps_allocate_no_tensor_buffers() {
    if !crate::own_process::in_own_process("steady_state::steps_allocate_no_tensor_buffers") {
        return;
    }
    let n = 1 << 14; // pooled sizes start at 4096 elements
    let mut w = Param::new(Tensor::<f32>::full(&[n], 0.5));
    let mut grads = Gradients::new();
    grads.insert(w.id(), Tensor::<f32>::full(&[n], 0.1));
    for spec in [
        "sgd:momentum=0.9,nesterov=true",
        "adam:amsgrad=true",
        "rmsprop:centered=true,momentum=0.9",
        "rprop",
    ] {
        let mut opt = build::<f32>(spec).unwrap();
        opt.step(&mut [&mut w], &grads).unwrap();
        let before = f32::pool().stats();
        for _ in 0..5 {
            opt.step(&mut [&mut w], &grads).unwrap();
        }
        let after = f32::pool().stats();
        assert_eq!(
            (after.fresh, after.reused),
            (before.fresh, before.reused),
            "{spec}"
        );
    }
    // The counters do see a tensor op's buffer (the check above can fail).
    let before = f32::pool().stats();
    let _y = w.value.add_scalar(1.0);
    let after = f32::pool().stats();
    assert_eq!(after.fresh + after.reused, before.fresh + before.reused + 1);
}
