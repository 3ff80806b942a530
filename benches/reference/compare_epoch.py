#!/usr/bin/env python3
"""One epoch of real MNIST, descent against PyTorch eager and JAX jit, alternated round by
round: `mlp_step --data DIR` (the same work per step as the two scripts, nothing else),
`mnist_torch.py` and `mnist_jax.py` (fed torch's batches; its compile time is reported apart
and not counted). Prints every round with the load average at its start, then the medians
of samples/s and of samples per CPU-second (which moves much less with the load of a shared
machine; with two threads it counts descent's spinning workers too), the ratio of the
medians and the median of the rounds' own ratios. Run by
hand (needs torch, jax, optax, numpy):

    cargo build --release --example mlp_step
    python3 benches/reference/compare_epoch.py --threads 2 --rounds 5 [--data DIR] [--no-jax]
        [--baseline PATH/TO/OTHER/mlp_step] [--bytes]

`--bytes` runs descent (not the baseline) with its training images kept as bytes and
decoded per batch (`mlp_step --bytes`, as the `mnist` example keeps them).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))


def last_json(cmd):
    """The last JSON line a command prints."""
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--data", default=os.environ.get("MNIST_DIR"))
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--baseline", help="another build of mlp_step (e.g. before a change), run in the same rounds")
    ap.add_argument("--bytes", action="store_true", help="descent keeps the training images as bytes")
    args = ap.parse_args()
    if not args.data:
        ap.error("no data directory: pass --data DIR or set MNIST_DIR")
    common = ["--threads", str(args.threads), "--data", args.data]
    runs = {
        "descent": [os.path.join(TARGET, "release", "examples", "mlp_step"), "--json", *common]
        + (["--bytes"] if args.bytes else []),
        "torch": [sys.executable, os.path.join(HERE, "mnist_torch.py"), *common],
    }
    if args.baseline:
        runs["baseline"] = [args.baseline, "--json", *common]
    if not args.no_jax:
        runs["jax"] = [sys.executable, os.path.join(HERE, "mnist_jax.py"), *common]
    rates = {name: [] for name in runs}
    per_cpu = {name: [] for name in runs}
    compile_s = []
    for i in range(args.rounds):
        load = os.getloadavg()[0]
        line = []
        for name, cmd in runs.items():
            r = last_json(cmd)
            rates[name].append(r["samples_per_second"])
            per_cpu[name].append(r["samples_per_cpu_second"])
            line.append(f"{name} {r['samples_per_second']:.0f}/s {r['samples_per_cpu_second']:.0f}/cpu-s (acc {r['test_accuracy']:.4f})")
            if name == "jax":
                compile_s.append(r["compile_seconds"])
        print(f"# round {i + 1}, load {load:.1f}: " + ", ".join(line), flush=True)
    for what, table in [("samples/s", rates), ("samples per CPU-second", per_cpu)]:
        print(f"# threads {args.threads}, {args.rounds} rounds; {what}")
        d = table["descent"]
        for name in runs:
            med = statistics.median(table[name])
            if name == "descent":
                print(f"{name:<8} {med:>10.0f}")
                continue
            paired = statistics.median(a / b for a, b in zip(d, table[name]))
            print(f"{name:<8} {med:>10.0f}   descent/{name}: {statistics.median(d) / med:.2f} (median of rounds {paired:.2f})")
    if compile_s:
        print(f"jax compile seconds (not counted): median {statistics.median(compile_s):.1f}")


if __name__ == "__main__":
    main()
