#!/usr/bin/env python3
"""NumPy (OpenBLAS) figures for the same cases as `examples/bench.rs`, as the same JSON
lines, so the two can be compared in one run:

    python3 benches/reference/numpy_gemm.py --threads 2

The thread count must reach OpenBLAS before NumPy is imported, hence the environment is
set first. Element-wise ops write into a preallocated output (`out=`), as descent's pool
hands back a warm buffer; the copy line is `np.copyto`. Median of repeated timings.
"""
import argparse
import json
import os
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--millis", type=int, default=400)
    args = ap.parse_args()
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np  # after the environment is set

    budget = args.millis / 1e3

    def time_calls(f):
        """Median wall seconds per call, and mean CPU seconds of all threads per call."""
        f()
        f()
        times = []
        cpu0 = time.process_time()
        start = time.perf_counter()
        while len(times) < 5 or (time.perf_counter() - start < budget and len(times) < 10000):
            t = time.perf_counter()
            f()
            times.append(time.perf_counter() - t)
        cpu = (time.process_time() - cpu0) / len(times)
        times.sort()
        return times[len(times) // 2], cpu

    rng = np.random.default_rng(0)

    def matrix(r, c, transposed):
        if transposed:
            return rng.uniform(-1, 1, (c, r)).astype(np.float32).T
        return rng.uniform(-1, 1, (r, c)).astype(np.float32)

    cases = [((s, s, s), False, False) for s in (64, 128, 256, 512, 1024)]
    for batch, fan_in, fan_out in ((128, 784, 512), (128, 512, 256)):
        cases += [
            ((batch, fan_in, fan_out), False, False),
            ((batch, fan_out, fan_in), False, True),
            ((fan_in, batch, fan_out), True, False),
        ]
    cases.append(((128, 256, 10), False, False))
    for (m, k, n), ta, tb in cases:
        a, b = matrix(m, k, ta), matrix(k, n, tb)
        secs, cpu = time_calls(lambda: a @ b)
        trans = ("T" if ta else "N") + ("T" if tb else "N")
        gflop = 2 * m * n * k / 1e9
        print(json.dumps({"op": "sgemm", "m": m, "n": n, "k": k, "trans": trans,
                          "threads": args.threads, "gflops": round(gflop / secs, 1),
                          "gflops_per_cpu_s": round(gflop / cpu, 1)},
                         separators=(",", ":")))

    for n in (1 << 20, 1 << 24):
        x = rng.uniform(-1, 1, n).astype(np.float32)
        y = rng.uniform(-1, 1, n).astype(np.float32)
        out = np.empty_like(x)
        for op, f, nbytes in (
            ("copy", lambda: np.copyto(out, x), 2),
            ("add", lambda: np.add(x, y, out=out), 3),
            ("mul", lambda: np.multiply(x, y, out=out), 3),
            ("exp", lambda: np.exp(x, out=out), 2),
        ):
            secs, _ = time_calls(f)
            print(json.dumps({"op": op, "n": n, "threads": args.threads,
                              "gbps": round(nbytes * n * 4 / secs / 1e9, 2)},
                             separators=(",", ":")))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
