"""PyTorch kernels for `relu_zoo.activations` where the `keras.ops` form is slow in eager mode (PyTorch only).

In eager PyTorch every op is its own pass over memory, and nothing fuses them: PReLU written with `keras.ops`
(compare, select, multiply; a select, two multiplies and a sum back) costs ~3x `torch.relu` forward + backward,
where PyTorch's own PReLU kernels (one pass forward; one pass and the slope's sum back) cost ~1.7x
(benchmarks/backends.py). Same values and the same derivatives as `activations.prelu`, NaN rule included.
"""

import torch

from relu_zoo import _compat

_KERNEL, _KERNEL_BACKWARD = _compat.torch_prelu_kernels()


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
