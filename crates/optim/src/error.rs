//! The optim error type: every message names the optimizer (or schedule), the key, the value
//! and what is allowed, so a bad `--optimizer` flag is fixed from the message alone.

use descent_tensor::Shape;
use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong when building, stepping, saving or loading an optimizer.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor op failed.
    #[error(transparent)]
    Tensor(#[from] descent_tensor::Error),
    /// Recording or differentiating on the tape failed.
    #[error(transparent)]
    Autodiff(#[from] descent_autodiff::Error),
    /// A model's forward pass failed (in the closure of a batch method's `step_module`, which
    /// may return optim's error and use `?` on the model's calls).
    #[error(transparent)]
    Nn(#[from] descent_nn::Error),
    /// A hyper-parameter outside its allowed range (a negative lr, betas outside [0, 1), ...).
    #[error("{name}: {key}={value} is invalid; allowed: {allowed}")]
    Hyperparameter {
        /// The optimizer or schedule.
        name: String,
        /// The hyper-parameter (torch's argument name).
        key: String,
        /// The value given, as written.
        value: String,
        /// What is allowed, e.g. `a number in [0, 1)`.
        allowed: String,
    },
    /// A spec named an optimizer or schedule that does not exist.
    #[error("unknown {kind} `{name}`; known: {known}")]
    UnknownName {
        /// `optimizer` or `schedule`.
        kind: &'static str,
        /// The name given.
        name: String,
        /// The names that exist, comma-separated.
        known: String,
    },
    /// A name given to the registry of the other half ([`crate::build`] for first-order
    /// optimizers, [`crate::build_method`] for batch methods).
    #[error("`{name}` is {kind}: build it with {build}(\"{name}…\")")]
    WrongRegistry {
        /// The name given.
        name: String,
        /// What it is, in words.
        kind: &'static str,
        /// The function that builds it.
        build: &'static str,
    },
    /// A spec had keys the optimizer or schedule does not take.
    #[error("{name}: unknown key{} {keys}; allowed keys: {allowed}", if .keys.contains(',') { "s" } else { "" })]
    UnknownKey {
        /// The optimizer or schedule.
        name: String,
        /// The unknown keys, comma-separated.
        keys: String,
        /// The keys it takes, comma-separated.
        allowed: String,
    },
    /// A spec string that does not parse (`name:key=value,...`).
    #[error("spec `{spec}`: {why}")]
    Spec {
        /// The spec as given.
        spec: String,
        /// What is wrong, and where.
        why: String,
    },
    /// A gradient whose shape differs from its parameter's.
    #[error("{name}: the gradient of parameter {index} has shape {grad:?} but the parameter has shape {param:?}")]
    GradShape {
        /// The optimizer.
        name: String,
        /// The parameter's position in the slice given to `step`.
        index: usize,
        /// The parameter's shape.
        param: Shape,
        /// The gradient's shape.
        grad: Shape,
    },
    /// A gradient holding NaN or infinity; the step changed no parameter and no state.
    #[error("{name}: the gradient of parameter {index} (shape {shape:?}) is not finite (NaN or infinity); no parameter was updated")]
    NonFiniteGradient {
        /// The optimizer.
        name: String,
        /// The parameter's position in the slice given to `step`.
        index: usize,
        /// The parameter's shape.
        shape: Shape,
    },
    /// A rule that compares losses (iRprop+, reduce-on-plateau) was stepped without one.
    #[error("{name}: needs the loss (or metric) of each step; call {call}")]
    NeedsLoss {
        /// The optimizer or schedule.
        name: String,
        /// The method to call instead.
        call: &'static str,
    },
    /// Saved state that does not belong to this optimizer or these parameters.
    #[error("loading state: {why}")]
    State {
        /// What differs (the optimizer name, a count, a shape, a dtype), with both values.
        why: String,
    },
    /// A state file that cannot be read or written, or is not valid safetensors (the
    /// error names the file and the byte offset).
    #[error(transparent)]
    Io(#[from] descent_tensor::io::IoError),
    /// A state file whose contents are not an optimizer state of this dtype.
    #[error("{path}: {why}")]
    File {
        /// The file.
        path: PathBuf,
        /// The operating-system or format error.
        why: String,
    },
    /// Parameter averaging used out of order (updating while the average is swapped in).
    #[error("averaging: {why}")]
    Averaging {
        /// What was done, and what to do instead.
        why: String,
    },
    /// A parameter group index that does not exist.
    #[error("{name}: no parameter group {group}; there are {groups}")]
    Group {
        /// The optimizer.
        name: String,
        /// The group asked for.
        group: usize,
        /// How many there are.
        groups: usize,
    },
    /// The objective returned a NaN or infinite loss or gradient where a finite one is needed.
    #[error("{method}: the objective returned a non-finite {what} ({value}) at the point iteration {iteration} steps from")]
    NonFinite {
        /// The method running.
        method: &'static str,
        /// `"loss"`, `"gradient"`, `"Hessian"`, ...
        what: &'static str,
        /// The offending value.
        value: f64,
        /// The iteration of the call (from 0) at which it happened.
        iteration: usize,
    },
    /// The objective returned a vector or matrix of the wrong size.
    #[error("{method}: the objective returned a {what} of {got} entries for {expected}")]
    Length {
        /// The method running.
        method: &'static str,
        /// `"gradient"`, `"Hessian"`, `"Jacobian"`...
        what: &'static str,
        /// The number of entries expected.
        expected: usize,
        /// The number returned.
        got: usize,
    },
    /// The loss a closure returned is not a scalar.
    #[error(
        "{method}: the loss has shape {shape:?}; it must be a scalar (reduce it with sum or mean)"
    )]
    NotScalar {
        /// The method running.
        method: &'static str,
        /// The loss's shape.
        shape: Shape,
    },
    /// A linear system could not be solved (singular or not positive definite matrix).
    #[error("{method}: the {n}x{n} system {system} is singular or not positive definite{hint}")]
    Singular {
        /// The method running.
        method: &'static str,
        /// The system's size.
        n: usize,
        /// Which system, e.g. `"H d = -g"`.
        system: &'static str,
        /// What to do about it (may be empty).
        hint: &'static str,
    },
    /// A dense matrix would be too large to form.
    #[error("{method}: a dense {n}x{n} {what} needs {mib:.1} MiB, above the limit of {limit} parameters; {instead}")]
    TooLarge {
        /// The method or diagnostic.
        method: &'static str,
        /// `"Hessian"`, `"inverse Hessian"`...
        what: &'static str,
        /// The number of parameters.
        n: usize,
        /// The memory the matrix would take.
        mib: f64,
        /// The configured limit on `n`.
        limit: usize,
        /// What to use instead.
        instead: &'static str,
    },
    /// An objective's or residual closure's own error (any type but optim's and the tape's,
    /// which keep their variants); [`crate::batch::with_params`] hands it back as it was.
    #[error("the objective failed: {0}")]
    Objective(Box<dyn std::error::Error + Send + Sync>),
    /// A model given to a batch method with history has other parameters than at the
    /// previous call.
    #[error("the model's parameter `{name}` is {} but was {} at the previous call; this method's history is for the old parameters: build a new method for the new model", shape_words(.now), shape_words(.before))]
    ModuleShape {
        /// The parameter's name in the model.
        name: String,
        /// Its shape at the previous call (`None`: it did not exist).
        before: Option<Shape>,
        /// Its shape now (`None`: it is gone).
        now: Option<Shape>,
    },
    /// The objective cannot provide what the method needs (a Hessian, residuals).
    #[error("{method}: the objective has no {needs}; {hint}")]
    Unsupported {
        /// The method that was asked for.
        method: &'static str,
        /// What it needs.
        needs: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
}

/// A parameter's shape, or that there is none.
fn shape_words(shape: &Option<Shape>) -> String {
    match shape {
        Some(s) => format!("of shape {s:?}"),
        None => "absent".to_string(),
    }
}

/// `Result` with the optim [`enum@Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A [`Error::Hyperparameter`] from displayable parts.
    pub fn hyper(
        name: &str,
        key: &str,
        value: impl std::fmt::Display,
        allowed: impl Into<String>,
    ) -> Self {
        Error::Hyperparameter {
            name: name.to_string(),
            key: key.to_string(),
            value: value.to_string(),
            allowed: allowed.into(),
        }
    }

    /// A [`Error::State`] from a message.
    pub fn state(why: impl Into<String>) -> Self {
        Error::State { why: why.into() }
    }
}
