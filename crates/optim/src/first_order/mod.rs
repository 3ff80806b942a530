//! First-order methods: torch.optim's update rules (one file each), the driver that
//! applies them to parameters ([`FirstOrder`] behind the [`Optimizer`] trait), and the
//! utilities around a training loop — learning-rate schedules ([`schedule`]), parameter
//! averaging ([`Averager`]), gradient clipping ([`clip_grad_norm`], [`clip_grad_value`]) and
//! saved state ([`StateDict`]).
//!
//! An [`UpdateRule`] is a config struct with an options table (torch's argument names,
//! defaults and ranges; [`crate::spec::Options`]) and a typed per-parameter state
//! ([`RuleState`], under torch's state names), whose `update` applies one step to one
//! parameter in one pass over memory, in torch's order of operations; everything common to
//! all rules lives once in [`FirstOrder`], and the registry ([`build`]) is one list of rules.

/// `lr()` and `set_lr()` for a rule whose learning rate is its `lr` field.
macro_rules! lr_field {
    () => {
        fn lr(&self) -> f64 {
            self.lr
        }

        fn set_lr(&mut self, lr: f64) {
            self.lr = lr;
        }
    };
}

mod adadelta;
mod adagrad;
mod adam;
mod adamax;
mod averaging;
mod clip;
pub(crate) mod kernel;
mod nadam;
pub(crate) mod optimizer;
pub(crate) mod registry;
mod rmsprop;
mod rprop;
pub mod schedule;
mod sgd;
pub(crate) mod state;

pub use adadelta::{Adadelta, AdadeltaState};
pub use adagrad::{Adagrad, AdagradState};
pub use adam::{Adam, AdamState};
pub use adamax::{Adamax, AdamaxState};
pub use averaging::{Averager, Averaging};
pub use clip::{clip_grad_norm, clip_grad_value};
pub use nadam::{NAdam, NAdamState};
pub use optimizer::{FirstOrder, Optimizer, ParamState, RuleCtx, RuleState, Saved, UpdateRule};
pub(crate) use registry::unknown;
pub use registry::{build, build_method, describe, OPTIMIZERS};
pub use rmsprop::{RmsProp, RmsPropState};
pub use rprop::{Rprop, RpropState, RpropVariant};
pub use schedule::{parse_schedule, Closed, Plateau, Schedule, Scheduler, SCHEDULES};
pub use sgd::{MomentumForm, Sgd, SgdState};
pub use state::{StateDict, MAX_COUNT};
