//! Nonlinear conjugate gradient: `dₖ₊₁ = −gₖ₊₁ + βₖ dₖ` with
//!
//! * Fletcher–Reeves: `β = gₖ₊₁ᵀgₖ₊₁ / gₖᵀgₖ`;
//! * Polak–Ribière+: `β = max(0, gₖ₊₁ᵀ(gₖ₊₁ − gₖ) / gₖᵀgₖ)`,
//!
//! restarted to the anti-gradient every `restart` iterations (the number of parameters by
//! default, as on a quadratic CG is exact after n steps) and whenever `d` is not a descent
//! direction. The strong-Wolfe search uses `c₂ = 0.1` (N&W §5.2: FR needs `c₂ < ½` to keep
//! descent directions).

use crate::batch::linesearch::{
    interpolated_step, iterate, Cache, Direction, LineSearch, SearchConfig,
};
use crate::batch::objective::{dot, BatchMethod, BatchReport, Objective, StopTolerances};
use crate::error::{Error, Result};

/// The choice of `β`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beta {
    /// Fletcher–Reeves.
    FletcherReeves,
    /// Polak–Ribière with `β = max(0, β)`.
    PolakRibierePlus,
}

/// Conjugate-gradient settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CgConfig {
    /// FR or PR+.
    pub beta: Beta,
    /// Restart every this many iterations; `None`: the number of parameters.
    pub restart: Option<usize>,
    /// Search and tolerances; by default SciPy's ([`StopTolerances::SCIPY`]: the gradient test
    /// alone, `max |gᵢ| ≤ 1e-5`).
    pub search: SearchConfig,
}

impl Default for CgConfig {
    fn default() -> Self {
        CgConfig {
            beta: Beta::PolakRibierePlus,
            restart: None,
            search: SearchConfig {
                tolerances: StopTolerances::SCIPY,
                ..SearchConfig::new(LineSearch::StrongWolfe { c1: 1e-4, c2: 0.1 })
            },
        }
    }
}

/// Nonlinear conjugate gradient; one [`ConjugateGradient::step`] is one iteration.
///
/// ```
/// use descent_optim::batch::{BatchMethod, Beta, CgConfig, ConjugateGradient};
/// // A quadratic in 2 variables: CG with exact-enough searches needs about 2 iterations.
/// let mut f = |x: &[f64]| Ok((x[0] * x[0] + 10.0 * x[1] * x[1], vec![2.0 * x[0], 20.0 * x[1]]));
/// let mut cg = ConjugateGradient::new(CgConfig { beta: Beta::FletcherReeves, ..Default::default() })?;
/// let mut x = vec![1.0, 1.0];
/// cg.minimize(&mut x, &mut f, 50)?;
/// assert!(x[0].abs() < 1e-6 && x[1].abs() < 1e-6);
/// # Ok::<(), descent_optim::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ConjugateGradient {
    config: CgConfig,
    /// Previous direction and gradient, cleared on restart.
    prev: Option<(Vec<f64>, Vec<f64>)>,
    since_restart: usize,
    prev_f: Option<f64>,
    cache: Cache,
    /// The model's parameter names and shapes at the last `step_module`.
    layout: Vec<(String, Vec<usize>)>,
}

impl Default for ConjugateGradient {
    fn default() -> Self {
        Self::with(CgConfig::default())
    }
}

impl ConjugateGradient {
    /// CG with the given settings.
    ///
    /// # Errors
    /// [`Error::Hyperparameter`] for a zero `restart` or bad search constants.
    pub fn new(config: CgConfig) -> Result<Self> {
        config.search.validate("cg")?;
        if config.restart == Some(0) {
            return Err(Error::hyper("cg", "restart", 0, "at least 1"));
        }
        Ok(Self::with(config))
    }

    fn with(config: CgConfig) -> Self {
        ConjugateGradient {
            config,
            prev: None,
            since_restart: 0,
            prev_f: None,
            cache: Cache::default(),
            layout: Vec::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CgConfig {
        &self.config
    }
}

impl BatchMethod for ConjugateGradient {
    fn module_layout(&mut self) -> Option<&mut Vec<(String, Vec<usize>)>> {
        Some(&mut self.layout)
    }

    /// One iteration from `x`, updating it.
    ///
    /// # Errors
    /// A non-finite loss or gradient at `x`, or the objective's error.
    fn step(&mut self, x: &mut [f64], obj: &mut dyn Objective) -> Result<BatchReport> {
        iterate(self, x, obj)
    }
}

impl<O: Objective + ?Sized> Direction<O> for ConjugateGradient {
    const NAME: &'static str = "cg";

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
        let restart = self.config.restart.unwrap_or(g.len().max(1));
        let beta = match &self.prev {
            Some((_, g_prev)) if self.since_restart < restart => {
                let gg = dot(g_prev, g_prev);
                match self.config.beta {
                    Beta::FletcherReeves => dot(g, g) / gg,
                    Beta::PolakRibierePlus => ((dot(g, g) - dot(g, g_prev)) / gg).max(0.0),
                }
            }
            _ => {
                self.since_restart = 0;
                0.0
            }
        };
        let d: Vec<f64> = match &self.prev {
            Some((d_prev, _)) if beta != 0.0 && beta.is_finite() => g
                .iter()
                .zip(d_prev)
                .map(|(gi, di)| -gi + beta * di)
                .collect(),
            _ => g.iter().map(|v| -v).collect(),
        };
        self.prev = Some((d.clone(), g.to_vec()));
        Ok(d)
    }

    fn reset(&mut self) {
        self.prev = None;
        self.since_restart = 0;
    }

    fn initial_step(&mut self, f: f64, g: &[f64], gtd: f64) -> f64 {
        interpolated_step(self.prev_f, f, g, gtd)
    }

    fn accepted(&mut self, _s: &[f64], _y: &[f64], f: f64) {
        self.since_restart += 1;
        self.prev_f = Some(f);
    }
}
