"""Reference numbers for descent-nn's tests, produced by PyTorch.

Run from this directory:  python3 gen_reference.py
Writes
  mlp.safetensors  the state_dict of Linear(4,8)-BatchNorm1d(8)-ReLU-Linear(8,3) (float32)
                   after 5 SGD steps in training mode, so the running statistics and
                   num_batches_tracked are non-trivial;
  reference.rs     inputs and outputs of that model (eval and train mode, running stats
                   after the train-mode forward), a BatchNorm1d(5) in float64 followed over
                   3 training batches then evaluated, one without running statistics, and
                   values of losses and activations.
"""
import torch
import torch.nn as nn
import torch.nn.functional as Fn
from safetensors.torch import save_file

torch.manual_seed(0)
out = []


def emit(name, t, ty):
    """A Rust constant holding t's values flattened row-major (float repr round-trips)."""
    if isinstance(t, torch.Tensor):
        vals = t.detach().flatten().tolist()
    else:
        vals = list(t)
    body = ", ".join(repr(float(v)) if ty != "usize" else str(int(v)) for v in vals)
    out.append(f"pub const {name}: [{ty}; {len(vals)}] = [{body}];")


# --- The MLP written to mlp.safetensors -------------------------------------------------
model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))
opt = torch.optim.SGD(model.parameters(), lr=0.1)
model.train()
for _ in range(5):
    xb = torch.randn(16, 4) * 2 + 0.5
    yb = torch.randint(0, 3, (16,))
    opt.zero_grad()
    Fn.cross_entropy(model(xb), yb).backward()
    opt.step()
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, "mlp.safetensors")

x = torch.randn(6, 4)
emit("MLP_X", x, "f32")
model.eval()
with torch.no_grad():
    emit("MLP_EVAL_OUT", model(x), "f32")
    model.train()
    emit("MLP_TRAIN_OUT", model(x), "f32")
bn = model[1]
emit("MLP_RUNNING_MEAN_AFTER", bn.running_mean, "f32")
emit("MLP_RUNNING_VAR_AFTER", bn.running_var, "f32")
out.append(f"pub const MLP_NUM_BATCHES_AFTER: u64 = {int(bn.num_batches_tracked)};")

# --- BatchNorm1d(5), float64, momentum 0.1, over three batches of different sizes -------
bn = nn.BatchNorm1d(5, momentum=0.1).double()
with torch.no_grad():
    bn.weight.copy_(torch.linspace(0.5, 1.5, 5, dtype=torch.float64))
    bn.bias.copy_(torch.linspace(-0.2, 0.2, 5, dtype=torch.float64))
emit("BN_WEIGHT", bn.weight, "f64")
emit("BN_BIAS", bn.bias, "f64")
bn.train()
bn_batches = []
for i, n in enumerate([4, 7, 3]):
    xb = torch.randn(n, 5, dtype=torch.float64) * 3 + torch.arange(5, dtype=torch.float64)
    bn_batches.append(xb)
    emit(f"BN_X{i}", xb, "f64")
    with torch.no_grad():
        emit(f"BN_Y{i}", bn(xb), "f64")
    emit(f"BN_RUNNING_MEAN{i}", bn.running_mean, "f64")
    emit(f"BN_RUNNING_VAR{i}", bn.running_var, "f64")
bn.eval()
xe = torch.randn(4, 5, dtype=torch.float64)
emit("BN_X_EVAL", xe, "f64")
with torch.no_grad():
    emit("BN_Y_EVAL", bn(xe), "f64")

# --- Losses, float64, every reduction ---------------------------------------------------
logits = torch.randn(4, 5, dtype=torch.float64) * 2
labels = torch.tensor([1, 0, 4, 2])
probs = torch.softmax(torch.randn(4, 5, dtype=torch.float64), dim=1)
pred = torch.randn(4, 3, dtype=torch.float64)
target = torch.randn(4, 3, dtype=torch.float64)
p01 = torch.sigmoid(torch.randn(4, 3, dtype=torch.float64))
t01 = torch.rand(4, 3, dtype=torch.float64)
emit("LOSS_LOGITS", logits, "f64")
emit("LOSS_LABELS", labels, "usize")
emit("LOSS_PROBS", probs, "f64")
emit("LOSS_PRED", pred, "f64")
emit("LOSS_TARGET", target, "f64")
emit("LOSS_P01", p01, "f64")
emit("LOSS_T01", t01, "f64")
losses = {}
for red in ["mean", "sum", "none"]:
    R = red.upper()
    losses[f"CE_{R}"] = Fn.cross_entropy(logits, labels, reduction=red)
    losses[f"CE_PROBS_{R}"] = Fn.cross_entropy(logits, probs, reduction=red)
    losses[f"NLL_{R}"] = Fn.nll_loss(torch.log_softmax(logits, 1), labels, reduction=red)
    losses[f"MSE_{R}"] = Fn.mse_loss(pred, target, reduction=red)
    losses[f"BCE_{R}"] = Fn.binary_cross_entropy(p01, t01, reduction=red)
    losses[f"BCE_LOGITS_{R}"] = Fn.binary_cross_entropy_with_logits(pred, t01, reduction=red)
    losses[f"HUBER_{R}"] = Fn.huber_loss(pred, target, reduction=red, delta=0.5)
    losses[f"KL_{R}"] = Fn.kl_div(torch.log_softmax(logits, 1), probs, reduction=red)
for k, v in losses.items():
    if v.dim() == 0:
        out.append(f"pub const {k}: f64 = {repr(float(v))};")
    else:
        emit(k, v, "f64")  # reduction='none': per sample or per element
# Cross-entropy stays finite for logits of +-1e4.
big = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3]], dtype=torch.float64)
emit("CE_BIG_LOGITS", big, "f64")
out.append(f"pub const CE_BIG_SUM: f64 = {repr(float(Fn.cross_entropy(big, torch.tensor([1, 1]), reduction='sum')))};")

# --- Activations, float64 ---------------------------------------------------------------
a = torch.linspace(-4, 4, 17, dtype=torch.float64)
emit("ACT_X", a, "f64")
emit("ACT_GELU", Fn.gelu(a), "f64")
emit("ACT_ELU", Fn.elu(a, alpha=0.7), "f64")
emit("ACT_LEAKY_RELU", Fn.leaky_relu(a, 0.1), "f64")
emit("ACT_SOFTPLUS", Fn.softplus(a), "f64")
emit("ACT_SOFTSIGN", Fn.softsign(a), "f64")

# --- BatchNorm1d(5, momentum=None): running statistics as the cumulative average --------
# (last, so that the random draws above stay as they were)
bn = nn.BatchNorm1d(5, momentum=None).double()
for i, xb in enumerate(bn_batches):
    with torch.no_grad():
        bn(xb)
    emit(f"BN_CMA_RUNNING_MEAN{i}", bn.running_mean, "f64")
    emit(f"BN_CMA_RUNNING_VAR{i}", bn.running_var, "f64")

# --- BatchNorm1d(5, track_running_stats=False): batch statistics in eval mode too --------
# (no random draws: the inputs are the earlier ones)
bn = nn.BatchNorm1d(5, track_running_stats=False).double()
with torch.no_grad():
    bn.weight.copy_(torch.linspace(0.5, 1.5, 5, dtype=torch.float64))
    bn.bias.copy_(torch.linspace(-0.2, 0.2, 5, dtype=torch.float64))
    bn.eval()
    emit("BN_UNTRACKED_Y_EVAL", bn(xe), "f64")
    bn.train()
    emit("BN_UNTRACKED_Y_TRAIN", bn(xe), "f64")
out.append(f"pub const BN_UNTRACKED_STATE_KEYS: [&str; {len(bn.state_dict())}] = [{', '.join(repr(k).replace(chr(39), chr(34)) for k in bn.state_dict())}];")

header = "// Generated by gen_reference.py (PyTorch " + torch.__version__ + "); do not edit.\n"
header += "#![allow(dead_code, clippy::approx_constant, clippy::excessive_precision, clippy::unreadable_literal)]\n"
with open("reference.rs", "w") as f:
    f.write(header + "\n".join(out) + "\n")
