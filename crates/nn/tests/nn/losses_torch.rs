//! The losses and their options against PyTorch in f64: values under each reduction and
//! gradients (`∂Σ(y·w)/∂input` for a random cotangent `w`) with ties, zeros and kinks among
//! the inputs. The numbers are from `reference/gen_losses.py` (in `reference/losses.rs`);
//! the formulas are torch's up to rounding, so they match to 1e-12.

use crate::losses_reference::{Case, CASES};
use descent_autodiff::{Tape, Var};
use descent_nn::loss::{self, ClassOptions, GaussianNllOptions, KlDivOptions};
use descent_nn::loss::{MultiMarginOptions, PoissonNllOptions};
use descent_nn::{Reduction, Result};
use descent_tensor::Tensor;

/// The loss of each case, as the script writes it in PyTorch.
fn op<'t>(case: &Case, v: &[Var<'t, f64>], r: Reduction) -> Result<Var<'t, f64>> {
    let k = Tensor::from_vec(case.k.to_vec(), case.k_shape);
    let (a, b, c) = (v[0], v.get(1).copied(), v.get(2).copied());
    let b = || b.expect("case has b");
    let l = case.labels;
    let class = |weight, ignore_index, label_smoothing| ClassOptions {
        weight,
        ignore_index,
        label_smoothing,
        reduction: r,
    };
    Ok(match case.name {
        "l1" => loss::l1_loss(a, b(), r)?,
        "smooth_l1 beta=0.5" => loss::smooth_l1_loss(a, b(), 0.5, r)?,
        "smooth_l1 beta=0" => loss::smooth_l1_loss(a, b(), 0.0, r)?,
        "huber delta=1.5" => loss::huber_loss(a, b(), 1.5, r)?,
        "margin_ranking margin=0.2" => loss::margin_ranking_loss(a, b(), &k?, 0.2, r)?,
        "hinge_embedding margin=1" => loss::hinge_embedding_loss(a, &k?, 1.0, r)?,
        "multi_margin p=1" | "multi_margin p=2" => {
            let p = if case.name.ends_with('1') { 1 } else { 2 };
            let opts = MultiMarginOptions {
                p,
                reduction: r,
                ..Default::default()
            };
            loss::multi_margin_loss(a, l, opts)?
        }
        "multi_margin weight" => {
            let k = k?;
            let opts = MultiMarginOptions {
                margin: 0.5,
                weight: Some(&k),
                reduction: r,
                ..Default::default()
            };
            loss::multi_margin_loss(a, l, opts)?
        }
        "cosine_embedding margin=0.1" => loss::cosine_embedding_loss(a, b(), &k?, 0.1, r)?,
        "poisson_nll" => {
            let opts = PoissonNllOptions {
                reduction: r,
                ..Default::default()
            };
            loss::poisson_nll_loss(a, b(), opts)?
        }
        "poisson_nll no_log full" => {
            let opts = PoissonNllOptions {
                log_input: false,
                full: true,
                reduction: r,
                ..Default::default()
            };
            loss::poisson_nll_loss(a, b(), opts)?
        }
        "gaussian_nll" | "gaussian_nll var [3]" | "gaussian_nll var [3, 1] full" => {
            let opts = GaussianNllOptions {
                full: case.name.ends_with("full"),
                reduction: r,
                ..Default::default()
            };
            loss::gaussian_nll_loss(a, b(), c.expect("case has c"), opts)?
        }
        "cross_entropy" => loss::cross_entropy_with(a, l, class(None, None, 0.0))?,
        "cross_entropy weight" => {
            let k = k?;
            loss::cross_entropy_with(a, l, class(Some(&k), None, 0.0))?
        }
        "cross_entropy ignore=2" => loss::cross_entropy_with(a, l, class(None, Some(2), 0.0))?,
        "cross_entropy smoothing=0.1" => loss::cross_entropy_with(a, l, class(None, None, 0.1))?,
        "cross_entropy weight ignore=2 smoothing=0.2 [2, 3, 2, 2]" => {
            let k = k?;
            loss::cross_entropy_with(a, l, class(Some(&k), Some(2), 0.2))?
        }
        "nll_loss weight ignore=1 [2, 3, 4]" => {
            let k = k?;
            loss::nll_loss_with(a, l, class(Some(&k), Some(1), 0.0))?
        }
        "bce weight" => loss::bce_loss_with(a, b(), Some(&k?), r)?,
        "bce_with_logits weight pos_weight" => {
            let k = k?;
            let (w, pw) = (k.narrow(0, 0, 4)?, k.narrow(0, 4, 4)?);
            loss::bce_with_logits_with(a, b(), Some(&w), Some(&pw), r)?
        }
        "kl_div batchmean" => {
            let opts = KlDivOptions {
                reduction: r,
                batchmean: r == Reduction::Mean,
                log_target: false,
            };
            loss::kl_div_with(a, b(), opts)?
        }
        "kl_div log_target" => {
            let opts = KlDivOptions {
                reduction: r,
                log_target: true,
                ..Default::default()
            };
            loss::kl_div_with(a, b(), opts)?
        }
        other => panic!("no loss for case {other}"),
    })
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
        75,
        "a case was added without a loss here, or lost"
    );
    for case in CASES {
        let name = format!("{} ({})", case.name, case.reduction);
        let r = match case.reduction {
            "none" => Reduction::None,
            "mean" => Reduction::Mean,
            _ => Reduction::Sum,
        };
        let tape = Tape::<f64>::new();
        let inputs = [
            (case.a, case.a_shape, case.grad_a),
            (case.b, case.b_shape, case.grad_b),
            (case.c, case.c_shape, case.grad_c),
        ];
        let mut vars = Vec::new();
        for (x, shape, _) in inputs.iter().filter(|(x, _, _)| !x.is_empty()) {
            vars.push(tape.var(Tensor::from_vec(x.to_vec(), shape)?));
        }
        let y = op(case, &vars, r)?;
        assert_eq!(y.shape(), case.y_shape, "{name}: shape");
        let yv = y.value()?.to_vec();
        assert!(close(&yv, case.y), "{name}: y = {yv:?}, torch {:?}", case.y);
        let w = tape.constant(Tensor::from_vec(case.w.to_vec(), case.y_shape)?);
        let grads = y.mul(w)?.sum(&[], false)?.grad(&vars, None)?;
        for (i, (_, _, want)) in inputs.iter().enumerate().take(vars.len()) {
            if want.is_empty() {
                continue;
            }
            let got = grads[i].value()?.to_vec();
            assert!(
                close(&got, want),
                "{name}: grad {i} = {got:?}, torch {want:?}"
            );
        }
    }
    Ok(())
}

#[test]
fn bad_options_are_errors_naming_the_loss() -> Result<()> {
    let tape = Tape::<f64>::new();
    let x = tape.var(Tensor::zeros(&[2, 3]));
    let msg = |r: Result<Var<'_, f64>>| r.err().map(|e| e.to_string()).unwrap_or_default();
    let opts = |label_smoothing| ClassOptions {
        label_smoothing,
        ..Default::default()
    };
    assert!(msg(loss::cross_entropy_with(x, &[0, 1], opts(1.5))).starts_with("cross_entropy: "));
    assert!(msg(loss::nll_loss_with(x, &[0, 1], opts(0.1))).starts_with("nll_loss: "));
    assert!(msg(loss::cross_entropy_with(x, &[0, 3], opts(0.0))).contains("label 3"));
    assert!(msg(loss::cross_entropy_with(x, &[0], opts(0.0))).starts_with("cross_entropy: "));
    let w = Tensor::ones(&[2]);
    let weighted = ClassOptions {
        weight: Some(&w),
        ..Default::default()
    };
    assert!(msg(loss::cross_entropy_with(x, &[0, 1], weighted)).contains("weight"));
    let mm = MultiMarginOptions {
        p: 3,
        ..Default::default()
    };
    assert!(msg(loss::multi_margin_loss(x, &[0, 1], mm)).starts_with("multi_margin_loss: "));
    let y = Tensor::ones(&[3]);
    assert!(
        msg(loss::cosine_embedding_loss(x, x, &y, 0.0, Reduction::Mean))
            .starts_with("cosine_embedding_loss: ")
    );
    assert!(msg(loss::smooth_l1_loss(x, x, -1.0, Reduction::Mean)).starts_with("smooth_l1_loss: "));
    let neg = tape.var(Tensor::full(&[2, 3], -1.0));
    assert!(msg(loss::gaussian_nll_loss(
        x,
        x,
        neg,
        GaussianNllOptions::default()
    ))
    .starts_with("gaussian_nll_loss: "));
    Ok(())
}
