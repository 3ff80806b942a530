//! `ShardedSampler` against `torch.utils.data.DistributedSampler` (numbers from
//! `reference/gen_sampler.py`), and `shard_range` against its definition.

use descent_distributed::{shard_range, ShardedSampler};
use serde_json::Value;

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

#[test]
fn index_lists_match_torch_distributed_sampler() {
    let json: Value = serde_json::from_str(include_str!("reference/sampler.json")).unwrap();
    for case in json["cases"].as_array().unwrap() {
        let n = case["len"].as_u64().unwrap() as usize;
        let p = case["replicas"].as_u64().unwrap() as usize;
        let drop = case["drop_last"].as_bool().unwrap();
        let order = usizes(&case["order"]);
        for (rank, want) in case["ranks"].as_array().unwrap().iter().enumerate() {
            let s = ShardedSampler::new(n, p, rank, drop).unwrap();
            assert_eq!(
                s.num_samples(),
                case["num_samples"].as_u64().unwrap() as usize
            );
            assert_eq!(
                s.indices(&order).unwrap(),
                usizes(want),
                "len {n}, {p} ranks, drop_last {drop}, rank {rank}"
            );
        }
    }
}

#[test]
fn every_example_once_per_epoch_across_ranks() {
    for n in 1..40 {
        for p in 1..7 {
            let order: Vec<usize> = (0..n).rev().collect();
            for drop in [false, true] {
                if drop && n < p {
                    assert!(ShardedSampler::new(n, p, 0, drop).is_err());
                    continue;
                }
                let mut seen = vec![0usize; n];
                for r in 0..p {
                    for i in ShardedSampler::new(n, p, r, drop)
                        .unwrap()
                        .indices(&order)
                        .unwrap()
                    {
                        seen[i] += 1;
                    }
                }
                let total: usize = seen.iter().sum();
                assert_eq!(total % p, 0, "n {n} p {p}");
                if drop {
                    assert!(
                        seen.iter().all(|&c| c <= 1) && total == n / p * p,
                        "n {n} p {p}"
                    );
                } else {
                    assert!(
                        seen.iter().all(|&c| c >= 1),
                        "n {n} p {p}: an example was never seen"
                    );
                    assert_eq!(total, n.div_ceil(p) * p);
                }
            }
        }
    }
}

#[test]
fn bad_sampler_arguments_are_errors_naming_them() {
    let e = ShardedSampler::new(10, 2, 2, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("rank = 2"), "{e}");
    let e = ShardedSampler::new(10, 0, 0, false)
        .unwrap_err()
        .to_string();
    assert!(e.contains("replicas = 0"), "{e}");
    let s = ShardedSampler::new(10, 2, 0, false).unwrap();
    let e = s.indices(&[0, 1, 2]).unwrap_err().to_string();
    assert!(e.contains("expected 10, got 3"), "{e}");
}

#[test]
fn shards_are_contiguous_disjoint_and_balanced() {
    for n in 0..30 {
        for p in 1..8 {
            let mut next = 0;
            for r in 0..p {
                let s = shard_range(n, p, r).unwrap();
                assert_eq!(s.start, next);
                assert!(s.len() == n / p || s.len() == n / p + 1);
                next = s.end;
            }
            assert_eq!(next, n);
        }
    }
    assert!(shard_range(5, 2, 2).is_err());
}
