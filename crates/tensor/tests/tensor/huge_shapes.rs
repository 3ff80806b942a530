//! Shapes whose element count overflows `usize` (or whose bytes pass `isize::MAX`): every
//! constructor, view and op refuses them with `TooLarge` instead of wrapping, which in a
//! release build gave tensors claiming 2⁶⁴ + 1 elements over one, and segfaults in
//! `matmul`. The expected answers are computed in `u128`, where nothing wraps.

use descent_tensor::{Error, Tensor};
use proptest::prelude::*;

type TestResult = Result<(), Error>;

/// The exact element count of `shape`, or `u128::MAX` past it (a zero still gives zero).
fn product(shape: &[usize]) -> u128 {
    shape
        .iter()
        .fold(1u128, |a, &d| a.saturating_mul(d as u128))
}

fn too_large<T>(r: Result<T, Error>, op: &str) {
    match r {
        Err(Error::TooLarge { op: got, .. }) => assert_eq!(got, op),
        Err(e) => panic!("{op}: expected TooLarge, got {e:?}"),
        Ok(_) => panic!("{op}: expected TooLarge, got Ok"),
    }
}

#[test]
fn a_product_that_wraps_to_the_data_length_is_refused() {
    // 274177 · 67280421310721 = 2⁶⁴ + 1.
    let shape = [274177, 67280421310721];
    assert_eq!(product(&shape), (1u128 << 64) + 1);
    too_large(Tensor::<f32>::from_vec(vec![1.0], &shape), "from_vec");
    too_large(Tensor::<f32>::from_slice(&[1.0], &shape), "from_slice");
    too_large(Tensor::<f32>::try_full(&shape, 0.0), "full");
    let e = Tensor::<f32>::from_vec(vec![1.0], &shape).unwrap_err();
    assert_eq!(
        e.to_string(),
        "from_vec: shape [274177, 67280421310721] has too many elements to address"
    );
}

#[test]
fn views_refuse_wrapping_shapes() -> TestResult {
    let empty = Tensor::<f32>::zeros(&[0]);
    too_large(empty.reshape(&[1 << 32, 1 << 32]), "reshape");
    // With a `-1`, the other sizes' product may pass 2⁶⁴: only an empty tensor fits it.
    let inferred = empty.reshape(&[1 << 32, 1 << 32, -1])?;
    assert_eq!(inferred.shape(), &[1 << 32, 1 << 32, 0]);
    assert!(Tensor::<f32>::zeros(&[3])
        .reshape(&[1 << 32, 1 << 32, -1])
        .is_err());
    // An empty shape whose other axes multiply past 2⁶⁴ is still only empty (as PyTorch).
    let e = empty.reshape(&[0, 1 << 40, 1 << 40])?;
    assert_eq!((e.numel(), e.to_vec()), (0, vec![]));
    assert_eq!(e.sum(&[1, 2], false)?.shape(), &[0]);
    too_large(e.sum(&[0], false), "sum");
    let one = Tensor::<f32>::ones(&[1]);
    too_large(one.broadcast_to(&[1 << 32, 1 << 32]), "broadcast_to");
    let x = Tensor::<f32>::ones(&[5]);
    assert!(matches!(
        x.narrow(0, usize::MAX, 2),
        Err(Error::IndexOutOfRange { .. })
    ));
    assert!(x.narrow(0, 2, usize::MAX).is_err());
    // A step past the end leaves one element, and its stride must not wrap.
    let s = x.slice(0, 1, 5, usize::MAX)?;
    assert_eq!((s.shape(), s.to_vec()), (&[1][..], vec![1.0]));
    Ok(())
}

#[test]
fn constructors_refuse_counts_that_cannot_be_allocated() {
    too_large(Tensor::<f32>::one_hot(&[0], 1 << 63), "one_hot");
    too_large(Tensor::<f32>::one_hot(&[0, 1], usize::MAX), "one_hot");
    assert!(matches!(
        Tensor::<f64>::arange(0.0, f64::INFINITY, 1.0),
        Err(Error::InvalidArgument { arg: "end", .. })
    ));
    assert!(Tensor::<f64>::arange(f64::NAN, 1.0, 1.0).is_err());
    too_large(Tensor::<f64>::arange(0.0, 1e300, 1e-300), "arange");
    too_large(Tensor::<f32>::arange(0.0, 3e38, 1.0), "arange");
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0);
    too_large(
        Tensor::<f32>::randn(&[1 << 62, 4], 0.0, 1.0, &mut rng),
        "randn",
    );
    too_large(
        Tensor::<f32>::rand(&[1 << 40, 1 << 40], 0.0, 1.0, &mut rng),
        "rand",
    );
}

#[test]
fn ops_on_views_refuse_outputs_that_wrap() -> TestResult {
    // Broadcast views are legal (nothing is allocated) but their products are not.
    let col = Tensor::<f32>::ones(&[1, 1]).broadcast_to(&[1 << 32, 1])?;
    let row = Tensor::<f32>::ones(&[1, 1]).broadcast_to(&[1, 1 << 32])?;
    too_large(col.add(&row), "add");
    too_large(Tensor::where_cond(&col, &col, &row), "where_cond");
    // Batched matmul: [2³², 1, 1] · [1, 1, 2³²] would have 2⁶⁴ elements.
    let a = Tensor::<f32>::ones(&[1, 1, 1]).broadcast_to(&[1 << 32, 1, 1])?;
    let b = Tensor::<f32>::ones(&[1, 1, 1]).broadcast_to(&[1, 1, 1 << 32])?;
    too_large(a.matmul(&b), "matmul");
    // A view may hold up to isize::MAX bytes' worth of elements, as a copy would.
    too_large(
        Tensor::<f32>::ones(&[1]).broadcast_to(&[1 << 62]),
        "broadcast_to",
    );
    let wide = Tensor::<f32>::ones(&[1, 1]).broadcast_to(&[1, 1 << 60])?;
    too_large(wide.index_select(0, &[0; 8]), "index_select");
    too_large(wide.gather(0, &[0; 8], &[8, 1 << 60]), "gather");
    let g = Tensor::<f32>::ones(&[1, 1]);
    let row = Tensor::<f32>::ones(&[1, 1]).broadcast_to(&[1, 1 << 40])?;
    too_large(
        Tensor::index_add(&[1 << 40, 1 << 40], 0, &[0], &row),
        "index_add",
    );
    too_large(
        Tensor::scatter_add(&[1 << 62, 1 << 62], 0, &[0], &[1, 1], &g),
        "scatter_add",
    );
    let half = Tensor::<f32>::ones(&[1]).broadcast_to(&[1 << 60])?;
    too_large(Tensor::concat(&[&half, &half], 0), "concat");
    Ok(())
}

#[test]
fn an_empty_product_with_a_huge_inner_size_is_empty() -> TestResult {
    // k = 2³²: packing a k×16 panel would need 256 GiB; nothing may be allocated.
    let a = Tensor::<f32>::zeros(&[0, 1 << 32]);
    let b = Tensor::<f32>::zeros(&[1 << 32, 0]);
    let c = a.matmul(&b)?;
    assert_eq!((c.shape(), c.numel()), (&[0, 0][..], 0));
    let rows = Tensor::<f32>::ones(&[1, 1]).broadcast_to(&[3, 1 << 32])?;
    assert_eq!(rows.matmul(&b)?.shape(), &[3, 0]);
    // k = 0 still gives zeros.
    let z = Tensor::<f64>::zeros(&[2, 0]).matmul(&Tensor::zeros(&[0, 3]))?;
    assert_eq!(z.to_vec(), vec![0.0; 6]);
    Ok(())
}

/// A size drawn to make products overflow often: small sizes, zeros, powers of two up to
/// 2⁶³, and the factors of 2⁶⁴ + 1.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        0usize..4,
        (0u32..64).prop_map(|k| 1usize << k),
        (0u32..64).prop_map(|k| (1usize << k) - 1),
        Just(274177),
        Just(67280421310721),
        Just(usize::MAX),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn from_vec_accepts_exactly_the_products_that_fit(
        shape in prop::collection::vec(size(), 0..5),
        len in 0usize..5,
    ) {
        let r = Tensor::<f32>::from_vec(vec![0.0; len], &shape);
        prop_assert_eq!(r.is_ok(), product(&shape) == len as u128, "{:?} {:?}", shape, r);
        if let Ok(t) = r {
            prop_assert_eq!(t.numel(), len);
            prop_assert_eq!(t.to_vec().len(), len);
        }
    }

    #[test]
    fn reshape_accepts_exactly_the_products_that_fit(
        shape in prop::collection::vec(size(), 0..5),
        len in 0usize..5,
        infer in prop::option::of(0usize..5),
    ) {
        let x = Tensor::<f32>::from_vec((0..len).map(|i| i as f32).collect(), &[len])?;
        let mut signed: Vec<isize> = shape.iter().map(|&d| d.min(isize::MAX as usize) as isize).collect();
        let clipped: Vec<usize> = signed.iter().map(|&d| d as usize).collect();
        let expect_ok = match infer.filter(|&i| i < signed.len()) {
            Some(i) => {
                signed[i] = -1;
                let mut rest = clipped.clone();
                rest[i] = 1;
                let known = product(&rest);
                known != 0 && (len as u128).is_multiple_of(known)
            }
            None => product(&clipped) == len as u128,
        };
        let r = x.reshape(&signed);
        prop_assert_eq!(r.is_ok(), expect_ok, "{:?} {:?}", signed, r);
        if let Ok(t) = r {
            prop_assert_eq!(product(t.shape()), len as u128);
            prop_assert_eq!(t.to_vec(), x.to_vec());
        }
    }

    #[test]
    fn broadcast_to_accepts_exactly_the_views_that_fit(
        shape in prop::collection::vec(size(), 0..5),
    ) {
        let one = Tensor::<f32>::from_vec(vec![7.0], &[1])?;
        let r = one.broadcast_to(&shape);
        // A one-element vector broadcasts to any shape of rank ≥ 1 whose f32s would fit in
        // isize::MAX bytes.
        let expect_ok = !shape.is_empty() && product(&shape) <= isize::MAX as u128 / 4;
        prop_assert_eq!(r.is_ok(), expect_ok, "{:?} {:?}", shape, r);
        if let Ok(t) = r {
            prop_assert_eq!(t.numel() as u128, product(&shape));
            if t.numel() > 0 {
                prop_assert_eq!(t.get(&vec![0; shape.len()])?, 7.0);
            }
        }
    }

    #[test]
    fn narrow_accepts_exactly_the_ranges_inside(
        start in size(),
        len in size(),
        n in 0usize..6,
    ) {
        let x = Tensor::<f64>::from_vec((0..n).map(|i| i as f64).collect(), &[n])?;
        let r = x.narrow(0, start, len);
        prop_assert_eq!(r.is_ok(), start as u128 + len as u128 <= n as u128);
        if let Ok(t) = r {
            let expect: Vec<f64> = (start..start + len).map(|i| i as f64).collect();
            prop_assert_eq!(t.to_vec(), expect);
        }
    }
}
