"""The numerical rules every activation function of `relu_zoo.activations` shares, written once.

NaN inputs give NaN gradients, the derivative at a kink is chosen here rather than by a backend's tie-breaking,
±inf give the mathematical limits, and 16-bit inputs are computed in float32 and rounded once (the module
docstring of `relu_zoo.activations` states these conventions for users).
"""

import keras
from keras import ops


def non_positive(x):
    """`min(x, 0)` with derivative 1 at 0 on every backend (JAX splits `minimum`'s tie 50/50).

    Used inside exponential branches: the unused branch of `where` must stay finite, or its gradient
    (0 * inf) poisons the result for large positive x.
    """
    return ops.where(x > 0, ops.zeros_like(x), x)


def with_asymptotes(fn, x, asymptote=None, beyond=None):
    """`fn(x)`, except where `|x| > beyond` (default: at ±inf), where the asymptote is used.

    The asymptote defaults to `x` for `x > 0` and `0` for `x < 0` (silu, gelu, mish). `fn` never sees those
    inputs (it gets 0 instead), so neither its value nor its gradient can become `-inf * 0` or `0 * inf`
    there: values and gradients at ±inf are the limits (PyTorch: NaN), and GELU's `x**3` no longer
    overflows float16 for |x| >= 40. NaN is not beyond anything, so it still reaches `fn`.

    16-bit inputs are computed in float32 and rounded once, as PyTorch does: TensorFlow's 16-bit kernels
    round every intermediate, which put GELU's and Mish's gradients 2-4 units in the last place (float16)
    and 2 % (bfloat16) away from the correctly rounded value.
    """
    x = ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype in ("float16", "bfloat16"):
        return ops.cast(with_asymptotes(fn, ops.cast(x, "float32"), asymptote, beyond), dtype)
    far = ops.isinf(x) if beyond is None else ops.greater(ops.abs(x), beyond)
    inner = fn(ops.where(far, ops.zeros_like(x), x))
    outer = ops.where(x > 0, x, ops.zeros_like(x)) if asymptote is None else asymptote(x)
    return ops.where(far, outer, inner)


def in_float32(fn, x, *params):
    """`fn(x, *params)`; a 16-bit `x` (and the tensors among `params`) computed in float32 and rounded once, as
    PyTorch does: an intermediate such as `x - threshold` or `a * (b - x)` can overflow a 16-bit type where the
    result does not, and TensorFlow's 16-bit kernels round every intermediate."""
    x = ops.convert_to_tensor(x)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if dtype not in ("float16", "bfloat16"):
        return fn(x, *params)
    wide = [p if isinstance(p, (int, float)) else ops.cast(p, "float32") for p in params]
    return ops.cast(fn(ops.cast(x, "float32"), *wide), dtype)


def select(x, threshold, below, above):
    """`above` where `x > threshold`, `below` where `x <= threshold`, and NaN where x is NaN."""
    return ops.where(x > threshold, above, ops.where(x <= threshold, below, x))


def with_slope(forward, slope, x, of_output=False):
    """`forward(x)`, differentiated as `upstream * slope(x)`: the backward pass of every ReLU variant.

    `slope` is built with `select`, so the gradient at a NaN input is NaN for all of them: one rule. It also
    keeps TensorFlow's fused forward kernels (relu, relu6, leaky_relu) while fixing their float32-rounded slope
    in float64. `of_output=True` passes `forward(x)` to `slope` instead, for functions whose output has the
    input's sign.
    """

    @ops.custom_gradient
    def f(x):
        y = forward(x)

        def grad(*args, upstream=None):
            dy = args[0] if upstream is None else upstream
            return dy * slope(y if of_output else x)

        return y, grad

    return f(ops.convert_to_tensor(x))


@ops.custom_gradient
def nan_gradient(x):
    """Identity whose gradient is NaN at NaN inputs: the shared rule for functions built from `where`."""

    def grad(*args, upstream=None):
        dy = args[0] if upstream is None else upstream
        return ops.where(ops.isnan(x), x, dy)

    return ops.copy(x), grad


def with_tensors(kernel):
    """`kernel(x, *params)` with the parameters as tensors of x's dtype (Python numbers rounded once to it)."""
    return lambda x, *params: kernel(x, *(ops.convert_to_tensor(p, x.dtype) for p in params))
