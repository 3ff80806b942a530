//! The registry of optimizers by name: [`build`] makes a first-order optimizer from a spec
//! string, [`build_method`] a batch method; each knows the other's names, so asking one for
//! the other's method says where it is built, and an unknown name lists both.
//!
//! The first-order names come from one list of rules ([`each_rule`]): a rule's name is its
//! base configuration's, and its keys, defaults and ranges are its options table, so adding
//! a rule is its file plus one line there.

use crate::batch::{Method, METHODS};
use crate::error::{Error, Result};
use crate::first_order::*;
use crate::spec::Spec;
use descent_tensor::Float;
use std::any::Any;
use std::sync::LazyLock;

/// Something done with every rule type in turn (build one by name, list the names, …).
trait Visit {
    /// Called with each rule's base configuration: torch's defaults under its name.
    fn rule<R: UpdateRule>(&mut self, base: fn() -> R);
}

/// Every first-order rule, by its base configuration; the order is the order of
/// [`OPTIMIZERS`]. Adding a rule is one line here.
fn each_rule(v: &mut impl Visit) {
    v.rule(Sgd::default);
    v.rule(Adagrad::default);
    v.rule(RmsProp::default);
    v.rule(Adadelta::default);
    v.rule(Adam::default);
    v.rule(Adam::adamw);
    v.rule(Adamax::default);
    v.rule(NAdam::default);
    v.rule(Rprop::default);
}

/// Every optimizer [`build`] knows; [`describe`] gives the keys of each.
pub static OPTIMIZERS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    struct Names(Vec<&'static str>);
    impl Visit for Names {
        fn rule<R: UpdateRule>(&mut self, base: fn() -> R) {
            self.0.push(base().name());
        }
    }
    let mut names = Names(Vec::new());
    each_rule(&mut names);
    names.0
});

/// Makes an optimizer from a spec string: `"sgd:lr=0.1,momentum=0.9,nesterov=true"`,
/// `"adam:lr=1e-3,betas=0.9/0.999,eps=1e-8"`, `"rprop:variant=irprop-,etas=0.5/1.2"`.
/// Names and keys are torch.optim's; absent keys take torch's defaults. The optimizer's
/// `Display` is a spec that builds it again.
///
/// ```
/// let opt = descent_optim::build::<f32>("adamw:lr=3e-4,weight_decay=0.1")?;
/// assert_eq!((opt.name(), opt.lr(0)), ("adamw", Some(3e-4)));
/// assert_eq!(opt.to_string(), "adamw:lr=0.0003,weight_decay=0.1");
/// let err = descent_optim::build::<f32>("adam:betas=0.9/1.5").err().unwrap();
/// assert_eq!(err.to_string(), "adam: betas=1.5 is invalid; allowed: a number in [0, 1)");
/// # Ok::<(), descent_optim::Error>(())
/// ```
///
/// # Errors
/// [`Error::UnknownName`], [`Error::WrongRegistry`] for a batch method's name,
/// [`Error::UnknownKey`], [`Error::Hyperparameter`], [`Error::Spec`].
pub fn build<F: Float>(spec: &str) -> Result<Box<dyn Optimizer<F>>> {
    /// Builds the rule whose name the spec has, once it is visited.
    struct Build<F: Float> {
        spec: Option<Spec>,
        built: Option<Result<Box<dyn Optimizer<F>>>>,
    }
    impl<F: Float> Visit for Build<F> {
        fn rule<R: UpdateRule>(&mut self, base: fn() -> R) {
            let base = base();
            if self.spec.as_ref().is_some_and(|s| s.name() == base.name()) {
                if let Some(spec) = self.spec.take() {
                    self.built = Some(boxed(spec, &base));
                }
            }
        }
    }
    let spec = Spec::parse(spec)?;
    let name = spec.name().to_string();
    let mut b = Build {
        spec: Some(spec),
        built: None,
    };
    each_rule(&mut b);
    match b.built {
        Some(built) => built,
        None if METHODS.contains(&name.as_str()) => Err(Error::WrongRegistry {
            name,
            kind:
                "a batch method (it re-evaluates the loss, so it takes an objective, not gradients)",
            build: "descent_optim::build_method",
        }),
        None => Err(unknown(&name)),
    }
}

fn boxed<F: Float, R: UpdateRule>(mut spec: Spec, base: &R) -> Result<Box<dyn Optimizer<F>>> {
    let rule = R::read(&mut spec, base)?;
    spec.finish()?;
    Ok(Box::new(FirstOrder::<F, R>::new(rule)?))
}

/// The options of the optimizer `name`, one a line: key, default, what is allowed, and
/// what it does (`None` for a name [`build`] does not know).
///
/// ```
/// let keys = descent_optim::first_order::describe("adam").unwrap();
/// assert!(keys.starts_with("lr = 0.001; a number >= 0; "), "{keys}");
/// ```
pub fn describe(name: &str) -> Option<String> {
    struct Describe<'a>(&'a str, Option<String>);
    impl Visit for Describe<'_> {
        fn rule<R: UpdateRule>(&mut self, base: fn() -> R) {
            let base = base();
            if base.name() == self.0 {
                self.1 = Some(R::describe(&base));
            }
        }
    }
    let mut d = Describe(name, None);
    each_rule(&mut d);
    d.1
}

/// The spec of `rule`: its name and the options that differ from that name's base (an
/// AdamW is written `adamw:…`, relative to AdamW's defaults).
pub(crate) fn spec_of<R: UpdateRule>(rule: &R) -> String {
    struct Base<'a, R>(&'a R, Option<R>);
    impl<R: UpdateRule> Visit for Base<'_, R> {
        fn rule<S: UpdateRule>(&mut self, base: fn() -> S) {
            let base = base();
            if base.name() == self.0.name() {
                if let Some(b) = (&base as &dyn Any).downcast_ref::<R>() {
                    self.1 = Some(b.clone());
                }
            }
        }
    }
    let mut b = Base(rule, None);
    each_rule(&mut b);
    // A rule outside the list is written against its table's defaults.
    let base = b.1.unwrap_or_default();
    rule.to_spec(rule.name(), &base)
}

/// Makes a batch method from a spec string (`"lbfgs:history_size=10"`, `"cg:beta=fr"`,
/// `"newton"`; the keys of each are in [`Method::from_spec`]).
///
/// ```
/// let lbfgs = descent_optim::build_method("lbfgs:line_search_fn=strong_wolfe")?;
/// assert_eq!(lbfgs.name(), "lbfgs");
/// let err = descent_optim::build::<f32>("lbfgs").err().unwrap().to_string();
/// assert!(err.contains("build it with descent_optim::build_method"), "{err}");
/// # Ok::<(), descent_optim::Error>(())
/// ```
///
/// # Errors
/// [`Error::UnknownName`], [`Error::WrongRegistry`] for a first-order optimizer's name, and
/// the errors of [`Method::from_spec`].
pub fn build_method(spec: &str) -> Result<Method> {
    let name = Spec::parse(spec)?.name().to_string();
    if OPTIMIZERS.contains(&name.as_str()) {
        return Err(Error::WrongRegistry {
            name,
            kind: "a first-order optimizer (it steps from gradients)",
            build: "descent_optim::build",
        });
    }
    Method::from_spec(spec)
}

/// The error for a name neither registry knows, listing both.
pub(crate) fn unknown(name: &str) -> Error {
    Error::UnknownName {
        kind: "optimizer",
        name: name.to_string(),
        known: format!(
            "{} (first-order); {} (batch)",
            OPTIMIZERS.join(", "),
            METHODS.join(", ")
        ),
    }
}
