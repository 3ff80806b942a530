#!/usr/bin/env python3
"""The training-speed comparison in one command: descent's MNIST training against PyTorch
eager's, alternately for several rounds, printing the medians and the ratios. Two pairs:
one epoch on the real data (`examples/mnist.rs` vs `mnist_torch.py`, samples per second)
and the synthetic step (`examples/mlp_step.rs` vs `mlp_step_torch.py`, ms per step and
peak RSS). On a shared machine single runs swing with the load; alternating lets both
sides see the same conditions. Each pair is printed as it comes (`# round ...` lines), then
the medians, their ratio and the median of the rounds' own ratios. Run by hand (needs torch
and numpy), not in CI:

    cargo build --release --example mnist --example mlp_step
    python3 benches/reference/compare_training.py --threads 2 --rounds 3 [--data DIR]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def last_json(cmd, env):
    """The last JSON line a command prints."""
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT, env=env).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", default=os.environ.get("MNIST_DIR"))
    args = ap.parse_args()
    if not args.data:
        ap.error("no data directory: pass --data DIR or set MNIST_DIR")
    env = dict(os.environ, MNIST_DIR=args.data)
    threads = ["--threads", str(args.threads)]
    example = lambda name: os.path.join(ROOT, "target", "release", "examples", name)
    script = lambda name: [sys.executable, os.path.join(HERE, name)]
    pairs = {
        "MNIST epoch, samples/s": (
            [example("mnist"), "--epochs", "1", "--json", *threads],
            script("mnist_torch.py") + ["--epochs", "1", "--data", args.data, *threads],
            "samples_per_second",
        ),
        "synthetic step, ms": (
            [example("mlp_step"), "--json", *threads],
            script("mlp_step_torch.py") + threads,
            "median_ms",
        ),
        "synthetic step, peak RSS MB": (None, None, "peak_rss_mb"),
    }
    runs = {name: ([], []) for name in pairs}
    for i in range(args.rounds):
        for name, (ours, theirs, field) in pairs.items():
            if ours is None:
                continue
            a, b = last_json(ours, env), last_json(theirs, env)
            runs[name][0].append(a[field])
            runs[name][1].append(b[field])
            # Every pair as it comes, so that rounds from several runs can be pooled.
            print(f"# round {i + 1} {name}: descent {a[field]:.2f} torch {b[field]:.2f} ratio {a[field] / b[field]:.3f}", flush=True)
            if name.startswith("synthetic step"):
                rss = runs["synthetic step, peak RSS MB"]
                rss[0].append(a["peak_rss_mb"])
                rss[1].append(b["peak_rss_mb"])
    load = os.getloadavg()
    print(f"# threads {args.threads}, {args.rounds} alternating rounds, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f'{"":<30} {"descent":>10} {"torch":>10} {"descent/torch":>14} {"median of pair ratios":>22}')
    for name, (ours, theirs) in runs.items():
        a, b = statistics.median(ours), statistics.median(theirs)
        paired = statistics.median(x / y for x, y in zip(ours, theirs))
        print(f"{name:<30} {a:>10.2f} {b:>10.2f} {a / b:>14.2f} {paired:>22.2f}")


if __name__ == "__main__":
    main()
