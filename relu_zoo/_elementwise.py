"""The kernels of the fixed element-wise activations: GELU, SiLU, Mish and Softplus with their derivatives written
out, and on PyTorch the backend's own kernels (`relu_zoo._torch_ops`) wherever they keep the rules.

Differentiating a function that keeps the limits at ±inf with `where`s (`relu_zoo._numerics.with_asymptotes`)
selects over both branches each way; written out, each limit costs one select or clip where a product would be
`inf * 0`, so that under XLA and `jax.jit` (one loop each way) these cost what the backends' own functions cost,
or less (benchmarks/layers.py). Same rules as `relu_zoo.activations`, whose functions call these on float32 or
float64 inputs (16-bit ones computed in float32).
"""

import math

import keras
from keras import ops

from relu_zoo._xla import fused_elementwise


def elementwise(fn, x, *params, torch=None, **fused):
    """`fused_elementwise(fn, x, *params, **fused)`, or on PyTorch `on_torch(torch, x)` where that applies."""
    y = on_torch(torch, x)
    return fused_elementwise(fn, x, *params, **fused) if y is None else y


def on_torch(torch, x):
    """On PyTorch, `torch(kernels, x)` (`kernels`: `relu_zoo._torch_ops`, whose functions return None where
    PyTorch's kernels would break a rule); None elsewhere, or where `torch` is None.

    Eager PyTorch runs each `keras.ops` op as its own pass over memory, where its own kernel is one pass each way.
    """
    if torch is None or keras.backend.backend() != "torch":
        return None
    from relu_zoo import _torch_ops

    return torch(_torch_ops, x)


# Each backward pass recomputes what it needs from x rather than keeping the forward's intermediates (a kept one is a
# tensor written and read back, where recomputing it costs a few operations in the loop that reads x anyway). The
# forward passes keep their limits with max and min, not selects: XLA's CPU compiler fuses an activation written
# with max into the reduction or product that consumes it, but writes one with a select out to memory first (the
# step of SiLU or GELU 1.2x the backends' own under `jax.jit`). Beyond ±_FAR every factor a clipped x meets is an
# exact 0 (sigmoid, Phi, tanh(softplus) below -_FAR), in float32 and float64 alike; max and min propagate NaN.
_FAR = 1000.0


@ops.custom_gradient
def gelu_erf_kernel(x):
    """`x * Phi(x)`, Phi as `erfc(-x / sqrt(2)) / 2`, and its derivative `Phi(x) + x * phi(x)`; at ±inf the limits
    (value 0 at -inf, derivatives 0 and 1): x clipped below, and one select back."""

    def grad(*args, upstream=None):
        dy = args[0] if upstream is None else upstream
        # Phi written unlike the forward's (`x * -c`, not `-x * c`): XLA then computes erfc again in this loop,
        # where sharing it writes erfc's pieces out to memory and reads them back (GELU's step under `jax.jit`
        # 1.4x -> 1.15x the backend's own, which computes the cheaper erf).
        cdf = 0.5 * ops.erfc(x * -math.sqrt(0.5))
        density = ops.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
        return dy * (cdf + ops.where(ops.isinf(x), ops.zeros_like(x), x * density))

    return ops.maximum(x, -_FAR) * (0.5 * ops.erfc(-x * math.sqrt(0.5))), grad


@ops.custom_gradient
def silu_kernel(x):
    """`x * s` and its derivative `s * (1 + x * (1 - s))`, `s = sigmoid(x)`; at ±inf the limits (0; derivatives 0
    and 1): x clipped below, and one select back where `x * (1 - s)` is `inf * 0` (at -inf `s` is 0)."""

    def grad(*args, upstream=None):
        dy = args[0] if upstream is None else upstream
        s = ops.sigmoid(x)
        return dy * (s * (1 + ops.where(ops.isinf(x), ops.zeros_like(x), x) * (1 - s)))

    return ops.maximum(x, -_FAR) * ops.sigmoid(x), grad


# Beyond it `tanh(softplus(x))` rounds to 1 in float32 and float64 alike (it is 1 - 8.5e-18 at 20): mish is x.
_MISH_LINEAR = 20.0


def _mish_parts(x):
    """`e = exp(x)` (capped where mish is x, and `n / (n + 2)` rounds to 1), `n = e * (e + 2)` and
    `tanh(softplus(x)) = n / (n + 2)`."""
    e = ops.exp(ops.minimum(x, _MISH_LINEAR))
    n = e * (e + 2)
    return e, n, n / (n + 2)


@ops.custom_gradient
def mish_kernel(x):
    """With `e = exp(x)`, `tanh(softplus(x)) = n / (n + 2)` for `n = e * (e + 2)`: one exponential and a division,
    where `tanh(softplus(x))` takes an exponential, a log1p and a tanh each way (3-4x this under XLA), and the
    derivative `t + x * 4e(e + 1) / (n + 2)**2` the same exponential. At -inf the limits (0, derivative 0)."""

    def grad(*args, upstream=None):
        dy = args[0] if upstream is None else upstream
        e, n, t = _mish_parts(x)
        dt = 4 * e * (e + 1) / (n + 2) / (n + 2)
        slope = t + ops.where(ops.equal(x, -math.inf), ops.zeros_like(x), x * dt)
        return dy * ops.where(x > _MISH_LINEAR, ops.ones_like(x), slope)

    return ops.maximum(x, -_FAR) * _mish_parts(x)[2], grad


# In float32 `sigmoid(z) = 1 / (1 + exp(-z))` rounds to exactly 1, and `z + log1p(exp(-z))` to z, from z = 16.7
# (`exp(-z) < 2**-24`), on every backend: there softplus' linear piece needs no select.
_ROUNDS_TO_LINEAR = 17.0


def softplus_kernel(x, beta, threshold):
    """`log(1 + exp(beta * x)) / beta`, x itself where `beta * x > threshold`, with its derivative
    `sigmoid(beta * x)` written out: JAX's softplus (`logaddexp`) differentiates through two more exponentials (5x
    this under `jax.jit`). `exp(-|beta * x|)` never overflows. A Python number meets the tensor in its dtype
    (`ops.greater` would round the threshold to float32 first)."""

    @ops.custom_gradient
    def kernel(x):
        linear_rounds = threshold >= _ROUNDS_TO_LINEAR and keras.backend.standardize_dtype(x.dtype) == "float32"

        def grad(*args, upstream=None):
            dy = args[0] if upstream is None else upstream
            scaled = beta * x
            if linear_rounds:
                return dy * ops.sigmoid(scaled)
            return dy * ops.where(scaled > threshold, ops.ones_like(x), ops.sigmoid(scaled))

        scaled = beta * x
        y = ops.relu(scaled) + ops.log1p(ops.exp(-ops.abs(scaled)))
        if linear_rounds and beta == 1:
            return y, grad
        return ops.where(scaled > threshold, x, y / beta), grad

    return kernel(x)
