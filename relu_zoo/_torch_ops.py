"""PyTorch kernels for `relu_zoo.activations` where the `keras.ops` form is slow in eager mode (PyTorch only).

In eager PyTorch every op is its own pass over memory, and nothing fuses them: PReLU written with `keras.ops`
(compare, select, multiply; a select, two multiplies and a sum back) costs ~3x `torch.relu` forward + backward,
where PyTorch's own PReLU kernels (one pass forward; one pass and the slope's sum back) cost ~1.7x
(benchmarks/backends.py). Same values and the same derivatives as `activations.prelu`, NaN rule included.
"""

import torch


class _PReLU(torch.autograd.Function):
    """`x if x > 0 else alpha * x`, `alpha` broadcasting against `x`, with the derivative `alpha` at 0."""

    @staticmethod
    def forward(ctx, x, alpha):
        ctx.save_for_backward(x, alpha)
        if hasattr(torch, "_prelu_kernel"):
            return torch._prelu_kernel(x, alpha)
        return torch.where(x > 0, x, x * alpha)

    @staticmethod
    def backward(ctx, dy):
        x, alpha = ctx.saved_tensors
        if hasattr(torch.ops.aten, "_prelu_kernel_backward"):
            dx, dalpha = torch.ops.aten._prelu_kernel_backward(dy, x, alpha)
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
