//! Distributed objectives for the batch methods: each rank evaluates its shard, and the
//! sums cross the network inside the objective, so `lbfgs`, `cg`, `bfgs`, `steepest`,
//! `newton` and `lm` run unchanged on a data set split across processes — every rank runs
//! the same method on the same numbers and takes the same steps.

use descent_optim::batch::{HessianObjective, LeastSquares, Objective};
use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::comm::{Comm, Reduction};
use crate::error::Error;

/// An [`Objective`] whose loss, gradient (and Hessian, and least-squares normal equations)
/// are the sums over ranks of `inner`'s, which sees this rank's shard only. It is a
/// [`HessianObjective`] when `inner` is one and [`LeastSquares`] when `inner` is, so Newton
/// and LM take it exactly when they would take `inner`; chosen by name at run time
/// (`descent_optim::batch::Method`) it offers the gradient only, so use `Newton` or
/// `LevenbergMarquardt` directly.
///
/// `inner` must return its shard's share of the loss so that the shares add up to the
/// full loss: a sum over the shard's examples, divided by the *global* example count if
/// the loss is a mean.
///
/// For Levenberg–Marquardt only `JᵀJ` (`n × n`), `Jᵀr` (`n`) and `‖r‖²` cross the network,
/// never the Jacobian (`m × n`). They are handed to the method as an equivalent
/// least-squares problem of `n + 1` residuals: `J' = Λ^½Qᵀ` from the eigendecomposition
/// `JᵀJ = QΛQᵀ`, `r' = Λ^-½Qᵀ(Jᵀr)` and one last residual carrying the rest of `‖r‖²`, so
/// `J'ᵀJ' = JᵀJ`, `J'ᵀr' = Jᵀr` and `‖r'‖² = ‖r‖²` up to rounding.
///
/// A communication failure is returned to the method as `descent_optim::Error::File`
/// with path `MPI` (the optim crate has no variant for it); the typed error is kept and
/// [`Distributed::take_error`] gives it back.
///
/// ```
/// use descent_distributed::{Comm, Distributed};
/// use descent_optim::batch::{BatchMethod, Lbfgs};
/// let comm = Comm::init()?; // a world of one outside mpirun
/// // This rank's share of f(x) = Σᵢ (x − yᵢ)² over its shard of y.
/// let y = [1.0, 2.0, 6.0];
/// let shard = descent_distributed::shard_range(y.len(), comm.size(), comm.rank())?;
/// let local = |x: &[f64]| {
///     let (f, g) = y[shard.clone()].iter()
///         .fold((0.0, 0.0), |(f, g), yi| (f + (x[0] - yi).powi(2), g + 2.0 * (x[0] - yi)));
///     Ok((f, vec![g]))
/// };
/// let mut x = vec![0.0];
/// Lbfgs::default().minimize(&mut x, &mut Distributed::new(&comm, local), 10)?;
/// assert!((x[0] - 3.0).abs() < 1e-9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Distributed<'c, O> {
    comm: &'c Comm,
    inner: O,
    order: Reduction,
    buf: Vec<f64>,
    error: Option<Error>,
}

impl<'c, O: Objective> Distributed<'c, O> {
    /// Wraps this rank's objective.
    pub fn new(comm: &'c Comm, inner: O) -> Self {
        Distributed {
            comm,
            inner,
            order: Reduction::Mpi,
            buf: Vec::new(),
            error: None,
        }
    }

    /// Sums in the given order (see [`Reduction`]); `Reduction::Mpi` by default.
    pub fn with_reduction(mut self, order: Reduction) -> Self {
        self.order = order;
        self
    }

    /// The communication error behind the last `Error::File { path: "MPI", .. }`.
    pub fn take_error(&mut self) -> Option<Error> {
        self.error.take()
    }

    /// The wrapped objective.
    pub fn into_inner(self) -> O {
        self.inner
    }

    /// Sums `self.buf` across ranks.
    fn reduce(&mut self) -> descent_optim::Result<()> {
        self.comm
            .allreduce_sum(&mut self.buf, self.order)
            .map_err(|e| {
                let why = e.to_string();
                self.error = Some(e);
                descent_optim::Error::File {
                    path: "MPI".into(),
                    why,
                }
            })
    }
}

impl<O: Objective> Objective for Distributed<'_, O> {
    fn value_grad(&mut self, x: &[f64]) -> descent_optim::Result<(f64, Vec<f64>)> {
        let (f, g) = self.inner.value_grad(x)?;
        self.buf.clear();
        self.buf.push(f);
        self.buf.extend_from_slice(&g);
        self.reduce()?;
        Ok((self.buf[0], self.buf[1..].to_vec()))
    }
}

impl<O: HessianObjective> HessianObjective for Distributed<'_, O> {
    fn hessian(&mut self, x: &[f64]) -> descent_optim::Result<DMatrix<f64>> {
        let h = self.inner.hessian(x)?;
        self.buf.clear();
        self.buf.extend_from_slice(h.as_slice());
        self.reduce()?;
        Ok(DMatrix::from_column_slice(h.nrows(), h.ncols(), &self.buf))
    }
}

impl<O: LeastSquares> LeastSquares for Distributed<'_, O> {
    fn residuals(&mut self, x: &[f64]) -> descent_optim::Result<(DVector<f64>, DMatrix<f64>)> {
        let (r, j) = self.inner.residuals(x)?;
        let n = j.ncols();
        let a = j.tr_mul(&j);
        let b = j.tr_mul(&r);
        self.buf.clear();
        self.buf.extend_from_slice(a.as_slice());
        self.buf.extend_from_slice(b.as_slice());
        self.buf.push(r.norm_squared());
        self.reduce()?;
        let a = DMatrix::from_column_slice(n, n, &self.buf[..n * n]);
        let b = DVector::from_column_slice(&self.buf[n * n..n * n + n]);
        Ok(equivalent_least_squares(a, &b, self.buf[n * n + n]))
    }
}

/// `(r', J')` with `J'ᵀJ' = A`, `J'ᵀr' = b` and `‖r'‖² = c`, from the eigendecomposition
/// of the symmetric `A` (eigenvalues below `n·ε·λ_max`, rounding noise, count as zero).
fn equivalent_least_squares(
    a: DMatrix<f64>,
    b: &DVector<f64>,
    c: f64,
) -> (DVector<f64>, DMatrix<f64>) {
    let n = a.nrows();
    let eig = SymmetricEigen::new(a);
    let top = eig.eigenvalues.iter().fold(0.0f64, |m, &l| m.max(l));
    let floor = top * n as f64 * f64::EPSILON;
    let qtb = eig.eigenvectors.tr_mul(b);
    let mut j = DMatrix::zeros(n + 1, n);
    let mut r = DVector::zeros(n + 1);
    for k in 0..n {
        let l = eig.eigenvalues[k];
        if l > floor {
            let s = l.sqrt();
            for col in 0..n {
                j[(k, col)] = s * eig.eigenvectors[(col, k)];
            }
            r[k] = qtb[k] / s;
        }
    }
    let head = r.rows(0, n).norm_squared();
    r[n] = (c - head).max(0.0).sqrt();
    (r, j)
}
