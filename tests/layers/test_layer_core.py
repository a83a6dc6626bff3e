"""Every registered activation layer, parametrized over the registry: values against an independent NumPy
reference, gradients against finite differences, shapes, serialization, mixed precision, training.

The tables below are derived from the activation records (relu_zoo.layers.base.RECORDS); a hand-written NumPy
reference is needed only for an activation with arguments or weights (REFERENCES). A parameter-free one is
checked against PyTorch in test_torch_reference.py, and its gradient here against its own float64 forward pass.

Backend-agnostic (keras.ops only), so the same checks run under JAX and PyTorch (CI does, .ci/run):
    KERAS_BACKEND=jax python -m pytest -q tests/layers/test_layer_core.py
"""

import doctest
import functools
import importlib
import math

import keras
import numpy as np
import pytest
from keras import ops

import relu_zoo
from relu_zoo import activations
from relu_zoo.layers.base import RECORDS

BACKEND = keras.backend.backend()
SELU_A, SELU_L = activations.SELU_ALPHA, activations.SELU_SCALE


def _sigmoid(x):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-x))


def _softplus(x):
    return np.logaddexp(0.0, x)


def _erf(x):
    return np.vectorize(math.erf, otypes=[float])(x)


def _times_sigmoid(x, s):
    with np.errstate(invalid="ignore"):
        y = x * s
    return np.where(np.isneginf(x), 0.0, y)


def _gelu(x):
    return _times_sigmoid(x, 0.5 * (1 + _erf(x / np.sqrt(2))))


def _srelu(x, t_left, a_left, t_right, a_right):
    """SReLU with its limits at ±inf: a piece with slope 0 stays at its threshold (`0 * inf` would be NaN)."""
    with np.errstate(invalid="ignore"):
        right = np.where(a_right == 0, t_right, t_right + a_right * (x - t_right))
        left = np.where(a_left == 0, t_left, t_left + a_left * (x - t_left))
    return np.where(x >= t_right, right, np.where(x <= t_left, left, x))


def _apl(x, a, b):
    """APL with its limit at -inf, where the hinges are sum_s a_s * (b_s - x): ±inf by the sign of sum_s a_s, or
    sum_s a_s * b_s where that is 0 (summing the hinges would give inf - inf)."""
    with np.errstate(invalid="ignore"):
        y = np.maximum(x, 0) + sum(a_s * np.maximum(b_s - x, 0) for a_s, b_s in zip(a, b))
    total = a.sum(axis=0)
    limit = np.where(total > 0, np.inf, np.where(total < 0, -np.inf, (a * b).sum(axis=0)))
    return np.where(np.isneginf(x), limit, y)


def _gated(gate):
    """`a * gate(b)` over the halves of the last axis (value first, as torch.nn.functional.glu)."""

    def f(x):
        a, b = np.split(x, 2, axis=-1)
        with np.errstate(invalid="ignore", over="ignore"):
            return a * gate(b)

    return f


def _star_relu(x, scale, bias):
    """scale * max(x, 0)**2 + bias, with its limits at +inf: bias for a zero scale (`0 * inf` would be NaN)."""
    with np.errstate(invalid="ignore", over="ignore"):
        square = np.where(scale == 0, 0.0, scale * np.where(x > 0, x, 0.0) ** 2)
    return np.where(np.isnan(x), x, square + bias)


def _xielu(x, alpha_p, alpha_n, beta, eps):
    """xIELU as its authors' reference code writes it, with its limits at ±inf."""
    with np.errstate(invalid="ignore", over="ignore"):
        y = np.where(x > 0, alpha_p * x * x + beta * x, alpha_n * np.expm1(np.minimum(x, eps)) - alpha_n * x + beta * x)
    limit = np.where(x > 0, np.inf, np.sign(alpha_n - beta) * np.inf)
    return np.where(np.isinf(x), limit, y)


def _acon_c(x, p1, p2, beta):
    """ACON-C as Ma et al. write it; at ±inf the asymptote c * x (`inf * sigmoid(...)` is NaN where it tends to 0)."""
    d = p1 - p2
    with np.errstate(invalid="ignore", over="ignore"):
        y = d * x * _sigmoid(beta * d * x) + p2 * x
    towards = beta * d * np.sign(x)
    c = np.where(towards > 0, p1, np.where(towards < 0, p2, (p1 + p2) / 2))
    with np.errstate(invalid="ignore"):
        return np.where(np.isinf(x), np.where(c == 0, 0.0, c * x), y)


def _pau(x, a, b):
    """PAU as Molina et al. write it, P(x) / (1 + sum_k |b_k| |x|**k); at ±inf the limit of the leading terms
    a_p x**p / (|b_q| |x|**q) of the highest nonzero coefficients."""
    with np.errstate(invalid="ignore", over="ignore"):
        q_of_x = 1 + sum(abs(b_k) * abs(x) ** k for k, b_k in enumerate(b, 1))
        y = sum(a_j * x ** j for j, a_j in enumerate(a)) / q_of_x
    p = np.max(np.where(a != 0, np.arange(len(a))[:, None], -1), axis=0)
    q = np.max(np.where(b != 0, np.arange(1, len(b) + 1)[:, None], 0), axis=0)
    lead_a = a[np.maximum(p, 0), np.arange(a.shape[1])]
    lead_b = np.where(q > 0, abs(b[np.maximum(q - 1, 0), np.arange(b.shape[1])]), 1.0)
    sign = np.sign(x)
    limit = np.where(p > q, np.sign(lead_a) * sign ** p * np.inf, np.where(p == q, lead_a / lead_b * sign ** q, 0.0))
    return np.where(np.isinf(x), limit, y)


def _depthwise_same(x, kernel, bias):
    """A depthwise convolution with zero ("same") padding of x (samples, positions..., channels), kernel (k, ..., k,
    channels)."""
    pad = kernel.shape[0] // 2
    padded = np.pad(x, [(0, 0)] + [(pad, pad)] * (x.ndim - 2) + [(0, 0)])
    out = np.zeros_like(x) + bias
    with np.errstate(invalid="ignore", over="ignore"):
        for offset in np.ndindex(*kernel.shape[:-1]):
            window = tuple(slice(o, o + n) for o, n in zip(offset, x.shape[1:-1]))
            out = out + kernel[offset] * padded[(slice(None), *window, slice(None))]
    return out


def _frelu(x, w):
    """FReLU in inference: max(x, T(x)) with T = batch norm (moving statistics) of the funnel convolution, ties
    going to T and NaN staying."""
    h = _depthwise_same(x, w["funnel.kernel"][..., 0], w["funnel.bias"])  # Keras' kernel: (k, ..., C, 1)
    with np.errstate(invalid="ignore", over="ignore"):
        t = (h - w["funnel_norm.moving_mean"]) / np.sqrt(w["funnel_norm.moving_variance"] + FRELU_EPSILON) * \
            w["funnel_norm.gamma"] + w["funnel_norm.beta"]
    return np.where((x > t) | np.isnan(x), x, t)


def _mean_of_sample(x):
    with np.errstate(invalid="ignore", over="ignore"):
        return x.mean(axis=tuple(range(1, x.ndim - 1)))


def _dense(v, w, name):
    with np.errstate(invalid="ignore", over="ignore"):
        return v @ w[f"{name}.kernel"] + w[f"{name}.bias"]


def _per_sample(v, x):
    """(samples, channels) values broadcasting over the positions of x."""
    return v.reshape(v.shape[:1] + (1,) * (x.ndim - 2) + v.shape[1:])


def _dy_relu(x, w, pieces=2, lambda_a=1.0, lambda_b=0.5):
    """DY-ReLU-B as Chen et al. 2020 write it: the max of K lines per channel, their coefficients
    alpha + lambda * (2 sigmoid(theta) - 1) from the sample's mean; a line of slope 0 stays at its intercept at ±inf,
    ties go to the later line, NaN stays."""
    hidden = _dense(_mean_of_sample(x), w, "squeeze")
    theta = _dense(np.where(hidden < 0, 0.0, hidden), w, "residuals")
    delta = (2 * _sigmoid(theta) - 1).reshape(len(x), 2, pieces, x.shape[-1])
    alpha = np.array([1.0] + [0.0] * (pieces - 1))[:, None]
    y = None
    for k in range(pieces):
        a, b = _per_sample(alpha[k] + lambda_a * delta[:, 0, k], x), _per_sample(lambda_b * delta[:, 1, k], x)
        with np.errstate(invalid="ignore", over="ignore"):
            z = np.where(np.isinf(x) & (a == 0), 0.0, a * x) + b
        y = z if y is None else np.where(np.isnan(z) | ~((y > z) | np.isnan(y)), z, y)
    return y


def _meta_acon(x, w):
    """meta-ACON: ACON-C with beta = sigmoid of two dense layers of the sample's mean, one per sample and channel."""
    beta = _sigmoid(_dense(_dense(_mean_of_sample(x), w, "squeeze"), w, "expand"))
    return _acon_c(x, w["p1"], w["p2"], _per_sample(beta, x))


def _central_difference(f, x, step=1e-6):
    """d sum(f(x)) / d x by central differences, one element at a time."""
    out = np.zeros_like(x)
    for i in np.ndindex(*x.shape):
        e = np.zeros_like(x)
        e[i] = step
        out[i] = (f(x + e).sum() - f(x - e).sum()) / (2 * step)
    return out


# The weights of the activations that draw on their input's context (3 channels; the dense layers of DY-ReLU and
# meta-ACON at reduction 1, 3 hidden units), by attribute path on the layer.
FRELU_EPSILON = 1e-3
FRELU_W = {"funnel.kernel": np.array([[0.5, -1.0, 0.3], [1.5, 0.8, -0.6], [-0.4, 0.2, 1.1]])[..., None],
           "funnel.bias": np.array([0.1, -0.2, 0.3]), "funnel_norm.gamma": np.array([1.5, 0.5, -1.0]),
           "funnel_norm.beta": np.array([0.2, -0.1, 0.0]), "funnel_norm.moving_mean": np.array([0.05, 0.1, -0.1]),
           "funnel_norm.moving_variance": np.array([2.0, 0.5, 1.0])}
_RNG = np.random.default_rng(7)
DY_RELU_W = {"squeeze.kernel": np.array([[0.5, -0.3, 0.8], [0.2, 0.6, -0.4], [-0.4, 0.1, 0.3]]),
             "squeeze.bias": np.array([0.1, 0.2, -0.1]), "residuals.kernel": _RNG.uniform(-0.8, 0.8, (3, 12)),
             "residuals.bias": _RNG.uniform(-0.5, 0.5, 12)}
META_ACON_W = {"squeeze.kernel": _RNG.uniform(-1, 1, (3, 3)), "squeeze.bias": _RNG.uniform(-0.3, 0.3, 3),
               "expand.kernel": _RNG.uniform(-1, 1, (3, 3)), "expand.bias": _RNG.uniform(-0.3, 0.3, 3),
               "p1": np.array([1.0, 0.5, -0.3]), "p2": np.array([0.25, -0.2, -0.6])}

STAR_SCALE, STAR_BIAS = np.array([0.8944, 2.0, -0.5]), np.array([-0.4472, 0.0, 1.0])
XIELU_WP, XIELU_WN = np.array([0.3, -1.0, 2.0]), np.array([-0.5, 0.7, -3.0])  # xIELU's weights, before softplus
ACON_P1, ACON_P2, ACON_BETA = np.array([1.0, 0.5, -0.3]), np.array([0.25, -0.5, 0.2]), np.array([1.5, 0.0, -2.0])
# PAU's a_0..a_5 (rows) and b_1..b_4 per channel: near the paper's start; with negative b's; of degree 3 over 4
# (f tends to 0 at ±inf).
PAU_A = np.array([[0.03, 0.5, 1.6, 2.0, 0.9, 0.15], [0.1, -0.4, 0.8, 0.5, -0.2, 0.3], [0.2, 1.0, -0.5, 0.25, 0, 0]]).T
PAU_B = np.array([[0.01, 4.0, 0.001, 0.3], [-0.5, 1.0, -0.25, 0.5], [2.0, 0.5, 0.1, 0.05]]).T

# name -> (constructor overrides, weights to set or None, reference f(x) in float64), for every activation with
# arguments or weights (`needs_numpy_reference`): PyTorch's fixture checks a few settings, these non-default ones.
# Parametric layers get non-default, per-channel-different parameters (3 channels) so broadcasting is tested. A
# weight is named by its attribute path on the layer ("funnel.kernel"); x is an input the layer takes (`as_input`).
A3 = np.array([0.1, 0.3, -0.2])
REFERENCES = {
    "relu": ({}, None, lambda x: np.where(x > 0, x, 0.0)),
    "relu6": ({}, None, lambda x: np.where(np.isnan(x), x, np.clip(x, 0, 6))),
    "leaky_relu": ({"negative_slope": 0.2}, None, lambda x: np.where(x > 0, x, 0.2 * x)),
    "prelu": ({}, {"alpha": A3}, lambda x: np.where(x > 0, x, A3 * x)),
    "rrelu": ({"lower": 0.1, "upper": 0.3}, None, lambda x: np.where(x > 0, x, 0.2 * x)),
    "srelu": ({}, {"t_left": np.array([-1.0, -0.5, 0.0]), "a_left": np.array([0.1, 0.2, 0.3]),
                   "t_right": np.array([1.0, 2.0, 0.5]), "a_right": np.array([0.5, 1.5, 0.0])},
              lambda x: _srelu(x, np.array([-1.0, -0.5, 0.0]), np.array([0.1, 0.2, 0.3]), np.array([1.0, 2.0, 0.5]),
                               np.array([0.5, 1.5, 0.0]))),
    "pelu": ({}, {"alpha": np.array([1.0, 2.0, 0.5]), "beta": np.array([1.0, 0.5, 2.0])},
             lambda x: np.where(x >= 0, np.array([1.0, 4.0, 0.25]) * x,
                                np.array([1.0, 2.0, 0.5]) * np.expm1(np.minimum(x, 0) / np.array([1.0, 0.5, 2.0])))),
    "apl": ({"hinges": 2}, {"a": np.array([[0.5, -0.2, 0.1], [0.3, 0.0, -0.4]]),
                            "b": np.array([[0.0, 1.0, -1.0], [1.0, 0.5, 2.0]])},
            lambda x: _apl(x, np.array([[0.5, -0.2, 0.1], [0.3, 0.0, -0.4]]),
                           np.array([[0.0, 1.0, -1.0], [1.0, 0.5, 2.0]]))),
    "swish_beta": ({}, {"beta": np.array([1.0, 2.0, 0.5])},
                   lambda x: _times_sigmoid(x, _sigmoid(np.array([1.0, 2.0, 0.5]) * x))),
    "elu": ({"alpha": 0.5}, None, lambda x: np.where(x > 0, x, 0.5 * np.expm1(np.minimum(x, 0)))),
    "celu": ({"alpha": 2.0}, None, lambda x: np.where(x > 0, x, 2.0 * np.expm1(np.minimum(x, 0) / 2.0))),
    "selu": ({}, None, lambda x: SELU_L * np.where(x > 0, x, SELU_A * np.expm1(np.minimum(x, 0)))),
    "gelu": ({}, None, lambda x: _times_sigmoid(x, 0.5 * (1 + _erf(x / np.sqrt(2))))),
    "silu": ({}, None, lambda x: _times_sigmoid(x, _sigmoid(x))),
    "mish": ({}, None, lambda x: _times_sigmoid(x, np.tanh(_softplus(x)))),
    "softplus": ({}, None, _softplus),
    "crelu": ({}, None, lambda x: np.concatenate([np.maximum(x, 0), np.maximum(-x, 0)], axis=-1)),
    "glu": ({}, None, _gated(_sigmoid)),
    "reglu": ({}, None, _gated(lambda b: np.where(b > 0, b, np.where(np.isnan(b), b, 0.0)))),
    "geglu": ({}, None, _gated(_gelu)),
    "swiglu": ({}, None, _gated(lambda b: _times_sigmoid(b, _sigmoid(b)))),
    "bilinear": ({}, None, _gated(lambda b: b)),
    "squared_relu": ({}, None, lambda x: np.where(x > 0, x, 0.0) ** 2),
    "hard_sigmoid": ({}, None, lambda x: np.where(np.isnan(x), x, np.clip(x + 3, 0, 6) / 6)),
    "hard_swish": ({}, None, lambda x: np.where(x <= -3, 0.0, np.where(x >= 3, x, x * (x + 3) / 6))),
    "quick_gelu": ({}, None, lambda x: _times_sigmoid(x, _sigmoid(1.702 * x))),
    # The learned scalars of StarReLU and xIELU, one per channel here (the layers' default is one per layer).
    "star_relu": ({"channelwise": True}, {"scale": STAR_SCALE, "bias": STAR_BIAS},
                  lambda x: _star_relu(x, STAR_SCALE, STAR_BIAS)),
    "xielu": ({"channelwise": True, "beta": 0.25, "eps": -1e-3}, {"alpha_p": XIELU_WP, "alpha_n": XIELU_WN},
              lambda x: _xielu(x, _softplus(XIELU_WP), 0.25 + _softplus(XIELU_WN), 0.25, -1e-3)),
    "acon_c": ({}, {"p1": ACON_P1, "p2": ACON_P2, "beta": ACON_BETA},
               lambda x: _acon_c(x, ACON_P1, ACON_P2, ACON_BETA)),
    # PAU's coefficients per channel here (the layer's default is one set per layer).
    "pau": ({"channelwise": True}, {**{f"a{j}": a_j for j, a_j in enumerate(PAU_A)},
                                    **{f"b{k}": b_k for k, b_k in enumerate(PAU_B, 1)}},
            lambda x: _pau(x, PAU_A, PAU_B)),
    "frelu": ({"epsilon": FRELU_EPSILON}, FRELU_W, lambda x: _frelu(x, FRELU_W)),
    "dy_relu": ({"reduction": 1}, DY_RELU_W, lambda x: _dy_relu(x, DY_RELU_W)),
    "meta_acon": ({"reduction": 1}, META_ACON_W, lambda x: _meta_acon(x, META_ACON_W)),
}

# Gated units halve the last axis: they get 6 input channels (values 0-2, gates 3-5) and give 3.
GATED = {record.name for record in RECORDS.values() if record.family == "gated"}


def width(name):
    """Input channels the layer checks use: 3, or 6 for a gated unit (so it still outputs 3)."""
    return 6 if name in GATED else 3


def rank(name):
    """The input rank the layer checks use: 2, or the lowest its record's `ranks` allows for an activation that draws
    on its input's context (FReLU, DY-ReLU, meta-ACON take no rank-2 input)."""
    ranks = RECORDS[name].ranks
    return 2 if ranks is None else min(ranks)


def input_shape(name):
    return (None,) * (rank(name) - 1) + (width(name),)


def as_input(name, rows, positions=1):
    """Rows of `width(name)` channels as an input of `rank(name)`: the rows themselves (rank 2), or `positions`
    consecutive rows as one sample's positions along its first position axis (size 1 along any other)."""
    rows = np.asarray(rows)
    if rank(name) == 2:
        return rows
    return rows.reshape((-1, positions) + (1,) * (rank(name) - 3) + rows.shape[-1:])


def as_rows(y):
    """An output (or input gradient) of the layer as rows of channels, as `as_input` took them."""
    y = np.asarray(y)
    return y.reshape(-1, y.shape[-1])


def weight(layer, path):
    """The layer's weight at attribute path `path`, e.g. "alpha" or "funnel.kernel"."""
    return functools.reduce(getattr, path.split("."), layer)


def reference(name):
    """(constructor overrides, weights or None, NumPy f or None) of `name`: its REFERENCES entry, or the defaults."""
    return REFERENCES.get(name, ({}, None, None))


def needs_numpy_reference(name):
    """Whether `name` has arguments (its record's `parameters`) or weights, whose non-default values need a NumPy
    reference here: the PyTorch fixture covers a parameter-free activation."""
    layer = relu_zoo.get(name)
    layer.build(input_shape(name))
    return RECORDS[name].parameters != "–" or bool(layer.weights)


def forward64(name):
    """f(x) in float64 for finite differences: the NumPy reference, or else the layer itself computing in float64
    (which still checks a hand-written gradient against the forward pass)."""
    numpy_reference = reference(name)[2]
    if numpy_reference is not None:
        return lambda x: as_rows(numpy_reference(as_input(name, x)))
    layer = relu_zoo.get(name, dtype="float64")
    return lambda x: as_rows(ops.convert_to_numpy(layer(ops.convert_to_tensor(as_input(name, x), "float64"))))

# Derivative at exactly 0 (per channel for parametric layers), as the docstrings state.
AT_ZERO = {
    **{r.name: np.full(3, r.derivative_at_zero) for r in RECORDS.values() if r.derivative_at_zero is not None},
    "leaky_relu": np.full(3, 0.2),
    "elu": np.full(3, 0.5),
    "prelu": A3,
    "rrelu": np.full(3, 0.2),
    "srelu": np.array([1.0, 1.0, 0.3]),  # channel 3 has t_left == 0: a_left
    "pelu": np.array([1.0, 4.0, 0.25]),
    # relu'(0) = 0 for every max(0, .) term: the hinge whose kink is at 0 (channel 0) contributes nothing.
    "apl": np.array([-0.3, 0.2, 0.4]),
    "swish_beta": np.full(3, 0.5),
    "crelu": np.zeros(3),
    # At a = b = 0: d/da = gate(0) (sigmoid: 0.5, the others 0), d/db = a * gate'(0) = 0.
    "glu": np.array([0.5] * 3 + [0.0] * 3),
    **{name: np.zeros(6) for name in ("reglu", "geglu", "swiglu", "bilinear")},
    "star_relu": np.zeros(3),
    "xielu": 0.25 - (0.25 + _softplus(XIELU_WN)),  # beta - alpha_n: the left piece, x <= 0
    "acon_c": (ACON_P1 + ACON_P2) / 2,
    "pau": PAU_A[1],  # a_1: the derivative of |x| in Q taken as 0 at 0
    # At x = 0 FReLU's funnel is T(0) = BN(bias): where T(0) > 0 (channel 0) T's slope, its kernel's centre times
    # gamma over the moving deviation; where x = 0 > T(0), 1.
    "frelu": np.where(_frelu(np.zeros((1, 1, 3)), FRELU_W)[0, 0] > 0, FRELU_W["funnel.kernel"][1, :, 0]
                      * FRELU_W["funnel_norm.gamma"] / np.sqrt(FRELU_W["funnel_norm.moving_variance"] + FRELU_EPSILON),
                      1.0),
    # DY-ReLU at 0: the slope of the line that wins, plus the intercepts' slopes through the sample's mean.
    "dy_relu": _central_difference(lambda x: _dy_relu(x, DY_RELU_W), np.zeros((1, 1, 3)))[0, 0],
    # meta-ACON: ACON-C's (p1 + p2) / 2; beta's own slope meets x = 0.
    "meta_acon": (META_ACON_W["p1"] + META_ACON_W["p2"]) / 2,
}

SPECIAL = [0.0, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 0.5, -0.5, 3.0, -3.0, 7.0, 1e4, -1e4, 1e30, -1e30,
           float("inf"), float("-inf"), float("nan")]


def make_layer(name, **extra):
    overrides, weights, _ = reference(name)
    layer = relu_zoo.get(name, **{**overrides, **extra})
    layer.build(input_shape(name))
    if weights:
        for key, value in weights.items():
            weight(layer, key).assign(np.asarray(value, "float32").reshape(weight(layer, key).shape))
    return layer


def call(layer, x, **kwargs):
    return ops.convert_to_numpy(layer(ops.convert_to_tensor(np.asarray(x, "float32")), **kwargs))


def grad(layer, x, wrt_weights=False):
    """d sum(layer(x)) / d x (and / d weights) on the current backend."""
    x = np.asarray(x, "float32")
    if BACKEND == "tensorflow":
        import tensorflow as tf

        xt = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(xt)
            y = tf.reduce_sum(layer(xt))
        gx, gw = tape.gradient(y, [xt, layer.trainable_weights])
        return (np.asarray(gx), [np.asarray(g) for g in gw]) if wrt_weights else np.asarray(gx)
    if BACKEND == "jax":
        import jax

        def f(values, xv):
            out, _ = layer.stateless_call(values, [v.value for v in layer.non_trainable_variables], xv)
            return out.sum()

        values = [v.value for v in layer.trainable_variables]
        gw, gx = jax.grad(f, argnums=(0, 1))(values, x)
        return (np.asarray(gx), [np.asarray(g) for g in gw]) if wrt_weights else np.asarray(gx)
    if BACKEND == "torch":
        import torch

        xt = torch.tensor(x, requires_grad=True)
        weights = [v.value for v in layer.trainable_variables]
        # allow_unused: a parameter the output does not depend on gets a zero gradient, as on the others.
        gx, *gw = torch.autograd.grad(layer(xt).sum(), [xt, *weights], allow_unused=True)
        gw = [np.zeros(tuple(w.shape), "float32") if g is None else g.numpy() for w, g in zip(weights, gw)]
        return (gx.numpy(), gw) if wrt_weights else gx.numpy()
    pytest.skip(f"no gradient helper for backend {BACKEND}")


NAMES = relu_zoo.list_activations()


def test_every_activation_with_arguments_or_weights_has_a_numpy_reference():
    missing = sorted(name for name in NAMES if name not in REFERENCES and needs_numpy_reference(name))
    assert not missing, f"add NumPy references with non-default arguments or weights to REFERENCES for {missing}"
    assert sorted(set(REFERENCES) - set(NAMES)) == [], "REFERENCES names an activation that is not registered"


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_values_against_numpy_reference(name):
    layer = make_layer(name)
    x = np.array([[v, v, v] for v in SPECIAL], dtype="float64")
    if name in GATED:  # every (value, gate) pair of special values
        x = np.concatenate([np.repeat(x, len(SPECIAL), axis=0), np.tile(x, (len(SPECIAL), 1))], axis=-1)
    got = as_rows(call(layer, as_input(name, x)))
    with np.errstate(all="ignore"):
        expected = as_rows(REFERENCES[name][2](as_input(name, x)))
    # Documented for every activation: NaN in -> NaN out.
    nan_in = np.isnan(x) if name != "crelu" else np.concatenate([np.isnan(x)] * 2, axis=-1)
    if name in GATED:
        nan_in = np.logical_or(*np.split(nan_in, 2, axis=-1))
    with np.errstate(over="ignore"):
        expected = expected.astype("float32").astype("float64")  # products and squares overflow: 1e30 * 1e30 = inf
    expected = np.where(nan_in, np.nan, expected)
    finite = np.isfinite(expected)
    # Relative tolerance only: tiny inputs (1e-7, 1e-30) must come out right too (expm1, not exp - 1).
    np.testing.assert_allclose(got[finite], expected[finite], rtol=2e-6, atol=1e-37, err_msg=name)
    # NaN in -> NaN out; infinities where the limit is infinite.
    assert np.array_equal(np.isnan(got), np.isnan(expected)), (name, got[~finite], expected[~finite])
    assert np.array_equal(got[np.isinf(expected)], expected[np.isinf(expected)])
    rng = np.random.default_rng(0)
    x = as_input(name, rng.normal(0, 3, size=(256, width(name))), positions=4)  # context: 4 positions a sample
    np.testing.assert_allclose(call(layer, x), REFERENCES[name][2](x), rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.parametrize("name", NAMES)
def test_gradients_finite_differences_and_at_zero(name):
    layer = make_layer(name)
    rng = np.random.default_rng(1)
    x = rng.uniform(-4, 4, size=(64, width(name)))
    kinks = np.concatenate([np.zeros(3)] + [np.ravel(w) for w in (reference(name)[1] or {}).values()])
    x = x[np.all(np.abs(x[..., None] - kinks) > 0.05, axis=(1, 2))]  # stay away from every kink
    eps = 1e-4
    ref = forward64(name)
    # d sum(f(x)) / d x_j by central differences, one input channel j at a time (gated units mix channels).
    numeric = np.zeros_like(x)
    for j in range(x.shape[-1]):
        step = np.zeros_like(x)
        step[:, j] = eps
        numeric[:, j] = (ref(x + step).sum(-1) - ref(x - step).sum(-1)) / (2 * eps)
    np.testing.assert_allclose(as_rows(grad(layer, as_input(name, x))), numeric, rtol=2e-3, atol=2e-3, err_msg=name)
    at_zero = as_rows(grad(layer, as_input(name, np.zeros((1, width(name))))))[0]
    assert name in AT_ZERO, f"{name}: state `derivative_at_zero` in its record, or its per-channel value in AT_ZERO"
    np.testing.assert_allclose(at_zero, AT_ZERO[name], rtol=1e-5, atol=1e-6, err_msg=f"{name} f'(0)")


@pytest.mark.parametrize("name", [n for n in NAMES if reference(n)[1]])
def test_gradients_reach_every_learnable_parameter(name):
    layer = make_layer(name)
    x = as_input(name, np.random.default_rng(2).uniform(-3, 3, size=(128, 3)), positions=4)
    _, grads = grad(layer, x, wrt_weights=True)
    assert len(grads) == len(layer.trainable_weights)
    for weight, g in zip(layer.trainable_weights, grads):
        assert g.shape == tuple(weight.shape)
        nonzero = np.abs(g) > 0
        if name == "apl" and weight.path.endswith("b"):
            nonzero |= np.asarray(layer.a) == 0  # b's gradient is a * ..., zero where a is 0
        assert nonzero.all(), (weight.path, g)


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip_and_new_instance(name):
    layer = make_layer(name)
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    again = relu_zoo.get(name)
    assert again is not relu_zoo.get(name)


@pytest.mark.parametrize("name", NAMES)
def test_keras_file_round_trip_safe_mode(tmp_path, name):
    layer = relu_zoo.get(name, **reference(name)[0])
    inputs = keras.Input((5, 3))
    model = keras.Model(inputs, keras.layers.Dense(2)(layer(keras.layers.Dense(width(name))(inputs))))
    for key, value in (reference(name)[1] or {}).items():
        weight(layer, key).assign(np.asarray(value, "float32").reshape(weight(layer, key).shape))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    x = np.random.default_rng(3).normal(size=(4, 5, 3)).astype("float32")
    np.testing.assert_array_equal(ops.convert_to_numpy(model(x)), ops.convert_to_numpy(loaded(x)))


@pytest.mark.slow  # two fresh interpreters, each importing TensorFlow
def test_keras_file_loads_after_import_relu_zoo_as_documented(tmp_path):
    """A user's `.keras` file loads in a fresh process after `import relu_zoo`, and not before: Keras imports no
    other package while loading. The package docstring tells users so."""
    import subprocess
    import sys

    inputs = keras.Input((3,))
    keras.Model(inputs, relu_zoo.PReLU()(keras.layers.Dense(2)(inputs))).save(tmp_path / "m.keras")
    load = "import keras; keras.saving.load_model({!r}); print('loaded')".format(str(tmp_path / "m.keras"))
    without = subprocess.run([sys.executable, "-c", load], capture_output=True, text=True, timeout=300)
    with_import = subprocess.run([sys.executable, "-c", "import relu_zoo; " + load], capture_output=True, text=True,
                                 timeout=300)
    assert without.returncode != 0 and "could not be deserialized" in without.stderr
    assert with_import.returncode == 0 and with_import.stdout == "loaded\n", with_import.stderr[-2000:]
    doc = " ".join(relu_zoo.__doc__.split())
    assert "loads with `keras.saving.load_model`" in doc and "in a process that has imported relu_zoo" in doc
    assert "`import relu_zoo.models`" in doc


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
@pytest.mark.parametrize("name", NAMES)
def test_mixed_precision(name, policy):
    keras.config.set_dtype_policy(policy)
    try:
        layer = relu_zoo.get(name, **reference(name)[0])
        y = layer(np.random.default_rng(0).normal(size=(2, 4, width(name))).astype("float32"), training=True)
        assert keras.backend.standardize_dtype(y.dtype) == policy.split("_")[1]
        for weight in layer.weights:
            if weight.trainable:
                assert keras.backend.standardize_dtype(weight.dtype) == "float32"
    finally:
        keras.config.set_dtype_policy("float32")


def _trains_differently(name):
    """Whether training `name` in a model runs code no other activation's training runs: it has variables
    (learned parameters, RReLU's seed state), changes the width, or is the baseline. A stateless elementwise
    function trains through the same path as relu; its gradient is checked against finite differences above."""
    layer = make_layer(name)
    reshapes = layer.compute_output_shape(input_shape(name))[-1] != width(name)
    return name == "relu" or bool(layer.variables) or reshapes


def _branch(name, layer, inputs):
    """inputs -> Dense -> `layer` -> Dense(2); an activation that draws on its input's context gets 4 channels at 2
    positions along each position axis of its lowest rank, flattened after it."""
    if rank(name) == 2:
        return keras.layers.Dense(2)(layer(keras.layers.Dense(4)(inputs)))
    shape = (2,) * (rank(name) - 2) + (4,)
    h = keras.layers.Reshape(shape)(keras.layers.Dense(math.prod(shape))(inputs))
    return keras.layers.Dense(2)(keras.layers.Flatten()(layer(h)))


# Fast subset: the activations that train differently, in one model (one trace of the train step), without XLA
# and these few with it; CI: every activation in one model; the full suite: each in a model of its own, with
# and without XLA.
FAST_JIT = ("relu", "prelu", "rrelu")


def _fit_briefly(model, layers, jit):
    """Fits `model` 3 epochs on a separable toy problem: the loss stays finite and every weight of `layers` moves."""
    model.compile(keras.optimizers.Adam(0.05), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  jit_compile=jit)
    before = {layer.name: [np.array(w) for w in layer.trainable_weights] for layer in layers}
    x = np.random.default_rng(0).normal(size=(32, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int32")
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    for layer in layers:
        for b, w in zip(before[layer.name], layer.trainable_weights):
            assert not np.allclose(b, np.array(w)), f"{w.path} did not train"


@pytest.mark.parametrize("which,jit", [pytest.param("differently", False, marks=pytest.mark.slow),
                                      ("fast_jit", True),
                                      pytest.param("every", False, marks=pytest.mark.slow)])
def test_activations_train_side_by_side(which, jit):
    if jit and BACKEND == "torch":
        pytest.skip("jit_compile on torch is torch.compile, which builds C++ kernels: minutes per model on a CPU")
    keras.utils.set_random_seed(0)
    names = {"differently": [n for n in NAMES if _trains_differently(n)], "fast_jit": FAST_JIT, "every": NAMES}[which]
    layers = [relu_zoo.get(n, name=n) for n in names]
    inputs = keras.Input((6,))
    branches = [_branch(n, layer, inputs) for n, layer in zip(names, layers)]
    _fit_briefly(keras.Model(inputs, keras.layers.Add()(branches)), layers, jit)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="TensorFlow's graph optimizer (grappler)")
def test_after_a_conv_with_bias_the_graph_optimizer_keeps_working(capfd):
    # Grappler fuses conv + bias + activation where it can. LeakyReLU's backward pass once read the bias
    # output that the fusion removes: "remapper failed" on stderr, and no fusion, for every such model.
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 3))
    branches = [keras.layers.Dense(2)(keras.layers.GlobalAveragePooling2D()(
        relu_zoo.get(n, name=n)(keras.layers.Conv2D(8, 3, use_bias=True)(inputs)))) for n in NAMES]
    model = keras.Model(inputs, keras.layers.Add()(branches))
    model.compile(optimizer="sgd", loss="mse", jit_compile=False)
    capfd.readouterr()
    model.fit(np.ones((8, 6, 6, 3)), np.zeros((8, 2)), batch_size=4, epochs=1, verbose=0)
    assert "remapper failed" not in capfd.readouterr().err


@pytest.mark.slow
@pytest.mark.exhaustive
@pytest.mark.parametrize("name,jit", [(n, False) for n in NAMES] + [(n, True) for n in NAMES])
def test_trains_in_a_model(name, jit):
    if jit and BACKEND == "torch":
        pytest.skip("jit_compile on torch is torch.compile, which builds C++ kernels: minutes per model on a CPU")
    keras.utils.set_random_seed(0)
    layer = relu_zoo.get(name)
    inputs = keras.Input((6,))
    _fit_briefly(keras.Model(inputs, _branch(name, layer, inputs)), [layer], jit)


@pytest.mark.parametrize("name", NAMES)
def test_ranks_and_unknown_sizes(name):
    ranks = RECORDS[name].ranks
    for shape in [(2, 6), (2, 4, 6), (2, 4, 5, 6), (2, 2, 4, 5, 6)]:
        layer = relu_zoo.get(name, **reference(name)[0])
        inputs = keras.Input((None,) * (len(shape) - 2) + (6,))
        if ranks is not None and len(shape) not in ranks:
            # One ValueError at build time naming the layer, the rank it got and the ranks it takes.
            with pytest.raises(ValueError, match=rf"^{type(layer).__name__} takes inputs of rank [0-9a-z ,]+ "
                                                 rf"\(batch, positions\.\.\., channels\), not rank {len(shape)}\. "
                                                 r"Received: input_shape=\("):
                layer(inputs)
            continue
        model = keras.Model(inputs, layer(inputs))
        y = model(np.ones(shape, "float32"))
        expected = shape[:-1] + ((12,) if name == "crelu" else (3,) if name in GATED else (6,))
        assert tuple(y.shape) == expected
        assert model.output_shape[1:-1] == (None,) * (len(shape) - 2)


# The learnable activations whose parameters `channelwise`, `shared_axes` and `data_format` place.
PLACED = [n for n in NAMES if reference(n)[1] and "channelwise" in relu_zoo.get(n).get_config()]


@pytest.mark.parametrize("name", PLACED)
def test_parameter_placement(name):
    # Explicitly per channel: StarReLU and xIELU default to one value per layer, as their papers.
    channels_first = relu_zoo.get(name, channelwise=True, data_format="channels_first")
    channels_first.build((None, 5, 7, 9))
    single = relu_zoo.get(name, channelwise=False)
    single.build((None, 7, 9, 5))
    shared = relu_zoo.get(name, shared_axes=[1, 2])
    shared.build((None, 7, 9, 5))
    assert single.count_params() == len(single.weights) * (2 if name == "apl" else 1)  # APL: 2 hinges each
    assert channels_first.count_params() == single.count_params() * 5
    assert all(tuple(w.shape)[-3:] == (5, 1, 1) for w in channels_first.weights)
    assert shared.count_params() == single.count_params() * 5
    y = channels_first(np.random.default_rng(0).normal(size=(2, 5, 7, 9)).astype("float32"))
    assert tuple(y.shape) == (2, 5, 7, 9)


def test_prelu_is_channelwise_and_builds_on_unknown_spatial_sizes():
    layer = relu_zoo.PReLU()
    inputs = keras.Input((None, None, 16))
    model = keras.Model(inputs, layer(inputs))
    assert layer.count_params() == 16
    np.testing.assert_array_equal(np.array(layer.alpha), np.full(16, 0.25))
    assert model(np.ones((2, 5, 7, 16), "float32")).shape == (2, 5, 7, 16)
    # keras' own PReLU cannot build here: its slope has one entry per input element.
    with pytest.raises(Exception):
        keras.Model(inputs, keras.layers.PReLU()(inputs))


def test_prelu_gradient_reaches_every_channel():
    layer = relu_zoo.PReLU()
    layer.build((None, 4, 4, 8))
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 8))
    _, (g_alpha,) = grad(layer, x, wrt_weights=True)
    expected = np.minimum(x, 0).sum(axis=(0, 1, 2))
    np.testing.assert_allclose(g_alpha, expected, rtol=1e-5)


@pytest.mark.parametrize("kwargs,shape", [({}, (3, 4, 5, 8)), ({"data_format": "channels_first"}, (3, 8, 4, 5)),
                                          ({"channelwise": False}, (3, 4, 5, 8)), ({"shared_axes": []}, (3, 4, 5, 8)),
                                          ({"shared_axes": [1]}, (3, 4, 5, 8))])
def test_prelu_gradients_in_a_traced_step(kwargs, shape):
    """In a traced step (on TensorFlow: the XLA-fused backward pass, alpha's sum as a matrix-vector product where
    the shared axes lead, a reduction elsewhere; `jax.jit`; PyTorch's own kernels, eagerly) both gradients match
    `dy * slope` and the sum of `dy * min(x, 0)` over the axes alpha is shared along, for every placement of alpha."""
    layer = relu_zoo.PReLU(alpha_initializer=keras.initializers.RandomUniform(0.1, 0.4, seed=0), **kwargs)
    layer.build((None,) + shape[1:])
    rng = np.random.default_rng(3)
    x, dy = rng.normal(size=shape).astype("float32"), rng.normal(size=shape).astype("float32")
    if BACKEND == "tensorflow":
        import tensorflow as tf

        @tf.function
        def step(x, dy):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(layer(x) * dy)
            return tape.gradient(loss, [x, layer.alpha])

        gx, ga = (np.asarray(g) for g in step(tf.constant(x), tf.constant(dy)))
    elif BACKEND == "torch":  # eager: PyTorch's own PReLU kernels (relu_zoo._torch_ops)
        import torch

        xt = torch.tensor(x, requires_grad=True)
        gx, ga = (g.numpy() for g in torch.autograd.grad((layer(xt) * torch.tensor(dy)).sum(),
                                                          [xt, layer.alpha.value]))
    else:
        import jax

        def loss(alpha, x):
            return (layer.stateless_call([alpha], [], x)[0] * dy).sum()

        ga, gx = (np.asarray(g) for g in jax.jit(jax.grad(loss, argnums=(0, 1)))(layer.alpha.value, x))
    alpha = np.asarray(layer.alpha)
    np.testing.assert_allclose(gx, dy * np.where(x > 0, 1.0, np.broadcast_to(alpha, x.shape)), rtol=1e-6)
    product = dy * np.minimum(x, 0)
    lead = x.ndim - alpha.ndim
    expected = product.sum(axis=tuple(range(lead)))
    expected = expected.sum(axis=tuple(i for i, d in enumerate(alpha.shape) if d == 1), keepdims=True)
    np.testing.assert_allclose(ga, expected.reshape(alpha.shape), rtol=1e-5, atol=1e-5)


def test_rrelu_training_slopes_statistics_and_inference():
    layer = relu_zoo.RReLU(seed=7)
    x = -np.ones((100_000,), "float32")
    a = -call(layer, x, training=True)
    assert a.min() >= 1 / 8 and a.max() <= 1 / 3
    assert abs(a.mean() - (1 / 8 + 1 / 3) / 2) < 0.002
    b = -call(layer, x, training=True)
    assert not np.array_equal(a, b), "slopes must be fresh on every call"
    same_seed = -call(relu_zoo.RReLU(seed=7), x, training=True)
    np.testing.assert_array_equal(a, same_seed)
    mixed = np.linspace(-5, 5, 101).astype("float32")
    slope = (1 / 8 + 1 / 3) / 2
    np.testing.assert_array_equal(call(layer, mixed), np.where(mixed > 0, mixed, np.float32(slope) * mixed))
    np.testing.assert_array_equal(call(layer, mixed, training=False), call(layer, mixed))


def test_rrelu_training_slopes_are_uniform_at_full_resolution():
    """The slopes pass a Kolmogorov-Smirnov test against U(lower, upper) and take tens of thousands of
    distinct values (on TensorFlow: 16-bit cells, from splitmix64 of each index), for odd sizes too."""
    from scipy import stats

    layer = relu_zoo.RReLU(seed=11)
    a = -call(layer, -np.ones((101, 999), "float32"), training=True).ravel()
    assert a.min() >= 1 / 8 and a.max() <= 1 / 3
    assert stats.kstest(a, stats.uniform(1 / 8, 1 / 3 - 1 / 8).cdf).pvalue > 1e-3
    assert len(np.unique(a)) > 30_000
    half = a.size // 2  # both halves of the draw are random, and independent of each other
    assert abs(np.corrcoef(a[:half], a[half:2 * half])[0, 1]) < 0.02
    assert not np.array_equal(a[:half], a[half:2 * half])


def test_rrelu_inverse_parameterization():
    layer = relu_zoo.get("rrelu_xu", seed=1)
    assert layer.inference_slope == pytest.approx(2 / 11)
    a = -call(layer, -np.ones((50_000,), "float32"), training=True)
    assert a.min() >= 1 / 8 - 1e-7 and a.max() <= 1 / 3 + 1e-7
    assert abs(a.mean() - math.log(8 / 3) / 5) < 0.003  # E[1/a], a ~ U(3, 8)
    np.testing.assert_allclose(call(layer, np.array([-11.0])), [-2.0], rtol=1e-6)


def test_rrelu_in_compiled_function_draws_new_slopes():
    if BACKEND == "torch":
        pytest.skip("jit_compile on torch is torch.compile, which builds C++ kernels: minutes per model on a CPU")
    layer = relu_zoo.RReLU(seed=3)
    model = keras.Sequential([keras.Input((1000,)), layer])
    model.compile(loss="mse", jit_compile=True)
    x = -np.ones((2, 1000), "float32")
    first = model.predict_on_batch(x)
    np.testing.assert_allclose(first, np.float32(-(1 / 8 + 1 / 3) / 2), rtol=1e-6)  # inference: fixed
    out = []
    model.fit(x, np.zeros_like(x), epochs=2, batch_size=2, verbose=0, callbacks=[keras.callbacks.LambdaCallback(
        on_epoch_end=lambda e, logs: out.append(np.array(layer.seed_generator.state)))])
    assert not np.array_equal(out[0], out[1]), "the seed generator must advance in compiled training"


BAD_ARGUMENTS = [
    ("leaky_relu", {"negative_slope": -1}, "negative_slope=-1"),
    ("relu", {"max_value": -1.0}, "max_value=-1.0"),
    ("relu", {"max_value": 1.0, "threshold": 2.0}, "threshold=2.0"),
    ("rrelu", {"lower": 0.5, "upper": 0.1}, "lower=0.5, upper=0.1"),
    ("rrelu", {"parameterization": "nope"}, "parameterization='nope'"),
    ("rrelu", {"seed": "x"}, "seed='x'"),
    ("elu", {"alpha": 0}, "alpha=0"),
    ("celu", {"alpha": -1}, "alpha=-1"),
    ("gelu", {"approximate": "yes"}, "approximate='yes'"),
    ("apl", {"hinges": 0}, "hinges=0"),
    ("prelu", {"data_format": "nhwc"}, "data_format='nhwc'"),
    ("prelu", {"shared_axes": [0]}, "shared_axes=[0]"),
    ("prelu", {"shared_axes": [1], "channelwise": False}, "channelwise=False"),
    ("crelu", {"axis": 1.5}, "axis=1.5"),
    ("glu", {"axis": "last"}, "axis='last'"),
    ("geglu", {"approximate": 1}, "approximate=1"),
    ("leaky_relu", {"negative_slope": float("nan")}, "negative_slope=nan"),
    ("xielu", {"alpha_p_init": 0.0}, "alpha_p_init=0.0"),
    ("xielu", {"alpha_n_init": 0.5}, "alpha_n_init=0.5, beta=0.5"),
    ("xielu", {"beta": -0.5}, "beta=-0.5"),
    ("xielu", {"eps": 1e-6}, "eps=1e-06"),
    ("star_relu", {"shared_axes": [1], "channelwise": False}, "channelwise=False"),
    ("acon_c", {"channelwise": 1}, "channelwise=1"),
    ("pau", {"numerator_init": []}, "numerator_init=[]"),
    ("pau", {"denominator_init": [1.0, float("inf")]}, "denominator_init=[1.0, inf]"),
    ("pau", {"numerator_init": "0.5"}, "numerator_init='0.5'"),
    ("pau", {"numerator_init": [1e5], "dtype": "float16"}, "numerator_init=[100000.0]"),
    ("frelu", {"kernel_size": 2}, "kernel_size=2"),
    ("frelu", {"momentum": 1.0}, "momentum=1.0"),
    ("frelu", {"epsilon": 0.0}, "epsilon=0.0"),
    ("frelu", {"use_bias": 1}, "use_bias=1"),
    ("dy_relu", {"pieces": 1}, "pieces=1"),
    ("dy_relu", {"reduction": 0}, "reduction=0"),
    ("dy_relu", {"lambda_b": -0.5}, "lambda_b=-0.5"),
    ("dy_relu", {"data_format": "nhwc"}, "data_format='nhwc'"),
    ("meta_acon", {"reduction": 2.0}, "reduction=2.0"),
]


@pytest.mark.parametrize("name,kwargs,message", BAD_ARGUMENTS)
def test_constructor_validation(name, kwargs, message):
    with pytest.raises(ValueError, match="Received: .*" + message.replace("[", r"\[").replace("]", r"\]")):
        relu_zoo.get(name, **kwargs)


def test_build_errors_name_the_problem():
    with pytest.raises(ValueError, match="known channel size"):
        relu_zoo.PReLU().build((None, 4, None))
    with pytest.raises(ValueError, match="shared_axes"):
        relu_zoo.PReLU(shared_axes=[3]).build((None, 4, 3))


def test_documented_defaults():
    assert relu_zoo.LeakyReLU().negative_slope == 0.01
    assert activations.leaky_relu.__defaults__ == (0.01,)
    assert (relu_zoo.RReLU().lower, relu_zoo.RReLU().upper) == (1 / 8, 1 / 3)
    assert relu_zoo.GELU().approximate is False
    assert relu_zoo.GEGLU().approximate is False and activations.geglu.__defaults__ == (-1, False)
    assert all(relu_zoo.get(name).axis == -1 for name in GATED)
    layer = relu_zoo.PReLU()
    layer.build((None, 4))
    np.testing.assert_array_equal(np.array(layer.alpha), np.full(4, 0.25))


def test_the_papers_initial_parameters():
    # StarReLU: one scale and bias per layer, 0.8944 and -0.4472 (Yu et al. 2023, §3.1).
    star = relu_zoo.StarReLU()
    star.build((None, 4, 6))
    np.testing.assert_allclose([np.array(star.scale), np.array(star.bias)], [0.8944, -0.4472], rtol=1e-7)
    # xIELU: alpha_p = alpha_n = 0.8 through softplus, beta 0.5, eps -1e-6, one each per layer (the authors' code).
    xielu = relu_zoo.XIELU()
    xielu.build((None, 4, 6))
    assert xielu.alpha_p.shape == () and (xielu.beta, xielu.eps) == (0.5, -1e-6)
    np.testing.assert_allclose(np.logaddexp(0, np.array(xielu.alpha_p)), 0.8, rtol=1e-6)
    np.testing.assert_allclose(0.5 + np.logaddexp(0, np.array(xielu.alpha_n)), 0.8, rtol=1e-6)
    # ACON-C: p1, p2 ~ N(0, 1) and beta = 1 per channel (Ma et al. 2021's code).
    acon = relu_zoo.AconC()
    acon.build((None, 4096))
    np.testing.assert_array_equal(np.array(acon.beta), np.ones(4096))
    for p in (np.array(acon.p1), np.array(acon.p2)):
        assert abs(p.mean()) < 0.1 and abs(p.std() - 1) < 0.1
    # PAU: a_0..a_5 and b_1..b_4, one each per layer, from the paper's code's fit of leaky ReLU (ml-research/pau,
    # `pade_optimized_leakyrelu`), within 0.034 of it on [-3, 3].
    pau = relu_zoo.PAU()
    pau.build((None, 4, 6))
    assert [w.name for w in pau.weights] == [f"a{j}" for j in range(6)] + [f"b{k}" for k in range(1, 5)]
    assert all(tuple(w.shape) == () for w in pau.weights)
    np.testing.assert_allclose([float(keras.ops.convert_to_numpy(w)) for w in pau.weights], [
        3.35583603e-02, 5.05000375e-01, 1.65343934e+00, 2.01001052e+00, 9.31901999e-01, 1.52424124e-01,
        3.30847488e-06, 3.98021568e+00, 5.12471206e-07, 3.01830109e-01], rtol=1e-7)
    x = np.linspace(-3, 3, 601, dtype="float32")[None]
    assert np.abs(keras.ops.convert_to_numpy(pau(x)) - np.where(x > 0, x, 0.01 * x)).max() < 0.034
    # FReLU: a 3x3 depthwise kernel He normal with fan out (9) and a bias U[±1/3], batch norm gamma 1, beta 0,
    # momentum 0.9, epsilon 1e-5 (the authors' MegEngine code).
    frelu = relu_zoo.FReLU()
    frelu.build((None, None, None, 512))
    kernel, bias = np.array(frelu.funnel.kernel), np.array(frelu.funnel.bias)
    assert kernel.shape == (3, 3, 512, 1) and abs(kernel.std() - math.sqrt(2 / 9)) < 0.02
    assert np.abs(bias).max() <= 1 / 3 and np.abs(bias).max() > 0.3
    norm = frelu.funnel_norm
    np.testing.assert_array_equal([np.array(norm.gamma), np.array(norm.beta)], [np.ones(512), np.zeros(512)])
    assert (norm.momentum, norm.epsilon, frelu.kernel_size) == (0.9, 1e-5, 3)
    # DY-ReLU-B: K = 2, R = 4, lambda_a = 1, lambda_b = 0.5; dense layers at PyTorch's default, U[±1/sqrt(fan in)].
    dy = relu_zoo.DyReLU()
    dy.build((None, None, None, 64))
    assert (dy.pieces, dy.reduction, dy.lambda_a, dy.lambda_b) == (2, 4, 1.0, 0.5)
    assert dy.squeeze.units == 16 and dy.residuals.units == 2 * 2 * 64
    assert np.abs(np.array(dy.squeeze.kernel)).max() <= 1 / 8 and np.abs(np.array(dy.residuals.bias)).max() <= 1 / 4
    # A residual of 0 is relu: alpha = (1, 0), beta = 0.
    dy.residuals.kernel.assign(np.zeros((16, 256)))
    dy.residuals.bias.assign(np.zeros(256))
    x = np.linspace(-3, 3, 64 * 4, dtype="float32").reshape(1, 2, 2, 64)
    np.testing.assert_array_equal(ops.convert_to_numpy(dy(x)), np.maximum(x, 0))
    # meta-ACON: r = 16 and a hidden width max(r, C // r); p1, p2 ~ N(0, 1), drawn apart, per channel.
    for channels, hidden in ((64, 16), (1024, 64)):
        meta = relu_zoo.MetaAconC()
        meta.build((None, None, channels))
        assert meta.squeeze.units == hidden and meta.expand.units == channels
    p1, p2 = np.array(meta.p1), np.array(meta.p2)
    assert not np.allclose(p1, p2)
    for p in (p1, p2):
        assert abs(p.mean()) < 0.1 and abs(p.std() - 1) < 0.1


@pytest.mark.skipif(BACKEND != "tensorflow", reason="examples show TensorFlow's output; last digits differ")
@pytest.mark.parametrize("module", sorted({type(relu_zoo.get(n)).__module__ for n in NAMES}))
def test_docstring_examples(module):
    mod = importlib.import_module(module)
    globs = {"np": np, "keras": keras, **{k: getattr(relu_zoo.layers, k) for k in relu_zoo.layers.__all__}}
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    tests = [t for t in finder.find(mod, globs=globs) if t.examples]
    assert tests, f"{module} has no Example"
    for test in tests:
        runner.run(test)
    assert runner.failures == 0, f"docstring example of {module} is wrong"
