//! Items kept as bytes ([`ByteImages`]) against the float dataset they stand for: every
//! batch, subset, split and fitted statistic the same bits, on random bytes, in `f32` and
//! `f64`, for each transform; bad input an error naming the op and the shapes.
//!
//! The float side is built by the path a float dataset has always taken (each byte to
//! `F` by the same rule, then `Standardize::apply` / `Whitening::apply` on the whole
//! tensor), so the expected values come from independent code: tensor kernels there,
//! the byte decoder's own loop here.

use descent_data::mnist::Split;
use descent_data::transforms::{Standardize, Whiten, Whitening};
use descent_data::{ByteImages, DataLoader, Dataset};
use descent_tensor::{Float, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn unit(b: u8) -> f64 {
    f64::from(b) / 255.0
}

/// `n` random items of `d` bytes, skewed so that some features are constant (zero
/// variance, as MNIST's border pixels) and others spread.
fn random_bytes(n: usize, d: usize, seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n * d)
        .map(|i| match i % d {
            0 => 0,
            1 => 255,
            _ => rng.random(),
        })
        .collect()
}

/// The same items as floats and as bytes, labelled by their index.
fn pair<F: Float>(n: usize, d: usize, seed: u64) -> (Dataset<F>, Dataset<F>) {
    let bytes = random_bytes(n, d, seed);
    let floats: Vec<F> = bytes.iter().map(|&b| F::of(unit(b))).collect();
    let x = Tensor::from_vec(floats, &[n, d]).unwrap();
    let float = Dataset::new(x, (0..n).collect()).unwrap();
    let items = ByteImages::new(bytes, &[n, d], unit).unwrap();
    let byte = Dataset::from_bytes(items, (0..n).collect()).unwrap();
    assert!(byte.is_bytes() && !float.is_bytes());
    (float, byte)
}

fn bits<F: Float>(x: &Tensor<F>) -> Vec<u64> {
    x.to_vec()
        .into_iter()
        .map(|v| v.as_f64().to_bits())
        .collect()
}

/// Every batch of two epochs, shuffled and in order, with and without `drop_last`.
fn assert_same_batches<F: Float>(float: &Dataset<F>, byte: &Dataset<F>, batch: usize) {
    assert_eq!(float.shape(), byte.shape());
    for (shuffle, drop) in [(None, false), (Some(7), false), (Some(7), true)] {
        let loader = |d: &Dataset<F>| {
            let l = DataLoader::new(d.clone(), batch).unwrap().drop_last(drop);
            match shuffle {
                Some(s) => l.shuffle(s),
                None => l,
            }
        };
        let (lf, lb) = (loader(float), loader(byte));
        for epoch in 0..2 {
            let (bf, bb): (Vec<_>, Vec<_>) = (lf.epoch(epoch).collect(), lb.epoch(epoch).collect());
            assert_eq!(bf.len(), bb.len());
            assert!(drop || !bf.is_empty());
            for ((xf, yf), (xb, yb)) in bf.iter().zip(&bb) {
                assert_eq!(yf, yb);
                assert_eq!(xf.shape(), xb.shape());
                assert_eq!(bits(xf), bits(xb), "epoch {epoch}, shuffle {shuffle:?}");
            }
        }
    }
    assert_eq!(bits(float.images()), bits(byte.images()));
}

fn decoded_batches_equal_the_float_ones<F: Float>() {
    for (n, d, batch, seed) in [(37, 5, 8, 1), (100, 17, 32, 2), (9, 1, 4, 3)] {
        let (float, byte) = pair::<F>(n, d, seed);
        assert_same_batches(&float, &byte, batch);
        // take (a view of the bytes), split (copies), subset, batch.
        assert_same_batches(&float.take(n / 2).unwrap(), &byte.take(n / 2).unwrap(), 3);
        let (ft, fv) = float.split(n / 4, 9).unwrap();
        let (bt, bv) = byte.split(n / 4, 9).unwrap();
        assert_same_batches(&ft, &bt, batch);
        assert_same_batches(&fv, &bv, batch);
        let idx = [n - 1, 0, n / 2, n / 2];
        let (xf, yf) = float.batch(&idx).unwrap();
        let (xb, yb) = byte.batch(&idx).unwrap();
        assert_eq!((bits(&xf), yf), (bits(&xb), yb));
        let (sf, sb) = (float.subset(&idx).unwrap(), byte.subset(&idx).unwrap());
        assert!(sb.is_bytes());
        assert_same_batches(&sf, &sb, 2);
    }
}

#[test]
fn decoded_batches_equal_the_float_ones_f32() {
    decoded_batches_equal_the_float_ones::<f32>();
}

#[test]
fn decoded_batches_equal_the_float_ones_f64() {
    decoded_batches_equal_the_float_ones::<f64>();
}

fn standardized_bytes_equal_standardized_floats<F: Float>() {
    // More rows than one chunk of the fit (4096), so the chunked sums are compared too.
    let (n, d) = (4500, 6);
    let (float, byte) = pair::<F>(n, d, 4);
    let fitted = Standardize::fit(float.images()).unwrap();
    let from_bytes = Standardize::fit(&byte).unwrap();
    assert_eq!(bits(&fitted.mean), bits(&from_bytes.mean));
    assert_eq!(bits(&fitted.std), bits(&from_bytes.std));
    assert_eq!(bits(&fitted.std)[0], 1f64.to_bits()); // the constant feature keeps 1
    let global = Standardize {
        mean: Tensor::from_vec(vec![F::of(0.1307)], &[1]).unwrap(),
        std: Tensor::from_vec(vec![F::of(0.3081)], &[]).unwrap(),
    };
    // Per feature; global (one value for all, torchvision's Normalize on MNIST); both in turn.
    let chains: [&[&Standardize<F>]; 3] = [&[&fitted], &[&global], &[&fitted, &global]];
    for chain in chains {
        let (mut f, mut b) = (float.clone(), byte.clone());
        for s in chain {
            f = f.standardize(s).unwrap();
            b = b.standardize(s).unwrap();
        }
        assert!(!f.is_bytes() && b.is_bytes());
        // The float side as it always was: the tensor transform, applied to the whole set.
        let mut want = float.images().clone();
        for s in chain {
            want = s.apply(&want).unwrap();
        }
        assert_eq!(bits(f.images()), bits(&want));
        assert_same_batches(&f, &b, 64);
    }
}

#[test]
fn standardized_bytes_equal_standardized_floats_f32() {
    standardized_bytes_equal_standardized_floats::<f32>();
}

#[test]
fn standardized_bytes_equal_standardized_floats_f64() {
    standardized_bytes_equal_standardized_floats::<f64>();
}

/// Bytes decoded by `decode` and standardized per feature against the float dataset of the
/// same rule, in batches large enough to be split across threads (the last one ragged).
fn other_decodes_and_large_batches_equal_the_floats<F: Float>() {
    // Divisions by a constant (computed as one), and tables that are not.
    let decodes: [fn(u8) -> f64; 6] = [
        unit,
        |b| f64::from(b),
        |b| f64::from(b) / 3.0,
        |b| -f64::from(b) / 255.0,
        |b| f64::from(b) * 0.1 - 3.0,
        |b| f64::from(b).sqrt(),
    ];
    let (n, d) = (301, 131);
    let bytes = random_bytes(n, d, 8);
    for decode in decodes {
        let floats: Vec<F> = bytes.iter().map(|&b| F::of(decode(b))).collect();
        let x = Tensor::from_vec(floats, &[n, d]).unwrap();
        let float = Dataset::new(x, (0..n).collect()).unwrap();
        let items = ByteImages::new(bytes.clone(), &[n, d], decode).unwrap();
        let byte = Dataset::from_bytes(items, (0..n).collect()).unwrap();
        assert_same_batches(&float, &byte, 257);
        let s = Standardize::fit(float.images()).unwrap();
        let (f, b) = (
            float.standardize(&s).unwrap(),
            byte.standardize(&s).unwrap(),
        );
        assert_same_batches(&f, &b, 290);
    }
}

#[test]
fn other_decodes_and_large_batches_equal_the_floats_f32() {
    other_decodes_and_large_batches_equal_the_floats::<f32>();
}

#[test]
fn other_decodes_and_large_batches_equal_the_floats_f64() {
    other_decodes_and_large_batches_equal_the_floats::<f64>();
}

#[test]
fn whitening_fits_the_same_on_bytes_and_maps_them_to_floats() {
    let (float, byte) = pair::<f64>(300, 5, 5);
    for kind in [Whiten::Pca, Whiten::Zca] {
        let wf = Whitening::fit(float.images(), kind, 0.1).unwrap();
        let wb = Whitening::fit(&byte, kind, 0.1).unwrap();
        assert_eq!(bits(&wf.matrix), bits(&wb.matrix));
        assert_eq!(bits(&wf.mean), bits(&wb.mean));
        let f = float.clone().map_images(|x| wf.apply(x)).unwrap();
        let b = byte.clone().map_images(|x| wb.apply(x)).unwrap();
        assert!(!b.is_bytes());
        assert_same_batches(&f, &b, 50);
    }
}

#[test]
fn an_mnist_split_as_bytes_equals_its_float_dataset() {
    let (n, rows, cols) = (23, 4, 3);
    let split = Split {
        images: random_bytes(n, rows * cols, 6),
        item_shape: vec![rows, cols],
        labels: (0..n).map(|i| i % 10).collect(),
    };
    let float = split.to_dataset::<f32>().unwrap();
    let byte = split.into_byte_dataset::<f32>().unwrap();
    assert_eq!(byte.shape(), &[n, rows * cols]);
    assert_eq!(float.labels(), byte.labels());
    assert_same_batches(&float, &byte, 5);
}

/// The error's message, which must name `op` and each of `parts`.
fn assert_err<T: std::fmt::Debug>(r: descent_data::Result<T>, op: &str, parts: &[&str]) {
    let msg = r.unwrap_err().to_string();
    assert!(msg.starts_with(op), "{msg}");
    for p in parts {
        assert!(msg.contains(p), "{msg:?} lacks {p:?}");
    }
}

#[test]
fn bad_input_is_an_error_naming_the_op_and_the_shapes() {
    let new = |bytes: Vec<u8>, shape: &[usize]| ByteImages::<f32>::new(bytes, shape, unit);
    assert_err(
        new(vec![0; 11], &[3, 4]),
        "ByteImages::new",
        &["11 bytes", "[3, 4]", "12"],
    );
    assert_err(
        new(vec![], &[3, 4]),
        "ByteImages::new",
        &["0 bytes", "[3, 4]"],
    );
    assert_err(new(vec![1, 2], &[]), "ByteImages::new", &["[]", "axis"]);
    assert_err(
        new(vec![], &[usize::MAX, 2]),
        "ByteImages::new",
        &["[18446744073709551615, 2]"],
    );
    // Zero items of a shape is an empty dataset, as with a tensor.
    let none = Dataset::from_bytes(new(vec![], &[0, 4]).unwrap(), vec![]).unwrap();
    assert!(none.is_empty());
    assert_eq!(DataLoader::new(none, 2).unwrap().epoch(0).count(), 0);

    let items = new(vec![7; 12], &[3, 4]).unwrap();
    assert_err(
        Dataset::from_bytes(items.clone(), vec![0, 1]),
        "Dataset::from_bytes",
        &["2 labels", "[3, 4]"],
    );
    let s = Standardize {
        mean: Tensor::<f32>::zeros(&[3]),
        std: Tensor::ones(&[4]),
    };
    assert_err(
        items.clone().standardize(&s),
        "ByteImages::standardize",
        &["mean", "[3]", "[4]", "[3, 4]"],
    );
    let data = Dataset::from_bytes(items.clone(), vec![0, 1, 2]).unwrap();
    assert_err(
        data.clone().standardize(&s),
        "ByteImages::standardize",
        &["[3]"],
    );
    assert_err(data.batch(&[0, 3]), "Dataset::batch", &["3", "3 items"]);
    assert_err(data.subset(&[5]), "Dataset::subset", &["5", "3 items"]);
    assert_err(items.gather(&[3]), "ByteImages::gather", &["3", "[3, 4]"]);
    assert_err(items.rows(2, 2), "ByteImages::rows", &["2..", "[3, 4]"]);
    assert_err(items.narrow(1, 3), "ByteImages::narrow", &["[3, 4]"]);
    assert_err(items.subset(&[9]), "ByteImages::subset", &["9", "[3, 4]"]);
    // Statistics need 2-D data of at least 2 rows, bytes or not.
    let one = Dataset::from_bytes(new(vec![1; 4], &[1, 4]).unwrap(), vec![0]).unwrap();
    assert_err(Standardize::fit(&one), "Standardize::fit", &["[1, 4]"]);
}

#[test]
#[ignore = "needs the MNIST files: set MNIST_DIR"]
fn the_real_test_set_as_bytes_equals_its_float_dataset() {
    let dir = std::env::var_os("MNIST_DIR").expect("MNIST_DIR");
    let test = descent_data::Mnist::load(dir).unwrap().test;
    let float = test.to_dataset::<f32>().unwrap();
    let byte = test.into_byte_dataset::<f32>().unwrap();
    assert_same_batches(&float, &byte, 1000);
    let s = Standardize::fit(float.images()).unwrap();
    let (f, b) = (
        float.standardize(&s).unwrap(),
        byte.standardize(&s).unwrap(),
    );
    assert_same_batches(&f, &b, 1000);
}
