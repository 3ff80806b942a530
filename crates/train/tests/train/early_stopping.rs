//! Early stopping stops after `patience` epochs without a better evaluation loss and
//! restores the best epoch's weights (the averaged ones, when averaging).

use std::cell::RefCell;
use std::rc::Rc;

use descent_data::DataLoader;
use descent_nn::Module;
use descent_train::evaluate::Regression;
use descent_train::hooks::{EpochInfo, Hook};
use descent_train::progress::ProgressMode;
use descent_train::Trainer;

use crate::common::{bits, data, Net};

type Seen = Rc<RefCell<Vec<(usize, f64, Vec<(String, Vec<u64>)>)>>>;

/// Records each epoch's evaluation loss and the model's weights.
struct Record(Seen);

impl Hook<f64> for Record {
    fn on_epoch(&mut self, info: &EpochInfo<'_, f64>) -> descent_train::Result<()> {
        let loss = info.eval_loss.expect("a validation set");
        self.0
            .borrow_mut()
            .push((info.epoch, loss, bits(info.model)));
        Ok(())
    }
}

#[test]
fn early_stopping_restores_the_best_weights() {
    // Validation targets are the training targets negated: once the fit to the training
    // data starts, the validation loss climbs, and some early epoch is best.
    let seen: Seen = Rc::default();
    let loader = DataLoader::new(data(96, 1, 1.0), 16).unwrap().shuffle(7);
    let mut t = Trainer::new(Net::new(8, 3), "sgd:lr=0.05", loader, Regression)
        .unwrap()
        .epochs(50)
        .validation("val", data(40, 2, -1.0))
        .early_stopping(3)
        .unwrap()
        .progress(ProgressMode::Quiet)
        .hook(Record(Rc::clone(&seen)));
    let summary = t.fit().unwrap();
    let seen = seen.borrow();
    // The best epoch by the losses the hook saw (ties: the earlier).
    let (best, _, best_bits) = seen
        .iter()
        .fold(None::<&(usize, f64, _)>, |b, s| match b {
            Some(b) if b.1 <= s.1 => Some(b),
            _ => Some(s),
        })
        .unwrap()
        .clone();
    assert_eq!(summary.stopped_early, Some(best));
    assert_eq!(
        summary.epochs_done,
        best + 3,
        "stopped after 3 epochs without improvement"
    );
    assert!(summary.epochs_done < 50);
    assert_ne!(
        bits(t.model()),
        seen.last().unwrap().2,
        "the last weights were kept"
    );
    assert_eq!(bits(t.model()), best_bits, "not the best epoch's weights");
    assert_eq!(t.model().num_params(), 8 * 3 + 8 + 8 + 1);
}
