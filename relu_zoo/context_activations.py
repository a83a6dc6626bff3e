"""The activations that draw on each element's context, given that context: FReLU's max with its funnel condition,
DY-ReLU's piecewise-linear function with coefficients made from the whole sample, and meta-ACON, ACON-C with a β
made from the whole sample.

The layers (`relu_zoo.layers.FReLU`, `DyReLU`, `MetaAconC`) compute the context with Keras' own layers (a depthwise
convolution and batch norm; a small network on the sample's mean) and pass it here. Same conventions as
`relu_zoo.activations`, which re-exports every public function here: NaN in, NaN out (values and gradients, the
gradients of the context tensors included); the limits at ±inf; the derivative at every kink stated. The context
tensors broadcast against `x` and get gradients summed to their own shapes, which may hold the batch axis (one
coefficient per sample and channel) even where a traced step does not know the batch size.
"""

import math

from keras import ops

from relu_zoo._numerics import in_float32, with_tensors
from relu_zoo._xla import fused
# ACON-C's kernels: meta-ACON computes ACON-C's values, limits and derivatives, written once there.
from relu_zoo.modern_activations import _acon_c_backward, _acon_c_forward


def _sum_like(term, like):
    """`term` summed over the axes along which `like` was broadcast to it: its missing leading axes and its axes of
    static size 1. An axis of unknown size (the batch axis in a traced step) is one `like` did not broadcast along,
    so no static shape is needed."""
    lead = len(term.shape) - len(like.shape)
    axes = [*range(lead), *(lead + i for i, d in enumerate(like.shape) if d == 1 and term.shape[lead + i] != 1)]
    if not axes:
        return term
    summed = ops.sum(term, axis=tuple(axes), keepdims=True)
    return ops.squeeze(summed, axis=tuple(range(lead))) if lead else summed


def _with_nan(nan, value):
    """`value`, NaN where `nan`: the gradient at a NaN input, for every tensor it meets."""
    return ops.where(nan, ops.full_like(value, math.nan), value)


def _dy(args, upstream):
    return args[0] if upstream is None else upstream


def frelu(x, funnel):
    """FReLU's activation (Ma, Zhang & Sun 2020, "Funnel Activation"): `max(x, funnel)`.

    `funnel` is the funnel condition T(x), a depthwise convolution of the window around each element (the layer,
    `FReLU`, computes it), broadcasting against `x`. Ties go to the funnel: the derivative is 1 in `x` where
    `x > funnel` and 1 in `funnel` where `x <= funnel`, so with a funnel of 0 it is relu, derivative 0 at 0. At
    ±inf the limits: `x` at +inf (slope 1), the funnel at -inf (slope 0). A NaN in either gives NaN, and NaN
    gradients in both. A select is exact in every dtype: no wider intermediate is needed.
    """
    return with_tensors(_frelu)(x, funnel)


def _frelu(x, funnel):
    @ops.custom_gradient
    def kernel(x, funnel):
        def grad(*args, upstream=None):
            dx, dfunnel = fused(_frelu_backward)(x, funnel, _dy(args, upstream))
            return _sum_like(dx, x), _sum_like(dfunnel, funnel)

        return fused(_frelu_forward)(x, funnel), grad

    return kernel(x, funnel)


def _frelu_forward(x, funnel):
    # x wins only where it is larger, NaN included (`x > funnel` is False there); a NaN funnel wins elsewhere.
    return ops.where(ops.logical_or(x > funnel, ops.isnan(x)), x, funnel)


def _frelu_backward(x, funnel, dy):
    wins = x > funnel
    nan = ops.logical_or(ops.isnan(x), ops.isnan(funnel))
    zero = ops.zeros_like(dy)
    return _with_nan(nan, ops.where(wins, dy, zero)), _with_nan(nan, ops.where(wins, zero, dy))


def dy_relu(x, a, b):
    """Dynamic ReLU's piecewise-linear function (Chen et al. 2020, "Dynamic ReLU"): `max_k(a[k] * x + b[k])`.

    `a` and `b` hold the K slopes and intercepts stacked on a leading axis of static size K, each `a[k]`, `b[k]`
    broadcasting against `x` (DY-ReLU-B, the layer `DyReLU`: one per sample and channel, made from the sample).
    Ties go to the later piece, so with `a = (1, 0)`, `b = (0, 0)` it is relu, derivative 0 at 0. The derivatives
    are those of the piece k* that gives the max: `a[k*]` in x, `x` in `a[k*]`, 1 in `b[k*]`, and 0 in the other
    pieces' coefficients (also at ±inf: no `0 * inf`). At ±inf the limit: the piece of largest slope at +inf
    (smallest at -inf) wins, ±inf by the sign of its slope, and a piece of slope 0 stays at its intercept. A NaN
    input gives NaN, and NaN gradients in x and in every coefficient. 16-bit inputs are computed in float32 and
    rounded once: `a * x + b` would round twice.
    """
    return in_float32(with_tensors(_dy_relu), x, a, b)


def _dy_relu(x, a, b):
    @ops.custom_gradient
    def kernel(x, a, b):
        def grad(*args, upstream=None):
            dx, da, db = fused(_dy_relu_backward)(x, a, b, _dy(args, upstream))
            return (_sum_like(dx, x), ops.stack([_sum_like(d, a[0]) for d in da]),
                    ops.stack([_sum_like(d, b[0]) for d in db]))

        return fused(_dy_relu_forward)(x, a, b), grad

    return kernel(x, a, b)


def _dy_relu_pieces(x, a, b):
    """`a[k] * x + b[k]` for each piece, `b[k]` where `a[k]` is 0 at ±inf (its limit, not `0 * inf`)."""
    at_infinity = ops.isinf(x)
    return [ops.where(ops.logical_and(at_infinity, ops.equal(a[k], 0)), ops.zeros_like(a[k] * x), a[k] * x) + b[k]
            for k in range(a.shape[0])]


def _dy_relu_max(x, a, b):
    """The max over the pieces and the index of the piece that gives it (the later one at a tie; NaN stays)."""
    pieces = _dy_relu_pieces(x, a, b)
    y, chosen = pieces[0], ops.zeros_like(pieces[0], dtype="int32")
    for k, z in enumerate(pieces[1:], 1):
        take = ops.logical_or(ops.isnan(z), ops.logical_not(ops.logical_or(y > z, ops.isnan(y))))
        y, chosen = ops.where(take, z, y), ops.where(take, k, chosen)
    return y, chosen


def _dy_relu_forward(x, a, b):
    return _dy_relu_max(x, a, b)[0]


def _dy_relu_backward(x, a, b, dy):
    _, chosen = _dy_relu_max(x, a, b)
    nan = ops.isnan(x)
    zero = ops.zeros_like(dy)
    on = [ops.equal(chosen, k) for k in range(a.shape[0])]
    slope = zero
    for k, here in enumerate(on):
        slope = ops.where(here, a[k], slope)
    dx = _with_nan(nan, dy * slope)
    da = [_with_nan(nan, ops.where(here, dy * x, zero)) for here in on]
    db = [_with_nan(nan, ops.where(here, dy, zero)) for here in on]
    return dx, da, db


def meta_acon(x, p1, p2, beta):
    """meta-ACON (Ma, Zhang, Liu & Sun 2021, "Activate or Not"): ACON-C with `beta` made from the input.

    `(p1 - p2) * x * sigmoid(beta * (p1 - p2) * x) + p2 * x`, `relu_zoo.activations.acon_c` computed by the same
    kernels (its values, its limits at ±inf and its derivatives, `(p1 + p2) / 2` at 0), where `beta` may vary over
    the batch: the layer, `MetaAconC`, makes one per sample and channel from the sample's mean. `p1`, `p2` and
    `beta` broadcast against `x`; their gradients are summed to their shapes without needing the batch size.
    """
    # In float32 for 16-bit inputs: the sigmoid and the products would round in the 16-bit type.
    return in_float32(with_tensors(_meta_acon), x, p1, p2, beta)


def _meta_acon(x, p1, p2, beta):
    @ops.custom_gradient
    def kernel(x, p1, p2, beta):
        def grad(*args, upstream=None):
            dx, *terms = fused(_acon_c_backward)(x, p1, p2, beta, _dy(args, upstream))
            return (_sum_like(dx, x), *(_sum_like(term, p) for term, p in zip(terms, (p1, p2, beta))))

        return fused(_acon_c_forward)(x, p1, p2, beta), grad

    return kernel(x, p1, p2, beta)
