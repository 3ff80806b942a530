//! Steepest descent with a line search: `d = −∇f`, the step from a strong-Wolfe search
//! with a tight curvature constant (`c₂ = 0.1`), close to Cauchy's exact minimization along
//! the ray; or Armijo backtracking. On a quadratic it zig-zags at the rate `(κ−1)/(κ+1)`
//! (see [`crate::curvature`]), which is why the methods after it exist.

use crate::batch::linesearch::{
    interpolated_step, iterate, Cache, Direction, LineSearch, SearchConfig,
};
use crate::batch::objective::{BatchMethod, BatchReport, Objective};
use crate::error::Result;

/// Steepest descent; one [`SteepestDescent::step`] is one iteration.
///
/// ```
/// use descent_optim::batch::{BatchMethod, SteepestDescent};
/// let mut f = |x: &[f64]| Ok((x[0] * x[0] + 4.0 * x[1] * x[1], vec![2.0 * x[0], 8.0 * x[1]]));
/// let mut x = vec![1.0, 1.0];
/// SteepestDescent::default().minimize(&mut x, &mut f, 200)?;
/// assert!(x[0].abs() < 1e-4 && x[1].abs() < 1e-4);
/// # Ok::<(), descent_optim::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct SteepestDescent {
    config: SearchConfig,
    prev_f: Option<f64>,
    cache: Cache,
}

impl Default for SteepestDescent {
    fn default() -> Self {
        SteepestDescent {
            config: SearchConfig::new(LineSearch::StrongWolfe { c1: 1e-4, c2: 0.1 }),
            prev_f: None,
            cache: Cache::default(),
        }
    }
}

impl SteepestDescent {
    /// Steepest descent with the given search and tolerances.
    ///
    /// # Errors
    /// [`crate::Error::Hyperparameter`] for constants outside `0 < c₁ < c₂ < 1`.
    pub fn new(config: SearchConfig) -> Result<Self> {
        config.validate("steepest")?;
        Ok(SteepestDescent {
            config,
            ..Default::default()
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SearchConfig {
        &self.config
    }
}

impl BatchMethod for SteepestDescent {
    /// One iteration from `x`, updating it.
    ///
    /// # Errors
    /// A non-finite loss or gradient at `x`, or the objective's error.
    fn step(&mut self, x: &mut [f64], obj: &mut dyn Objective) -> Result<BatchReport> {
        iterate(self, x, obj)
    }
}

impl<O: Objective + ?Sized> Direction<O> for SteepestDescent {
    const NAME: &'static str = "steepest";

    fn search(&self) -> SearchConfig {
        self.config
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
        Ok(g.iter().map(|v| -v).collect())
    }

    fn reset(&mut self) {}

    fn initial_step(&mut self, f: f64, g: &[f64], gtd: f64) -> f64 {
        interpolated_step(self.prev_f, f, g, gtd)
    }

    fn accepted(&mut self, _s: &[f64], _y: &[f64], f: f64) {
        self.prev_f = Some(f);
    }
}
