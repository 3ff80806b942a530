//! Gradient checks of a whole [`Module`]: its output as a function of its input and of
//! every parameter, against central differences in `f64` — what a layer author runs on a
//! new layer, with no need to re-write its forward in raw ops.
//!
//! The parameters are substituted on the tape ([`Tape::bind_param`]), so the module is not
//! modified and a stateless forward is all that is needed. In [`Mode::Train`] a BatchNorm's
//! running statistics are updated by every evaluation (they do not enter the output);
//! a Dropout layer draws a new mask per forward, so check it in [`Mode::Eval`].
//!
//! ```
//! use descent_autodiff::Tolerances;
//! use descent_nn::check::{gradcheck_module, gradgradcheck_module};
//! use descent_nn::{activation::Tanh, Linear, Mode, Sequential};
//! use descent_tensor::Tensor;
//! use rand::{rngs::StdRng, SeedableRng};
//! let mut rng = StdRng::seed_from_u64(0);
//! let model = Sequential::new().add(Linear::<f64>::new(3, 4, &mut rng)?).add(Tanh);
//! let x = Tensor::randn(&[2, 3], 0.0, 1.0, &mut rng)?;
//! let report = gradcheck_module(&model, &x, Mode::Train, Tolerances::default())?;
//! assert!(report.passed(), "{report}");
//! assert_eq!(report.names(), ["input", "0.weight", "0.bias"]);
//! gradgradcheck_module(&model, &x, Mode::Train, Tolerances::default())?.ok()?;
//! # Ok::<(), descent_nn::Error>(())
//! ```

use crate::error::Result;
use crate::module::{Mode, Module};
use descent_autodiff::{gradcheck, gradgradcheck, Report, Tape, Tolerances, Var};
use descent_tensor::Tensor;
use std::fmt;

/// What a module gradient check found: the [`Report`], whose `worst.input` indexes
/// [`ModuleReport::names`] (`"input"`, then the parameters under their `state_dict` names).
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleReport {
    /// The check's report; input 0 is the module's input, input `k` its parameter `k − 1`.
    pub report: Report,
    names: Vec<String>,
}

impl ModuleReport {
    /// Whether every element was within tolerance.
    pub fn passed(&self) -> bool {
        self.report.passed
    }

    /// `"input"`, then each parameter's name, in the order of the report's inputs.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// `Ok(self)` if passed, else an error carrying the report's text (for `?` in tests).
    ///
    /// # Errors
    /// [`descent_autodiff::Error::GradcheckFailed`] with this report's description.
    pub fn ok(self) -> Result<Self> {
        if self.passed() {
            Ok(self)
        } else {
            Err(descent_autodiff::Error::GradcheckFailed(self.to_string()).into())
        }
    }
}

impl fmt::Display for ModuleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.report;
        let verdict = if r.passed { "passed" } else { "FAILED" };
        write!(f, "module gradcheck {verdict}: {} elements", r.checked)?;
        if let Some(w) = &r.worst {
            let name = self.names.get(w.input).map_or("?", String::as_str);
            write!(
                f,
                "; worst: {name} at {:?}: analytic {:.6e}, numeric {:.6e}, abs error {:.3e}, rel error {:.3e}",
                w.index, w.analytic, w.numeric, w.abs_error, w.rel_error
            )?;
        }
        Ok(())
    }
}

/// The module's forward with its parameters read from `vars[1..]` and its input `vars[0]`.
fn forward_bound<'t, M: Module<f64> + ?Sized>(
    model: &M,
    mode: Mode,
    tape: &'t Tape<f64>,
    vars: &[Var<'t, f64>],
) -> Result<Var<'t, f64>> {
    for ((_, p), v) in model.named_params().into_iter().zip(&vars[1..]) {
        tape.bind_param(p, *v)?;
    }
    model.forward(tape, vars[0], mode)
}

/// The checked inputs (the module's input, then its parameters' values) and their names.
fn inputs<M: Module<f64> + ?Sized>(model: &M, x: &Tensor<f64>) -> (Vec<Tensor<f64>>, Vec<String>) {
    let named = model.named_params();
    let mut values = vec![x.clone()];
    let mut names = vec!["input".to_string()];
    for (name, p) in named {
        values.push(p.value.clone());
        names.push(name);
    }
    (values, names)
}

/// [`descent_autodiff::gradcheck`] of `model`'s output at `x` with respect to `x` and to every
/// parameter (a non-scalar output is contracted with a fixed random cotangent).
///
/// # Errors
/// Any error of the forward pass (an input of the wrong shape names the layer and the
/// shapes). A check that runs but fails is not an error: see [`ModuleReport::passed`], or
/// [`ModuleReport::ok`] to turn it into one.
pub fn gradcheck_module<M: Module<f64> + ?Sized>(
    model: &M,
    x: &Tensor<f64>,
    mode: Mode,
    tol: Tolerances,
) -> Result<ModuleReport> {
    check(model, x, mode, tol, false)
}

/// [`descent_autodiff::gradgradcheck`] of `model` at `x`: second derivatives with respect
/// to the input and every parameter, through the recorded backward pass.
///
/// # Errors
/// As [`gradcheck_module`].
pub fn gradgradcheck_module<M: Module<f64> + ?Sized>(
    model: &M,
    x: &Tensor<f64>,
    mode: Mode,
    tol: Tolerances,
) -> Result<ModuleReport> {
    check(model, x, mode, tol, true)
}

/// The first- or second-order check of `model` at `x`.
fn check<M: Module<f64> + ?Sized>(
    model: &M,
    x: &Tensor<f64>,
    mode: Mode,
    tol: Tolerances,
    second_order: bool,
) -> Result<ModuleReport> {
    let (values, names) = inputs(model, x);
    let report = if second_order {
        gradgradcheck(|t, v| forward_bound(model, mode, t, v), &values, tol)?
    } else {
        gradcheck(|t, v| forward_bound(model, mode, t, v), &values, tol)?
    };
    Ok(ModuleReport { report, names })
}
