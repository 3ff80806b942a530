"""Reference trajectories for descent-optim's first-order optimizers and schedules.

Run: python3 gen_first_order.py > first_order.json   (torch, float64, foreach=False)
     python3 gen_first_order.py --float32 > first_order_f32.json
                                 (the cases torch computes, in float32, for bit-for-bit checks)

For every torch.optim optimizer and every option that changes its update rule (40 steps;
one centered RMSprop with momentum for 200, on Rosenbrock only), on two functions (Rosenbrock from (-1.2, 1); a least-squares fit with two parameters W [2,3] and
b [2]), it records the loss, the gradient and the parameters at each step. Rules that torch
does not have (the lecture forms, the Rprop variants other than iRprop-) are computed here
by naive per-element loops written from their papers' pseudo-code. `negate` cases minimize
-f with maximize=True. Schedules: the lr of each of two parameter groups at every step, from
torch.optim.lr_scheduler (LambdaLR for the lecture forms), and a scripted metric sequence for
ReduceLROnPlateau.

A rerun can differ from the committed files in the last bit of the lstsq cases (the
matmul's rounding depends on the kernel torch picks on the machine), so cases added later
were merged into the committed files, keeping the earlier cases as they were.
"""
import json
import math
import sys

import torch

FLOAT32 = "--float32" in sys.argv
torch.set_default_dtype(torch.float32 if FLOAT32 else torch.float64)
STEPS = 40

# ---- functions ------------------------------------------------------------------------
A = [[0.5, -1.0, 2.0], [1.5, 0.3, -0.7], [-0.2, 0.8, 1.1], [0.9, -0.4, 0.0], [0.1, 1.7, -1.3]]
Y = [[1.0, -0.5], [0.2, 0.7], [-1.1, 0.4], [0.6, 0.0], [0.3, -0.9]]
W0 = [[0.1, -0.2, 0.3], [0.0, 0.4, -0.1]]
B0 = [0.05, -0.05]


def rosenbrock(ps):
    (p,) = ps
    x, y = p[0], p[1]
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def lstsq(ps):
    w, b = ps
    r = torch.tensor(A) @ w.t() + b - torch.tensor(Y)
    return 0.5 * (r * r).sum()


FUNCTIONS = {
    "rosenbrock": (rosenbrock, lambda: [torch.tensor([-1.2, 1.0])]),
    "lstsq": (lstsq, lambda: [torch.tensor(W0), torch.tensor(B0)]),
}


def flat(ts):
    return [float(v) for t in ts for v in t.detach().reshape(-1).tolist()]


def loss_and_grads(fn, params, negate):
    for p in params:
        p.grad = None
    loss = fn(params)
    if negate:
        loss = -loss
    loss.backward()
    return float(loss.detach()), [p.grad.detach().clone() for p in params]


def run_torch(ctor, fname, negate, steps=STEPS):
    fn, start = FUNCTIONS[fname]
    params = [p.requires_grad_() for p in start()]
    opt = ctor(params)
    out = {"loss": [], "grads": [], "params": [flat(params)]}
    for _ in range(steps):
        loss, grads = loss_and_grads(fn, params, negate)
        out["loss"].append(loss)
        out["grads"].append(flat(grads))
        opt.step()
        out["params"].append(flat(params))
    return out


def run_naive(update, fname, negate, steps=STEPS):
    """`update(state, p, g, loss)` edits the flat lists p (params) in place."""
    fn, start = FUNCTIONS[fname]
    params = [p.requires_grad_() for p in start()]
    state = {}
    out = {"loss": [], "grads": [], "params": [flat(params)]}
    for _ in range(steps):
        loss, grads = loss_and_grads(fn, params, negate)
        g, p = flat(grads), flat(params)
        out["loss"].append(loss)
        out["grads"].append(g)
        update(state, p, g, loss)
        with torch.no_grad():
            k = 0
            for t in params:
                n = t.numel()
                t.copy_(torch.tensor(p[k : k + n]).reshape(t.shape))
                k += n
        out["params"].append(flat(params))
    return out


# ---- naive rules that torch does not have -----------------------------------------------
def sgd_dampened(lr, mu):
    def update(st, p, g, loss):
        v = st.setdefault("v", [0.0] * len(p))
        for i in range(len(p)):
            v[i] = v[i] * mu + (1 - mu) * g[i]
            p[i] = p[i] - lr * v[i]
    return update


def rmsprop_eps_inside(lr, alpha, eps):
    def update(st, p, g, loss):
        v = st.setdefault("v", [0.0] * len(p))
        for i in range(len(p)):
            v[i] = alpha * v[i] + (1 - alpha) * g[i] * g[i]
            p[i] = p[i] - lr * g[i] / math.sqrt(v[i] + eps)
    return update


def adam_eps_inside(lr, b1, b2, eps):
    def update(st, p, g, loss):
        m = st.setdefault("m", [0.0] * len(p))
        v = st.setdefault("v", [0.0] * len(p))
        t = st["t"] = st.get("t", 0) + 1
        for i in range(len(p)):
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
            mhat, vhat = m[i] / (1 - b1**t), v[i] / (1 - b2**t)
            p[i] = p[i] - lr * mhat / math.sqrt(vhat + eps)
    return update


def sign(x):
    return (x > 0) - (x < 0)


def rprop_variant(variant, lr, etas, step_sizes):
    """Igel & Hüsken (2000), Figures 1-4, per element; Δ starts at lr as in torch."""
    eminus, eplus = etas
    dmin, dmax = step_sizes

    def update(st, p, g, loss):
        n = len(p)
        prev = st.setdefault("prev", [0.0] * n)
        delta = st.setdefault("delta", [lr] * n)
        dw = st.setdefault("dw", [0.0] * n)
        worse = st.get("loss") is not None and loss > st["loss"]
        st["loss"] = loss
        for i in range(n):
            gi = g[i]
            s = prev[i] * gi
            if s > 0:
                delta[i] = min(max(delta[i] * eplus, dmin), dmax)
            elif s < 0:
                delta[i] = min(max(delta[i] * eminus, dmin), dmax)
            else:
                delta[i] = min(max(delta[i], dmin), dmax)
            if variant == "rprop-":
                p[i] -= sign(gi) * delta[i]
            elif variant == "irprop-":
                if s < 0:
                    gi = 0.0
                p[i] -= sign(gi) * delta[i]
            elif s < 0 and variant == "rprop+":
                p[i] -= dw[i]
                dw[i] = -dw[i]
                gi = 0.0
            elif s < 0 and variant == "irprop+":
                if worse:
                    p[i] -= dw[i]
                    dw[i] = -dw[i]
                else:
                    dw[i] = 0.0
                gi = 0.0
            else:  # rprop+/irprop+ without a flip
                dw[i] = -sign(gi) * delta[i]
                p[i] += dw[i]
            prev[i] = gi
    return update


O = torch.optim
# (name, spec for descent, torch constructor or naive rule, functions, negate)
CASES = [
    ("sgd", "sgd:lr=1e-3", lambda ps: O.SGD(ps, lr=1e-3, foreach=False)),
    ("sgd_momentum", "sgd:lr=2e-4,momentum=0.9", lambda ps: O.SGD(ps, lr=2e-4, momentum=0.9, foreach=False)),
    ("sgd_dampening", "sgd:lr=2e-4,momentum=0.9,dampening=0.5", lambda ps: O.SGD(ps, lr=2e-4, momentum=0.9, dampening=0.5, foreach=False)),
    ("sgd_nesterov", "sgd:lr=2e-4,momentum=0.9,nesterov=true", lambda ps: O.SGD(ps, lr=2e-4, momentum=0.9, nesterov=True, foreach=False)),
    ("sgd_weight_decay", "sgd:lr=1e-3,momentum=0.5,weight_decay=0.1", lambda ps: O.SGD(ps, lr=1e-3, momentum=0.5, weight_decay=0.1, foreach=False)),
    ("sgd_maximize", "sgd:lr=1e-3,momentum=0.5,maximize=true", lambda ps: O.SGD(ps, lr=1e-3, momentum=0.5, maximize=True, foreach=False), True),
    ("sgd_dampened_form", "sgd:lr=1e-3,momentum=0.9,momentum_form=dampened", sgd_dampened(1e-3, 0.9)),
    ("adagrad", "adagrad:lr=0.1", lambda ps: O.Adagrad(ps, lr=0.1, foreach=False)),
    ("adagrad_options", "adagrad:lr=0.1,lr_decay=0.05,initial_accumulator_value=0.3,eps=1e-6,weight_decay=0.01", lambda ps: O.Adagrad(ps, lr=0.1, lr_decay=0.05, initial_accumulator_value=0.3, eps=1e-6, weight_decay=0.01, foreach=False)),
    ("adagrad_maximize", "adagrad:lr=0.1,maximize=true", lambda ps: O.Adagrad(ps, lr=0.1, maximize=True, foreach=False), True),
    ("rmsprop", "rmsprop:lr=1e-3", lambda ps: O.RMSprop(ps, lr=1e-3, foreach=False)),
    ("rmsprop_momentum", "rmsprop:lr=1e-3,alpha=0.9,momentum=0.8,eps=1e-6", lambda ps: O.RMSprop(ps, lr=1e-3, alpha=0.9, momentum=0.8, eps=1e-6, foreach=False)),
    ("rmsprop_centered", "rmsprop:lr=1e-3,centered=true,weight_decay=0.05", lambda ps: O.RMSprop(ps, lr=1e-3, centered=True, weight_decay=0.05, foreach=False)),
    ("rmsprop_centered_momentum", "rmsprop:lr=1e-3,centered=true,momentum=0.5,maximize=true", lambda ps: O.RMSprop(ps, lr=1e-3, centered=True, momentum=0.5, maximize=True, foreach=False), True),
    # 200 steps: torch's rounding order, step for step, over a long run.
    ("rmsprop_centered_momentum_long", "rmsprop:lr=0.01,alpha=0.9,momentum=0.5,centered=true", lambda ps: O.RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.5, centered=True, foreach=False), False, {"steps": 200, "functions": ["rosenbrock"]}),
    ("rmsprop_eps_inside", "rmsprop:lr=1e-3,alpha=0.9,eps=1e-4,eps_inside=true", rmsprop_eps_inside(1e-3, 0.9, 1e-4)),
    ("adadelta", "adadelta", lambda ps: O.Adadelta(ps, foreach=False)),
    ("adadelta_options", "adadelta:lr=0.5,rho=0.8,eps=1e-4,weight_decay=0.1", lambda ps: O.Adadelta(ps, lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.1, foreach=False)),
    ("adadelta_maximize", "adadelta:lr=2.0,maximize=true", lambda ps: O.Adadelta(ps, lr=2.0, maximize=True, foreach=False), True),
    ("adam", "adam:lr=1e-2", lambda ps: O.Adam(ps, lr=1e-2, foreach=False)),
    ("adam_options", "adam:lr=5e-3,betas=0.8/0.99,eps=1e-6,weight_decay=0.1", lambda ps: O.Adam(ps, lr=5e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, foreach=False)),
    ("adam_amsgrad", "adam:lr=1e-2,amsgrad=true", lambda ps: O.Adam(ps, lr=1e-2, amsgrad=True, foreach=False)),
    ("adam_maximize", "adam:lr=1e-2,maximize=true,amsgrad=true", lambda ps: O.Adam(ps, lr=1e-2, maximize=True, amsgrad=True, foreach=False), True),
    ("adam_eps_inside", "adam:lr=1e-2,betas=0.9/0.99,eps=1e-6,eps_inside=true", adam_eps_inside(1e-2, 0.9, 0.99, 1e-6)),
    ("adamw", "adamw:lr=1e-2", lambda ps: O.AdamW(ps, lr=1e-2, foreach=False)),
    ("adamw_options", "adamw:lr=1e-2,weight_decay=0.5,amsgrad=true,betas=0.85/0.995", lambda ps: O.AdamW(ps, lr=1e-2, weight_decay=0.5, amsgrad=True, betas=(0.85, 0.995), foreach=False)),
    ("adamax", "adamax", lambda ps: O.Adamax(ps, foreach=False)),
    ("adamax_options", "adamax:lr=1e-2,betas=0.8/0.95,eps=1e-4,weight_decay=0.1,maximize=true", lambda ps: O.Adamax(ps, lr=1e-2, betas=(0.8, 0.95), eps=1e-4, weight_decay=0.1, maximize=True, foreach=False), True),
    ("nadam", "nadam:lr=1e-2", lambda ps: O.NAdam(ps, lr=1e-2, foreach=False)),
    ("nadam_options", "nadam:lr=1e-2,momentum_decay=0.01,weight_decay=0.1,betas=0.85/0.99", lambda ps: O.NAdam(ps, lr=1e-2, momentum_decay=0.01, weight_decay=0.1, betas=(0.85, 0.99), foreach=False)),
    ("nadam_decoupled", "nadam:lr=1e-2,weight_decay=0.1,decoupled_weight_decay=true,maximize=true", lambda ps: O.NAdam(ps, lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True, maximize=True, foreach=False), True),
    ("rprop", "rprop", lambda ps: O.Rprop(ps, foreach=False)),
    ("rprop_options", "rprop:lr=0.05,etas=0.3/1.5,step_sizes=1e-3/0.2,maximize=true", lambda ps: O.Rprop(ps, lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True, foreach=False), True),
    ("rprop_plus", "rprop:variant=rprop+,lr=0.05", rprop_variant("rprop+", 0.05, (0.5, 1.2), (1e-6, 50))),
    ("rprop_minus", "rprop:variant=rprop-,lr=0.05", rprop_variant("rprop-", 0.05, (0.5, 1.2), (1e-6, 50))),
    ("irprop_plus", "rprop:variant=irprop+,lr=0.05", rprop_variant("irprop+", 0.05, (0.5, 1.2), (1e-6, 50))),
    ("irprop_minus_naive", "rprop:variant=irprop-,lr=0.05,etas=0.4/1.3", rprop_variant("irprop-", 0.05, (0.4, 1.3), (1e-6, 50))),
]


def trajectories(torch_only=False):
    out = []
    for case in CASES:
        name, spec, rule = case[:3]
        negate = len(case) > 3 and case[3]
        extra = case[4] if len(case) > 4 else {}
        steps = extra.get("steps", STEPS)
        naive = not isinstance(rule, type(lambda: 0)) or rule.__name__ == "update"
        if naive and torch_only:
            continue  # the naive loops compute in Python's float64
        for fname in extra.get("functions", FUNCTIONS):
            run = run_naive if naive else run_torch
            t = run(rule, fname, negate, steps)
            t.update({"name": name, "spec": spec, "function": fname, "negate": negate,
                      "source": "naive" if naive else "torch"})
            out.append(t)
    return out


# ---- schedules ----------------------------------------------------------------------------
S = torch.optim.lr_scheduler
SCHED_STEPS = 60
BASE = [0.1, 0.02]
METRICS = [1.0, 0.9, 0.85, 0.86, 0.85, 0.851, 0.849, 0.85, 0.9, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7,
           0.69996, 0.6, 0.61, 0.62, 0.63, 0.64, 0.65, 0.66, 0.5] + [0.5] * 36

SCHEDULES = [
    ("step:step_size=7,gamma=0.5", lambda o: S.StepLR(o, step_size=7, gamma=0.5)),
    ("multistep:milestones=5/12/30,gamma=0.3", lambda o: S.MultiStepLR(o, milestones=[5, 12, 30], gamma=0.3)),
    ("exponential:gamma=0.95", lambda o: S.ExponentialLR(o, gamma=0.95)),
    ("exponential:k=0.05", lambda o: S.LambdaLR(o, lambda t: math.exp(-0.05 * t))),
    ("inverse_time:k=0.1", lambda o: S.LambdaLR(o, lambda t: 1 / (1 + 0.1 * t))),
    ("linear_decay:tau=20,final_factor=0.01", lambda o: S.LinearLR(o, start_factor=1.0, end_factor=0.01, total_iters=20)),
    ("linear_decay:tau=20,final_lr=0.001", lambda o: S.LambdaLR(o, [lambda t, b=b: ((1 - min(t / 20, 1)) * b + min(t / 20, 1) * 0.001) / b for b in BASE])),
    ("linear:start_factor=0.25,end_factor=0.75,total_iters=10", lambda o: S.LinearLR(o, start_factor=0.25, end_factor=0.75, total_iters=10)),
    ("warmup:start_factor=0.1,total_iters=8", lambda o: S.LinearLR(o, start_factor=0.1, total_iters=8)),
    ("polynomial:total_iters=40,power=2", lambda o: S.PolynomialLR(o, total_iters=40, power=2.0)),
    ("cosine:T_max=25,eta_min=0.001", lambda o: S.CosineAnnealingLR(o, T_max=25, eta_min=0.001)),
    ("linear:start_factor=0.1,total_iters=5;cosine:T_max=50", lambda o: S.ChainedScheduler([S.LinearLR(o, start_factor=0.1, total_iters=5), S.CosineAnnealingLR(o, T_max=50)])),
    ("plateau:factor=0.5,patience=2,cooldown=1,min_lr=0.004", lambda o: S.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=1, min_lr=0.004)),
    ("plateau:mode=max,factor=0.2,patience=1,threshold=0.05,threshold_mode=abs", lambda o: S.ReduceLROnPlateau(o, mode="max", factor=0.2, patience=1, threshold=0.05, threshold_mode="abs")),
]


def schedules():
    out = []
    for spec, ctor in SCHEDULES:
        ps = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
        opt = torch.optim.SGD([{"params": [ps[0]], "lr": BASE[0]}, {"params": [ps[1]], "lr": BASE[1]}])
        sched = ctor(opt)
        plateau = isinstance(sched, S.ReduceLROnPlateau)
        lrs = []
        for t in range(SCHED_STEPS):
            lrs.append([g["lr"] for g in opt.param_groups])
            opt.step()
            if plateau:
                sched.step(METRICS[t])
            else:
                sched.step()
        out.append({"spec": spec, "base_lrs": BASE, "lrs": lrs, "metrics": METRICS if plateau else None})
    return out


# ---- clipping ----------------------------------------------------------------------------
CLIP_GRADS = [[0.3, -1.2, 0.5, 2.0, -0.1, 0.7], [1.5, -0.25], [-0.8, 0.05, 0.6]]


def clips():
    out = []
    for max_norm, norm_type in [(1.0, 2.0), (0.5, math.inf), (2.0, 1.0), (1.5, 3.0), (100.0, 2.0)]:
        ps = [torch.zeros(len(g), requires_grad=True) for g in CLIP_GRADS]
        for p, g in zip(ps, CLIP_GRADS):
            p.grad = torch.tensor(g)
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type, foreach=False)
        out.append({"kind": "norm", "max_norm": max_norm, "norm_type": "inf" if math.isinf(norm_type) else norm_type,
                    "total": float(total), "grads": [p.grad.tolist() for p in ps]})
    ps = [torch.zeros(len(g), requires_grad=True) for g in CLIP_GRADS]
    for p, g in zip(ps, CLIP_GRADS):
        p.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_value_(ps, 0.55, foreach=False)
    out.append({"kind": "value", "clip_value": 0.55, "grads": [p.grad.tolist() for p in ps]})
    return out


if __name__ == "__main__" and FLOAT32:
    json.dump({"torch": torch.__version__, "steps": STEPS, "dtype": "float32",
               "functions": {"A": A, "Y": Y, "W0": W0, "B0": B0, "start": [-1.2, 1.0]},
               "cases": trajectories(torch_only=True)}, sys.stdout)
    sys.stdout.write("\n")
elif __name__ == "__main__":
    json.dump({"torch": torch.__version__, "steps": STEPS, "functions": {"A": A, "Y": Y, "W0": W0, "B0": B0, "start": [-1.2, 1.0]},
               "cases": trajectories(), "schedules": schedules(),
               "clip_grads": CLIP_GRADS, "clips": clips()}, sys.stdout)
    sys.stdout.write("\n")
