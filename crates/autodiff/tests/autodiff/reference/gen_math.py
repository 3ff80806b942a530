"""PyTorch reference values and gradients for descent's element-wise math ops, in float64,
for `math_torch.rs`. Run from this directory: `python3 gen_math.py` writes
`math_reference.json` (torch 2.15 wrote the committed file).

Each case: inputs (a base tensor and whether the op sees its transpose, so strided inputs
are covered), the op's parameters, the output `y`, a random cotangent `w` and the gradient
of Σ w·y for each input. Inputs mix random values with the special ones: 0, ±inf, NaN, the
edges of each domain, halves for rounding. NaN and ±inf are written as strings.
"""
import json
import math

import torch

torch.set_default_dtype(torch.float64)


def enc(t):
    return [v if math.isfinite(v) else str(v) for v in t.detach().flatten().tolist()]


class Writer:
    """Collects cases; `add` runs the op in torch and records values and gradients."""

    def __init__(self, seed):
        self.gen = torch.Generator().manual_seed(seed)
        self.cases = []

    def rand(self, shape, lo, hi, specials=()):
        x = torch.rand(shape, generator=self.gen) * (hi - lo) + lo
        flat = x.view(-1)
        for s in specials:
            flat[torch.randint(flat.numel(), (1,), generator=self.gen)] = s
        return x

    def add(self, name, op, inputs, fn, params=None, grad=True):
        """`inputs`: (base, transposed) pairs; the op sees base.mT where transposed."""
        xs = [(b.mT if t else b).detach().requires_grad_(grad) for b, t in inputs]
        out = fn(*xs)
        y, idx = (out, None) if isinstance(out, torch.Tensor) else (out[0], out[1])
        case = {
            "name": name,
            "op": op,
            "params": params or {},
            "inputs": [{"shape": list(b.shape), "data": enc(b), "t": t} for b, t in inputs],
            "y_shape": list(y.shape),
            "y": enc(y),
        }
        if idx is not None:
            case["indices"] = idx.flatten().tolist()
        if grad:
            w = torch.randn(y.shape, generator=self.gen)
            gs = torch.autograd.grad(y, xs, w, allow_unused=True)
            case["w"] = enc(w)
            case["grads"] = [enc(g if g is not None else torch.zeros_like(x)) for g, x in zip(gs, xs)]
        self.cases.append(case)

    def write(self, path):
        with open(path, "w") as f:
            json.dump(self.cases, f, separators=(",", ":"))
            f.write("\n")


def main():
    W = Writer(23)
    inf, nan = math.inf, math.nan
    # name, torch function, (lo, hi) of the random values, special values
    unary = [
        ("log1p", torch.log1p, (-0.9, 3.0), [0.0, -1.0, -2.0, inf, nan]),
        ("expm1", torch.expm1, (-3.0, 3.0), [0.0, -inf, inf, nan, 1e-10]),
        ("log2", torch.log2, (0.1, 4.0), [0.0, -1.0, inf, nan, 1.0]),
        ("log10", torch.log10, (0.1, 4.0), [0.0, -1.0, inf, nan, 10.0]),
        ("tan", torch.tan, (-1.5, 1.5), [0.0, inf, nan]),
        ("asin", torch.asin, (-1.0, 1.0), [1.0, -1.0, 2.0, 0.0, nan]),
        ("acos", torch.acos, (-1.0, 1.0), [1.0, -1.0, -2.0, 0.0, nan]),
        ("atan", torch.atan, (-3.0, 3.0), [inf, -inf, 0.0, nan]),
        ("sinh", torch.sinh, (-3.0, 3.0), [inf, -inf, 0.0, nan]),
        ("cosh", torch.cosh, (-3.0, 3.0), [inf, -inf, 0.0, nan]),
        ("asinh", torch.asinh, (-3.0, 3.0), [inf, -inf, 0.0, nan]),
        ("acosh", torch.acosh, (1.0, 4.0), [1.0, 0.5, inf, nan]),
        ("atanh", torch.atanh, (-1.0, 1.0), [1.0, -1.0, 0.0, 2.0, nan]),
        ("rsqrt", torch.rsqrt, (0.1, 4.0), [0.0, -1.0, inf, nan]),
        ("floor", torch.floor, (-3.0, 3.0), [-0.5, 2.0, inf, nan]),
        ("ceil", torch.ceil, (-3.0, 3.0), [-0.5, 2.0, -inf, nan]),
        ("round", torch.round, (-3.0, 3.0), [0.5, 1.5, 2.5, -0.5, -2.5, inf, nan]),
        ("trunc", torch.trunc, (-3.0, 3.0), [-0.5, 2.0, inf, nan]),
        ("frac", torch.frac, (-3.0, 3.0), [-2.5, 2.0, inf, nan]),
    ]
    for name, fn, (lo, hi), specials in unary:
        for shape, t in [([2, 3], False), ([2, 2, 3], True)]:
            base = W.rand(shape, lo, hi, specials[:2])
            W.add(f"{name} {shape}{' transposed' if t else ''}", name, [(base, t)], fn)
        base = torch.cat([torch.tensor(specials), W.rand([3], lo, hi)])
        W.add(f"{name} special values", name, [(base, False)], fn)

    binary = [
        ("atan2", torch.atan2, (-2.0, 2.0), (-2.0, 2.0), [[0.0, 0.0], [inf, inf], [-inf, 1.0], [nan, 1.0], [1.0, -0.0]]),
        ("hypot", torch.hypot, (-2.0, 2.0), (-2.0, 2.0), [[0.0, 0.0], [inf, nan], [3.0, 4.0], [1e300, 1e300], [nan, 1.0]]),
        ("logaddexp", torch.logaddexp, (-3.0, 3.0), (-3.0, 3.0), [[inf, inf], [-inf, -inf], [inf, -inf], [nan, 1.0], [800.0, 800.0]]),
        ("xlogy", torch.xlogy, (-2.0, 2.0), (0.1, 3.0), [[0.0, 0.0], [0.0, -1.0], [0.0, nan], [1.0, 0.0], [2.0, -1.0], [0.0, inf]]),
    ]
    for name, fn, ra, rb, pairs in binary:
        for sa, sb, t in [([2, 3], [2, 3], False), ([2, 2, 3], [3, 1], True), ([3, 1], [2], False)]:
            a, b = W.rand(sa, *ra), W.rand(sb, *rb)
            W.add(f"{name} {sa}, {sb}{' transposed' if t else ''}", name, [(a, t), (b, False)], fn)
        a = torch.tensor([p[0] for p in pairs])
        b = torch.tensor([p[1] for p in pairs])
        W.add(f"{name} special values", name, [(a, False), (b, False)], fn)
    for weight in [0.3, 0.8, 1.0]:
        a, b = W.rand([2, 3, 4], -2.0, 2.0, [inf]), W.rand([3], -2.0, 2.0)
        W.add(f"lerp_scalar {weight}", "lerp_scalar", [(a, True), (b, False)],
              lambda a, b: torch.lerp(a, b, weight), {"weight": weight})
    a, b, w = W.rand([2, 3, 4], -2.0, 2.0), W.rand([4, 3], -2.0, 2.0), W.rand([4, 1], -0.5, 1.5, [0.5, 1.0])
    W.add("lerp tensor weight", "lerp", [(a, True), (b, False), (w, False)], torch.lerp)
    W.write("math_reference.json")


if __name__ == "__main__":
    main()
