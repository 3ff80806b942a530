#!/usr/bin/env python3
"""Runs `examples/bench.rs` and `numpy_gemm.py` alternately, several rounds, and prints the
median of each case and the ratio descent/NumPy. On a shared machine single runs swing
with the load; alternating rounds lets both see the same conditions.

    cargo build --release --example bench
    python3 benches/reference/compare.py --threads 2 --rounds 5
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def key(rec):
    if rec["op"] == "sgemm":
        return f'sgemm {rec["m"]}x{rec["k"]}x{rec["n"]} {rec["trans"]}'
    return f'{rec["op"]} {rec.get("n", "")}'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true", help="print the medians as JSON lines")
    args = ap.parse_args()
    ours_cmd = [os.path.join(ROOT, "target/release/examples/bench"), "--json",
                "--threads", str(args.threads)]
    numpy_cmd = [sys.executable, os.path.join(HERE, "numpy_gemm.py"), "--threads", str(args.threads)]
    ours, theirs = {}, {}
    pool = None

    def collect(into, rec):
        into.setdefault(key(rec), []).append(
            (rec.get("gflops", rec.get("gbps")), rec.get("gflops_per_cpu_s") or float("nan")))

    for _ in range(args.rounds):
        for rec in run(ours_cmd):
            if rec["op"] == "pool":
                pool = rec
            else:
                collect(ours, rec)
        for rec in run(numpy_cmd):
            collect(theirs, rec)
    load = os.getloadavg()
    print(f"# threads {args.threads}, {args.rounds} rounds, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print(f'{"case":<26} {"descent":>8} {"numpy":>8} {"ratio":>6}   per CPU-second: {"descent":>8} {"numpy":>8} {"ratio":>6}')
    for k, v in ours.items():
        med = lambda rows, i: statistics.median(r[i] for r in rows)
        a, b = med(v, 0), med(theirs.get(k, [(float("nan"),) * 2]), 0)
        ac, bc = med(v, 1), med(theirs.get(k, [(float("nan"),) * 2]), 1)
        unit = "GFLOP/s" if k.startswith("sgemm") else "GB/s"
        if args.json:
            print(json.dumps({"case": k, "unit": unit, "descent": a, "numpy": b, "ratio": round(a / b, 2),
                              "descent_per_cpu_s": ac, "numpy_per_cpu_s": bc}))
        else:
            cpu = f"{ac:>8.1f} {bc:>8.1f} {ac / bc:>6.2f}" if k.startswith("sgemm") else ""
            print(f"{k:<26} {a:>8.1f} {b:>8.1f} {a / b:>6.2f}   {unit:<15} {cpu}")
    if pool:
        print("# last pool line:", json.dumps(pool, separators=(",", ":")))


if __name__ == "__main__":
    main()
