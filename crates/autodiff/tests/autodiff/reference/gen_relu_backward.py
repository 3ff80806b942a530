"""ReLU's gradient where the upstream gradient is NaN or infinite, as PyTorch computes it
(`threshold_backward` on the result: a select, so an off unit gives 0, never NaN).
Printed as the Rust arrays that relu_backward.rs asserts."""
import torch

x = torch.tensor([-1.0, 0.0, 2.0, float("nan"), -0.0, 1e-300], dtype=torch.float64, requires_grad=True)
g = torch.tensor([float("nan"), float("inf"), 3.0, 4.0, 5.0, float("-inf")], dtype=torch.float64)
(dx,) = torch.autograd.grad(torch.relu(x), x, g)
print("x  =", x.tolist())
print("g  =", g.tolist())
print("dx =", dx.tolist())
