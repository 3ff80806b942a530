"""PyTorch reference values, positions and gradients for descent's reductions, scans and
order-selecting ops, in float64, for `scan_torch.rs`. Run from this directory:
`python3 gen_scan.py` writes `scan_reference.json` (torch 2.15 wrote the committed file),
in the format of `gen_math.py`.

Inputs hold zeros (one and several per line, for the gradients of prod and cumprod),
constant lines (zero std), ±inf, NaN and ties. topk, kthvalue and median leave the order of
ties unspecified, so their inputs have none; sort (stable) and max/min (first position) are
tested on ties.
"""
import math

import torch

from gen_math import Writer

torch.set_default_dtype(torch.float64)
inf, nan = math.inf, math.nan
T = torch.tensor


def main():
    W = Writer(29)
    zeros = T([[0.5, -1.5, 0.7, 1.2], [0.0, 0.9, 0.0, 1.1], [0.0, 0.8, -0.6, 1.3], [1.1, 0.9, 1.3, 0.0]])
    rand = W.rand([2, 3, 4], -1.5, 1.5)
    for dim, keep in [(1, False), (0, True), (-1, False)]:
        p = {"dims": [dim], "keepdim": keep}
        W.add(f"prod zeros dim {dim}", "prod", [(zeros, False)], lambda x: torch.prod(x, dim, keep), p)
        W.add(f"prod transposed dim {dim}", "prod", [(rand, True)], lambda x: torch.prod(x, dim, keep), p)
    for x, name in [(zeros[0], "no zero"), (zeros[2], "one zero"), (zeros[1], "two zeros")]:
        W.add(f"prod all, {name}", "prod", [(x.reshape(2, 2), True)], torch.prod, {"dims": [], "keepdim": False})

    flat = T([[1.0, -2.0, 0.5, 3.0], [2.0, 2.0, 2.0, 2.0], [0.3, 0.1, -0.4, 0.2]])
    for c in [0, 1, 2]:
        for dims, keep in [([1], False), ([0], True), ([], False)]:
            W.add(f"std correction {c} dims {dims}", "std", [(flat, False)],
                  lambda x: torch.std(x, dim=dims or None, correction=c, keepdim=keep),
                  {"dims": dims, "keepdim": keep, "correction": c})
    W.add("std transposed dims [0, 2]", "std", [(rand, True)],
          lambda x: torch.std(x, dim=(0, 2), correction=1, keepdim=True),
          {"dims": [0, 2], "keepdim": True, "correction": 1})

    scan_in = T([[0.5, -1.5, 0.7, 1.2, 0.3], [0.0, 0.9, 0.0, 1.1, 2.0], [0.8, 0.0, -0.6, 1.3, 0.7], [1.1, 0.9, 1.3, -0.7, 0.0]])
    lse_in = T([[0.5, -1.5, 700.0, 1.2, 0.3], [-inf, -inf, 0.0, 1.1, -inf], [0.8, inf, -0.6, inf, 0.7], [1.1, nan, 1.3, -0.7, 0.0]])
    for op, fn, x in [("cumsum", torch.cumsum, scan_in), ("cumprod", torch.cumprod, scan_in), ("logcumsumexp", torch.logcumsumexp, lse_in)]:
        for dim in [1, 0]:
            W.add(f"{op} dim {dim}", op, [(x, False)], lambda x: fn(x, dim), {"dim": dim})
        W.add(f"{op} transposed dim -1", op, [(rand, True)], lambda x: fn(x, -1), {"dim": -1})
        W.add(f"{op} dim 1 of [2, 3, 4]", op, [(rand, False)], lambda x: fn(x, 1), {"dim": 1})

    ties = T([[1.0, 3.0, 3.0, -1.0, nan, 1.0], [inf, 2.0, -inf, 2.0, 0.0, -0.0], [nan, 5.0, nan, 5.0, 1.0, 5.0]])
    for desc in [False, True]:
        for dim in [1, 0]:
            W.add(f"sort stable desc={desc} dim {dim}", "sort", [(ties, False)],
                  lambda x: torch.sort(x, dim=dim, descending=desc, stable=True),
                  {"dim": dim, "descending": desc})
        W.add(f"sort desc={desc} transposed", "sort", [(rand, True)],
              lambda x: torch.sort(x, dim=1, descending=desc, stable=True), {"dim": 1, "descending": desc})
    for op, fn in [("max_dim", torch.max), ("min_dim", torch.min)]:
        for dim, keep in [(1, False), (0, True)]:
            W.add(f"{op} ties dim {dim}", op, [(ties, False)], lambda x: fn(x, dim, keep), {"dim": dim, "keepdim": keep})
        W.add(f"{op} transposed", op, [(rand, True)], lambda x: fn(x, 2, False), {"dim": 2, "keepdim": False})

    distinct = T([[1.0, 3.5, 3.0, -1.0, nan, 1.5], [inf, 2.0, -inf, 2.5, 0.0, -0.5], [4.0, 5.0, 0.1, 5.5, 1.0, 6.0]])
    for k, dim, largest in [(2, 1, True), (3, 1, False), (1, 0, True), (6, 1, True), (0, 1, True)]:
        W.add(f"topk {k} dim {dim} largest={largest}", "topk", [(distinct, False)],
              lambda x: torch.topk(x, k, dim, largest), {"k": k, "dim": dim, "largest": largest})
    W.add("topk transposed", "topk", [(rand, True)], lambda x: torch.topk(x, 2, 1), {"k": 2, "dim": 1, "largest": True})
    for k, dim, keep in [(1, 1, False), (3, 1, True), (6, 1, False), (2, 0, False)]:
        W.add(f"kthvalue {k} dim {dim}", "kthvalue", [(distinct, False)],
              lambda x: torch.kthvalue(x, k, dim, keep), {"k": k, "dim": dim, "keepdim": keep})
    W.add("kthvalue transposed", "kthvalue", [(rand, True)], lambda x: torch.kthvalue(x, 2, 1), {"k": 2, "dim": 1, "keepdim": False})
    for dim, keep in [(1, False), (0, True)]:
        W.add(f"median dim {dim}", "median", [(distinct, False)], lambda x: torch.median(x, dim, keep), {"dim": dim, "keepdim": keep})
    W.add("median odd, NaNs", "median", [(T([[3.0, nan, 1.0, nan, 2.0], [3.0, -1.0, 1.0, 7.0, 2.0]]), False)],
          lambda x: torch.median(x, 1), {"dim": 1, "keepdim": False})
    W.add("median transposed", "median", [(rand, True)], lambda x: torch.median(x, 1), {"dim": 1, "keepdim": False})

    logic = T([[0.0, -0.0, 0.0], [nan, 0.0, 1.0], [2.0, -3.0, inf]])
    for op, fn in [("any", torch.any), ("all", torch.all)]:
        for dim, keep in [(1, False), (0, True)]:
            W.add(f"{op} dim {dim}", op, [(logic, False)], lambda x: fn(x, dim, keep).double(),
                  {"dims": [dim], "keepdim": keep}, grad=False)
    for dims in [[1], [0], []]:
        W.add(f"count_nonzero dims {dims}", "count_nonzero", [(logic, True)],
              lambda x: torch.count_nonzero(x, dim=dims or None).double(), {"dims": dims}, grad=False)
    W.write("scan_reference.json")


if __name__ == "__main__":
    main()
