//! `TrainArgs::split` on items kept as bytes gives the splits of the float items, bit for
//! bit, for every `--whiten`, with `--limit-train` and `--val`; a standardization keeps
//! the bytes (applied per batch), a whitening makes floats.

use clap::Parser;
use descent_data::{ByteImages, DataLoader, Dataset};
use descent_tensor::Tensor;
use descent_train::cli::{Splits, TrainArgs};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[derive(Parser)]
struct Args {
    #[command(flatten)]
    train: TrainArgs,
}

fn unit(b: u8) -> f64 {
    f64::from(b) / 255.0
}

/// The same random items as floats and as bytes; feature 0 is constant.
fn pair(n: usize, d: usize, seed: u64) -> (Dataset<f32>, Dataset<f32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let bytes: Vec<u8> = (0..n * d)
        .map(|i| if i % d == 0 { 3 } else { rng.random() })
        .collect();
    let labels: Vec<usize> = (0..n).map(|i| i % 10).collect();
    let x = Tensor::from_vec(bytes.iter().map(|&b| unit(b) as f32).collect(), &[n, d]).unwrap();
    let float = Dataset::new(x, labels.clone()).unwrap();
    let items = ByteImages::new(bytes, &[n, d], unit).unwrap();
    (float, Dataset::from_bytes(items, labels).unwrap())
}

fn batches(d: &Dataset<f32>) -> Vec<(Vec<u32>, Vec<usize>)> {
    let loader = DataLoader::new(d.clone(), 16).unwrap().shuffle(5);
    loader
        .epoch(1)
        .map(|(x, y)| (x.to_vec().iter().map(|v| v.to_bits()).collect(), y))
        .collect()
}

#[test]
fn splits_of_bytes_equal_splits_of_floats_for_every_normalization() {
    let (train_f, train_b) = pair(90, 7, 1);
    let (test_f, test_b) = pair(30, 7, 2);
    for (whiten, stays_bytes) in [
        ("none", true),
        ("standardize", true),
        ("pca", false),
        ("zca", false),
    ] {
        let args = Args::parse_from([
            "t",
            "--whiten",
            whiten,
            "--limit-train",
            "80",
            "--val",
            "20",
        ])
        .train;
        let f: Splits<f32> = args.split(train_f.clone(), test_f.clone()).unwrap();
        let b: Splits<f32> = args.split(train_b.clone(), test_b.clone()).unwrap();
        assert_eq!(b.train.is_bytes(), stays_bytes, "{whiten}");
        let (fv, bv) = (f.val.unwrap(), b.val.unwrap());
        assert_eq!(bv.len(), 20);
        assert_eq!(b.train.len(), 60);
        for (x, y) in [(&f.train, &b.train), (&fv, &bv), (&f.test, &b.test)] {
            assert_eq!(x.shape(), y.shape());
            assert_eq!(batches(x), batches(y), "{whiten}");
        }
    }
}
