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
