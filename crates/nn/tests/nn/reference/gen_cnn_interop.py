"""Writes the reference files of crates/nn/tests/nn/cnn_interop.rs (run by hand:
`python3 gen_cnn_interop.py` in this directory; PyTorch 2.x, no other package):

  cnn.safetensors     the state_dict of PyTorch's classic MNIST CNN (pytorch/examples'
                      mnist/main.py `Net`: conv1, conv2, fc1, fc2), torch.manual_seed(0)
  cnn_io.safetensors  `input`, four 1x28x28 images in [0, 1), and `logits`, the model's
                      eval-mode output on them (float32, dropout off)

safetensors is written by hand (an 8-byte little-endian header length, a JSON header of
dtype, shape and byte offsets, then the raw little-endian bytes), so the `safetensors`
package is not needed."""
import json, struct
import torch
from torch import nn


class Net(nn.Module):
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


def save_safetensors(tensors, path):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(0)
    model = Net().eval()
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        logits = model(x)
    save_safetensors(model.state_dict(), "cnn.safetensors")
    save_safetensors({"input": x, "logits": logits}, "cnn_io.safetensors")
    print({k: list(v.shape) for k, v in model.state_dict().items()})


if __name__ == "__main__":
    main()
