"""Index lists of torch.utils.data.DistributedSampler, for sampler.rs.

Run: python3 gen_sampler.py > sampler.json

For each case (len, replicas, drop_last, shuffle, seed, epoch) it records the epoch's
order (randperm with torch's generator when shuffling, else 0..len) and every rank's
index list. The Rust test feeds the same order to ShardedSampler::indices: the order
itself comes from each framework's own generator, the arithmetic on it must agree.
"""
import json

import torch
from torch.utils.data import DistributedSampler


class Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


cases = []
for n, p, drop, shuffle, seed, epoch in [
    (10, 3, False, False, 0, 0),
    (10, 3, True, False, 0, 0),
    (10, 4, False, True, 7, 2),
    (10, 4, True, True, 7, 2),
    (2, 5, False, True, 1, 0),   # padding longer than the data: cyclic repeat
    (3, 7, False, False, 0, 0),
    (101, 4, False, True, 42, 3),
    (101, 4, True, True, 42, 3),
    (64, 2, False, True, 0, 1),
    (13, 1, False, True, 5, 0),
]:
    if shuffle:
        g = torch.Generator()
        g.manual_seed(seed + epoch)
        order = torch.randperm(n, generator=g).tolist()
    else:
        order = list(range(n))
    ranks = []
    for r in range(p):
        s = DistributedSampler(Sized(n), num_replicas=p, rank=r, shuffle=shuffle,
                               seed=seed, drop_last=drop)
        s.set_epoch(epoch)
        ranks.append(list(iter(s)))
    cases.append({"len": n, "replicas": p, "drop_last": drop, "order": order,
                  "num_samples": len(ranks[0]), "ranks": ranks})
print(json.dumps({"torch": torch.__version__, "cases": cases}))
