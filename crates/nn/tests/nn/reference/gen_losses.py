"""PyTorch values and gradients of the losses and their options, in float64, for
`losses.rs` (the `losses_torch` tests).

Run from this directory: `python3 gen_losses.py > losses.rs`. Each case has up to three
differentiable inputs a, b, c (input, target, variance …), constants k (a ±1 target or
weights) and labels, drawn here with ties, zeros and kinks mixed in; y = loss under each
reduction, grad_* = d(Σ y·w)/d(input) for a random cotangent w (empty where not compared:
class labels, or where torch gives no gradient).
"""
import math
import random

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
rng = random.Random(29)


def rand(shape, lo=-2.0, hi=2.0, special=()):
    n = math.prod(shape)
    v = [rng.uniform(lo, hi) for _ in range(n)]
    for s in special:
        v[rng.randrange(n)] = s
    return torch.tensor(v).reshape(shape)


def signs(n):
    return torch.tensor([rng.choice([1.0, -1.0]) for _ in range(n)])


def labels(n, c, ignore=None):
    out = [rng.randrange(c) for _ in range(n)]
    if ignore is not None:
        out[0] = ignore
    return out


CASES = []


def add(name, f, a, b=None, c=None, k=None, lab=()):
    """f(a, b, c, k, labels, reduction) -> loss; one case per reduction."""
    for red in ["none", "mean", "sum"]:
        ins = [t.clone().requires_grad_(True) if t is not None else None for t in (a, b, c)]
        y = f(*ins, k, torch.tensor(list(lab), dtype=torch.long), red)
        w = torch.tensor([rng.uniform(-1, 1) for _ in range(y.numel())]).reshape(y.shape)
        grads = []
        for t in ins:
            if t is None:
                grads.append([])
                continue
            (g,) = torch.autograd.grad((y * w).sum(), t, retain_graph=True, allow_unused=True)
            grads.append([] if g is None else g.flatten().tolist())
        CASES.append((name, red, [a, b, c], k, list(lab), y, w, grads))


X34 = lambda: rand([3, 4], special=[0.0])
add("l1", lambda a, b, c, k, l, r: F.l1_loss(a, b, reduction=r), *(lambda a: (a, a.clone().add_(rand([3, 4]) * (rand([3, 4]) > 0))))(X34()))
add("smooth_l1 beta=0.5", lambda a, b, c, k, l, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.5),
    torch.tensor([0.5, -0.5, 0.0, 0.2, 3.0, -1.0]), torch.zeros(6))
add("smooth_l1 beta=0", lambda a, b, c, k, l, r: F.smooth_l1_loss(a, b, reduction=r, beta=0.0), X34(), X34())
add("huber delta=1.5", lambda a, b, c, k, l, r: F.huber_loss(a, b, reduction=r, delta=1.5), X34(), X34())
add("margin_ranking margin=0.2", lambda a, b, c, k, l, r: F.margin_ranking_loss(a, b, k, margin=0.2, reduction=r),
    torch.tensor([0.2, 1.0, -1.0, 0.5, 0.3, -0.7]), torch.tensor([0.0, 0.5, 0.5, -1.0, 0.3, 0.1]),
    k=torch.tensor([1.0, -1.0, 1.0, -1.0, 1.0, -1.0]))
add("hinge_embedding margin=1", lambda a, b, c, k, l, r: F.hinge_embedding_loss(a, k, margin=1.0, reduction=r),
    torch.tensor([1.0, 0.5, -0.3, 2.0, 0.0, 1.5]), k=torch.tensor([-1.0, -1.0, 1.0, -1.0, 1.0, 1.0]))
for p in [1, 2]:
    add(f"multi_margin p={p}", lambda a, b, c, k, l, r, p=p: F.multi_margin_loss(a, l, p=p, margin=1.0, reduction=r),
        rand([4, 5]), lab=labels(4, 5))
add("multi_margin weight", lambda a, b, c, k, l, r: F.multi_margin_loss(a, l, margin=0.5, weight=k, reduction=r),
    rand([4, 5]), k=rand([5], 0.1, 2.0), lab=labels(4, 5))
add("cosine_embedding margin=0.1", lambda a, b, c, k, l, r: F.cosine_embedding_loss(a, b, k, margin=0.1, reduction=r),
    rand([4, 3]), rand([4, 3]), k=signs(4))
add("poisson_nll", lambda a, b, c, k, l, r: F.poisson_nll_loss(a, b, reduction=r), X34(), rand([3, 4], 0, 4).round())
add("poisson_nll no_log full", lambda a, b, c, k, l, r: F.poisson_nll_loss(a, b, log_input=False, full=True, reduction=r),
    rand([3, 4], 0.1, 3.0), torch.tensor([0.0, 1.0, 2.0, 5.0, 0.5, 1.5, 3.0, 0.0, 7.0, 1.0, 2.5, 4.0]).reshape(3, 4))
add("gaussian_nll", lambda a, b, c, k, l, r: F.gaussian_nll_loss(a, b, c, reduction=r),
    X34(), X34(), rand([3, 4], 0.1, 2.0, special=[1e-8]))
add("gaussian_nll var [3, 1] full", lambda a, b, c, k, l, r: F.gaussian_nll_loss(a, b, c, full=True, reduction=r),
    X34(), X34(), rand([3, 1], 0.1, 2.0))
add("gaussian_nll var [3]", lambda a, b, c, k, l, r: F.gaussian_nll_loss(a, b, c, reduction=r),
    X34(), X34(), rand([3], 0.1, 2.0))
add("cross_entropy", lambda a, b, c, k, l, r: F.cross_entropy(a, l, reduction=r), rand([4, 5]), lab=labels(4, 5))
add("cross_entropy weight", lambda a, b, c, k, l, r: F.cross_entropy(a, l, weight=k, reduction=r),
    rand([4, 5]), k=rand([5], 0.1, 2.0), lab=labels(4, 5))
add("cross_entropy ignore=2", lambda a, b, c, k, l, r: F.cross_entropy(a, l, ignore_index=2, reduction=r),
    rand([4, 5]), lab=labels(4, 5, ignore=2))
add("cross_entropy smoothing=0.1", lambda a, b, c, k, l, r: F.cross_entropy(a, l, label_smoothing=0.1, reduction=r),
    rand([4, 5]), lab=labels(4, 5))
add("cross_entropy weight ignore=2 smoothing=0.2 [2, 3, 2, 2]",
    lambda a, b, c, k, l, r: F.cross_entropy(a, l.reshape(2, 2, 2), weight=k, ignore_index=2, label_smoothing=0.2, reduction=r),
    rand([2, 3, 2, 2]), k=rand([3], 0.1, 2.0), lab=labels(8, 3, ignore=2))
add("nll_loss weight ignore=1 [2, 3, 4]",
    lambda a, b, c, k, l, r: F.nll_loss(a, l.reshape(2, 4), weight=k, ignore_index=1, reduction=r),
    rand([2, 3, 4]), k=rand([3], 0.1, 2.0), lab=labels(8, 3, ignore=1))
add("bce weight", lambda a, b, c, k, l, r: F.binary_cross_entropy(a, b, weight=k, reduction=r),
    rand([3, 4], 0.05, 0.95), rand([3, 4], 0.0, 1.0), k=rand([4], 0.1, 2.0))
add("bce_with_logits weight pos_weight",
    lambda a, b, c, k, l, r: F.binary_cross_entropy_with_logits(a, b, weight=k[:4], pos_weight=k[4:], reduction=r),
    rand([3, 4], -3, 3, special=[50.0, -50.0, 0.0]), rand([3, 4], 0.0, 1.0), k=rand([8], 0.1, 2.0))
add("kl_div batchmean", lambda a, b, c, k, l, r: F.kl_div(a, b, reduction="batchmean" if r == "mean" else r),
    torch.log_softmax(rand([3, 4]), 1), torch.tensor([0.0, 0.5, 0.25, 0.25] * 3).reshape(3, 4))
add("kl_div log_target", lambda a, b, c, k, l, r: F.kl_div(a, b, reduction=r, log_target=True),
    torch.log_softmax(rand([3, 4]), 1), torch.log_softmax(rand([3, 4]), 1))


def lit(v):
    if math.isnan(v):
        return "f64::NAN"
    if math.isinf(v):
        return "f64::INFINITY" if v > 0 else "f64::NEG_INFINITY"
    return repr(float(v))


def arr(vs, f=lit):
    return "&[" + ", ".join(f(v) for v in vs) + "]"


def flat(t):
    return [] if t is None else t.flatten().tolist()


def shape(t):
    return [] if t is None else list(t.shape)


def main():
    print("// Generated by gen_losses.py (torch %s); do not edit." % torch.__version__)
    print("pub struct Case {")
    fields = ["name: &'static str", "reduction: &'static str"]
    for v in "abck":
        fields += [f"{v}: &'static [f64]", f"{v}_shape: &'static [usize]"]
    fields += ["labels: &'static [usize]", "y_shape: &'static [usize]", "y: &'static [f64]", "w: &'static [f64]",
               "grad_a: &'static [f64]", "grad_b: &'static [f64]", "grad_c: &'static [f64]"]
    for f in fields:
        print(f"    pub {f},")
    print("}")
    print("pub const CASES: &[Case] = &[")
    for name, red, (a, b, c), k, lab, y, w, grads in CASES:
        print("    Case {")
        print(f'        name: "{name}",')
        print(f'        reduction: "{red}",')
        for v, t in zip("abck", (a, b, c, k)):
            print(f"        {v}: {arr(flat(t))},")
            print(f"        {v}_shape: {arr(shape(t), str)},")
        print(f"        labels: {arr(lab, str)},")
        print(f"        y_shape: {arr(list(y.shape), str)},")
        print(f"        y: {arr(y.detach().flatten().tolist())},")
        print(f"        w: {arr(w.flatten().tolist())},")
        for v, g in zip("abc", grads):
            print(f"        grad_{v}: {arr(g)},")
        print("    },")
    print("];")


main()
