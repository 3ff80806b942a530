"""The option grid: every first-order rule descent-optim shares with torch.optim, every
combination of the options that change its arithmetic, on the lectures' four test
functions, in float64 and float32, for 200 steps of torch.optim itself (foreach=False).

Run: python3 gen_grid.py > grid.json

Each run records the iterate after steps 1, 2, 5, 10, 50, 100 and 200, and the gradient
that step used, as the hex of their IEEE bit patterns (`struct.pack('>d' | '>f')`), so the
test (`grid.rs`) can compare `to_bits()`.

The functions are written with the same operations, in the same order, as
`descent_optim::functions::TestFunction::eval` (narrow x and y, `square`, `mul_scalar`,
`rsub_scalar`, `add_scalar`, `sum`), and their gradients come from torch's autograd: both
tapes then round the same products and sums in the same order, so the gradients agree bit
for bit (the test checks it at every recorded step). `maximize` runs minimize `-f` with
maximize=True (the same trajectory as minimizing f, by the other code path).

The square root. torch's CPU `sqrt` goes through MKL's vector math (VML_HA), which is not
correctly rounded: on the machine that made grid.json, about 0.9% of float64 and 0.7% of
float32 inputs come back 1 ulp away from the IEEE square root, and which ones depends on
the code path MKL dispatches to (MKL_ENABLE_INSTRUCTIONS changes them). So every rule with
a square root (adagrad, rmsprop, adadelta, adam, adamw, nadam) is run twice:
- `sqrt: "ieee"`: torch.optim with `Tensor.sqrt` / `Tensor.sqrt_` replaced by NumPy's
  correctly rounded square root — torch's algorithm and order of roundings, with the
  square root IEEE 754 prescribes (the one Rust's `sqrt` computes). The test requires
  these bit for bit;
- `sqrt: "mkl"`: torch as shipped. The test reports how far these are and asserts they
  still differ where they did (a machine-dependent rounding, not a formula).
Rules without a square root (sgd, adamax, rprop) are run once, as shipped.
"""
import json
import struct
import sys

import numpy as np
import torch

STEPS = 200
CHECKPOINTS = [1, 2, 5, 10, 50, 100, 200]

# ---- functions: the same operations as descent's TestFunction::eval ----------------------


def parts(p):
    return p.narrow(0, 0, 1), p.narrow(0, 1, 1)


def rosenbrock(p):
    x, y = parts(p)
    valley = (y - x.square()).square() * 100.0
    return ((1.0 - x).square() + valley).sum()


def beale(p):
    x, y = parts(p)

    def term(c, yk):
        return (x * yk - x + c).square()

    y2 = y.square()
    return (term(1.5, y) + term(2.25, y2) + term(2.625, y2 * y)).sum()


def saddle(p):
    x, y = parts(p)
    return (x.square() - y.square()).sum()


def quadratic(p):
    x, y = parts(p)
    return ((x.square() * 1.0 + y.square() * 100.0) * 0.5).sum()


# (descent's TestFunction spec, torch formula, start)
FUNCTIONS = [
    ("rosenbrock", rosenbrock, [-1.2, 1.0]),
    ("beale", beale, [1.0, 1.0]),
    ("saddle", saddle, [1.0, 0.01]),
    ("quadratic:a=1,b=100", quadratic, [1.0, 1.0]),
]

# ---- the grid -------------------------------------------------------------------------------


def grid(**axes):
    """Every combination of the axes' values, as dicts."""
    out = [{}]
    for key, values in axes.items():
        out = [dict(c, **{key: v}) for c in out for v in values]
    return out


def sgd_grid():
    for c in grid(momentum=[0.0, 0.9], dampening=[0.0, 0.1], nesterov=[False, True],
                  weight_decay=[0.0, 0.01], maximize=[False, True]):
        if c["nesterov"] and (c["momentum"] == 0 or c["dampening"] != 0):
            continue  # torch refuses nesterov without momentum or with dampening
        yield c


def adam_grid(name):
    wds = [0.0, 0.01] if name == "adam" else [0.0, 0.1]
    for c in grid(amsgrad=[False, True], weight_decay=wds, maximize=[False, True]):
        yield c
    yield {"betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": wds[1]}
    if name == "adam":  # Adam(decoupled_weight_decay=True) is AdamW under Adam's name
        yield {"decoupled_weight_decay": True, "weight_decay": 0.1}
        yield {"decoupled_weight_decay": True, "weight_decay": 0.1, "amsgrad": True, "maximize": True}


RULES = [
    # (descent name, torch class, learning rate, option grid, has a square root)
    ("sgd", torch.optim.SGD, 1e-3, list(sgd_grid()), False),
    ("adagrad", torch.optim.Adagrad, 0.1,
     list(grid(lr_decay=[0.0, 0.01], initial_accumulator_value=[0.0, 0.1],
               weight_decay=[0.0, 0.01], maximize=[False, True])) + [{"eps": 1e-6}], True),
    ("rmsprop", torch.optim.RMSprop, 1e-3,
     list(grid(centered=[False, True], momentum=[0.0, 0.5], weight_decay=[0.0, 0.01],
               maximize=[False, True])) + [{"alpha": 0.9, "eps": 1e-6, "centered": True, "momentum": 0.9},
                                           # the long centered run of gen_first_order.py
                                           {"lr": 0.01, "alpha": 0.9, "centered": True, "momentum": 0.5}],
     True),
    ("adadelta", torch.optim.Adadelta, 1.0,
     list(grid(weight_decay=[0.0, 0.01], maximize=[False, True])) + [{"rho": 0.8, "eps": 1e-4}], True),
    ("adam", torch.optim.Adam, 1e-2, list(adam_grid("adam")), True),
    ("adamw", torch.optim.AdamW, 1e-2, list(adam_grid("adamw")), True),
    ("adamax", torch.optim.Adamax, 1e-2,
     list(grid(weight_decay=[0.0, 0.01], maximize=[False, True])) + [{"betas": (0.8, 0.95), "eps": 1e-4}],
     False),
    ("nadam", torch.optim.NAdam, 1e-2,
     [c for c in grid(decoupled_weight_decay=[False, True], weight_decay=[0.0, 0.01],
                      momentum_decay=[4e-3, 1e-2], maximize=[False, True])
      if not (c["decoupled_weight_decay"] and c["weight_decay"] == 0)], True),
    ("rprop", torch.optim.Rprop, 1e-2,
     list(grid(etas=[(0.5, 1.2), (0.3, 1.5)], step_sizes=[(1e-6, 50.0), (1e-3, 0.2)],
               maximize=[False, True])), False),
]


def spec(name, lr, opts):
    """descent's spec string for the same optimizer (torch's keyword names)."""
    def fmt(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, tuple):
            return "/".join(repr(float(x)) for x in v)
        return repr(float(v))
    lr = opts.get("lr", lr)
    return ",".join([f"{name}:lr={lr!r}"] + [f"{k}={fmt(v)}" for k, v in opts.items() if k != "lr"])


# ---- the square root -------------------------------------------------------------------------
MKL_SQRT, MKL_SQRT_ = torch.Tensor.sqrt, torch.Tensor.sqrt_


def ieee_sqrt(t):
    return torch.from_numpy(np.sqrt(t.detach().numpy()))


def ieee_sqrt_(t):
    return t.copy_(ieee_sqrt(t))


def use_sqrt(kind):
    torch.Tensor.sqrt, torch.Tensor.sqrt_ = (ieee_sqrt, ieee_sqrt_) if kind == "ieee" else (MKL_SQRT, MKL_SQRT_)


# ---- runs -----------------------------------------------------------------------------------


def bits(t):
    fmt = ">d" if t.dtype == torch.float64 else ">f"
    return [struct.pack(fmt, v).hex() for v in t.detach().reshape(-1).tolist()]


def run(cls, lr, opts, fn, start, dtype):
    torch.set_default_dtype(dtype)  # torch.optim keeps scalar state (NAdam's mu_product) in it
    p = torch.tensor(start, dtype=dtype, requires_grad=True)
    negate = opts.get("maximize", False)
    opt = cls([p], foreach=False, **dict({"lr": lr}, **opts))
    xs, gs = [], []
    for k in range(1, STEPS + 1):
        p.grad = None
        loss = fn(p)
        (-loss if negate else loss).backward()
        g = p.grad.detach().clone()
        opt.step()
        if not torch.isfinite(p).all():
            raise SystemExit(f"{cls.__name__} {opts} diverged at step {k}")
        if k in CHECKPOINTS:
            xs.append(bits(p))
            gs.append(bits(g))
    return xs, gs


def main():
    cases = []
    for name, cls, lr, options, has_sqrt in RULES:
        for opts in options:
            for fname, fn, start in FUNCTIONS:
                for dtype, dname in [(torch.float64, "f64"), (torch.float32, "f32")]:
                    for kind in (["ieee", "mkl"] if has_sqrt else ["mkl"]):
                        use_sqrt(kind)
                        xs, gs = run(cls, lr, opts, fn, start, dtype)
                        case = {"spec": spec(name, lr, opts), "function": fname,
                                "maximize": opts.get("maximize", False), "dtype": dname,
                                "sqrt": kind if has_sqrt else "none", "x": xs}
                        if kind != "mkl" or not has_sqrt:
                            case["g"] = gs
                        cases.append(case)
    use_sqrt("mkl")
    json.dump({"script": "gen_grid.py", "torch": torch.__version__, "steps": STEPS,
               "checkpoints": CHECKPOINTS,
               "starts": {f: s for f, _, s in FUNCTIONS}, "cases": cases},
              sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
