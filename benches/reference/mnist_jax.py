"""JAX (jit + optax) reference for the real-data MNIST epoch: the same 784-512-256-10 ReLU
MLP, Adam(lr=1e-3) with cosine annealing per epoch, batch 128, pixels scaled to [0, 1], cross-entropy, as
`mnist_torch.py`, fed the same batches in the same order and started from the same weights:
the script seeds torch as `mnist_torch.py` does, builds torch's model (which draws the
initial weights) and then draws torch's `randperm`, so both scripts see identical batches.
The training set lives on the device and each step gathers its 128 rows inside the jitted
step (as descent's loader gathers rows). Both step shapes (128 and the last batch of 96)
are compiled before the clock starts; the compile time is printed separately.

Run by hand, not in CI (needs jax, optax, torch and numpy):

    python3 benches/reference/mnist_jax.py --threads 2 [--data DIR] [--epochs 1]

`--threads 1` restricts XLA to one intra-op thread and pins the process to one core. The
last line is JSON:
{"framework":"jax","threads":..,"samples_per_second":..,"samples_per_cpu_second":..,"ms_per_step":..,"compile_seconds":..,"test_accuracy":..}
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


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
    if args.threads == 1:
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "")
            + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax
    import torch

    sys.path.insert(0, HERE)
    from mnist_torch import load

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    def images(stem):
        return load(args.data, stem).reshape(-1, 784).astype(np.float32) / 255.0

    xtr, ytr = images("train-images-idx3-ubyte"), load(args.data, "train-labels-idx1-ubyte").astype(np.int32)
    xte, yte = images("t10k-images-idx3-ubyte"), load(args.data, "t10k-labels-idx1-ubyte").astype(np.int32)

    # torch's model, built as mnist_torch.py builds it: the same initial weights, and the
    # same state of torch's generator for the shuffles below.
    tmodel = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(),
        torch.nn.Linear(512, 256), torch.nn.ReLU(),
        torch.nn.Linear(256, 10),
    )
    params = [
        (jnp.asarray(layer.weight.detach().numpy().T), jnp.asarray(layer.bias.detach().numpy()))
        for layer in tmodel if isinstance(layer, torch.nn.Linear)
    ]

    def forward(params, x):
        for i, (w, b) in enumerate(params):
            x = x @ w + b
            if i + 1 < len(params):
                x = jax.nn.relu(x)
        return x

    def loss_fn(params, x, y):
        logits = forward(params, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    # torch's CosineAnnealingLR(T_max=epochs), stepped per epoch: constant within one.
    per_epoch = -(-len(xtr) // args.batch_size)
    opt = optax.adam(lambda count: 1e-3 * (1 + jnp.cos(jnp.pi * (count // per_epoch) / args.epochs)) / 2)
    opt_state = opt.init(params)
    x_dev, y_dev = jax.device_put(xtr), jax.device_put(ytr)

    def step(params, opt_state, idx):
        x, y = jnp.take(x_dev, idx, axis=0), jnp.take(y_dev, idx, axis=0)
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    step = jax.jit(step, donate_argnums=(0, 1))
    n = len(xtr)
    sizes = sorted({args.batch_size, n % args.batch_size} - {0})
    t0 = time.perf_counter()
    compiled = {
        s: step.lower(params, opt_state, jnp.zeros(s, jnp.int32)).compile() for s in sizes
    }
    accuracy = jax.jit(lambda params, x, y: (forward(params, x).argmax(1) == y).mean())
    accuracy.lower(params, xte, yte).compile()
    compile_seconds = time.perf_counter() - t0

    seconds, cpu_seconds, samples, steps = 0.0, 0.0, 0, 0
    for epoch in range(args.epochs):
        order = torch.randperm(n).numpy().astype(np.int32)
        start, cpu = time.perf_counter(), time.process_time()
        for i in range(0, n, args.batch_size):
            idx = order[i : i + args.batch_size]
            params, opt_state, loss = compiled[len(idx)](params, opt_state, idx)
            samples += len(idx)
            steps += 1
        jax.block_until_ready(params)
        took = time.perf_counter() - start
        seconds += took
        cpu_seconds += time.process_time() - cpu
        acc = float(accuracy(params, xte, yte))
        print(f"epoch {epoch + 1}: {took:.2f}s, {n / took:.0f} samples/s, test accuracy {100 * acc:.2f}%")
    print(json.dumps({
        "framework": "jax",
        "threads": args.threads,
        "samples_per_second": round(samples / seconds, 1),
        "samples_per_cpu_second": round(samples / cpu_seconds, 1),
        "ms_per_step": round(1000 * seconds / steps, 3),
        "compile_seconds": round(compile_seconds, 2),
        "test_accuracy": round(acc, 6),
    }))


if __name__ == "__main__":
    main()
