"""PyTorch reference numbers for descent-autodiff's linear algebra (torch.linalg), on seeded
float64 inputs: values and the gradients of sum(u * out). Eigenvectors and singular vectors
are unique only up to sign, so those cases output sign-free functions of them (squares,
U·diag(S)·Vh pieces), and QR is compared with R's diagonal made positive; singular matrices give det 0 and slogdet (0, -inf).

Run from this directory:  python3 gen_linalg.py   (writes linalg.rs)
"""
import torch
from torch_cases import Writer

torch.manual_seed(0)
w = Writer("gen_linalg.py")
L = torch.linalg


def rand(*shape):
    return torch.rand(shape, dtype=torch.float64) * 2 - 1


def conditioned(*shape):
    return rand(*shape) + 3 * torch.eye(shape[-1], dtype=torch.float64)


def spd(*shape):
    x = rand(*shape)
    return x @ x.mT + torch.eye(shape[-1], dtype=torch.float64)


def positive_qr(x):
    """LAPACK's QR with signs flipped so that R's diagonal is positive: descent's convention."""
    q, r = L.qr(x)
    d = torch.sign(torch.diagonal(r, dim1=-2, dim2=-1))
    return q * d.unsqueeze(-2), r * d.unsqueeze(-1)


def sym(*shape):
    x = rand(*shape)
    return x + x.mT


for shape in [(3, 3), (2, 4, 4)]:
    w.case(f"inverse {shape}", "inverse", [conditioned(*shape)], L.inv)
    w.case(f"det {shape}", "det", [conditioned(*shape)], L.det)
    w.case(f"slogdet {shape}", "slogdet", [rand(*shape)],
           lambda x: torch.cat([t.flatten() for t in L.slogdet(x)]))
    w.case(f"cholesky {shape}", "cholesky", [spd(*shape)], L.cholesky)
    w.case(f"eigh {shape}", "eigh", [sym(*shape)],
           lambda x: torch.cat([t.flatten() for t in (L.eigh(x)[0], L.eigh(x)[1] ** 2)]))
w.case("solve [2,3,3] [3,2]", "solve", [conditioned(2, 3, 3), rand(3, 2)], L.solve)
w.case("solve [3,3] [3]", "solve", [conditioned(3, 3), rand(3)], L.solve)
w.case("solve [2,3,3] [2,3]", "solve", [conditioned(2, 3, 3), rand(2, 3)], L.solve)
for shape in [(3, 3), (4, 2), (2, 3, 2)]:
    w.case(f"qr {shape}", "qr", [rand(*shape)],
           lambda x: torch.cat([t.flatten() for t in positive_qr(x)]))
for shape in [(3, 3), (4, 2), (2, 4), (2, 3, 5)]:
    w.case(f"svd {shape}", "svd", [rand(*shape)],
           lambda x: torch.cat([t.flatten() for t in
                                (L.svd(x, full_matrices=False)[1],
                                 L.svd(x, full_matrices=False)[0] ** 2,
                                 L.svd(x, full_matrices=False)[2] ** 2)]))
    w.case(f"svdvals {shape}", "svdvals", [rand(*shape)], L.svdvals)
for ord in ["fro", "nuc", 2, -2, 1, -1, float("inf"), float("-inf")]:
    w.case(f"matrix_norm {ord}", f"matrix_norm:{ord}", [rand(2, 3, 4)],
           lambda x, ord=ord: L.matrix_norm(x, ord))
for ord in [2, 3, float("inf"), float("-inf"), 0]:
    x = rand(3, 5)
    x[0, 1] = 0.0
    w.case(f"vector_norm {ord}", f"vector_norm:{ord}", [x],
           lambda x, ord=ord: L.vector_norm(x, ord, dim=-1))

# Singular: det 0 and slogdet (0, -inf), forward only (PyTorch's gradient there goes
# through an SVD, which descent does not follow).
s = torch.tensor([[1.0, 2.0], [2.0, 4.0]], dtype=torch.float64)
w.case("det singular", "det", [s], L.det, grad=False)
w.case("slogdet singular", "slogdet", [s],
       lambda x: torch.cat([t.flatten() for t in L.slogdet(x)]), grad=False)

w.write("linalg.rs")
