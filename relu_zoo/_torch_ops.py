"""PyTorch kernels for `relu_zoo.activations` where the `keras.ops` form is slow in eager mode (PyTorch only).

In eager PyTorch every op is its own pass over memory, and nothing fuses them: an activation written with
`keras.ops` that keeps the rules of `relu_zoo.activations` (a `where` for NaN, the limits at ±inf, the derivative
chosen at 0) costs 3-15 passes each way where PyTorch's own kernel costs one (benchmarks/layers.py). PyTorch's own
kernels (`F.leaky_relu` and `leaky_relu_backward`, `F.elu`, `F.silu`, ...) compute the same values and derivatives,
the derivatives at 0 included, at every input but a few: a NaN, whose gradient they make a number (the slope of the
branch a comparison with NaN falls into), and for some functions ±inf or a huge input (`-inf * 0`, an overflow).
Here they run wherever the input holds none of those, which one read of it tells (a reduction whose result shows
them: `_keeps_rules`); elsewhere the caller computes the `keras.ops` form. PReLU's kernels (one pass forward; one
pass and the slope's sum back) check the slope's small gradient instead; GELU's exact form is written with
PyTorch's erfc (its own gelu kernel cancels for negative x).

Each function returns None where its kernels do not apply (a dtype other than float32 and float64, a meta tensor
or a graph being compiled, an input they get wrong): the caller then computes the `keras.ops` form
(`relu_zoo._elementwise.on_torch`).
"""

import math

import torch
import torch.nn.functional as F

from relu_zoo import _compat

_KERNEL, _KERNEL_BACKWARD = _compat.torch_prelu_kernels()
_ATEN = torch.ops.aten


class _PReLU(torch.autograd.Function):
    """`x if x > 0 else alpha * x`, `alpha` broadcasting against `x`, with the derivative `alpha` at 0."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x, alpha)
        y = _KERNEL(x, alpha) if _KERNEL is not None else torch.where(x > 0, x, x * alpha)
        # A zero slope gives 0 at x = -inf too, its limit (ReLU's), not `-inf * 0 = NaN`. Checked on the small
        # alpha, so that other slopes pay no extra pass.
        if not torch.all(alpha):
            y = torch.where(alpha == 0, torch.relu(x), y)
        return y

    @staticmethod
    def backward(ctx, dy):
        x, alpha = ctx.saved_tensors
        if _KERNEL_BACKWARD is not None:
            dx, dalpha = _KERNEL_BACKWARD(dy, x, alpha)
        else:
            dx, dalpha = torch.where(x > 0, dy, dy * alpha), dy * x.clamp(max=0)
        dalpha = dalpha.sum_to_size(alpha.shape)
        # PyTorch's kernel gives `alpha * dy` at a NaN input; the rule of relu_zoo is NaN there. A NaN input
        # also makes alpha's gradient NaN, so checking the (small) slope gradient finds it without another pass.
        if torch.isnan(dalpha).any():
            dx = torch.where(torch.isnan(x), x, dx)
        return dx, dalpha


def prelu(x, alpha):
    """`activations.prelu` on PyTorch tensors of one dtype."""
    return _PReLU.apply(x, alpha)


class _RandomSlope(torch.autograd.Function):
    """`x if x > 0 else a * x` with an element-wise slope `a` held constant: PyTorch's PReLU kernels, slope and all."""

    @staticmethod
    def forward(ctx, x, a):
        ctx.save_for_backward(x, a)
        return _KERNEL(x, a)

    @staticmethod
    def backward(ctx, dy):
        x, a = ctx.saved_tensors
        return _KERNEL_BACKWARD(dy, x, a)[0], None


def random_slope_relu(x, slopes):
    """RReLU in training, `slopes(x)` drawing a slope per element (positive: at -inf PyTorch's kernel computes
    `a * x`, which a zero slope makes NaN), after the check for NaN (`alpha * dy` there, from PyTorch's kernel):
    `F.rrelu` draws its slopes one element at a time, 2-3x this."""
    if not _applies(x) or _KERNEL is None or _KERNEL_BACKWARD is None:
        return None
    if not (x.requires_grad and torch.is_grad_enabled()):
        return _KERNEL(x, slopes(x))
    return _RandomSlope.apply(x, slopes(x)) if _keeps_rules(x) else None


class _Elementwise(torch.autograd.Function):
    """`forward(x)`, differentiated as `backward(dy, v)`: `v` is the output where `of_output`, else the input."""

    @staticmethod
    def forward(ctx, x, forward, backward, of_output):
        y = forward(x)
        ctx.backward = backward
        ctx.save_for_backward(y if of_output else x)
        return y

    @staticmethod
    def backward(ctx, dy):
        (v,) = ctx.saved_tensors
        return ctx.backward(dy, v), None, None, None


def _applies(x):
    return (isinstance(x, torch.Tensor) and x.dtype in (torch.float32, torch.float64) and x.device.type != "meta"
            and not torch.compiler.is_compiling())


# What an input must not hold for PyTorch's kernels to keep every rule: NaN; also ±inf; also any |x| from 1.8e19
# (where a sum of squares overflows float32: short of hard swish's `x * 6`, which overflows from a sixth of the
# largest float).
NAN, INF, HUGE = "nan", "inf", "huge"


def _keeps_rules(x, avoid=NAN):
    """Whether `x` holds none of what `avoid` names: one read of `x`, by a reduction whose result shows it (NaN
    propagates through `amax`; a sum is finite only where every term is, and an overflow of finite terms only sends
    `x` to the `keras.ops` form)."""
    if x.numel() == 0:
        return True
    if avoid == NAN:
        return not bool(torch.isnan(torch.amax(x)))
    if avoid == INF:
        return bool(torch.isfinite(x.sum()))
    flat = x.reshape(-1)
    return bool(torch.isfinite(torch.dot(flat, flat)))


def _apply(x, forward, backward, of_output=False, avoid=NAN, check_forward=False):
    """`forward(x)` with PyTorch's kernels, differentiated by `backward`, or None where they would break a rule:
    where `x` holds what `avoid` names (`_keeps_rules`), checked where a gradient is needed or `check_forward` (the
    forward kernel alone breaks a rule there too)."""
    if not _applies(x):
        return None
    grad = x.requires_grad and torch.is_grad_enabled()
    if (grad or check_forward) and not _keeps_rules(x, avoid):
        return None
    return _Elementwise.apply(x, forward, backward, of_output) if grad else forward(x)


def relu(x):
    # `threshold_backward` reads the output: `dy` where `y > 0`, so `dy` at NaN too.
    return _apply(x, torch.relu, lambda dy, y: _ATEN.threshold_backward(dy, y, 0), of_output=True)


def relu6(x):
    # 0 at 0 and at 6, as `relu6` chooses; `dy` at NaN.
    return _apply(x, F.relu6, lambda dy, y: _ATEN.hardtanh_backward(dy, y, 0.0, 6.0), of_output=True)


def leaky_relu(x, negative_slope):
    """For a positive slope, which keeps the sign: the backward pass reads the output (`negative_slope` at 0 and,
    unlike relu_zoo, at NaN)."""
    return _apply(x, lambda v: F.leaky_relu(v, negative_slope),
                  lambda dy, y: _ATEN.leaky_relu_backward(dy, y, negative_slope, True), of_output=True)


def elu(x, alpha, scale=1.0, input_scale=1.0):
    """`scale * elu(input_scale * x, alpha)`, with PyTorch's expm1 kernel; the derivative at 0 is the left branch's
    (`scale * alpha * input_scale`), as relu_zoo's ELU, SELU and CELU choose; at NaN, `scale`."""
    return _apply(x, lambda v: _ATEN.elu(v, alpha, scale, input_scale),
                  lambda dy, v: _ATEN.elu_backward(dy, alpha, scale, input_scale, False, v))


def hard_sigmoid(x):
    # 1/6 on (-3, 3), 0 at ±3 and beyond; 0 at NaN.
    return _apply(x, F.hardsigmoid, _ATEN.hardsigmoid_backward)


def hard_swish(x):
    # `x * min(max(x + 3, 0), 6) / 6`: NaN at -inf, and `x * 6` overflows from a sixth of the largest float; the
    # derivative's middle piece at ±3, as relu_zoo's; `dy` at NaN.
    return _apply(x, F.hardswish, _ATEN.hardswish_backward, avoid=HUGE, check_forward=True)


def silu(x):
    # `x * sigmoid(x)` is NaN at -inf, its derivative NaN at ±inf.
    return _apply(x, F.silu, _ATEN.silu_backward, avoid=INF, check_forward=True)


def mish(x):
    # NaN at -inf, its derivative NaN at ±inf, as SiLU's.
    return _apply(x, F.mish, _ATEN.mish_backward, avoid=INF, check_forward=True)


def softplus(x, beta, threshold):
    """PyTorch's softplus is relu_zoo's, every rule included (it is where the arguments come from)."""
    return F.softplus(x, beta, threshold) if _applies(x) else None


def glu(x, axis):
    # `a * sigmoid(b)`: the gradient for `a` is `sigmoid(b)` at a NaN `a`.
    return _apply(x, lambda v: F.glu(v, axis), lambda dy, v: _ATEN.glu_backward(dy, v, axis))


_SQRT_HALF = math.sqrt(0.5)
_DENSITY = 1.0 / math.sqrt(2.0 * math.pi)


class _GELU(torch.autograd.Function):
    """`x * Phi(x)` with `2 Phi(x) = erfc(-x / sqrt(2))` (kept), and its derivative `Phi(x) + x * phi(x)`: PyTorch's
    gelu computes `1 + erf(x / sqrt(2))`, which cancels for negative x, and `torch.special.ndtr` is 4 % off at
    x = -5 in float32. Each `addcmul` (`a + value * b * c`) is one pass where a product and a scaling are two."""

    @staticmethod
    def forward(ctx, x):
        twice_cdf = torch.special.erfc(x * -_SQRT_HALF)
        ctx.save_for_backward(x, twice_cdf)
        return torch.addcmul(x.new_zeros(()), x, twice_cdf, value=0.5)

    @staticmethod
    def backward(ctx, dy):
        x, twice_cdf = ctx.saved_tensors
        density = torch.addcmul(x.new_zeros(()), x, x, value=-0.5).exp_()
        twice_slope = torch.addcmul(twice_cdf, x, density, value=2 * _DENSITY)
        return torch.addcmul(dy.new_zeros(()), dy, twice_slope, value=0.5)


def gelu(x):
    """The exact GELU: `inf * 0` at ±inf (the value at -inf, the derivative at both)."""
    if not _applies(x) or not _keeps_rules(x, INF):
        return None
    if x.requires_grad and torch.is_grad_enabled():
        return _GELU.apply(x)
    return torch.addcmul(x.new_zeros(()), x, torch.special.erfc(x * -_SQRT_HALF), value=0.5)
