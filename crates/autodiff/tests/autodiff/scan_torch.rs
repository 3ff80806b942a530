//! Values, positions and gradients of the reductions, scans and order-selecting ops
//! against PyTorch in f64, on zeros (one and several per line), constant lines, ±inf, NaN
//! and ties: the numbers are from `reference/gen_scan.py` (in
//! `reference/scan_reference.json`), read and compared as in `math_torch.rs`. `any`, `all`
//! and `count_nonzero` are not differentiable: their values alone are compared.

use crate::math_torch::{load, mismatches, Case};
use descent_autodiff::{Result, Var};

fn dims(case: &Case) -> Vec<isize> {
    let list = case.params["dims"].as_array().expect("dims");
    list.iter()
        .map(|d| d.as_i64().expect("a dim") as isize)
        .collect()
}

fn scan_op<'t>(case: &Case, v: &[Var<'t, f64>]) -> Result<(Var<'t, f64>, Option<Vec<usize>>)> {
    let x = v[0];
    let dim = || case.int("dim") as isize;
    let keepdim = || case.flag("keepdim");
    let (y, index) = match case.op.as_str() {
        "prod" => (x.prod(&dims(case), keepdim())?, None),
        "std" => (
            x.std(&dims(case), case.int("correction") as usize, keepdim())?,
            None,
        ),
        "cumsum" => (x.cumsum(dim())?, None),
        "cumprod" => (x.cumprod(dim())?, None),
        "logcumsumexp" => (x.logcumsumexp(dim())?, None),
        "sort" => {
            let (y, i) = x.sort(dim(), case.flag("descending"), true)?;
            let argsort = x.value()?.argsort(dim(), case.flag("descending"), true)?;
            assert_eq!(argsort, i, "{}: argsort differs from sort", case.name);
            (y, Some(i))
        }
        "topk" => {
            let (y, i) = x.topk(case.int("k") as usize, dim(), case.flag("largest"))?;
            (y, Some(i))
        }
        "kthvalue" => {
            let (y, i) = x.kthvalue(case.int("k") as usize, dim(), keepdim())?;
            (y, Some(i))
        }
        "median" => {
            let (y, i) = x.median(dim(), keepdim())?;
            (y, Some(i))
        }
        "max_dim" => {
            let (y, i) = x.max_dim(dim(), keepdim())?;
            (y, Some(i))
        }
        "min_dim" => {
            let (y, i) = x.min_dim(dim(), keepdim())?;
            (y, Some(i))
        }
        "any" | "all" | "count_nonzero" => {
            let xv = x.value()?;
            let y = match case.op.as_str() {
                "any" => xv.any(&dims(case), keepdim())?,
                "all" => xv.all(&dims(case), keepdim())?,
                _ => xv.count_nonzero(&dims(case))?,
            };
            (x.tape().constant(y), None)
        }
        other => panic!("no op {other}"),
    };
    Ok((y, index))
}

#[test]
fn reductions_scans_and_sorts_match_torch() {
    let cases = load(include_str!("reference/scan_reference.json"));
    assert!(cases.len() > 60, "{} cases", cases.len());
    let bad = mismatches(&cases, scan_op);
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
