"""Loads the weights written by `mnist --model cnn --save w.safetensors` into PyTorch's
classic MNIST CNN (the `Net` of pytorch/examples' mnist/main.py, defined in cnn_torch.py
beside this file) and prints its test accuracy on the same test images, scaled to [0, 1]
as the example scales them (no --whiten). Run by hand, not in CI; PyTorch 2.x only (the
safetensors file and the gzipped IDX files are read with the standard library).
Usage: python3 benches/reference/cnn_weights_torch.py w.safetensors [MNIST_DIR]"""
import gzip, json, os, struct, sys
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cnn_torch import Net  # noqa: E402


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        assert meta["dtype"] == "F32", f"{name}: {meta['dtype']}"
        a, b = meta["data_offsets"]
        t = torch.frombuffer(bytearray(body[a:b]), dtype=torch.float32)
        out[name] = t.reshape(meta["shape"])
    return out


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(dims)


def main():
    weights = sys.argv[1]
    data = sys.argv[2] if len(sys.argv) > 2 else os.environ["MNIST_DIR"]
    model = Net()
    model.load_state_dict(read_safetensors(weights), strict=True)
    model.eval()
    images = read_idx(os.path.join(data, "t10k-images-idx3-ubyte.gz")).float().div(255).unsqueeze(1)
    labels = read_idx(os.path.join(data, "t10k-labels-idx1-ubyte.gz")).long()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(labels), 1000):
            correct += (model(images[i:i + 1000]).argmax(1) == labels[i:i + 1000]).sum().item()
    print(json.dumps({"framework": "torch", "weights": weights, "test_images": len(labels),
                      "test_accuracy": correct / len(labels)}))


if __name__ == "__main__":
    main()
