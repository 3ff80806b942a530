//! Higher-order derivatives built on [`Var::grad`] (the backward pass recorded on the tape):
//! Hessian-vector products, dense Hessians and Jacobians. Each takes the function as a
//! closure of one input variable, so it can evaluate it on a fresh tape.

use crate::backward::BackwardOptions;
use crate::error::{Error, Result};
use crate::tape::{Tape, Var};
use descent_tensor::{Error as TensorError, Float, Tensor};

/// The largest input count for which [`hessian`] and [`jacobian`] build a dense matrix
/// (4096² f64 = 128 MiB).
pub const DENSE_LIMIT: usize = 4096;

/// A differentiable function of one tensor, recorded on the tape it is given.
pub trait Function<F: Float>: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> Result<Var<'t, F>> {}
impl<F: Float, T: for<'t> Fn(&'t Tape<F>, Var<'t, F>) -> Result<Var<'t, F>>> Function<F> for T {}

/// `H·v` for the Hessian `H` of the scalar `f` at `x`, in two reverse sweeps and without
/// forming `H`: the gradient of `⟨∇f(x), v⟩` (reverse-over-reverse; [`jvp`] of the gradient
/// gives the same product forward-over-reverse).
///
/// ```
/// use descent_autodiff::hessian_vector_product;
/// use descent_tensor::Tensor;
/// // f(x) = Σ x³, so H = diag(6x).
/// let x = Tensor::from_vec(vec![1.0, 2.0], &[2])?;
/// let v = Tensor::from_vec(vec![1.0, 1.0], &[2])?;
/// let hv = hessian_vector_product(|_, x| x.powf(3.0)?.sum(&[], false), &x, &v)?;
/// assert_eq!(hv.to_vec(), vec![6.0, 12.0]);
/// # Ok::<(), descent_autodiff::Error>(())
/// ```
///
/// # Errors
/// A shape mismatch between `x` and `v`, a non-scalar `f`, or any error of `f`.
pub fn hessian_vector_product<F: Float>(
    f: impl Function<F>,
    x: &Tensor<F>,
    v: &Tensor<F>,
) -> Result<Tensor<F>> {
    if x.shape() != v.shape() {
        return Err(TensorError::ShapeMismatch {
            op: "hessian_vector_product",
            expected: x.shape().to_vec(),
            got: v.shape().to_vec(),
        }
        .into());
    }
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = scalar(f(&tape, xv)?)?;
    let g = y.grad(&[xv], None)?[0];
    let gv = g.mul(tape.constant(v.clone()))?.sum(&[], false)?;
    gv.grad(&[xv], None)?[0].value()
}

/// Forward mode: `(f(x), J·v)`, the Jacobian-vector product of `f` at `x` along `v`
/// (`torch.func.jvp`). Computed by the double-vjp trick on the reverse tape, not by dual
/// numbers: `u ↦ Jᵀu` is recorded for a placeholder cotangent `u`, and it is linear in `u`,
/// so its own vector-Jacobian product with `v` is `J·v`. This costs two reverse sweeps and
/// needs every op on the way to be differentiable twice, which every op of this crate is.
///
/// Forward-over-reverse Hessian-vector products are `jvp` of the gradient: the same
/// numbers as [`hessian_vector_product`] (reverse-over-reverse), formed the other way:
///
/// ```
/// use descent_autodiff::{hessian_vector_product, jvp};
/// use descent_tensor::Tensor;
/// let x = Tensor::from_vec(vec![1.0, 2.0], &[2])?;
/// let v = Tensor::from_vec(vec![1.0, 1.0], &[2])?;
/// // f(x) = Σ x³; ∇f = 3x², H = diag(6x).
/// let (g, hv) = jvp(|_, x| Ok(x.powf(3.0)?.sum(&[], false)?.grad(&[x], None)?[0]), &x, &v)?;
/// assert_eq!((g.to_vec(), hv.to_vec()), (vec![3.0, 12.0], vec![6.0, 12.0]));
/// let hv2 = hessian_vector_product(|_, x| x.powf(3.0)?.sum(&[], false), &x, &v)?;
/// assert_eq!(hv.to_vec(), hv2.to_vec());
/// # Ok::<(), descent_autodiff::Error>(())
/// ```
///
/// # Errors
/// A shape mismatch between `x` and `v`; any error of `f`.
pub fn jvp<F: Float>(
    f: impl Function<F>,
    x: &Tensor<F>,
    v: &Tensor<F>,
) -> Result<(Tensor<F>, Tensor<F>)> {
    same_shape("jvp", x, v)?;
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = f(&tape, xv)?;
    let u = tape.var(Tensor::zeros(&y.shape()));
    let jt_u = y.grad(&[xv], Some(u))?[0];
    let jv = jt_u.grad(&[u], Some(tape.constant(v.clone())))?[0];
    Ok((y.value()?, jv.value()?))
}

/// Reverse mode, the transpose of [`jvp`]: `(f(x), uᵀ·J)`, the vector-Jacobian product of
/// `f` at `x` with a cotangent `u` of `f(x)`'s shape (`torch.func.vjp`); one reverse sweep.
///
/// # Errors
/// A cotangent whose shape is not `f(x)`'s; any error of `f`.
pub fn vjp<F: Float>(
    f: impl Function<F>,
    x: &Tensor<F>,
    u: &Tensor<F>,
) -> Result<(Tensor<F>, Tensor<F>)> {
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = f(&tape, xv)?;
    same_shape("vjp", &y.value()?, u)?;
    let g = y.grad(&[xv], Some(tape.constant(u.clone())))?[0];
    Ok((y.value()?, g.value()?))
}

fn same_shape<F: Float>(op: &'static str, expected: &Tensor<F>, got: &Tensor<F>) -> Result<()> {
    if expected.shape() != got.shape() {
        return Err(TensorError::ShapeMismatch {
            op,
            expected: expected.shape().to_vec(),
            got: got.shape().to_vec(),
        }
        .into());
    }
    Ok(())
}

/// The dense Hessian of the scalar `f` at `x`, as an `[n, n]` matrix over the `n` elements
/// of `x` in row-major order. One recorded gradient, then one reverse sweep per row.
///
/// # Errors
/// [`Error::TooLarge`] above [`DENSE_LIMIT`] elements; a non-scalar `f`; any error of `f`.
pub fn hessian<F: Float>(f: impl Function<F>, x: &Tensor<F>) -> Result<Tensor<F>> {
    let n = check_dense(
        "hessian",
        x.numel(),
        "hessian_vector_product (or Lanczos on it)",
    )?;
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = scalar(f(&tape, xv)?)?;
    let g = y.grad(&[xv], None)?[0].flatten()?;
    rows(g, xv, n)
}

/// The Jacobian of `f` at `x`: an `[m, n]` matrix, row `i` the gradient of output element
/// `i` (row-major) with respect to the `n` elements of `x`. One reverse sweep per output.
///
/// # Errors
/// [`Error::TooLarge`] above [`DENSE_LIMIT`] inputs or outputs; any error of `f`.
pub fn jacobian<F: Float>(f: impl Function<F>, x: &Tensor<F>) -> Result<Tensor<F>> {
    check_dense(
        "jacobian",
        x.numel(),
        "vector-Jacobian products (Var::grad with a seed)",
    )?;
    let tape = Tape::new();
    let xv = tape.var(x.clone());
    let y = f(&tape, xv)?.flatten()?;
    check_dense(
        "jacobian",
        y.shape()[0],
        "vector-Jacobian products (Var::grad with a seed)",
    )?;
    rows(y, xv, x.numel())
}

/// Stacks the gradients of each element of the vector `y` with respect to `x`, flattened.
fn rows<F: Float>(y: Var<'_, F>, x: Var<'_, F>, n: usize) -> Result<Tensor<F>> {
    let m = y.shape()[0];
    let mut out = Vec::with_capacity(m * n);
    let mut seed = vec![F::zero(); m];
    for i in 0..m {
        seed[i] = F::one();
        let opts = BackwardOptions {
            seed: Some(Tensor::from_slice(&seed, &[m])?),
            retain_graph: true,
        };
        match y.backward_with(opts)?.wrt(x) {
            Some(row) => out.extend(row.to_vec()),
            None => out.extend(std::iter::repeat_n(F::zero(), n)),
        }
        seed[i] = F::zero();
    }
    Ok(Tensor::from_vec(out, &[m, n])?)
}

fn scalar<F: Float>(y: Var<'_, F>) -> Result<Var<'_, F>> {
    if y.shape().iter().product::<usize>() != 1 {
        return Err(Error::NotScalar(y.shape()));
    }
    Ok(y)
}

fn check_dense(op: &'static str, n: usize, instead: &'static str) -> Result<usize> {
    if n > DENSE_LIMIT {
        let bytes = n.saturating_mul(n).saturating_mul(8);
        return Err(Error::TooLarge {
            op,
            n,
            bytes,
            limit: DENSE_LIMIT,
            instead,
        });
    }
    Ok(n)
}
