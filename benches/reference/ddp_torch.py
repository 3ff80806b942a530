"""PyTorch DDP (gloo backend) on the MNIST model, for comparison with examples/mnist_ddp.rs.

Run: python3 benches/reference/ddp_torch.py --procs 2 --steps 100 [--batch 128]
 or: python3 benches/reference/ddp_torch.py --compare target/release/examples/mnist_ddp
         [--pairs 5 --steps 300 --procs 2 --batch 128] [-- extra mnist_ddp flags]

Spawns --procs processes on this machine (one thread each), wraps the 784-512-256-10 ReLU
MLP in DistributedDataParallel, and trains on random MNIST-shaped images with Adam 1e-3,
each process --batch / --procs examples of every global batch: what
`mpirun -n 2 mnist_ddp --distributed --synthetic N --max-steps S` does. Prints one JSON line
with steps per second (after 10 warm-up steps).

With --compare, alternates `mpirun -n P mnist_ddp --distributed --synthetic ...` (one
thread per process, the same global batch and step count) and this script's own run, for
--pairs pairs, and prints each pair, the medians of both, their ratio and the load average
before and after each run (`uptime`). descent's figure counts its first steps (no
warm-up is left out), so the ratio is if anything unfair to descent.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
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


def load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def last_json(out):
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def compare(args, extra):
    mpirun = ["mpirun", "--oversubscribe", "-n", str(args.procs)]
    if os.geteuid() == 0:
        mpirun.insert(1, "--allow-run-as-root")
    descent = mpirun + [args.compare, "--distributed", "--threads", "1",
                        "--synthetic", str(args.batch * (args.steps + 10)),
                        "--max-steps", str(args.steps), "--batch", str(args.batch),
                        "--json"] + extra
    torch_cmd = [sys.executable, os.path.abspath(__file__), "--procs", str(args.procs),
                 "--steps", str(args.steps), "--batch", str(args.batch),
                 "--port", str(args.port)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    rows = []
    for pair in range(args.pairs):
        row = {}
        for name, cmd in [("descent", descent), ("torch", torch_cmd)]:
            before = load()
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
            row[name] = last_json(out.stdout)["steps_per_second"]
            row[name + "_load"] = f"{before}->{load()}"
        rows.append(row)
        print(f"pair {pair + 1}: descent {row['descent']:.2f} steps/s (load {row['descent_load']}), "
              f"PyTorch DDP {row['torch']:.2f} steps/s (load {row['torch_load']}), "
              f"ratio {row['descent'] / row['torch']:.2f}", flush=True)
    d = statistics.median(r["descent"] for r in rows)
    t = statistics.median(r["torch"] for r in rows)
    ratios = [r["descent"] / r["torch"] for r in rows]
    print(json.dumps({"pairs": args.pairs, "processes": args.procs, "threads": 1,
                      "global_batch": args.batch, "steps": args.steps,
                      "descent_steps_per_second": d, "torch_steps_per_second": t,
                      "ratio_of_medians": d / t, "median_ratio": statistics.median(ratios),
                      "descent_flags": extra, "torch": torch.__version__}))


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--port", type=int, default=29517)
    p.add_argument("--compare", metavar="MNIST_DDP",
                   help="alternate runs of this mnist_ddp binary with this script's")
    p.add_argument("--pairs", type=int, default=5)
    args, extra = p.parse_known_args()
    if extra and extra[0] == "--":
        extra = extra[1:]
    if args.compare:
        compare(args, extra)
    else:
        if extra:
            p.error(f"unknown arguments {extra}")
        mp.spawn(worker, args=(args,), nprocs=args.procs)
