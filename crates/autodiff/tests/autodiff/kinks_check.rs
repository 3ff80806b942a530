//! The one checker of the PyTorch kinks tables (values, gradients and second derivatives at
//! kinks, bounds, zeros and NaNs), shared by autodiff's op tests and nn's activation and loss
//! tests through `#[path]`.

use descent_autodiff::{Tape, Var};
use descent_tensor::Tensor;

/// One case of a generated table: the input and torch's `y = f(x)`, `grad = ∂Σy/∂x` and
/// `hess = ∂Σgrad/∂x`.
pub struct Expected<'a> {
    pub name: &'a str,
    pub x: &'a [f64],
    pub shape: &'a [usize],
    pub y: &'a [f64],
    pub grad: &'a [f64],
    pub hess: Option<&'a [f64]>,
}

/// Equal within 1e-12 (relative above 1), NaN matching NaN and infinities exactly. The
/// formulas are PyTorch's up to rounding, so only the last bits may differ.
pub fn close(got: &[f64], want: &[f64]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(&a, &b)| {
            (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-12 * b.abs().max(1.0)
        })
}

/// Runs `op` on the case's input through `Var::grad` twice and compares all three with torch.
pub fn check<E>(
    case: Expected<'_>,
    op: impl for<'t> Fn(&str, Var<'t, f64>) -> Result<Var<'t, f64>, E>,
) -> Result<(), E>
where
    E: From<descent_autodiff::Error> + From<descent_tensor::Error>,
{
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::from_vec(case.x.to_vec(), case.shape)?);
    let y = op(case.name, x)?;
    let g = y.sum(&[], false)?.grad(&[x], None)?[0];
    let (y, gv) = (y.value()?.to_vec(), g.value()?.to_vec());
    assert!(
        close(&y, case.y),
        "{}: y = {y:?}, torch {:?}",
        case.name,
        case.y
    );
    assert!(
        close(&gv, case.grad),
        "{}: grad = {gv:?}, torch {:?}",
        case.name,
        case.grad
    );
    if let Some(want) = case.hess {
        let h = g.sum(&[], false)?.grad(&[x], None)?[0].value()?.to_vec();
        assert!(
            close(&h, want),
            "{}: hess = {h:?}, torch {want:?}",
            case.name
        );
    }
    Ok(())
}
