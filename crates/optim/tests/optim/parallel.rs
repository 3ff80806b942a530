//! Large parameters are updated on several threads; each element must get exactly the bits
//! it gets when it is updated alone.

use descent_autodiff::{Gradients, Param};
use descent_optim::build;
use descent_tensor::Tensor;

#[test]
fn split_updates_give_the_same_bits_as_one_element_alone() {
    let n = 200_003;
    let value = |i: usize| ((i * 7919) % 1000) as f64 / 500.0 - 1.0;
    let grad = |i: usize, t: usize| (((i + 31 * t) * 104_729) % 997) as f64 / 400.0 - 1.2;
    for spec in [
        "sgd:lr=0.1,momentum=0.9,nesterov=true,weight_decay=0.01",
        "adam:lr=0.01,amsgrad=true,maximize=true",
        "adamw:lr=0.01,eps_inside=true",
        "rmsprop:lr=0.01,centered=true,momentum=0.5",
        "rmsprop:lr=0.01",
        "adagrad:lr=0.1,lr_decay=0.01,weight_decay=0.1",
        "adadelta:maximize=true",
        "adamax:lr=0.01",
        "nadam:lr=0.01,weight_decay=0.1,decoupled_weight_decay=true",
    ] {
        let mut big =
            Param::new(Tensor::<f64>::from_vec((0..n).map(value).collect(), &[n]).unwrap());
        let mut opt = build::<f64>(spec).unwrap();
        for t in 0..3 {
            let mut g = Gradients::new();
            g.insert(
                big.id(),
                Tensor::from_vec((0..n).map(|i| grad(i, t)).collect(), &[n]).unwrap(),
            );
            opt.step(&mut [&mut big], &g).unwrap();
        }
        let got = big.value.to_vec();
        for i in [
            0,
            1,
            n / 4 - 1,
            n / 4,
            n / 2 - 1,
            n / 2,
            n / 2 + 1,
            3 * n / 4,
            n - 1,
        ] {
            let mut one = Param::new(Tensor::<f64>::from_vec(vec![value(i)], &[1]).unwrap());
            let mut opt = build::<f64>(spec).unwrap();
            for t in 0..3 {
                let mut g = Gradients::new();
                g.insert(one.id(), Tensor::from_vec(vec![grad(i, t)], &[1]).unwrap());
                opt.step(&mut [&mut one], &g).unwrap();
            }
            assert_eq!(
                got[i].to_bits(),
                one.value.to_vec()[0].to_bits(),
                "{spec}: element {i}"
            );
        }
    }
}

/// One step over many parameters — large ones (split across the threads) beside small ones,
/// a non-contiguous gradient, a parameter without a gradient, a group with its own learning
/// rate, and a clone passed after its original (it steps again, after it) — gives each the
/// bits it gets when it is stepped alone, in that order.
#[test]
fn one_step_over_many_parameters_gives_each_the_bits_it_gets_alone() {
    let shapes: [&[usize]; 6] = [&[301, 257], &[7], &[131_075], &[1], &[40, 33], &[5]];
    let value = |k: usize, i: usize| (((i + 13 * k) * 7919) % 1000) as f64 / 500.0 - 1.0;
    let grad = |k: usize, i: usize, t: usize| {
        (((i + 31 * t + 7 * k) * 104_729) % 997) as f64 / 400.0 - 1.2
    };
    let make = |k: usize| {
        let n: usize = shapes[k].iter().product();
        Param::new(
            Tensor::<f64>::from_vec((0..n).map(|i| value(k, i)).collect(), shapes[k]).unwrap(),
        )
    };
    // Parameter 4's gradient is the transpose of a row-major [33, 40].
    let grad_of = |k: usize, t: usize| {
        let n: usize = shapes[k].iter().product();
        let data = (0..n).map(|i| grad(k, i, t)).collect();
        if k == 4 {
            let g = Tensor::from_vec(data, &[33, 40]).unwrap().t().unwrap();
            assert!(!g.is_contiguous());
            g
        } else {
            Tensor::from_vec(data, shapes[k]).unwrap()
        }
    };
    let losses = [3.0, 2.0, 2.5];
    for spec in [
        "adam:lr=0.01,amsgrad=true",
        "adamw:lr=0.01",
        "sgd:lr=0.1,momentum=0.9",
        "rprop:variant=irprop+,lr=0.05",
        "nadam:lr=0.01",
    ] {
        // Together: one call per step.
        let mut ps: Vec<Param<f64>> = (0..6).map(make).collect();
        let mut twin = ps[1].clone();
        let mut opt = build::<f64>(spec).unwrap();
        opt.add_group(&[ps[2].id()], "lr=0.002").unwrap();
        for (t, &loss) in losses.iter().enumerate() {
            let mut g = Gradients::new();
            for (k, p) in ps.iter().enumerate().take(5) {
                g.insert(p.id(), grad_of(k, t));
            }
            let mut refs: Vec<&mut Param<f64>> = ps.iter_mut().collect();
            refs.push(&mut twin);
            opt.step_with_loss(&mut refs, &g, loss).unwrap();
        }
        // Alone: each parameter with its own optimizer, the clone after its original.
        for (k, together) in ps.iter().enumerate() {
            let mut p = make(k);
            let mut copy = p.clone();
            let mut opt = build::<f64>(spec).unwrap();
            if k == 2 {
                opt.add_group(&[p.id()], "lr=0.002").unwrap();
            }
            for (t, &loss) in losses.iter().enumerate() {
                let mut g = Gradients::new();
                if k < 5 {
                    g.insert(p.id(), grad_of(k, t));
                }
                opt.step_with_loss(&mut [&mut p], &g, loss).unwrap();
                if k == 1 {
                    opt.step_with_loss(&mut [&mut copy], &g, loss).unwrap();
                }
            }
            let bits = |p: &Param<f64>| -> Vec<u64> {
                p.value.to_vec().iter().map(|x| x.to_bits()).collect()
            };
            assert_eq!(bits(together), bits(&p), "{spec}: parameter {k}");
            if k == 1 {
                assert_eq!(bits(&twin), bits(&copy), "{spec}: the clone");
            }
        }
    }
}

/// The finiteness check covers every gradient before anything moves, and reports the
/// first bad parameter in order, whichever thread finds it.
#[test]
fn a_bad_gradient_anywhere_in_a_step_changes_nothing() {
    let shapes: [&[usize]; 3] = [&[3], &[100_003], &[70_001]];
    let fresh = || -> Vec<Param<f64>> {
        shapes
            .iter()
            .map(|s| Param::new(Tensor::<f64>::ones(s)))
            .collect()
    };
    let mut ps = fresh();
    let ids: Vec<_> = ps.iter().map(|p| p.id()).collect();
    let mut opt = build::<f64>("adam:lr=0.01").unwrap();
    let good = |ps: &[Param<f64>]| {
        let mut g = Gradients::new();
        for p in ps {
            g.insert(p.id(), Tensor::<f64>::full(p.shape(), 0.25));
        }
        g
    };
    let g = good(&ps);
    opt.step(&mut ps.iter_mut().collect::<Vec<_>>(), &g)
        .unwrap();
    let values =
        |ps: &[Param<f64>]| -> Vec<Vec<f64>> { ps.iter().map(|p| p.value.to_vec()).collect() };
    let state = |opt: &dyn descent_optim::Optimizer<f64>| {
        let sd = opt.state_dict(&ids).unwrap();
        let tensors: Vec<(String, Vec<f64>)> = sd
            .tensors
            .iter()
            .map(|(k, t)| (k.clone(), t.to_vec()))
            .collect();
        (sd.meta, tensors)
    };
    let (before, state_before) = (values(&ps), state(opt.as_ref()));
    // (parameter, element, value) of each bad entry, and the error expected.
    for (bad, want) in [
        (vec![(2, 70_000, f64::NAN)], 2),
        (vec![(1, 99_999, f64::INFINITY), (2, 5, f64::NAN)], 1),
        (vec![(2, 40_000, f64::NEG_INFINITY), (0, 2, f64::NAN)], 0),
        (vec![(1, 0, f64::NAN)], 1),
    ] {
        let mut g = good(&ps);
        for &(k, at, x) in &bad {
            let mut v = g.by_id(ps[k].id()).unwrap().to_vec();
            v[at] = x;
            g.insert(ps[k].id(), Tensor::from_vec(v, shapes[k]).unwrap());
        }
        let err = opt
            .step(&mut ps.iter_mut().collect::<Vec<_>>(), &g)
            .unwrap_err();
        assert!(
            matches!(err, descent_optim::Error::NonFiniteGradient { index, .. } if index == want),
            "{bad:?}: {err}"
        );
        assert_eq!(values(&ps), before);
        assert_eq!(state(opt.as_ref()), state_before);
    }
    // A wrong shape before a bad value is reported first, as the checks run in order.
    let mut g = good(&ps);
    g.insert(ps[1].id(), Tensor::<f64>::zeros(&[4]));
    let mut v = vec![0.25; 70_001];
    v[1] = f64::NAN;
    g.insert(ps[2].id(), Tensor::from_vec(v, &[70_001]).unwrap());
    let err = opt
        .step(&mut ps.iter_mut().collect::<Vec<_>>(), &g)
        .unwrap_err();
    assert!(
        matches!(err, descent_optim::Error::GradShape { index: 1, .. }),
        "{err}"
    );
    assert_eq!(values(&ps), before);
    assert_eq!(state(opt.as_ref()), state_before);
}
