//! Two-dimensional test functions from the optimization lectures, computed on the tape so
//! their gradients come from `backward`: the long curved valley (Rosenbrock), Beale's flat
//! plateaus and narrow ridges, the saddle `x² − y²`, and the ill-conditioned bowl
//! `½(a·x² + b·y²)`.
//!
//! ```
//! use descent_autodiff::Tape;
//! use descent_optim::functions::TestFunction;
//! use descent_tensor::Tensor;
//! let f = TestFunction::parse("quadratic:a=1,b=10")?;
//! let tape = Tape::<f64>::new();
//! let p = tape.var(Tensor::from_vec(vec![1.0, 1.0], &[2])?);
//! let loss = f.eval(p)?;
//! assert_eq!(loss.item()?, 5.5);
//! assert_eq!(loss.backward()?.wrt(p).unwrap().to_vec(), vec![1.0, 10.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::error::{Error, Result};
use crate::spec::{Allowed, Spec};
use descent_autodiff::Var;
use descent_tensor::Float;

/// A function of a 2-vector `[x, y]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TestFunction {
    /// `(1 − x)² + 100·(y − x²)²`, minimum 0 at (1, 1) at the end of a curved valley.
    Rosenbrock,
    /// `(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²`, minimum 0 at (3, 0.5).
    Beale,
    /// `x² − y²`: a saddle at the origin, unbounded below along y.
    Saddle,
    /// `½·(a·x² + b·y²)`: a bowl with condition number b/a, minimum 0 at the origin.
    Quadratic {
        /// Curvature along x.
        a: f64,
        /// Curvature along y.
        b: f64,
    },
}

/// The names [`TestFunction::parse`] knows.
pub const FUNCTIONS: &[&str] = &["rosenbrock", "beale", "saddle", "quadratic"];

impl TestFunction {
    /// Parses `rosenbrock`, `beale`, `saddle` or `quadratic:a=1,b=10` (a, b > 0; defaults
    /// 1 and 10).
    ///
    /// # Errors
    /// [`Error::UnknownName`], [`Error::UnknownKey`], [`Error::Hyperparameter`].
    pub fn parse(spec: &str) -> Result<Self> {
        let mut s = Spec::parse(spec)?;
        let f = match s.name() {
            "rosenbrock" => TestFunction::Rosenbrock,
            "beale" => TestFunction::Beale,
            "saddle" => TestFunction::Saddle,
            "quadratic" => TestFunction::Quadratic {
                a: s.f64_in("a", 1.0, Allowed::Positive)?,
                b: s.f64_in("b", 10.0, Allowed::Positive)?,
            },
            other => {
                return Err(Error::UnknownName {
                    kind: "function",
                    name: other.to_string(),
                    known: FUNCTIONS.join(", "),
                })
            }
        };
        s.finish()?;
        Ok(f)
    }

    /// The function at `p` (shape `[2]`), recorded on `p`'s tape; a scalar.
    ///
    /// # Errors
    /// If `p` does not have two elements.
    pub fn eval<'t, F: Float>(&self, p: Var<'t, F>) -> Result<Var<'t, F>> {
        let x = p.narrow(0, 0, 1)?;
        let y = p.narrow(0, 1, 1)?;
        let f = match *self {
            TestFunction::Rosenbrock => {
                let valley = y.sub(x.square()?)?.square()?.mul_scalar(F::of(100.0))?;
                x.rsub_scalar(F::one())?.square()?.add(valley)?
            }
            TestFunction::Beale => {
                let term = |c: f64, yk: Var<'t, F>| -> Result<Var<'t, F>> {
                    Ok(x.mul(yk)?.sub(x)?.add_scalar(F::of(c))?.square()?)
                };
                let y2 = y.square()?;
                term(1.5, y)?
                    .add(term(2.25, y2)?)?
                    .add(term(2.625, y2.mul(y)?)?)?
            }
            TestFunction::Saddle => x.square()?.sub(y.square()?)?,
            TestFunction::Quadratic { a, b } => x
                .square()?
                .mul_scalar(F::of(a))?
                .add(y.square()?.mul_scalar(F::of(b))?)?
                .mul_scalar(F::of(0.5))?,
        };
        Ok(f.sum(&[], false)?)
    }

    /// The function's least-squares form: residuals `r(p)` on `p`'s tape with `Σ rᵢ² = f`,
    /// for Levenberg–Marquardt and Gauss–Newton (through
    /// [`crate::batch::TapeResiduals`]).
    ///
    /// ```
    /// use descent_optim::batch::{LeastSquaresMethod, LevenbergMarquardt, TapeResiduals};
    /// use descent_optim::functions::TestFunction;
    /// let f = TestFunction::Beale;
    /// let mut obj = TapeResiduals::<f64, _>::new(move |_, p| f.residuals(p));
    /// let mut x = vec![1.0, 1.0];
    /// LevenbergMarquardt::default().minimize(&mut x, &mut obj, 100)?;
    /// assert!((x[0] - 3.0).abs() < 1e-6 && (x[1] - 0.5).abs() < 1e-6, "{x:?}");
    /// assert!(TestFunction::Saddle.residuals(descent_autodiff::Tape::<f64>::new().var(
    ///     descent_tensor::Tensor::zeros(&[2]))).is_err());
    /// # Ok::<(), descent_optim::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Unsupported`] for the saddle, which is unbounded below and has no such form;
    /// if `p` does not have two elements.
    pub fn residuals<'t, F: Float>(&self, p: Var<'t, F>) -> Result<Var<'t, F>> {
        let (x, y) = (p.narrow(0, 0, 1)?, p.narrow(0, 1, 1)?);
        let r = match *self {
            TestFunction::Rosenbrock => Var::concat(
                &[
                    y.sub(x.square()?)?.mul_scalar(F::of(10.0))?,
                    x.rsub_scalar(F::one())?,
                ],
                0,
            ),
            TestFunction::Beale => {
                let (y2, y3) = (y.square()?, y.square()?.mul(y)?);
                let term = |c: f64, yk: Var<'t, F>| x.mul(yk)?.sub(x)?.add_scalar(F::of(c));
                Var::concat(&[term(1.5, y)?, term(2.25, y2)?, term(2.625, y3)?], 0)
            }
            TestFunction::Quadratic { a, b } => Var::concat(
                &[
                    x.mul_scalar(F::of((a / 2.0).sqrt()))?,
                    y.mul_scalar(F::of((b / 2.0).sqrt()))?,
                ],
                0,
            ),
            TestFunction::Saddle => {
                return Err(Error::Unsupported {
                    method: "saddle",
                    needs: "least-squares form",
                    hint: "x² − y² is unbounded below; use newton, bfgs, lbfgs or cg on it",
                })
            }
        };
        Ok(r?)
    }

    /// The function at `(x, y)` in plain f64 (for contour plots).
    pub fn value(&self, x: f64, y: f64) -> f64 {
        match *self {
            TestFunction::Rosenbrock => (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2),
            TestFunction::Beale => {
                (1.5 - x + x * y).powi(2)
                    + (2.25 - x + x * y * y).powi(2)
                    + (2.625 - x + x * y * y * y).powi(2)
            }
            TestFunction::Saddle => x * x - y * y,
            TestFunction::Quadratic { a, b } => 0.5 * (a * x * x + b * y * y),
        }
    }

    /// Where the minimum is, if there is one.
    pub fn minimum(&self) -> Option<(f64, f64)> {
        match self {
            TestFunction::Rosenbrock => Some((1.0, 1.0)),
            TestFunction::Beale => Some((3.0, 0.5)),
            TestFunction::Saddle => None,
            TestFunction::Quadratic { .. } => Some((0.0, 0.0)),
        }
    }

    /// The `(x range, y range)` the lecture pictures show.
    pub fn view(&self) -> ((f64, f64), (f64, f64)) {
        match self {
            TestFunction::Rosenbrock => ((-2.0, 2.0), (-1.0, 3.0)),
            TestFunction::Beale => ((-4.5, 4.5), (-4.5, 4.5)),
            TestFunction::Saddle => ((-2.0, 2.0), (-2.0, 2.0)),
            TestFunction::Quadratic { .. } => ((-2.0, 2.0), (-2.0, 2.0)),
        }
    }
}
