"""PyTorch DDP (gloo backend) on the MNIST model, for comparison with examples/mnist_ddp.rs.

Run: python3 benches/reference/ddp_torch.py --procs 2 --steps 100 [--batch 128]

Spawns --procs processes on this machine (one thread each), wraps the 784-512-256-10 ReLU
MLP in DistributedDataParallel, and trains on random MNIST-shaped images with Adam 1e-3,
each process --batch / --procs examples of every global batch: what
`mpirun -n 2 mnist_ddp --distributed --synthetic N --max-steps S` does. Prints one JSON line
with steps per second (after 10 warm-up steps).
"""
import argparse
import json
import os
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn


def worker(rank, args):
    torch.set_num_threads(1)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(args.port)
    dist.init_process_group("gloo", rank=rank, world_size=args.procs)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(),
                        nn.Linear(256, 10))
    model = nn.parallel.DistributedDataParallel(net)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    local = args.batch // args.procs
    g = torch.Generator().manual_seed(rank)
    x = torch.rand(args.steps + 10, local, 784, generator=g)
    y = torch.randint(0, 10, (args.steps + 10, local), generator=g)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(args.steps + 10):
        if step == 10:
            dist.barrier()
            start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x[step]), y[step]).backward()
        opt.step()
    dist.barrier()
    seconds = time.perf_counter() - start
    if rank == 0:
        print(json.dumps({"framework": "pytorch-ddp-gloo", "torch": torch.__version__,
                          "processes": args.procs, "threads": 1, "steps": args.steps,
                          "steps_per_second": args.steps / seconds}))
    dist.destroy_process_group()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--port", type=int, default=29517)
    args = p.parse_args()
    mp.spawn(worker, args=(args,), nprocs=args.procs)
