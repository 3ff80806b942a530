"""PyTorch eager timings for the same work as benches/tape.rs (run by hand, not in CI):
a 100-op elementwise chain on 1000 elements, forward + backward, and one full-batch SGD
step of a 2-16-16-1 tanh MLP on 256 points. Prints one JSON line per case with the median
in microseconds. Usage: python3 benches/reference/tape_torch.py [--threads 2]"""
import argparse, json, statistics, time
import torch

def median_us(fn, warmup=200, reps=30, inner=100):
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - t0) / inner * 1e6)
    return statistics.median(samples)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1000, generator=g, requires_grad=True)
    w = torch.rand(1000, generator=g) * 0.2 + 0.9

    def chain_of(x, w):
        """The 100-op chain on x (ops cycling through *1.01, +0.01, tanh, *w), fwd + bwd."""
        def chain():
            h = x
            for i in range(100):
                h = h * 1.01 if i % 4 == 0 else h + 0.01 if i % 4 == 1 else torch.tanh(h) if i % 4 == 2 else h * w
            (gx,) = torch.autograd.grad(h.sum(), x)
            return gx
        return chain

    chain = chain_of(x, w)
    chain1 = chain_of(torch.full((1,), 0.5, requires_grad=True), torch.full((1,), 1.01))

    pts = torch.rand(256, 2, generator=g) * 2 - 1
    tgt = pts[:, :1] * pts[:, 1:]
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def mlp_step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(pts), tgt)
        loss.backward()
        opt.step()
        return loss

    print(json.dumps({"bench": "tape/chain_100_ops_1000_elems", "framework": "torch", "threads": args.threads, "median_us": median_us(chain)}))
    print(json.dumps({"bench": "tape/chain_100_ops_1_elem", "framework": "torch", "threads": args.threads, "median_us": median_us(chain1)}))
    print(json.dumps({"bench": "tape/mlp_2_16_16_1_sgd_step_256", "framework": "torch", "threads": args.threads, "median_us": median_us(mlp_step)}))

if __name__ == "__main__":
    main()
