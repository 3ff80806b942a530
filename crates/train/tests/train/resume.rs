//! A custom model trained through the toolkit, stopped and resumed, equals the
//! uninterrupted run bit for bit — also when resumed to more epochs than first planned.

use crate::common::{bits, temp_dir, trainer};

#[test]
fn stopped_and_resumed_equals_the_uninterrupted_run_bit_for_bit() {
    let dir = temp_dir("resume");
    let ckpt = dir.join("run.ckpt");
    let mut straight = trainer(4, "sgd:lr=0.05,momentum=0.9");
    straight.fit().unwrap();
    let straight_state = straight.state().clone();
    let straight_bits = bits(&straight.into_model().unwrap());

    // Planned for 2 epochs, then continued to 4 in a new trainer (a new process would be
    // the same: nothing is shared but the file).
    let mut first = trainer(2, "sgd:lr=0.05,momentum=0.9").checkpoint(&ckpt);
    first.fit().unwrap();
    let first_bits = bits(first.model());
    drop(first);
    let mut resumed = trainer(4, "sgd:lr=0.05,momentum=0.9").checkpoint(&ckpt);
    let progress = resumed.resume(&ckpt).unwrap();
    assert_eq!(progress.epochs_done, 2);
    assert_eq!(
        bits(resumed.model()),
        first_bits,
        "the checkpoint's weights"
    );
    resumed.fit().unwrap();
    let resumed_state = resumed.state().clone();
    assert_eq!(bits(&resumed.into_model().unwrap()), straight_bits);

    let epochs = |s: &descent_train::checkpoint::Progress<f64>| -> Vec<_> {
        s.history
            .iter()
            .map(|r| (r.epoch, r.step, r.train_loss, r.eval_loss, r.lr))
            .collect()
    };
    assert_eq!(epochs(&resumed_state), epochs(&straight_state));
    assert_eq!(resumed_state.step_losses, straight_state.step_losses);
    assert_eq!(
        straight_state.step_losses.len(),
        4 * 6,
        "96 samples in batches of 16"
    );
    std::fs::remove_dir_all(&dir).ok();
}
