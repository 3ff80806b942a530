//! Products beyond the matrix product: `dot`, `outer`, and `einsum`, whose contractions are
//! lowered to views, sums and one (batched) `matmul`. The lowering is written once, over
//! [`EinsumOperand`], and runs on tensors here and on autodiff variables there (so the
//! gradient of an `einsum` is the gradient of those steps: itself contractions).

use crate::error::{Error, Result};
use crate::{Float, Tensor};

/// What `einsum`'s lowering needs of an operand: views, sums, a mask product and `matmul`.
/// Implemented by [`Tensor`] and by autodiff's `Var`, so one plan serves both.
pub trait EinsumOperand<F: Float>: Sized + Clone {
    /// The error type of the operand's ops.
    type Error: From<Error>;
    /// The shape.
    fn shape_vec(&self) -> Vec<usize>;
    /// Reorders the axes.
    fn permute_axes(&self, perm: &[isize]) -> std::result::Result<Self, Self::Error>;
    /// A new shape with the same elements.
    fn reshape_to(&self, shape: &[isize]) -> std::result::Result<Self, Self::Error>;
    /// A new axis of length 1 at `dim`.
    fn unsqueeze_at(&self, dim: isize) -> std::result::Result<Self, Self::Error>;
    /// Sums over `dims`, dropping them.
    fn sum_over(&self, dims: &[isize]) -> std::result::Result<Self, Self::Error>;
    /// Element-wise product with a constant, broadcasting.
    fn mul_const(&self, mask: Tensor<F>) -> std::result::Result<Self, Self::Error>;
    /// The batched matrix product.
    fn matmul_with(&self, rhs: &Self) -> std::result::Result<Self, Self::Error>;
}

impl<F: Float> EinsumOperand<F> for Tensor<F> {
    type Error = Error;
    fn shape_vec(&self) -> Vec<usize> {
        self.shape().to_vec()
    }
    fn permute_axes(&self, perm: &[isize]) -> Result<Self> {
        self.permute(perm)
    }
    fn reshape_to(&self, shape: &[isize]) -> Result<Self> {
        self.reshape(shape)
    }
    fn unsqueeze_at(&self, dim: isize) -> Result<Self> {
        self.unsqueeze(dim)
    }
    fn sum_over(&self, dims: &[isize]) -> Result<Self> {
        self.sum(dims, false)
    }
    fn mul_const(&self, mask: Tensor<F>) -> Result<Self> {
        self.mul(&mask)
    }
    fn matmul_with(&self, rhs: &Self) -> Result<Self> {
        self.matmul(rhs)
    }
}

impl<F: Float> Tensor<F> {
    /// The inner product of two vectors of the same length, a 0-d tensor (`torch.dot`).
    ///
    /// # Errors
    /// [`Error::Rank`] unless both are 1-D; [`Error::MatmulInner`] for
    /// different lengths.
    pub fn dot(&self, rhs: &Self) -> Result<Self> {
        vectors("dot", self, rhs)?;
        self.matmul(rhs)
    }

    /// The outer product `[n] × [m] → [n, m]` of two vectors (`torch.outer`).
    ///
    /// # Errors
    /// [`Error::Rank`] unless both are 1-D.
    pub fn outer(&self, rhs: &Self) -> Result<Self> {
        vectors("outer", self, rhs)?;
        self.unsqueeze(-1)?.mul(&rhs.unsqueeze(0)?)
    }

    /// Einstein summation over one or two operands (`torch.einsum`), e.g. `"bij,bjk->bik"`,
    /// `"ij->ji"`, `"ii->"`, `"i,j->ij"`. Without `->`, the output is the labels that occur
    /// once, in alphabetical order (as torch). See [`einsum`] for the lowering.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a malformed spec, an unknown output label, more
    /// than two operands or `...`; [`Error::ShapeMismatch`] when a label's sizes differ.
    pub fn einsum(spec: &str, operands: &[&Self]) -> Result<Self> {
        let ops: Vec<Self> = operands.iter().map(|&t| t.clone()).collect();
        einsum(spec, &ops)
    }
}

/// Checks that `a` and `b` are vectors.
fn vectors<F: Float>(op: &'static str, a: &Tensor<F>, b: &Tensor<F>) -> Result<()> {
    for t in [a, b] {
        if t.ndim() != 1 {
            return Err(Error::Rank {
                op,
                expected: "a 1-D tensor",
                shape: t.shape().to_vec(),
            });
        }
    }
    Ok(())
}

fn bad_spec(spec: &str, why: &'static str) -> Error {
    Error::InvalidArgument {
        op: "einsum",
        arg: "equation",
        value: spec.to_string(),
        why,
    }
}

/// `einsum` on any [`EinsumOperand`]: labels repeated within an operand become a diagonal
/// (a product with an identity mask, then a sum); labels found in one operand only and not
/// in the output are summed first; then two operands are permuted to
/// `[batch…, kept…, contracted…]` and `[batch…, contracted…, kept…]`, each group merged to one
/// axis (a view unless the group has several axes of a non-contiguous operand), multiplied by
/// one batched `matmul`, and the result split and permuted to the output's order. A
/// contraction that is one matrix product therefore costs one GEMM and no copies.
///
/// # Errors
/// As [`Tensor::einsum`], or the operand's own errors.
pub fn einsum<F: Float, T: EinsumOperand<F>>(
    spec: &str,
    operands: &[T],
) -> std::result::Result<T, T::Error> {
    let spec_clean: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
    if spec_clean.contains("...") {
        return Err(bad_spec(spec, "`...` (ellipsis) is not supported; name the axes").into());
    }
    let (lhs, out) = match spec_clean.split_once("->") {
        Some((l, o)) => (l.to_string(), Some(o.to_string())),
        None => (spec_clean.clone(), None),
    };
    let inputs: Vec<Vec<char>> = lhs.split(',').map(|s| s.chars().collect()).collect();
    if inputs.len() != operands.len() || !(1..=2).contains(&inputs.len()) {
        return Err(bad_spec(spec, "one or two operands, as many as the equation names").into());
    }
    if inputs.iter().flatten().any(|c| !c.is_ascii_alphabetic()) {
        return Err(bad_spec(spec, "labels are ASCII letters").into());
    }
    let count = |c: char| inputs.iter().flatten().filter(|&&x| x == c).count();
    let out: Vec<char> = match out {
        Some(o) => o.chars().collect(),
        None => {
            let mut once: Vec<char> = inputs
                .iter()
                .flatten()
                .copied()
                .filter(|&c| count(c) == 1)
                .collect();
            once.sort_unstable();
            once
        }
    };
    for (i, &c) in out.iter().enumerate() {
        if !c.is_ascii_alphabetic() || count(c) == 0 || out[..i].contains(&c) {
            return Err(
                bad_spec(spec, "output labels must be distinct labels of the inputs").into(),
            );
        }
    }
    // Each label's size, checked across operands.
    let mut sizes: Vec<(char, usize)> = Vec::new();
    for (labels, x) in inputs.iter().zip(operands) {
        let shape = x.shape_vec();
        if shape.len() != labels.len() {
            return Err(Error::ShapeMismatch {
                op: "einsum",
                expected: vec![labels.len()],
                got: shape,
            }
            .into());
        }
        for (&c, &n) in labels.iter().zip(&shape) {
            match sizes.iter().find(|(l, _)| *l == c) {
                Some(&(_, m)) if m != n => {
                    return Err(Error::ShapeMismatch {
                        op: "einsum",
                        expected: vec![m],
                        got: vec![n],
                    }
                    .into())
                }
                Some(_) => {}
                None => sizes.push((c, n)),
            }
        }
    }
    // Per operand: diagonals of repeated labels, then sums of labels needed nowhere else.
    let mut prepared = Vec::with_capacity(operands.len());
    for (i, (labels, x)) in inputs.iter().zip(operands).enumerate() {
        let (mut labels, mut x) = (labels.clone(), x.clone());
        while let Some((p, q)) = repeated(&labels) {
            let mut mask_shape = vec![1; labels.len()];
            mask_shape[p] = x.shape_vec()[p];
            mask_shape[q] = x.shape_vec()[q];
            let eye = Tensor::<F>::eye(mask_shape[p])
                .reshape(&mask_shape.iter().map(|&n| n as isize).collect::<Vec<_>>())?;
            x = x.mul_const(eye)?.sum_over(&[q as isize])?;
            labels.remove(q);
        }
        let other: Vec<char> = inputs
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .flat_map(|(_, l)| l.clone())
            .collect();
        let lonely: Vec<isize> = (0..labels.len())
            .filter(|&k| !out.contains(&labels[k]) && !other.contains(&labels[k]))
            .map(|k| k as isize)
            .collect();
        if !lonely.is_empty() {
            x = x.sum_over(&lonely)?;
            labels.retain(|c| out.contains(c) || other.contains(c));
        }
        prepared.push((labels, x));
    }
    if prepared.len() == 1 {
        let (labels, x) = prepared.pop().expect("one operand");
        return permute_to(&x, &labels, &out);
    }
    let (lb, b) = prepared.pop().expect("two operands");
    let (la, a) = prepared.pop().expect("two operands");
    let batch: Vec<char> = la
        .iter()
        .copied()
        .filter(|c| lb.contains(c) && out.contains(c))
        .collect();
    let contract: Vec<char> = la
        .iter()
        .copied()
        .filter(|c| lb.contains(c) && !out.contains(c))
        .collect();
    let left: Vec<char> = la.iter().copied().filter(|c| !lb.contains(c)).collect();
    let right: Vec<char> = lb.iter().copied().filter(|c| !la.contains(c)).collect();
    let size = |c: &char| sizes.iter().find(|(l, _)| l == c).map_or(1, |p| p.1);
    let a = grouped(&a, &la, &batch, [&left, &contract], size)?;
    let b = grouped(&b, &lb, &batch, [&contract, &right], size)?;
    let y = a.matmul_with(&b)?;
    let result: Vec<char> = [batch, left, right].concat();
    let shape: Vec<isize> = result.iter().map(|c| size(c) as isize).collect();
    let y = y.reshape_to(&shape)?;
    permute_to(&y, &result, &out)
}

/// The first pair of positions holding the same label.
fn repeated(labels: &[char]) -> Option<(usize, usize)> {
    (0..labels.len()).find_map(|p| {
        (p + 1..labels.len())
            .find(|&q| labels[q] == labels[p])
            .map(|q| (p, q))
    })
}

/// `x` (axes labelled `labels`) permuted to `[batch…, groups[0]…, groups[1]…]`, each group
/// merged into one axis: a view for groups of one axis, a new unit axis for empty groups.
fn grouped<F: Float, T: EinsumOperand<F>>(
    x: &T,
    labels: &[char],
    batch: &[char],
    groups: [&[char]; 2],
    size: impl Fn(&char) -> usize,
) -> std::result::Result<T, T::Error> {
    let order: Vec<char> = [batch, groups[0], groups[1]].concat();
    let x = permute_to(x, labels, &order)?;
    if groups.iter().all(|g| g.len() == 1) {
        return Ok(x);
    }
    let merged = |g: &[char]| g.iter().map(&size).product::<usize>() as isize;
    let mut shape: Vec<isize> = batch.iter().map(|c| size(c) as isize).collect();
    shape.extend([merged(groups[0]), merged(groups[1])]);
    if groups.iter().all(|g| g.len() <= 1) {
        // Only unit axes to add: views, whatever the layout.
        let mut x = x;
        for (k, g) in groups.iter().enumerate() {
            if g.is_empty() {
                x = x.unsqueeze_at((batch.len() + k) as isize)?;
            }
        }
        return Ok(x);
    }
    x.reshape_to(&shape)
}

/// `x`, whose axes are labelled `from`, permuted so they read `to` (a view; none if equal).
fn permute_to<F: Float, T: EinsumOperand<F>>(
    x: &T,
    from: &[char],
    to: &[char],
) -> std::result::Result<T, T::Error> {
    if from == to {
        return Ok(x.clone());
    }
    let perm: Vec<isize> = to
        .iter()
        .map(|c| from.iter().position(|f| f == c).map_or(0, |p| p as isize))
        .collect();
    x.permute_axes(&perm)
}
