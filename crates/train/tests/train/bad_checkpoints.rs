//! Checkpoints that do not fit: another model, another optimizer, other settings, a
//! truncated or corrupted file, a newer format version. Each is an error naming the
//! mismatch in plain words, and neither the model nor the file changes.

use descent_data::DataLoader;
use descent_optim::first_order::StateDict;
use descent_train::checkpoint::Settings;
use descent_train::evaluate::Regression;
use descent_train::progress::ProgressMode;
use descent_train::{Error, Trainer};

use crate::common::{bits, data, temp_dir, trainer, Net};

/// Resuming `path` into `t` fails with a message containing each of `words`; the model
/// and the file are unchanged.
fn refused(mut t: crate::common::RegressionTrainer, path: &std::path::Path, words: &[&str]) {
    let before = (bits(t.model()), std::fs::read(path).unwrap());
    let err = t.resume(path).map(|_| ()).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::Checkpoint { .. }), "{err:?}");
    for w in words {
        assert!(message.contains(w), "{w:?} not in: {message}");
    }
    assert!(
        !message.contains("Some(") && !message.contains("{ "),
        "{message}"
    );
    assert_eq!(bits(t.model()), before.0, "the model changed: {message}");
    assert_eq!(std::fs::read(path).unwrap(), before.1, "the file changed");
}

#[test]
fn mismatches_are_named_and_change_nothing() {
    let dir = temp_dir("bad-checkpoints");
    let ckpt = dir.join("run.ckpt");
    trainer(1, "sgd:lr=0.05,momentum=0.9")
        .checkpoint(&ckpt)
        .fit()
        .unwrap();

    // Another optimizer spec: a setting.
    refused(
        trainer(2, "sgd:lr=0.01,momentum=0.9"),
        &ckpt,
        &[
            "optimizer",
            "sgd:lr=0.05,momentum=0.9",
            "sgd:lr=0.01,momentum=0.9",
        ],
    );
    // Another setting of the caller's own.
    refused(
        trainer(2, "sgd:lr=0.05,momentum=0.9").settings(Settings::new().with("width", 8)),
        &ckpt,
        &["width"],
    );
    // Another model with the same settings: a wider hidden layer.
    let loader = DataLoader::new(data(96, 1, 1.0), 16).unwrap().shuffle(7);
    let wider = Trainer::new(
        Net::new(9, 3),
        "sgd:lr=0.05,momentum=0.9",
        loader,
        Regression,
    )
    .unwrap()
    .epochs(2)
    .seed(11)
    .validation("val", data(40, 2, 1.0))
    .schedule(
        "step:step_size=1,gamma=0.7",
        descent_train::SchedulePer::Epoch,
    )
    .unwrap()
    .average("ema:decay=0.9")
    .unwrap()
    .progress(ProgressMode::Quiet);
    refused(
        wider,
        &ckpt,
        &["l1.weight", "[8, 3]", "[9, 3]", "another model"],
    );

    // Truncated, and a flipped byte in the header.
    let bytes = std::fs::read(&ckpt).unwrap();
    let cut = dir.join("cut.ckpt");
    std::fs::write(&cut, &bytes[..bytes.len() - 100]).unwrap();
    refused(
        trainer(2, "sgd:lr=0.05,momentum=0.9"),
        &cut,
        &["cut.ckpt", "truncated"],
    );
    let mut corrupt = bytes.clone();
    corrupt[12] ^= 0x55;
    let bad = dir.join("corrupt.ckpt");
    std::fs::write(&bad, &corrupt).unwrap();
    refused(
        trainer(2, "sgd:lr=0.05,momentum=0.9"),
        &bad,
        &["corrupt.ckpt", "not a readable checkpoint"],
    );

    // A newer format version.
    let mut sd = StateDict::<f64>::from_bytes(&bytes, "run.ckpt").unwrap();
    sd.set_meta("checkpoint.version", 2);
    let newer = dir.join("newer.ckpt");
    std::fs::write(&newer, sd.to_bytes().unwrap()).unwrap();
    refused(
        trainer(2, "sgd:lr=0.05,momentum=0.9"),
        &newer,
        &["newer", "version 2"],
    );

    // Not a checkpoint at all: an optimizer state file.
    let opt_only = dir.join("optimizer.state");
    let mut plain = StateDict::<f64>::from_bytes(&bytes, "run.ckpt").unwrap();
    plain.meta.retain(|k, _| !k.starts_with("checkpoint."));
    std::fs::write(&opt_only, plain.to_bytes().unwrap()).unwrap();
    refused(
        trainer(2, "sgd:lr=0.05,momentum=0.9"),
        &opt_only,
        &["not a training checkpoint"],
    );

    // The original still resumes.
    let mut ok = trainer(2, "sgd:lr=0.05,momentum=0.9");
    assert_eq!(ok.resume(&ckpt).unwrap().epochs_done, 1);
    std::fs::remove_dir_all(&dir).ok();
}

/// Another optimizer, by name: its state cannot be loaded.
#[test]
fn another_optimizer_is_named() {
    let dir = temp_dir("other-optimizer");
    let ckpt = dir.join("run.ckpt");
    trainer(1, "adam:lr=0.01").checkpoint(&ckpt).fit().unwrap();
    // The same settings (a value, not a spec, records only the name), another rule.
    let value: Box<dyn descent_optim::Optimizer<f64>> =
        descent_optim::build("sgd:lr=0.01").unwrap();
    let loader = DataLoader::new(data(96, 1, 1.0), 16).unwrap().shuffle(7);
    let t = Trainer::new(Net::new(8, 3), value, loader, Regression)
        .unwrap()
        .epochs(2)
        .seed(11)
        .validation("val", data(40, 2, 1.0))
        .schedule(
            "step:step_size=1,gamma=0.7",
            descent_train::SchedulePer::Epoch,
        )
        .unwrap()
        .average("ema:decay=0.9")
        .unwrap()
        .progress(ProgressMode::Quiet);
    refused(t, &ckpt, &["optimizer", "adam"]);
    std::fs::remove_dir_all(&dir).ok();
}
