//! A diverging run stops with the step, what was not finite and a smaller learning rate,
//! and never writes a checkpoint of non-finite weights.

use descent_train::Error;

use crate::common::{temp_dir, trainer};

#[test]
fn a_diverging_run_names_the_step_and_suggests_a_rate_and_saves_nothing() {
    let dir = temp_dir("divergence");
    let ckpt = dir.join("run.ckpt");
    let mut t = trainer(3, "sgd:lr=1e100,momentum=0.9").checkpoint(&ckpt);
    let err = t.fit().unwrap_err();
    let Error::Diverged {
        epoch,
        step,
        what,
        suggestion,
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(*epoch, 1, "{err}");
    assert!(*step >= 1 && *step <= 6, "{err}");
    assert!(
        what.contains("loss is") || what.contains("gradient of parameter l"),
        "{err}"
    );
    assert_eq!(
        suggestion.as_deref(),
        Some("sgd:lr=1e99,momentum=0.9"),
        "{err}"
    );
    assert!(
        !ckpt.exists(),
        "a checkpoint was written before the first epoch ended"
    );
    std::fs::remove_dir_all(&dir).ok();
}
