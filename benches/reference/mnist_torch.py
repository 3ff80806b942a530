"""PyTorch eager reference for `cargo run --release --example mnist`: the same 784-512-256-10
ReLU MLP, Adam(lr=1e-3) with cosine annealing stepped per epoch (the example's default
schedule), batch 128, shuffled, pixels scaled to [0, 1], cross-entropy, for one epoch (by
default) on MNIST, printing the training throughput as the example's --json does.

Run by hand, not in CI (needs torch and numpy):

    python3 benches/reference/mnist_torch.py --threads 2 [--data DIR] [--epochs 1]

The data directory is --data, else $MNIST_DIR (the IDX files, gzipped or not). The last
line is JSON:
{"framework":"torch","threads":..,"samples_per_second":..,"samples_per_cpu_second":..,"ms_per_step":..,"test_accuracy":..}
"""

import argparse
import gzip
import json
import os
import time

import numpy as np
import torch


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    ndims = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndims).reshape(dims)


def load(data_dir, stem):
    for name in (stem + ".gz", stem):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return read_idx(path)
    raise FileNotFoundError(f"{data_dir}: no {stem}[.gz]")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.environ.get("MNIST_DIR"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not args.data:
        ap.error("no data directory: pass --data DIR or set MNIST_DIR")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    def images(stem):
        x = load(args.data, stem).reshape(-1, 784).astype(np.float32) / 255.0
        return torch.from_numpy(x)

    xtr, ytr = images("train-images-idx3-ubyte"), torch.from_numpy(load(args.data, "train-labels-idx1-ubyte").astype(np.int64))
    xte, yte = images("t10k-images-idx3-ubyte"), torch.from_numpy(load(args.data, "t10k-labels-idx1-ubyte").astype(np.int64))

    model = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.epochs)
    loss_fn = torch.nn.CrossEntropyLoss()

    seconds, cpu_seconds, samples, steps = 0.0, 0.0, 0, 0
    for epoch in range(args.epochs):
        model.train()
        order = torch.randperm(len(xtr))
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(0, len(xtr), args.batch_size):
            idx = order[i : i + args.batch_size]
            x, y = xtr[idx], ytr[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            opt.step()
            samples += len(idx)
            steps += 1
        took = time.perf_counter() - start
        seconds += took
        cpu_seconds += time.process_time() - cpu
        sched.step()
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        print(f"epoch {epoch + 1}: {took:.2f}s, {len(xtr) / took:.0f} samples/s, test accuracy {100 * acc:.2f}%")
    print(json.dumps({
        "framework": "torch",
        "threads": args.threads,
        "samples_per_second": round(samples / seconds, 1),
        "samples_per_cpu_second": round(samples / cpu_seconds, 1),
        "ms_per_step": round(1000 * seconds / steps, 3),
        "test_accuracy": round(acc, 6),
    }))


if __name__ == "__main__":
    main()
