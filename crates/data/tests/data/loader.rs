//! DataLoader and Dataset: every item once per epoch, rows stay with their labels, seeded
//! orders that differ between epochs but repeat for the same (seed, epoch), drop_last, and
//! the validation split.

use descent_data::{DataLoader, Dataset};
use descent_tensor::Tensor;

/// Item `i` is the row `[i, 10 i]` with label `i`, so a batch can be checked against its labels.
fn numbered(n: usize) -> Dataset<f32> {
    let v: Vec<f32> = (0..n).flat_map(|i| [i as f32, 10.0 * i as f32]).collect();
    Dataset::new(Tensor::from_vec(v, &[n, 2]).unwrap(), (0..n).collect()).unwrap()
}

fn check_rows(x: &Tensor<f32>, labels: &[usize]) {
    assert_eq!(x.shape(), &[labels.len(), 2]);
    for (r, &l) in labels.iter().enumerate() {
        assert_eq!(x.get(&[r, 0]).unwrap(), l as f32);
        assert_eq!(x.get(&[r, 1]).unwrap(), 10.0 * l as f32);
    }
}

fn epoch_labels(loader: &DataLoader<f32>, e: u64) -> Vec<Vec<usize>> {
    loader
        .epoch(e)
        .map(|(x, y)| {
            check_rows(&x, &y);
            y
        })
        .collect()
}

#[test]
fn unshuffled_batches_are_in_order_with_a_short_last_one() {
    let loader = DataLoader::new(numbered(10), 4).unwrap();
    assert_eq!(loader.num_batches(), 3);
    assert_eq!(loader.epoch(0).len(), 3);
    let batches = epoch_labels(&loader, 0);
    assert_eq!(
        batches,
        vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]
    );
    let dropped = DataLoader::new(numbered(10), 4).unwrap().drop_last(true);
    assert_eq!(dropped.num_batches(), 2);
    assert_eq!(dropped.num_samples(), 8);
    assert_eq!(
        epoch_labels(&dropped, 0).concat(),
        (0..8).collect::<Vec<_>>()
    );
}

#[test]
fn shuffled_epochs_are_permutations_seeded_by_seed_and_epoch() {
    let loader = DataLoader::new(numbered(103), 16).unwrap().shuffle(42);
    let e0 = epoch_labels(&loader, 0);
    let e1 = epoch_labels(&loader, 1);
    assert_eq!(e0.len(), 7);
    assert_eq!(e0[6].len(), 103 - 96);
    for e in [&e0, &e1] {
        let mut all = e.concat();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
    }
    assert_ne!(e0, e1, "each epoch must have its own order");
    assert_ne!(e0.concat(), (0..103).collect::<Vec<_>>());
    // The same (seed, epoch) repeats exactly, also from a fresh loader (resuming a run).
    let again = DataLoader::new(numbered(103), 16).unwrap().shuffle(42);
    assert_eq!(epoch_labels(&again, 1), e1);
    let other = DataLoader::new(numbered(103), 16).unwrap().shuffle(43);
    assert_ne!(epoch_labels(&other, 0), e0);
}

#[test]
fn drop_last_with_shuffle_keeps_full_batches_only() {
    let loader = DataLoader::new(numbered(50), 8)
        .unwrap()
        .shuffle(1)
        .drop_last(true);
    let e = epoch_labels(&loader, 3);
    assert_eq!(e.len(), 6);
    assert!(e.iter().all(|b| b.len() == 8));
    let mut seen = e.concat();
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(seen.len(), 48);
}

#[test]
fn split_is_disjoint_seeded_and_complete() {
    let data = numbered(100);
    let (train, val) = data.split(30, 5).unwrap();
    assert_eq!((train.len(), val.len()), (70, 30));
    check_rows(train.images(), train.labels());
    check_rows(val.images(), val.labels());
    let mut all = [train.labels(), val.labels()].concat();
    all.sort_unstable();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
    assert_ne!(
        val.labels(),
        (70..100).collect::<Vec<_>>().as_slice(),
        "validation is random"
    );
    let (_, val2) = data.split(30, 5).unwrap();
    assert_eq!(val2.labels(), val.labels());
    let (_, val3) = data.split(30, 6).unwrap();
    assert_ne!(val3.labels(), val.labels());
}

#[test]
fn take_subset_and_map() {
    let data = numbered(10);
    let head = data.take(3).unwrap();
    assert_eq!(head.labels(), &[0, 1, 2]);
    check_rows(head.images(), head.labels());
    assert_eq!(data.take(99).unwrap().len(), 10);
    let sub = data.subset(&[9, 0, 9]).unwrap();
    check_rows(sub.images(), sub.labels());
    let doubled = head.map_images(|x| Ok(x.mul_scalar(2.0))).unwrap();
    assert_eq!(doubled.images().get(&[2, 1]).unwrap(), 40.0);
    // Batches from a `take` view also carry the right rows.
    let loader = DataLoader::new(data.take(7).unwrap(), 3)
        .unwrap()
        .shuffle(0);
    assert_eq!(epoch_labels(&loader, 0).concat().len(), 7);
}

#[test]
fn bad_arguments_are_errors() {
    let msg = DataLoader::new(numbered(3), 0).unwrap_err().to_string();
    assert_eq!(
        msg,
        "DataLoader::new: invalid batch_size = 0: must be at least 1"
    );
    let msg = numbered(3).split(4, 0).unwrap_err().to_string();
    assert_eq!(
        msg,
        "Dataset::split: invalid n_val = 4: the dataset holds only 3 items"
    );
    let msg = numbered(3).subset(&[0, 3]).unwrap_err().to_string();
    assert_eq!(
        msg,
        "Dataset::subset: invalid index = 3: the dataset holds 3 items"
    );
    let msg = Dataset::new(Tensor::<f32>::zeros(&[4, 2]), vec![0; 3])
        .unwrap_err()
        .to_string();
    assert_eq!(
        msg,
        "Dataset::new: invalid targets = 3 labels: images of shape [4, 2] need one per item"
    );
}

/// Float targets `[i, -i, 0.5 i]` per item `i`, batched by the same loader: shuffled or
/// not, each batch's targets are those of its rows, and every item comes once per epoch,
/// in the order the label path gives for the same seed.
#[test]
fn float_targets_stay_with_their_rows() {
    let n = 7;
    let x = numbered(n).images().clone();
    let err = Dataset::new(x.clone(), Tensor::<f32>::zeros(&[n + 1, 3])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Dataset::new: invalid targets = targets of shape [8, 3]: images of shape [7, 2] need one per item"
    );
    let y: Vec<f32> = (0..n)
        .flat_map(|i| [i as f32, -(i as f32), 0.5 * i as f32])
        .collect();
    let data = Dataset::new(x, Tensor::from_vec(y, &[n, 3]).unwrap()).unwrap();
    for seed in [None, Some(3)] {
        let mut loader = DataLoader::new(data.clone(), 3).unwrap();
        let mut labels = DataLoader::new(numbered(n), 3).unwrap();
        if let Some(s) = seed {
            loader = loader.shuffle(s);
            labels = labels.shuffle(s);
        }
        let mut seen = Vec::new();
        for ((xb, yb), (_, lb)) in loader.epoch(2).zip(labels.epoch(2)) {
            let items: Vec<usize> = (0..xb.shape()[0])
                .map(|r| xb.get(&[r, 0]).unwrap() as usize)
                .collect();
            assert_eq!(items, lb, "the same order as the label path");
            for (r, &i) in items.iter().enumerate() {
                let want = [i as f32, -(i as f32), 0.5 * i as f32];
                for (k, w) in want.iter().enumerate() {
                    assert_eq!(yb.get(&[r, k]).unwrap(), *w);
                }
            }
            seen.extend(items);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..n).collect::<Vec<_>>());
    }
    let (train, val) = data.split(2, 1).unwrap();
    assert_eq!((train.len(), val.len()), (5, 2));
    assert_eq!(val.targets().shape(), &[2, 3]);
    assert_eq!(data.take(4).unwrap().targets().shape(), &[4, 3]);
}
