"""PyTorch eager for the same work as `examples/mlp_step.rs --model cnn` (run by hand, not in
CI): ms per training step of PyTorch's classic MNIST CNN (conv 1->32 3x3, ReLU, conv 32->64
3x3, ReLU, max-pool 2, dropout 0.25, flatten, linear 9216->128, ReLU, dropout 0.5, linear
128->10), cross-entropy, Adam lr 1e-3, synthetic data; median over --steps after 20 warm-up
steps; peak RSS. Prints one JSON line.
Usage: python3 benches/reference/cnn_torch.py [--batch 128] [--threads 1] [--steps 50]"""
import argparse, json, resource, statistics, time
import torch
from torch import nn


class Net(nn.Module):
    """The network of pytorch/examples' mnist/main.py (its names: conv1, conv2, fc1, fc2)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.nn.functional.max_pool2d(x, 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(torch.relu(self.fc1(x)))
        return self.fc2(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    b = args.batch
    batches = [(torch.rand(b, 1, 28, 28, generator=g), torch.randint(0, 10, (b,), generator=g)) for _ in range(8)]
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
    print(json.dumps({"bench": f"cnn_step_mnist_adam_b{b}", "framework": "torch", "threads": args.threads,
                      "median_ms": round(median, 3), "samples_per_second": round(b / median * 1e3),
                      "peak_rss_mb": round(peak_mb)}))


if __name__ == "__main__":
    main()
