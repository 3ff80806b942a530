"""PyTorch eager for the same work as examples/mlp_step.rs (run by hand, not in CI): ms per
training step of a 784-512-256-10 ReLU MLP, cross-entropy, Adam lr 1e-3, batch 128, synthetic
data; median over --steps after 20 warm-up steps; peak RSS. Prints one JSON line.
Usage: python3 benches/reference/mlp_step_torch.py [--threads 2] [--steps 200]"""
import argparse, json, resource, statistics, time
import torch

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=200)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256),
                                torch.nn.ReLU(), torch.nn.Linear(256, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    batches = [(torch.rand(128, 784, generator=g), torch.randint(0, 10, (128,), generator=g)) for _ in range(8)]
    times = []
    for step in range(20 + args.steps):
        x, y = batches[step % len(batches)]
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        if step >= 20:
            times.append((time.perf_counter() - t0) * 1e3)
    median = statistics.median(times)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"bench": "mlp_step_784_512_256_10_adam_b128", "framework": "torch", "threads": args.threads,
                      "median_ms": round(median, 3), "samples_per_second": round(128 / median * 1e3),
                      "peak_rss_mb": round(peak_mb)}))

if __name__ == "__main__":
    main()
