//! The shape and indexing ops against PyTorch in f64: values and gradients (`∂Σ(y·w)/∂x`
//! for a random cotangent `w`) on random shapes, contiguous and transposed inputs, with 0,
//! ±inf, NaN and ties among the values. The numbers are from `reference/gen_shape.py` (in
//! `reference/shape.rs`). Data movement is exact, so values must match bit for bit; the
//! gradients of `repeat`, `tile`, `pad` and `scatter_add` add copies, in an order that may
//! differ from torch's in the last bit, so gradients match to 1e-12.

use crate::shape_reference::{Case, CASES};
use descent_autodiff::{Result, Tape, Var};
use descent_tensor::{PadMode, Tensor};

/// The op of each case, as the script writes it in PyTorch.
fn op<'t>(case: &Case, x: Var<'t, f64>) -> Result<Var<'t, f64>> {
    let mask = || Tensor::from_vec(case.mask.to_vec(), case.mask_shape);
    let scaled = |parts: Vec<Var<'t, f64>>| -> Result<Vec<Var<'t, f64>>> {
        (0..parts.len())
            .map(|i| parts[i].mul_scalar((i + 1) as f64))
            .collect()
    };
    let s = x.shape();
    match case.name {
        "flip" => x.flip(&[0, -1]),
        "roll" => x.roll(&[1, -2], &[0, 2]),
        "roll_flat" => x.roll(&[5], &[]),
        "repeat" => x.repeat(&[2, 1, 1, 2]),
        "tile" => x.tile(&[2]),
        "pad_constant" => x.pad(&[1, 2, 0, 1], PadMode::Constant, 0.5),
        "pad_reflect" => x.pad(&[2, 1, 1, 1], PadMode::Reflect, 0.0),
        "pad_replicate" => x.pad(&[1, 2, 2, 0], PadMode::Replicate, 0.0),
        "pad_circular" => x.pad(&[1, 3], PadMode::Circular, 0.0),
        "split" => Var::concat(&scaled(x.split(2, 1)?)?, 1),
        "chunk" => Var::concat(&scaled(x.chunk(3, -1)?)?, -1),
        "unbind" => Var::stack(&scaled(x.unbind(1)?)?, 0),
        "masked_fill" => x.masked_fill(&mask()?, 2.0),
        "masked_select" => x.masked_select(&mask()?),
        "tril" => x.tril(0),
        "tril_1" => x.tril(1),
        "triu" => x.triu(-1),
        "diagonal" => x.diagonal(1, 0, 2),
        "diagonal_neg" => x.diagonal(-1, -1, 1),
        "diag_embed" => x.diag_embed(1, 0, 2),
        "diag_embed_neg" => x.diag_embed(-1, -2, -1),
        "movedim" => x.movedim(&[0, 2], &[2, 0]),
        "take_along_dim" => x.take_along_dim(case.index, case.index_shape, Some(1)),
        "take_along_dim_flat" => x.take_along_dim(case.index, case.index_shape, None),
        "scatter_add" => {
            Var::scatter_add(&[s[0], s[1], s[2] + 1], 1, case.index, case.index_shape, x)
        }
        other => panic!("no op for case {other}"),
    }
}

/// The input, laid out as the script lays it: a transposed `[a, c, b]` tensor if
/// `transposed`.
fn input(case: &Case) -> Result<Tensor<f64>> {
    let s = case.shape;
    Ok(if case.transposed {
        Tensor::from_vec(case.x.to_vec(), &[s[0], s[2], s[1]])?.transpose(1, 2)?
    } else {
        Tensor::from_vec(case.x.to_vec(), s)?
    })
}

fn same_bits(got: &[f64], want: &[f64]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(&a, &b)| (a.is_nan() && b.is_nan()) || a == b)
}

fn close(got: &[f64], want: &[f64]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(&a, &b)| {
            (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-12 * b.abs().max(1.0)
        })
}

#[test]
fn every_case_matches_torch() -> Result<()> {
    assert_eq!(
        CASES.len(),
        50,
        "a case was added without an op here, or lost"
    );
    for case in CASES {
        let name = format!("{} (transposed: {})", case.name, case.transposed);
        let tape = Tape::<f64>::new();
        let xt = input(case)?;
        assert_eq!(xt.is_contiguous(), !case.transposed || case.shape[1] == 1);
        let x = tape.var(xt);
        let y = op(case, x)?;
        assert_eq!(y.shape(), case.y_shape, "{name}: shape");
        let yv = y.value()?.to_vec();
        assert!(
            same_bits(&yv, case.y),
            "{name}: y = {yv:?}, torch {:?}",
            case.y
        );
        let w = tape.constant(Tensor::from_vec(case.w.to_vec(), case.y_shape)?);
        let g = y.mul(w)?.sum(&[], false)?.grad(&[x], None)?[0];
        // The gradient comes back in x's row-major order, as torch's.
        let gv = g.value()?.to_vec();
        let want: Vec<f64> = if case.transposed {
            let s = case.shape;
            Tensor::from_vec(case.grad.to_vec(), s)?.to_vec()
        } else {
            case.grad.to_vec()
        };
        assert!(close(&gv, &want), "{name}: grad = {gv:?}, torch {want:?}");
    }
    Ok(())
}

#[test]
fn bad_arguments_are_errors_naming_the_op() -> Result<()> {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::zeros(&[2, 3]));
    let msg = |r: Result<Var<'_, f64>>| r.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(msg(x.pad(&[3, 0], PadMode::Reflect, 0.0)).starts_with("pad: "));
    assert!(msg(x.pad(&[1, 1, 1], PadMode::Constant, 0.0)).starts_with("pad: "));
    assert!(msg(x.flip(&[1, -1])).starts_with("flip: "));
    assert!(msg(x.roll(&[1, 2], &[0])).starts_with("roll: "));
    assert!(msg(x.repeat(&[2])).starts_with("repeat: "));
    assert!(msg(x.diagonal(0, 1, -1)).starts_with("diagonal: "));
    assert!(msg(x.movedim(&[0], &[0, 1])).starts_with("movedim: "));
    assert!(msg(x.masked_fill(&Tensor::zeros(&[3, 3]), 1.0)).contains("masked_fill"));
    assert!(msg(x.take_along_dim(&[0, 1], &[1, 2], Some(0))).contains("take_along_dim"));
    assert!(msg(x.take_along_dim(&[5], &[1, 1], Some(1))).contains("gather"));
    assert!(x.chunk(0, 0).is_err() && x.split(0, 1).is_err() && x.split_sizes(&[1, 1], 1).is_err());
    let big = tape.var(Tensor::zeros(&[2, 1]));
    assert!(msg(Var::scatter_add(&[2, 2], 0, &[0, 1], &[1, 2], big)).starts_with("scatter_add: "));
    Ok(())
}
