//! BFGS (Broyden, Fletcher, Goldfarb, Shanno 1970) with a dense inverse-Hessian
//! approximation `H`, `H₀ = I` (as SciPy's `minimize(method="BFGS")`), updated after each
//! accepted step `s`, gradient change `y`, `ρ = 1/yᵀs`:
//!
//! `H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ`
//!
//! The strong-Wolfe search (`c₂ = 0.9`) guarantees `yᵀs > 0`, so `H` stays positive
//! definite; a pair with `yᵀs ≤ 1e-10` (possible with Armijo) is skipped. `H` is `n²`
//! numbers: above `max_params` use L-BFGS.

use crate::batch::linesearch::{iterate, Cache, Direction, LineSearch, SearchConfig};
use crate::batch::objective::{dot, BatchMethod, BatchReport, Objective, StopTolerances};
use crate::error::{Error, Result};
use nalgebra::{DMatrix, DVector};

/// BFGS settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BfgsConfig {
    /// Search and tolerances; by default SciPy's ([`StopTolerances::SCIPY`]: the gradient test
    /// alone, `max |gᵢ| ≤ 1e-5`).
    pub search: SearchConfig,
    /// The largest number of parameters for which the dense `n x n` matrix is formed.
    pub max_params: usize,
}

impl Default for BfgsConfig {
    fn default() -> Self {
        BfgsConfig {
            search: SearchConfig {
                tolerances: StopTolerances::SCIPY,
                ..SearchConfig::new(LineSearch::WOLFE)
            },
            max_params: 4096,
        }
    }
}

/// BFGS; one [`Bfgs::step`] is one iteration.
#[derive(Debug, Clone, Default)]
pub struct Bfgs {
    config: BfgsConfig,
    h: Option<DMatrix<f64>>,
    cache: Cache,
    /// The model's parameter names and shapes at the last `step_module`.
    layout: Vec<(String, Vec<usize>)>,
}

impl Bfgs {
    /// BFGS with the given settings.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] for bad search constants.
    pub fn new(config: BfgsConfig) -> Result<Self> {
        config.search.validate("bfgs")?;
        Ok(Bfgs {
            config,
            ..Default::default()
        })
    }

    /// The configuration.
    pub fn config(&self) -> &BfgsConfig {
        &self.config
    }

    /// The current inverse-Hessian approximation (`None` before the first step).
    pub fn inverse_hessian(&self) -> Option<&DMatrix<f64>> {
        self.h.as_ref()
    }
}

impl BatchMethod for Bfgs {
    fn module_layout(&mut self) -> Option<&mut Vec<(String, Vec<usize>)>> {
        Some(&mut self.layout)
    }

    /// One iteration from `x`, updating it.
    ///
    /// # Errors
    /// [`Error::TooLarge`] above `max_params` parameters, a non-finite loss or gradient at
    /// `x`, or the objective's error.
    fn step(&mut self, x: &mut [f64], obj: &mut dyn Objective) -> Result<BatchReport> {
        let n = x.len();
        if n > self.config.max_params {
            return Err(Error::TooLarge {
                method: "bfgs",
                what: "inverse Hessian",
                n,
                mib: (n * n * 8) as f64 / (1 << 20) as f64,
                limit: self.config.max_params,
                instead: "use lbfgs (memory O(history_size·n)) or raise max_params",
            });
        }
        iterate(self, x, obj)
    }
}

impl<O: Objective + ?Sized> Direction<O> for Bfgs {
    const NAME: &'static str = "bfgs";

    fn search(&self) -> SearchConfig {
        self.config.search
    }

    fn cache(&mut self) -> &mut Cache {
        &mut self.cache
    }

    fn direction(
        &mut self,
        _x: &[f64],
        g: &[f64],
        _obj: &mut O,
        _report: &mut BatchReport,
    ) -> Result<Vec<f64>> {
        let n = g.len();
        let h = self.h.get_or_insert_with(|| DMatrix::identity(n, n));
        let d = -(&*h * DVector::from_column_slice(g));
        Ok(d.as_slice().to_vec())
    }

    fn reset(&mut self) {
        self.h = None;
    }

    fn initial_step(&mut self, _f: f64, _g: &[f64], _gtd: f64) -> f64 {
        1.0
    }

    fn accepted(&mut self, s: &[f64], y: &[f64], _f: f64) {
        let ys = dot(y, s);
        let Some(h) = self.h.as_mut() else { return };
        if ys <= 1e-10 {
            return;
        }
        // H ← H − ρ (s (Hy)ᵀ + (Hy) sᵀ) + (ρ² yᵀHy + ρ) s sᵀ, the product form expanded.
        let rho = 1.0 / ys;
        let (s, y) = (DVector::from_column_slice(s), DVector::from_column_slice(y));
        let hy = &*h * &y;
        let yhy = y.dot(&hy);
        h.ger(-rho, &s, &hy, 1.0);
        h.ger(-rho, &hy, &s, 1.0);
        h.ger(rho * rho * yhy + rho, &s, &s, 1.0);
    }
}
