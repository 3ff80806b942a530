//! The registry of optimizers by name: [`build`] makes a first-order optimizer from a spec
//! string, [`build_method`] a batch method; each knows the other's names, so asking one for
//! the other's method says where it is built, and an unknown name lists both.

use crate::batch::{Method, METHODS};
use crate::error::{Error, Result};
use crate::first_order::*;
use crate::spec::Spec;
use descent_tensor::Float;

/// Every optimizer [`build`] knows, with the spec keys each takes in its docs.
pub const OPTIMIZERS: &[&str] = &[
    "sgd", "adagrad", "rmsprop", "adadelta", "adam", "adamw", "adamax", "nadam", "rprop",
];

/// Makes an optimizer from a spec string: `"sgd:lr=0.1,momentum=0.9,nesterov=true"`,
/// `"adam:lr=1e-3,betas=0.9/0.999,eps=1e-8"`, `"rprop:variant=irprop-,etas=0.5/1.2"`.
/// Names and keys are torch.optim's; absent keys take torch's defaults.
///
/// ```
/// let opt = descent_optim::build::<f32>("adamw:lr=3e-4,weight_decay=0.1")?;
/// assert_eq!((opt.name(), opt.lr(0)), ("adamw", Some(3e-4)));
/// let err = descent_optim::build::<f32>("adam:betas=0.9/1.5").err().unwrap();
/// assert_eq!(err.to_string(), "adam: betas=1.5 is invalid; allowed: a number in [0, 1)");
/// # Ok::<(), descent_optim::Error>(())
/// ```
///
/// # Errors
/// [`Error::UnknownName`], [`Error::WrongRegistry`] for a batch method's name,
/// [`Error::UnknownKey`], [`Error::Hyperparameter`], [`Error::Spec`].
pub fn build<F: Float>(spec: &str) -> Result<Box<dyn Optimizer<F>>> {
    let s = Spec::parse(spec)?;
    let name = s.name().to_string();
    match name.as_str() {
        "sgd" => boxed(s, &Sgd::default()),
        "adagrad" => boxed(s, &Adagrad::default()),
        "rmsprop" => boxed(s, &RmsProp::default()),
        "adadelta" => boxed(s, &Adadelta::default()),
        "adam" => boxed(s, &Adam::default()),
        "adamw" => boxed(s, &Adam::adamw()),
        "adamax" => boxed(s, &Adamax::default()),
        "nadam" => boxed(s, &NAdam::default()),
        "rprop" => boxed(s, &Rprop::default()),
        other if METHODS.contains(&other) => Err(Error::WrongRegistry {
            name: other.to_string(),
            kind:
                "a batch method (it re-evaluates the loss, so it takes an objective, not gradients)",
            build: "descent_optim::build_method",
        }),
        other => Err(unknown(other)),
    }
}

fn boxed<F: Float, R: UpdateRule>(mut spec: Spec, base: &R) -> Result<Box<dyn Optimizer<F>>> {
    let rule = R::from_spec(&mut spec, base)?;
    spec.finish()?;
    Ok(Box::new(FirstOrder::<F, R>::new(rule)?))
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
