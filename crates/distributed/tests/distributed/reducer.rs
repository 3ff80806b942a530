//! `DataParallel` in a world of one (averaging is the identity, buckets tile the buffer),
//! and the replica check's error.

use descent_autodiff::{Param, Tape};
use descent_distributed::{check_replicas, Comm, DataParallel};
use descent_tensor::Tensor;

fn params(shapes: &[&[usize]]) -> Vec<Param<f32>> {
    shapes
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let n: usize = s.iter().product();
            Param::new(
                Tensor::from_vec((0..n).map(|k| (k + i) as f32 * 0.25).collect(), s).unwrap(),
            )
        })
        .collect()
}

#[test]
fn buckets_tile_the_buffer_in_reverse_parameter_order() {
    let comm = Comm::local();
    let mut ps = params(&[&[3, 4], &[4], &[4, 2], &[2]]);
    let mut refs: Vec<&mut Param<f32>> = ps.iter_mut().collect();
    let mut ddp = DataParallel::new(&comm, &mut refs).unwrap();
    assert_eq!(ddp.buckets().to_vec(), vec![0..26]); // [2], [4,2], [4], [3,4] from 0
                                                     // 8 floats a bucket: whole parameters while they fit ([2] + [4,2] = 10 does not); the
                                                     // 12-element one is split.
    ddp.set_bucket_bytes(32).unwrap();
    assert_eq!(ddp.buckets(), &[0..2, 2..10, 10..14, 14..22, 22..26]);
    ddp.set_bucket_bytes(12).unwrap();
    assert_eq!(
        ddp.buckets(),
        &[
            0..2,
            2..5,
            5..8,
            8..10,
            10..13,
            13..14,
            14..17,
            17..20,
            20..23,
            23..26
        ]
    );
    assert!(ddp.set_bucket_bytes(3).is_err());
}

#[test]
fn averaging_over_one_rank_is_the_identity_and_fills_missing_gradients() {
    let comm = Comm::local();
    let mut ps = params(&[&[2, 3], &[3]]);
    let tape = Tape::new();
    // The loss depends on the first parameter only.
    let mut grads = tape
        .param(&ps[0])
        .square()
        .unwrap()
        .sum(&[], false)
        .unwrap()
        .backward()
        .unwrap();
    drop(tape);
    let want = ps[0].value.mul_scalar(2.0);
    let mut refs: Vec<&mut Param<f32>> = ps.iter_mut().collect();
    let mut ddp = DataParallel::new(&comm, &mut refs).unwrap();
    ddp.average(&comm, &mut grads).unwrap();
    assert_eq!(grads.get(&ps[0]).unwrap().to_vec(), want.to_vec());
    assert_eq!(grads.get(&ps[1]).unwrap().to_vec(), vec![0.0; 3]);
}

#[test]
fn a_gradient_of_the_wrong_shape_is_an_error_naming_both() {
    let comm = Comm::local();
    let mut ps = params(&[&[2, 3]]);
    let mut refs: Vec<&mut Param<f32>> = ps.iter_mut().collect();
    let mut ddp = DataParallel::new(&comm, &mut refs).unwrap();
    let mut grads = descent_autodiff::Gradients::new();
    grads.insert(ps[0].id(), Tensor::zeros(&[3, 2]));
    let e = ddp.average(&comm, &mut grads).unwrap_err().to_string();
    assert!(e.contains("[2, 3]") && e.contains("[3, 2]"), "{e}");
}

#[test]
fn replicas_of_one_agree_with_themselves() {
    let ps = params(&[&[2, 3], &[3]]);
    let refs: Vec<&Param<f32>> = ps.iter().collect();
    check_replicas(&Comm::local(), &refs, true).unwrap();
}
