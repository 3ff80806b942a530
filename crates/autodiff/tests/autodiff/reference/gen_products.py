"""PyTorch reference numbers for descent-autodiff's products: matmul with 1-D operands,
dot, outer and einsum, on seeded float64 inputs, some with 0, ±inf and NaN entries.

Run from this directory:  python3 gen_products.py   (writes products.rs)
"""
import torch
from torch_cases import Writer

torch.manual_seed(0)
w = Writer("gen_products.py")


def rand(*shape):
    return torch.rand(shape, dtype=torch.float64) * 2 - 1


for sa, sb in [((3,), (3, 2)), ((2, 3), (3,)), ((4,), (4,)), ((2, 3, 4), (4,)),
               ((4,), (2, 4, 3)), ((2, 1, 3, 4), (3, 4, 2)), ((5, 7), (7, 6))]:
    w.case(f"matmul {sa} {sb}", "matmul", [rand(*sa), rand(*sb)], torch.matmul)
w.case("dot", "dot", [rand(5), rand(5)], torch.dot)
w.case("outer", "outer", [rand(3), rand(4)], torch.outer)

EINSUMS = [
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ij,kj->ik", [(3, 4), (5, 4)]),
    ("ij,jk", [(3, 4), (4, 2)]),
    ("bij,jk->bki", [(2, 3, 4), (4, 2)]),
    ("abc,cd->abd", [(2, 3, 4), (4, 5)]),
    ("ijk,jkl->il", [(2, 3, 2), (3, 2, 4)]),
    ("i,j->ij", [(3,), (4,)]),
    ("i,i->", [(6,), (6,)]),
    ("ij,ij->i", [(3, 2), (3, 2)]),
    ("iij,jk->ik", [(3, 3, 2), (2, 4)]),
    ("bi,bj->bij", [(2, 3), (2, 4)]),
    ("ij->ji", [(3, 4)]),
    ("ii", [(4, 4)]),
    ("ii->i", [(4, 4)]),
    ("ijk->j", [(2, 3, 4)]),
    ("ba", [(2, 3)]),
]
for spec, shapes in EINSUMS:
    xs = [rand(*s) for s in shapes]
    w.case(f"einsum {spec}", f"einsum:{spec}", xs, lambda *v, spec=spec: torch.einsum(spec, *v))

# Special values: a zero row, ±inf and NaN entries, through matmul, dot, outer and einsum.
a = rand(3, 4)
a[0] = 0.0
a[1, 2] = float("inf")
a[2, 0] = float("nan")
b = rand(4, 2)
b[3, 1] = float("-inf")
w.case("matmul with 0, inf, nan", "matmul", [a, b], torch.matmul)
w.case("einsum ij,jk->ik with 0, inf, nan", "einsum:ij,jk->ik", [a, b],
       lambda x, y: torch.einsum("ij,jk->ik", x, y))
v = rand(4)
v[1] = float("inf")
w.case("dot with inf", "dot", [v, rand(4)], torch.dot)
v2 = rand(3)
v2[0] = float("nan")
w.case("outer with nan", "outer", [v2, rand(2)], torch.outer)

w.write("products.rs")
