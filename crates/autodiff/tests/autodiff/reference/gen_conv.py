"""PyTorch reference numbers for descent-autodiff's convolution and pooling ops.

Run from this directory:  python3 gen_conv.py
Writes conv.rs: for each case (seeded, float64), the inputs, a random cotangent u, the
forward value of torch.nn.functional.{conv2d, conv_transpose2d, max_pool2d, avg_pool2d,
adaptive_avg_pool2d}, and the gradients of sum(u * out) with respect to the input, the
weight and the bias (empty where the op has none).
"""
import torch
import torch.nn.functional as Fn

torch.manual_seed(0)
cases = []


def floats(t):
    return "&[" + ", ".join(repr(float(v)) for v in t.detach().flatten().tolist()) + "]"


def ints(v):
    return "[" + ", ".join(str(int(x)) for x in v) + "]"


def case(name, op, x_shape, f, w_shape=None, bias=False, **opts):
    x = torch.rand(x_shape, dtype=torch.float64) * 2 - 1
    x.requires_grad_(True)
    w = b = None
    if w_shape is not None:
        w = (torch.rand(w_shape, dtype=torch.float64) * 2 - 1).requires_grad_(True)
    if bias:
        b = (torch.rand(w_shape[0] if op == "conv2d" else w_shape[1] * opts.get("groups", 1),
                        dtype=torch.float64) * 2 - 1).requires_grad_(True)
    out = f(x, w, b)
    u = torch.rand(out.shape, dtype=torch.float64) * 2 - 1
    (out * u).sum().backward()
    empty = torch.zeros(0)
    fields = dict(
        name=f'"{name}"',
        op=f'"{op}"',
        x_shape="&" + ints(x_shape),
        x=floats(x),
        w_shape="&" + ints(w_shape or []),
        w=floats(w if w is not None else empty),
        b=floats(b if b is not None else empty),
        stride=ints(opts.get("stride", [1, 1])),
        padding=ints(opts.get("padding", [0, 0])),
        dilation=ints(opts.get("dilation", [1, 1])),
        groups=str(opts.get("groups", 1)),
        output_padding=ints(opts.get("output_padding", [0, 0])),
        kernel=ints(opts.get("kernel", [0, 0])),
        count_include_pad=str(opts.get("count_include_pad", True)).lower(),
        ceil_mode=str(opts.get("ceil_mode", False)).lower(),
        output_size=ints(opts.get("output_size", [0, 0])),
        out_shape="&" + ints(out.shape),
        out=floats(out),
        u=floats(u),
        gx=floats(x.grad),
        gw=floats(w.grad if w is not None else empty),
        gb=floats(b.grad if b is not None else empty),
    )
    body = ", ".join(f"{k}: {v}" for k, v in fields.items())
    cases.append(f"    Case {{ {body} }},")


def conv(name, x_shape, w_shape, bias, **o):
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in o.items()}
    case(name, "conv2d", x_shape, lambda x, w, b: Fn.conv2d(x, w, b, **kw), w_shape, bias, **o)


def convt(name, x_shape, w_shape, bias, **o):
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in o.items()}
    case(name, "conv_transpose2d", x_shape,
         lambda x, w, b: Fn.conv_transpose2d(x, w, b, **kw), w_shape, bias, **o)


def maxpool(name, x_shape, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil=False):
    case(name, "max_pool2d", x_shape,
         lambda x, w, b: Fn.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode=ceil),
         kernel=kernel, stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil)


def avgpool(name, x_shape, kernel, stride, padding, include, ceil=False):
    case(name, "avg_pool2d", x_shape,
         lambda x, w, b: Fn.avg_pool2d(x, kernel, stride, padding, ceil_mode=ceil,
                                       count_include_pad=include),
         kernel=kernel, stride=stride, padding=padding, count_include_pad=include,
         ceil_mode=ceil)


def adaptive(name, x_shape, size):
    case(name, "adaptive_avg_pool2d", x_shape,
         lambda x, w, b: Fn.adaptive_avg_pool2d(x, size), output_size=size)


conv("conv2d plain", [2, 3, 5, 4], [4, 3, 3, 2], True)
conv("conv2d stride 2 padding 1", [1, 2, 7, 6], [3, 2, 3, 3], True, stride=[2, 2], padding=[1, 1])
conv("conv2d dilation 2", [2, 2, 6, 5], [2, 2, 2, 3], True, stride=[1, 2], padding=[1, 0], dilation=[2, 2])
conv("conv2d groups 2", [1, 4, 5, 5], [6, 2, 3, 2], True, padding=[0, 1], groups=2)
conv("conv2d depthwise", [2, 3, 5, 4], [3, 1, 3, 3], True, stride=[2, 2], padding=[1, 1], groups=3)
conv("conv2d kernel = input, no bias", [1, 1, 4, 4], [1, 1, 4, 4], False)
convt("conv_transpose2d stride 2 padding 1 output_padding 1", [1, 2, 3, 4], [2, 3, 3, 3], True,
      stride=[2, 2], padding=[1, 1], output_padding=[1, 1])
convt("conv_transpose2d groups 2 dilation 2", [2, 4, 3, 3], [4, 1, 2, 2], False, groups=2, dilation=[2, 2])
convt("conv_transpose2d mixed", [1, 3, 4, 3], [3, 2, 3, 2], True,
      stride=[2, 3], padding=[1, 0], output_padding=[0, 2])
maxpool("max_pool2d kernel 3 stride 2 padding 1", [2, 2, 5, 5], [3, 3], [2, 2], [1, 1])
maxpool("max_pool2d kernel [2, 3] stride [1, 2] padding 1", [1, 3, 6, 5], [2, 3], [1, 2], [1, 1])
maxpool("max_pool2d kernel 2 dilation 2 stride 2 padding 1", [1, 2, 7, 7], [2, 2], [2, 2], [1, 1], [2, 2])
avgpool("avg_pool2d kernel 3 stride 2 padding 1 with pad", [2, 2, 5, 5], [3, 3], [2, 2], [1, 1], True)
avgpool("avg_pool2d kernel 3 stride 2 padding 1 without pad", [2, 2, 5, 5], [3, 3], [2, 2], [1, 1], False)
avgpool("avg_pool2d kernel [2, 3] stride [1, 2]", [1, 3, 6, 5], [2, 3], [1, 2], [1, 1], False)
adaptive("adaptive_avg_pool2d 5x7 -> 3x4", [1, 2, 5, 7], [3, 4])
adaptive("adaptive_avg_pool2d 4x4 -> 3x3", [2, 1, 4, 4], [3, 3])
adaptive("adaptive_avg_pool2d 6x6 -> 2x2", [1, 1, 6, 6], [2, 2])
adaptive("adaptive_avg_pool2d 3x5 -> 5x2", [1, 1, 3, 5], [5, 2])
# ceil_mode (appended last, so the cases above keep their random numbers): a partial last
# window; the "last window starts inside the input or left padding" clause (6 with kernel
# 3, stride 4, padding 1: ceil gives 3 positions, the clause drops one); a kernel larger
# than the input, which ceil mode allows.
maxpool("max_pool2d kernel 2 stride 2 ceil", [1, 2, 5, 7], [2, 2], [2, 2], ceil=True)
maxpool("max_pool2d kernel 3 stride 4 padding 1 ceil (last window dropped)", [1, 1, 6, 6],
        [3, 3], [4, 4], [1, 1], ceil=True)
maxpool("max_pool2d kernel 3 stride 2 ceil, kernel past the input", [1, 1, 2, 2], [3, 3], [2, 2],
        ceil=True)
maxpool("max_pool2d kernel [3, 2] stride [2, 3] padding [1, 1] dilation [1, 2] ceil",
        [2, 1, 6, 8], [3, 2], [2, 3], [1, 1], [1, 2], ceil=True)
avgpool("avg_pool2d kernel 3 stride 2 padding 1 ceil with pad", [1, 2, 6, 6], [3, 3], [2, 2],
        [1, 1], True, ceil=True)
avgpool("avg_pool2d kernel 3 stride 2 padding 1 ceil without pad", [1, 2, 6, 6], [3, 3], [2, 2],
        [1, 1], False, ceil=True)
avgpool("avg_pool2d kernel 2 stride [2, 3] ceil with pad", [1, 1, 5, 7], [2, 2], [2, 3], [0, 0],
        True, ceil=True)
avgpool("avg_pool2d kernel 3 stride 4 padding 1 ceil (last window dropped)", [1, 1, 6, 6],
        [3, 3], [4, 4], [1, 1], True, ceil=True)

header = f"""// Generated by gen_conv.py (PyTorch {torch.__version__}); do not edit.
#![allow(dead_code, clippy::approx_constant, clippy::excessive_precision, clippy::unreadable_literal)]

/// One op on seeded float64 inputs: its arguments, PyTorch's output, and the gradients of
/// `sum(u * out)` (empty slices where the op has no such input).
pub struct Case {{
    pub name: &'static str,
    pub op: &'static str,
    pub x_shape: &'static [usize],
    pub x: &'static [f64],
    pub w_shape: &'static [usize],
    pub w: &'static [f64],
    pub b: &'static [f64],
    pub stride: [usize; 2],
    pub padding: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
    pub output_padding: [usize; 2],
    pub kernel: [usize; 2],
    pub count_include_pad: bool,
    pub ceil_mode: bool,
    pub output_size: [usize; 2],
    pub out_shape: &'static [usize],
    pub out: &'static [f64],
    pub u: &'static [f64],
    pub gx: &'static [f64],
    pub gw: &'static [f64],
    pub gb: &'static [f64],
}}

pub static CASES: &[Case] = &[
"""
with open("conv.rs", "w") as f:
    f.write(header + "\n".join(cases) + "\n];\n")
