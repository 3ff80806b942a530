//! The index ops against naive loops over multi-indices on plain vectors, on contiguous and
//! transposed inputs, and every error they return.

use crate::common;

use common::{numel, ravel, unravel};
use descent_tensor::{Error, Tensor};

/// `0, 1, 2, …` in `shape`, and the same values as a transposed (non-contiguous) view.
fn seq(shape: &[usize]) -> (Tensor<f64>, Tensor<f64>) {
    let n = numel(shape);
    let t = Tensor::from_vec((0..n).map(|i| i as f64 * 0.5 - 3.0).collect(), shape).unwrap();
    let mut rev: Vec<usize> = shape.to_vec();
    rev.reverse();
    let nd = shape.len() as isize;
    let perm: Vec<isize> = (0..nd).rev().collect();
    let stored = Tensor::from_vec(t.permute(&perm).unwrap().to_vec(), &rev).unwrap();
    let view = stored.permute(&perm).unwrap();
    assert_eq!(view.to_vec(), t.to_vec());
    (t, view)
}

#[test]
fn concat_and_stack_match_naive_loops() {
    for (shapes, dim) in [
        (vec![vec![2, 3], vec![4, 3], vec![0, 3]], 0usize),
        (vec![vec![2, 1, 3], vec![2, 4, 3]], 1),
        (vec![vec![2, 3, 1], vec![2, 3, 2]], 2),
    ] {
        let parts: Vec<_> = shapes.iter().map(|s| seq(s).1).collect();
        let refs: Vec<_> = parts.iter().collect();
        let got = Tensor::concat(&refs, dim as isize).unwrap();
        let mut shape = shapes[0].clone();
        shape[dim] = shapes.iter().map(|s| s[dim]).sum();
        assert_eq!(got.shape(), &shape[..]);
        let want: Vec<f64> = (0..numel(&shape))
            .map(|p| {
                let mut idx = unravel(p, &shape);
                let mut k = 0;
                while idx[dim] >= shapes[k][dim] {
                    idx[dim] -= shapes[k][dim];
                    k += 1;
                }
                parts[k].get(&idx).unwrap()
            })
            .collect();
        assert_eq!(got.to_vec(), want);
        // negative dim means the same axis
        let neg = dim as isize - shape.len() as isize;
        assert_eq!(Tensor::concat(&refs, neg).unwrap().to_vec(), want);
    }

    let shape = [2, 3];
    let (a, b) = (seq(&shape).0, seq(&shape).1.mul_scalar(2.0));
    for dim in 0..=2usize {
        let got = Tensor::stack(&[&a, &b, &a], dim as isize).unwrap();
        let mut out_shape = shape.to_vec();
        out_shape.insert(dim, 3);
        assert_eq!(got.shape(), &out_shape[..]);
        let want: Vec<f64> = (0..numel(&out_shape))
            .map(|p| {
                let mut idx = unravel(p, &out_shape);
                let k = idx.remove(dim);
                [&a, &b, &a][k].get(&idx).unwrap()
            })
            .collect();
        assert_eq!(got.to_vec(), want, "stack dim {dim}");
    }
    assert_eq!(Tensor::stack(&[&a], -1).unwrap().shape(), &[2, 3, 1]);
}

#[test]
fn index_select_and_index_add_match_naive_loops_and_are_adjoint() {
    // The second shape's selections are large enough to be split across threads, at chunk
    // boundaries inside rows.
    for (shape, large) in [([3, 4, 2], false), ([61, 37, 41], true)] {
        let (_, x) = seq(&shape);
        for dim in 0..3usize {
            let indices: Vec<usize> = if large {
                (0..2 * shape[dim])
                    .map(|k| (k * 7 + 3) % shape[dim])
                    .collect()
            } else {
                [0, 2, 2, 1, 0].iter().map(|&i| i % shape[dim]).collect()
            };
            let got = x.index_select(dim as isize, &indices).unwrap();
            let mut out_shape = shape.to_vec();
            out_shape[dim] = indices.len();
            let want: Vec<f64> = (0..numel(&out_shape))
                .map(|p| {
                    let mut idx = unravel(p, &out_shape);
                    idx[dim] = indices[idx[dim]];
                    x.get(&idx).unwrap()
                })
                .collect();
            assert_eq!(got.shape(), &out_shape[..]);
            assert_eq!(got.to_vec(), want);

            // index_add of a (transposed) src: naive scatter loop.
            let (_, src) = seq(&out_shape);
            let added = Tensor::index_add(&shape, dim as isize, &indices, &src).unwrap();
            let mut want = vec![0.0; numel(&shape)];
            for (p, &v) in src.to_vec().iter().enumerate() {
                let mut idx = unravel(p, &out_shape);
                idx[dim] = indices[idx[dim]];
                want[ravel(&idx, &shape)] += v;
            }
            assert_eq!(added.to_vec(), want);
            // adjoint: <index_select(x), g> == <x, index_add(g)>
            let lhs: f64 = got.mul(&src).unwrap().sum_all();
            let rhs: f64 = x.mul(&added).unwrap().sum_all();
            assert!((lhs - rhs).abs() <= 1e-12 * lhs.abs().max(1.0));
        }
    }
    let (_, x) = seq(&[3, 4, 2]);
    assert_eq!(x.index_select(1, &[]).unwrap().shape(), &[3, 0, 2]);
    let (_, empty_rows) = seq(&[3, 0, 2]);
    assert_eq!(
        empty_rows.index_select(0, &[1, 2]).unwrap().shape(),
        &[2, 0, 2]
    );
}

#[test]
fn gather_and_scatter_add_match_naive_loops_and_are_adjoint() {
    let shape = [3, 4, 2];
    let (_, x) = seq(&shape);
    for dim in 0..3usize {
        let mut index_shape = vec![2, 3, 2];
        index_shape[dim] = 5;
        let index: Vec<usize> = (0..numel(&index_shape))
            .map(|p| (p * 7 + 3) % shape[dim])
            .collect();
        let got = x.gather(dim as isize, &index, &index_shape).unwrap();
        let want: Vec<f64> = (0..index.len())
            .map(|p| {
                let mut idx = unravel(p, &index_shape);
                idx[dim] = index[p];
                x.get(&idx).unwrap()
            })
            .collect();
        assert_eq!(got.shape(), &index_shape[..]);
        assert_eq!(got.to_vec(), want);

        let (_, src) = seq(&index_shape);
        let scattered =
            Tensor::scatter_add(&shape, dim as isize, &index, &index_shape, &src).unwrap();
        let mut want = vec![0.0; numel(&shape)];
        for (p, &v) in src.to_vec().iter().enumerate() {
            let mut idx = unravel(p, &index_shape);
            idx[dim] = index[p];
            want[ravel(&idx, &shape)] += v;
        }
        assert_eq!(scattered.to_vec(), want);
        let lhs: f64 = got.mul(&src).unwrap().sum_all();
        let rhs: f64 = x.mul(&scattered).unwrap().sum_all();
        assert!((lhs - rhs).abs() < 1e-9);
    }
}

#[test]
fn one_hot_and_arg_extrema() {
    let y = Tensor::<f32>::one_hot(&[1, 0, 3, 1], 4).unwrap();
    assert_eq!(y.shape(), &[4, 4]);
    assert_eq!(y.argmax(1).unwrap(), vec![1, 0, 3, 1]);
    assert_eq!(Tensor::<f64>::one_hot(&[], 3).unwrap().shape(), &[0, 3]);

    let shape = [3, 4, 2];
    let vals: Vec<f64> = (0..24).map(|i| ((i * 37) % 11) as f64).collect();
    let x = Tensor::from_vec(vals, &shape).unwrap().t().unwrap(); // [3, 2, 4], strided
    let xs = x.shape().to_vec();
    for dim in 0..3usize {
        let mut rest = xs.clone();
        rest.remove(dim);
        let (mut amax, mut amin) = (vec![], vec![]);
        for p in 0..numel(&rest) {
            let base = unravel(p, &rest);
            let at = |j: usize| {
                let mut idx = base.clone();
                idx.insert(dim, j);
                x.get(&idx).unwrap()
            };
            let (mut bi, mut si) = (0, 0);
            for j in 1..xs[dim] {
                if at(j) > at(bi) {
                    bi = j;
                }
                if at(j) < at(si) {
                    si = j;
                }
            }
            amax.push(bi);
            amin.push(si);
        }
        assert_eq!(x.argmax(dim as isize).unwrap(), amax, "argmax dim {dim}");
        assert_eq!(x.argmin(dim as isize).unwrap(), amin, "argmin dim {dim}");
    }

    let nan = Tensor::<f32>::from_vec(vec![1., f32::NAN, 9., f32::NAN, -9.], &[5]).unwrap();
    assert_eq!(nan.argmax(0).unwrap(), vec![1]);
    assert_eq!(nan.argmin(0).unwrap(), vec![1]);
    let ties = Tensor::<f32>::from_vec(vec![2., 2., 1., 1.], &[4]).unwrap();
    assert_eq!(ties.argmax(0).unwrap(), vec![0]);
    assert_eq!(ties.argmin(0).unwrap(), vec![2]);
}

#[test]
fn bad_input_is_an_error_naming_the_op() {
    let a = Tensor::<f32>::zeros(&[2, 3]);
    let b = Tensor::<f32>::zeros(&[2, 4]);
    let msg = |e: Error| e.to_string();

    assert_eq!(
        msg(Tensor::<f32>::concat(&[], 0).unwrap_err()),
        "concat: invalid tensors = []: need at least one tensor"
    );
    assert_eq!(
        msg(Tensor::concat(&[&a, &b], 0).unwrap_err()),
        "concat: expected shape [2, 3], got [2, 4]"
    );
    assert!(Tensor::concat(&[&a, &b], 1).is_ok());
    assert!(matches!(
        Tensor::concat(&[&a, &Tensor::zeros(&[6])], 0),
        Err(Error::ShapeMismatch { op: "concat", .. })
    ));
    assert!(matches!(
        Tensor::concat(&[&a], 2),
        Err(Error::DimOutOfRange { op: "concat", .. })
    ));
    assert!(matches!(
        Tensor::concat(&[&Tensor::<f32>::scalar(1.0)], 0),
        Err(Error::DimOutOfRange { op: "concat", .. })
    ));
    assert_eq!(
        msg(Tensor::stack(&[&a, &b], 0).unwrap_err()),
        "stack: expected shape [2, 3], got [2, 4]"
    );
    assert!(matches!(
        Tensor::stack(&[&a], 3),
        Err(Error::DimOutOfRange { op: "stack", .. })
    ));
    assert!(Tensor::<f32>::stack(&[], 0).is_err());

    assert_eq!(
        msg(a.index_select(1, &[0, 3]).unwrap_err()),
        "index_select: index 3 is out of range for size 3 (dim 1 of shape [2, 3])"
    );
    assert!(matches!(
        a.index_select(-3, &[0]),
        Err(Error::DimOutOfRange {
            op: "index_select",
            ..
        })
    ));
    assert_eq!(
        msg(Tensor::index_add(&[2, 3], 0, &[0, 1, 1], &a).unwrap_err()),
        "index_add: expected shape [3, 3], got [2, 3]"
    );
    assert!(Tensor::index_add(&[2, 3], 0, &[0, 1], &Tensor::<f32>::zeros(&[2, 3])).is_ok());
    assert!(matches!(
        Tensor::index_add(&[2, 3], 0, &[0, 2], &a),
        Err(Error::IndexOutOfRange {
            op: "index_add",
            index: 2,
            ..
        })
    ));
    assert!(matches!(
        Tensor::index_add(&[2, 3], 1, &[0], &a),
        Err(Error::ShapeMismatch {
            op: "index_add",
            ..
        })
    ));

    assert!(matches!(
        a.gather(1, &[0, 1], &[2]),
        Err(Error::ShapeMismatch { op: "gather", .. })
    ));
    assert!(matches!(
        a.gather(1, &[0, 1], &[2, 2]),
        Err(Error::Length {
            op: "gather",
            len: 2,
            numel: 4,
            ..
        })
    ));
    assert_eq!(
        msg(a.gather(1, &[0; 3], &[3, 1]).unwrap_err()),
        "gather: invalid index_shape = [3, 1] for input shape [2, 3]: \
         must not exceed the input's size on any axis but dim"
    );
    assert_eq!(
        msg(a.gather(1, &[0, 5], &[2, 1]).unwrap_err()),
        "gather: index 5 is out of range for size 3 (dim 1 of shape [2, 3])"
    );
    assert!(matches!(
        a.gather(2, &[0], &[1, 1]),
        Err(Error::DimOutOfRange { op: "gather", .. })
    ));
    let g = Tensor::<f32>::ones(&[2, 1]);
    assert!(matches!(
        Tensor::scatter_add(&[2, 3], 1, &[0, 3], &[2, 1], &g),
        Err(Error::IndexOutOfRange {
            op: "scatter_add",
            index: 3,
            ..
        })
    ));
    assert!(matches!(
        Tensor::scatter_add(&[2, 3], 1, &[0, 1], &[1, 2], &g),
        Err(Error::ShapeMismatch {
            op: "scatter_add",
            ..
        })
    ));

    assert_eq!(
        msg(Tensor::<f32>::one_hot(&[0, 2, 5, 9], 3).unwrap_err()),
        "one_hot: label 5 at position 2 is out of range for 3 classes"
    );
    assert_eq!(
        msg(Tensor::<f32>::zeros(&[2, 0]).argmax(1).unwrap_err()),
        "argmax: invalid dim = 1 of shape [2, 0]: the axis is empty"
    );
    assert!(matches!(
        a.argmin(2),
        Err(Error::DimOutOfRange { op: "argmin", .. })
    ));
    assert_eq!(
        Tensor::<f32>::zeros(&[0, 3]).argmax(1).unwrap(),
        Vec::<usize>::new()
    );
}
