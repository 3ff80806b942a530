"""Peak memory of PyTorch's classic MNIST CNN training run, for the same work as
`examples/mnist.rs --model cnn` (run by hand, not in CI): the real MNIST files read into uint8
tensors as torchvision keeps them, each batch of 64 converted to float and normalized, Adam
lr 1e-3, then the test set evaluated in batches of 1000 as pytorch/examples' mnist/main.py
does; prints one JSON line with the peak RSS (the maximum over the process's life).
Usage: python3 benches/reference/cnn_run_torch.py --data DIR [--steps 938] [--threads 1]"""
import argparse, json, resource, time
import torch
from cnn_torch import Net
from mnist_torch import load


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--steps", type=int, default=938, help="training steps (938: one epoch of batch 64)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    idx = lambda stem: torch.from_numpy(load(args.data, stem).copy())
    xs, ys = idx("train-images-idx3-ubyte"), idx("train-labels-idx1-ubyte").long()
    xt, yt = idx("t10k-images-idx3-ubyte"), idx("t10k-labels-idx1-ubyte").long()
    norm = lambda x: ((x.float() / 255.0) - 0.1307).div(0.3081).unsqueeze(1)
    model = Net()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    perm = torch.randperm(len(xs))
    t0 = time.perf_counter()
    model.train()
    for step in range(args.steps):
        i = perm[(step * 64) % len(xs):][:64]
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(norm(xs[i])), ys[i]).backward()
        opt.step()
    train_s = time.perf_counter() - t0
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, len(xt), 1000):
            correct += (model(norm(xt[s:s + 1000])).argmax(1) == yt[s:s + 1000]).sum().item()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"bench": "cnn_run_mnist_peak_rss", "framework": "torch", "steps": args.steps,
                      "train_seconds": round(train_s, 1), "test_accuracy": correct / len(xt),
                      "peak_rss_mb": round(peak_mb)}))


if __name__ == "__main__":
    main()
