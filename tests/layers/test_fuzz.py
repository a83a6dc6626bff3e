"""Property-based fuzz (Hypothesis) of every registered activation: random constructor arguments, valid and
invalid, random weights, shapes, dtypes and edge inputs, against the edge rules of docs/howto/layers.md.

Properties:

- a constructor argument is accepted or refused with a ValueError that names it; a non-finite number, a bool
  or a string is never accepted where a number is meant; a bad axis or shape is a ValueError at build time;
- an accepted layer keeps the dtype (the compute dtype under a mixed policy), gives NaN exactly where the float64
  reference does (NaN in -> NaN out), its limit at ±inf, a finite value wherever the value fits the dtype, and
  agrees with a float64 NumPy reference of its formula (`FORMULAS`), within a few units in the last place of the
  inputs and the output;
- input gradients: NaN at a NaN input, finite at finite inputs, the derivative's limit at ±inf, and the float64
  reference's derivative away from kinks; parameter gradients are not NaN unless an input is;
- `get_config` / `from_config` and `.keras` files give back the same function.

The arguments drawn for an activation come from its default `get_config()` (the type of each default decides what
is drawn), its registry aliases and its weights' constraints, so a new activation is fuzzed by being registered;
one with arguments or weights needs a formula in `FORMULAS` (a parameter-free one is checked against its own
float64 layer, whose values test_torch_reference.py checks against PyTorch). Hypothesis profiles
(tests/conftest.py): "ci" is derandomized with few examples per activation; the `long` variants (marked exhaustive, not run in CI) draw many more:
    python -m pytest -q -m exhaustive tests/layers/test_fuzz.py
"""

import inspect
import math
import re

import hypothesis
import keras
import ml_dtypes
import numpy as np
import pytest
import scipy.special
from hypothesis import strategies as st

import relu_zoo
from relu_zoo.layers.base import RECORDS, GatedActivation

tf = pytest.importorskip("tensorflow")
pytestmark = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                reason="gradients are taken with tf.GradientTape")

NAMES = relu_zoo.list_activations()
PROFILES = [pytest.param("ci", id="ci"),
            pytest.param("long", id="long", marks=(pytest.mark.slow, pytest.mark.exhaustive))]
NUMPY = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32, "float64": np.float64}
POLICIES = ["float16", "bfloat16", "float32", "float64", "mixed_float16", "mixed_bfloat16"]
# Keys every layer's config has (name, trainable, dtype, ...), and the weight options of learnable layers: the
# fuzz sets weights directly instead.
BASE_KEYS = set(keras.layers.Layer().get_config())
WEIGHT_OPTION = re.compile(r"_(initializer|regularizer|constraint)$")
# Strings tried for string arguments besides their default and the registry aliases' values.
WORDS = ["channels_first", "channels_last", "", "nope"]


def run(profile, check, *args, scale=1):
    """`check(data, *args)` as a Hypothesis test under the named settings profile (tests/conftest.py), with `scale`
    times its number of examples."""
    settings = hypothesis.settings.get_profile(profile)

    @hypothesis.settings(settings, max_examples=settings.max_examples * scale)
    @hypothesis.given(st.data())
    def test(data):
        check(data, *args)

    test()


# ---------------------------------------------------------------------------------------------------------------
# Constructor arguments, from the default config.

def arguments(name):
    """The activation's own constructor arguments and their defaults (its default config, less Keras' keys and
    the weight options)."""
    config = relu_zoo.get(name).get_config()
    return {k: v for k, v in config.items() if k not in BASE_KEYS and not WEIGHT_OPTION.search(k)}


def _alias_values(name, key):
    return [d[key] for d in RECORDS[name].aliases.values() if key in d]


def plausible(name, key, default):
    """Values a user might pass for `key`, judged by the type of its default: mostly right-typed, some not."""
    numbers = st.one_of(
        st.sampled_from([0.0, -0.0, 0.01, 0.2, 0.25, 0.5, 1.0, 2.0, 6.0, 20.0, -1.0, -20.0, 1e-30, 1e-40, 1e4, 1e30,
                         1e39, 3, 0, 1, -1]),
        st.floats(-100, 100),
        st.floats(0, 10).map(np.float32),
        st.integers(0, 10).map(np.int64),
    )
    if isinstance(default, bool):
        return st.booleans()
    if isinstance(default, str):
        return st.sampled_from([default, *_alias_values(name, key), *WORDS])
    if isinstance(default, int):
        return st.one_of(st.integers(-5, 5), st.just(default))
    if isinstance(default, float):
        return st.one_of(numbers, st.sampled_from([default, *_alias_values(name, key)]))
    return st.one_of(st.none(), numbers, st.integers(-3, 5), st.lists(st.integers(-1, 4), max_size=3))


def junk():
    """Values that are wrong for any argument, or for most."""
    return st.one_of(
        st.sampled_from([math.inf, -math.inf, math.nan, True, False, None, "1", "", [], [1.0], {}, 1.5, -7, 10 ** 20,
                         np.float32("inf"), np.float64("nan")]),
        st.text(max_size=3),
    )


def draw_config(data, name, invalid):
    """Constructor arguments for `name`: a random subset of its arguments changed, to plausible values or (with
    `invalid`) also to junk."""
    config = {}
    for key, default in arguments(name).items():
        if data.draw(st.booleans(), label=f"change {key}"):
            values = st.one_of(plausible(name, key, default), junk()) if invalid else plausible(name, key, default)
            config[key] = data.draw(values, label=key)
    return config


def never_accepted(value, default):
    """Whether `value` is wrong for an argument whose default is `default`, whatever the argument means."""
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return True  # no argument takes a non-finite number: "no cap" is None, never inf
    if isinstance(value, bool) and not isinstance(default, bool):
        return True
    if isinstance(value, str) and not isinstance(default, str) and default is not None:
        return True
    return False


def construct(name, config, **kwargs):
    """The layer, or the ValueError its constructor raises; any other exception fails the test."""
    try:
        return relu_zoo.get(name, **config, **kwargs)
    except ValueError as error:
        return error


def assert_names_an_argument(error, config, what):
    message = str(error)
    named = [key for key in config if f"`{key}`" in message or f"{key}=" in message]
    assert named, f"{what}: the ValueError names none of the arguments {sorted(config)}: {message}"
    assert "Received" in message, f"{what}: the ValueError does not say what it received: {message}"


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", NAMES)
def test_constructor_accepts_or_names_the_argument(name, profile):
    run(profile, _check_constructor, name, scale=8)  # no tensors: cheap


def _check_constructor(data, name):
    config = draw_config(data, name, invalid=True)
    layer = construct(name, config)
    defaults = arguments(name)
    if isinstance(layer, ValueError):
        assert_names_an_argument(layer, config, f"{name}({config})")
        return
    wrong = {k: v for k, v in config.items() if never_accepted(v, defaults[k])}
    assert not wrong, f"{name} accepted {wrong}"
    # An accepted layer round trips through its config.
    again = type(layer).from_config(layer.get_config())
    assert again.get_config() == layer.get_config()


# ---------------------------------------------------------------------------------------------------------------
# Inputs.

def dtype_info(dtype):
    info = ml_dtypes.finfo(NUMPY[dtype])
    return {"eps": float(info.eps), "max": float(info.max), "tiny": float(info.smallest_normal),
            "subnormal": float(info.smallest_subnormal)}


def input_values(dtype):
    info = dtype_info(dtype)
    specials = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 3.0, -3.0, 6.0, 20.0, -20.0, 1e4, -1e4, info["max"], -info["max"],
                info["tiny"], -info["tiny"], info["subnormal"], -info["subnormal"], 1e-8, -1e-8,
                math.inf, -math.inf, math.nan]
    return st.one_of(st.sampled_from(specials), st.floats(-30, 30), st.floats(-info["max"], info["max"]))


def record_of(layer):
    return next(record for record in RECORDS.values() if record.layer is type(layer))


def draw_shape(data, layer):
    """Ranks 2 to 4; for an activation that draws on its input's context, the ranks its record lists and rank 2, which
    it refuses."""
    ranks = record_of(layer).ranks
    rank = data.draw(st.integers(2, 4) if ranks is None else st.sampled_from(sorted({2, *ranks})), label="rank")
    shape = data.draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank), label="shape")
    if isinstance(layer, GatedActivation) and -rank <= layer.axis < rank:
        shape[layer.axis] = data.draw(st.sampled_from([2, 4]), label="gated size")
    return tuple(shape)


# ---------------------------------------------------------------------------------------------------------------
# The float64 references: the formula of each activation at finite inputs (`elementwise` adds ±inf and NaN; the
# gated units' formula is the gate's, times the value). `p` holds the constructor arguments (defaults filled in)
# and the weights as float64 arrays that broadcast against x. A formula returns f(x), or (f(x), scale) where
# rounding the terms of a sum can err by eps * scale (cancellation), or for a random layer in training
# ((low, high), None), the range f(x) may take.

def _sigmoid(z):
    return scipy.special.expit(z)


def _gelu(x, approximate):
    if approximate:
        return x * _sigmoid(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))
    return 0.5 * x * scipy.special.erfc(-x / math.sqrt(2))


def _relu(x, p):
    t, slope, top = p["threshold"], p["negative_slope"], p["max_value"]
    y = np.where(x > t, x, slope * (x - t))
    return y if top is None else np.where(x >= top, top, y)


def _srelu(x, p):
    right = p["t_right"] + p["a_right"] * (x - p["t_right"])
    left = p["t_left"] + p["a_left"] * (x - p["t_left"])
    y = np.where(x >= p["t_right"], right, np.where(x <= p["t_left"], left, x))
    scale = np.where(x >= p["t_right"], abs(p["t_right"]) + abs(right - p["t_right"]),
                     np.where(x <= p["t_left"], abs(p["t_left"]) + abs(left - p["t_left"]), abs(x)))
    return y, scale


def _apl(x, p):
    terms = [np.maximum(x, 0)] + [a * np.maximum(b - x, 0) for a, b in zip(p["a"], p["b"])]
    return sum(terms), sum(abs(t) for t in terms)


def _apl_minus_inf(p):
    # f(x) = sum_s a_s * (b_s - x) for x below every kink: -x * sum(a) + sum(a * b).
    total = sum(p["a"])
    return np.where(total > 0, math.inf, np.where(total < 0, -math.inf, sum(a * b for a, b in zip(p["a"], p["b"]))))


def _rrelu(x, p):
    inverse = p["parameterization"] == "inverse"
    lower, upper = p["lower"], p["upper"]
    if p["training"]:
        slopes = (1 / upper, 1 / lower) if inverse else (lower, upper)
        ends = [np.where(x > 0, x, s * x) for s in slopes]
        return (np.minimum(*ends), np.maximum(*ends)), None
    slope = 2 / (lower + upper) if inverse else (lower + upper) / 2
    return np.where(x > 0, x, slope * x)


def _softplus(x, p):
    # The branch is taken where beta * x, computed in the precision of the function, exceeds the threshold.
    work = NUMPY[p["work_dtype"]]
    linear = work(p["beta"]) * x.astype(work) > work(p["threshold"])
    return np.where(linear, x, np.logaddexp(0, p["beta"] * x) / p["beta"])


def _star_relu(x, p):
    square = np.where(p["scale"] == 0, 0.0, p["scale"] * np.maximum(x, 0) ** 2)  # bias at +inf for a zero scale
    return square + p["bias"], abs(square) + abs(p["bias"])


def _work_softplus(w, p):
    """softplus(w) as the layer computes it: in its working precision, a result below the smallest normal number
    flushed to 0 as TensorFlow's CPU kernels may."""
    work = NUMPY[p["work_dtype"]]
    value = np.logaddexp(0, w).astype(work).astype("float64")
    return np.where(value < dtype_info(p["work_dtype"])["tiny"], 0.0, value)


def _xielu(x, p):
    # alpha_n = beta + softplus(w_n) rounded to the working precision, as the layer forms it: a slope
    # beta - alpha_n that rounds to 0 there takes the limit -alpha_n at -inf.
    work = NUMPY[p["work_dtype"]]
    alpha_p, beta, eps = _work_softplus(p["alpha_p"], p), p["beta"], p["eps"]
    alpha_n = (work(beta) + _work_softplus(p["alpha_n"], p).astype(work)).astype("float64")
    positive = x * (alpha_p * x + beta)
    exponential, linear = alpha_n * np.expm1(np.minimum(x, eps)), (beta - alpha_n) * x
    y = np.where(x > 0, positive, exponential + linear)
    scale = np.where(x > 0, abs(alpha_p * x * x) + abs(beta * x), abs(exponential) + abs(linear))
    return y, scale


def _acon_c(x, p):
    # p1 * s + p2 * (1 - s), with 1 - s = sigmoid(-z): the paper's `p2 + (p1 - p2) * s` cancels where s is near 1,
    # in float64 too.
    z = p["beta"] * (p["p1"] - p["p2"]) * x
    high, low = p["p1"] * _sigmoid(z), p["p2"] * _sigmoid(-z)
    return x * (high + low), abs(x) * (abs(high) + abs(low))


def _acon_c_limit(sign):
    """ACON-C at sign * inf: c * x, c the slope of the piece that beta * d * x tends to (0 where c is 0)."""

    def limit(p):
        d = p["p1"] - p["p2"]
        towards = sign * p["beta"] * d
        c = np.where(towards > 0, p["p1"], np.where(towards < 0, p["p2"], p["p2"] + 0.5 * d))
        return np.where(c == 0, 0.0, sign * c * math.inf)

    return limit


def _pau_coefficients(p):
    """PAU's a_j and |b_k| as the layer computes with them: TensorFlow's CPU kernels take a number below the smallest
    normal one of the working precision as 0."""
    tiny = dtype_info(p["work_dtype"])["tiny"]
    flush = lambda v: np.where(abs(v) < tiny, 0.0, v)  # noqa: E731
    return ([flush(p[f"a{j}"]) for j in range(len(p["numerator_init"]))],
            [abs(flush(p[f"b{k}"])) for k in range(1, len(p["denominator_init"]) + 1)])


def _pau(x, p):
    # In extended precision (80-bit on x86): x**5 overflows float64 from |x| = 1e61, where P / Q need not.
    a, c = _pau_coefficients(p)
    x = np.asarray(x).astype(np.longdouble)
    terms = [np.longdouble(1) * a_j * x ** j for j, a_j in enumerate(a)]
    q = 1 + sum(c_k * abs(x) ** k for k, c_k in enumerate(c, 1))
    return (sum(terms) / q).astype("float64"), (sum(abs(t) for t in terms) / q).astype("float64")


def _pau_limit(sign):
    """PAU at sign * inf: a_p x**p / (|b_q| |x|**q) for the highest nonzero a_p and b_q (|b_0| = 1 where every b is
    0): ±inf where p > q, a_q / |b_q| * sign**q where p = q, 0 where p < q."""

    def limit(p):
        a, c = _pau_coefficients(p)
        p_degree, p_lead, q_degree, q_lead = -1, 0.0, 0, 1.0
        for j, a_j in enumerate(a):
            p_degree, p_lead = np.where(a_j != 0, j, p_degree), np.where(a_j != 0, a_j, p_lead)
        for k, c_k in enumerate(c, 1):
            q_degree, q_lead = np.where(c_k != 0, k, q_degree), np.where(c_k != 0, c_k, q_lead)
        sign_p, sign_q = np.power(float(sign), p_degree), np.power(float(sign), q_degree)
        return np.where(p_degree > q_degree, np.sign(p_lead) * sign_p * math.inf,
                        np.where(p_degree == q_degree, p_lead / q_lead * sign_q, 0.0))

    return limit


def _pau_opposite_overflows(weight, x, p):
    """Whether PAU's gradient of the coefficient `weight` sums terms (x**j / Q for a_j, -sign(b_k) |x|**k P / Q**2 for
    b_k) that overflow the working precision with both signs: x = +inf and -inf in one batch, say, where a_5's terms
    are +inf and -inf. Their sum is IEEE's `inf - inf`, NaN ("No limit, IEEE's answer" in docs/howto/layers.md)."""
    a, c = _pau_coefficients(p)
    big = np.longdouble(10) ** 600  # ±inf as ±1e600: every term's sign and size class, none of them inf / inf
    x = np.where(np.isinf(x), np.sign(x) * big, np.asarray(x).astype(np.longdouble))
    q = 1 + sum(c_k * abs(x) ** k for k, c_k in enumerate(c, 1))
    if weight.startswith("a"):
        term = x ** int(weight[1:]) / q
    else:
        k = int(weight[1:])
        term = -np.sign(p[weight]) * (abs(x) ** k / q) * (sum(a_j * x ** j for j, a_j in enumerate(a)) / q)
    top = dtype_info(p["work_dtype"])["max"]
    return bool((term > top).any() and (term < -top).any())


def _gated(gate):
    def f(a, b, p):
        return a * gate(b, p)

    return f


FORMULAS = {
    "relu": _relu,
    "relu6": lambda x, p: np.clip(x, 0, 6),
    "leaky_relu": lambda x, p: np.where(x > 0, x, p["negative_slope"] * x),
    "prelu": lambda x, p: np.where(x > 0, x, p["alpha"] * x),
    "rrelu": _rrelu,
    "srelu": _srelu,
    "apl": _apl,
    "crelu": None,  # in `reference`: its output is twice as wide
    "pelu": lambda x, p: np.where(x >= 0, p["alpha"] / p["beta"] * x, p["alpha"] * np.expm1(x / p["beta"])),
    "swish_beta": lambda x, p: x * _sigmoid(p["beta"] * x),
    "elu": lambda x, p: np.where(x > 0, x, p["alpha"] * np.expm1(x)),
    "celu": lambda x, p: np.where(x > 0, x, p["alpha"] * np.expm1(x / p["alpha"])),
    "selu": lambda x, p: relu_zoo.activations.SELU_SCALE * np.where(x > 0, x, relu_zoo.activations.SELU_ALPHA
                                                                      * np.expm1(x)),
    "gelu": lambda x, p: _gelu(x, p["approximate"]),
    "silu": lambda x, p: x * _sigmoid(x),
    "mish": lambda x, p: x * np.tanh(np.logaddexp(0, x)),
    "softplus": _softplus,
    "glu": _gated(lambda b, p: _sigmoid(b)),
    "reglu": _gated(lambda b, p: np.maximum(b, 0)),
    "geglu": _gated(lambda b, p: _gelu(b, p["approximate"])),
    "swiglu": _gated(lambda b, p: b * _sigmoid(b)),
    "bilinear": _gated(lambda b, p: b),
    "squared_relu": lambda x, p: np.maximum(x, 0) ** 2,
    "hard_sigmoid": lambda x, p: np.clip(x + 3, 0, 6) / 6,
    "hard_swish": lambda x, p: np.where(x <= -3, 0.0, np.where(x >= 3, x, x * (x + 3) / 6)),
    "quick_gelu": lambda x, p: x * _sigmoid(1.702 * x),
    "star_relu": _star_relu,
    "xielu": _xielu,
    "acon_c": _acon_c,
    "pau": _pau,
}
# The functions' limits at ±inf, by the registry name; elsewhere the reference is evaluated at ±HUGE and ±2 HUGE.
LIMITS = {"apl": {-1: _apl_minus_inf}, "acon_c": {1: _acon_c_limit(1), -1: _acon_c_limit(-1)},
          "pau": {1: _pau_limit(1), -1: _pau_limit(-1)}}
# Parameter gradients that sum terms of the inputs which may overflow with both signs: (weight name, x, p) -> bool.
OPPOSITE_OVERFLOWS = {"pau": _pau_opposite_overflows}
# Inputs at or next to a kink whose documented derivative need not be either side's: APL's terms each take 0 at
# their own kink, also where two kinks meet and their jumps cancel (relu(x) - relu(-x) at b = 0 is smooth, its
# derivative 1, not 0), and a narrow piece between two near kinks hides from differences.
KINKS = {"apl": lambda x, p: np.any([abs(x - k) <= 1e-6 * np.maximum(abs(x), 1) for k in [0.0, *p["b"]]], axis=0)}
HUGE = 1e300


def parameter_free(name):
    """Whether `name` is an element-wise activation without arguments (its record's `parameters`) or weights."""
    layer = relu_zoo.get(name)
    if isinstance(layer, GatedActivation) or name == "crelu" or RECORDS[name].parameters != "–":
        return False
    layer.build((None, 3))
    return not layer.weights


def _float64_layer(name):
    """f(x, p) of a parameter-free activation as its layer computes it in float64. Its float64 values are PyTorch's
    (test_torch_reference.py); against it the fuzz checks the other dtypes and the edge rules."""
    layer = relu_zoo.get(name, dtype="float64")
    return lambda x, p: keras.ops.convert_to_numpy(layer(keras.ops.convert_to_tensor(np.asarray(x, "float64"))))


# A parameter-free activation needs no hand-written formula: the fuzz draws no arguments for it.
FORMULAS.update({name: _float64_layer(name) for name in NAMES if name not in FORMULAS and parameter_free(name)})


def test_every_activation_with_arguments_or_weights_has_a_formula():
    # An activation that draws on its input's context (its record's `ranks`) has its whole layer in CONTEXT_FORMULAS.
    assert sorted(set(NAMES) - set(FORMULAS) - set(CONTEXT_FORMULAS)) == [], \
        "add the float64 formula of the activation, with its arguments and weights as parameters, to FORMULAS"


def _split(value):
    """(low, high, scale) of a formula's result."""
    if isinstance(value, tuple):
        value, scale = value
    else:
        scale = None
    low, high = value if isinstance(value, tuple) else (value, value)
    if scale is None:
        scale = np.maximum(abs(low), abs(high))
    return np.asarray(low, "float64"), np.asarray(high, "float64"), np.asarray(scale, "float64")


def elementwise(name, x, p):
    """(low, high, scale) of f(x) for an element-wise activation, with limits at ±inf and NaN at NaN."""
    f = FORMULAS[name]
    with np.errstate(all="ignore"):
        finite = np.where(np.isfinite(x), x, 0.0)
        low, high, scale = _split(f(finite, p))
        for sign in (1, -1):
            at = np.isinf(x) & (np.sign(x) == sign)
            if not at.any():
                continue
            if sign in LIMITS.get(name, {}):
                limit = np.broadcast_to(LIMITS[name][sign](p), x.shape)
                lim_low = lim_high = limit
            else:
                l1, h1, _ = _split(f(np.full_like(x, sign * HUGE), p))
                l2, h2, _ = _split(f(np.full_like(x, 2 * sign * HUGE), p))
                lim_low = np.where(l1 == l2, l1, np.sign(l2 - l1) * math.inf)
                lim_high = np.where(h1 == h2, h1, np.sign(h2 - h1) * math.inf)
            low, high = np.where(at, lim_low, low), np.where(at, lim_high, high)
            scale = np.where(at, np.maximum(abs(lim_low), abs(lim_high)), scale)
        nan = np.isnan(x)
        return np.where(nan, np.nan, low), np.where(nan, np.nan, high), np.where(nan, 0.0, scale)


def _gate_limits(name, b, p):
    gate = lambda v: FORMULAS[name](np.ones_like(v), v, p)  # noqa: E731
    with np.errstate(all="ignore"):
        g = gate(np.where(np.isfinite(b), b, 0.0))
        for sign in (1, -1):
            at = np.isinf(b) & (np.sign(b) == sign)
            g1, g2 = gate(np.full_like(b, sign * HUGE)), gate(np.full_like(b, 2 * sign * HUGE))
            g = np.where(at, np.where(g1 == g2, g1, np.sign(g2 - g1) * math.inf), g)
        return np.where(np.isnan(b), np.nan, g)


def reference(name, layer, x, p):
    """(low, high, scale) of the layer's output on the float64 array x."""
    if name == "crelu":
        pos, neg = np.where(x > 0, x, 0.0), np.where(x < 0, -x, 0.0)
        pos, neg = np.where(np.isnan(x), np.nan, pos), np.where(np.isnan(x), np.nan, neg)
        y = np.concatenate([pos, neg], axis=layer.axis)
        return y, y, abs(y)
    if isinstance(layer, GatedActivation):
        a, b = np.split(x, 2, axis=layer.axis)
        with np.errstate(all="ignore"):
            gate = _gate_limits(name, b, p)
            y = a * gate
            # A gate below the smallest normal number of the precision it is computed in may be flushed to 0.
            flush = a * np.where(abs(gate) < flushed(p["work_dtype"]), 0.0 * gate, gate)
            flush = np.where(np.isnan(flush), y, flush)
        return np.minimum(y, flush), np.maximum(y, flush), abs(y)
    return elementwise(name, x, p)


def inputs_of_outputs(name, layer, x):
    """For each output element, the inputs it depends on (for messages): x, x twice for CReLU, (a, b) pairs."""
    if name == "crelu":
        return {"x": np.concatenate([x, x], axis=layer.axis)}
    if isinstance(layer, GatedActivation):
        a, b = np.split(x, 2, axis=layer.axis)
        return {"a": a, "b": b}
    return {"x": x}


def parameters(name, layer, training):
    """The formula's `p`: constructor arguments with their defaults, the weights as the layer uses them (in its
    compute dtype), and facts of the call."""
    p = {**arguments(name), **{k: v for k, v in layer.get_config().items() if k in arguments(name)}}
    for weight in layer.weights:
        p[weight.name] = as_float64(keras.ops.cast(weight, layer.compute_dtype))
    p["training"] = training
    p["work_dtype"] = "float32" if layer.compute_dtype in ("float16", "bfloat16") else layer.compute_dtype
    return p


def as_float64(tensor):
    if keras.backend.standardize_dtype(tensor.dtype) in ("float16", "bfloat16"):
        tensor = keras.ops.cast(tensor, "float32")  # exact; NumPy cannot take a TensorFlow bfloat16 scalar
    return np.asarray(keras.ops.convert_to_numpy(tensor)).astype("float64")


# ---------------------------------------------------------------------------------------------------------------
# Comparison.

def tolerance(dtype):
    """Units in the last place allowed for outputs of `dtype`: 4 for the 16-bit types (computed in float32 and
    rounded once; a fused kernel may round a slope first), 16 for float32 / float64 (as test_torch_reference.py)."""
    return (4 if dtype in ("float16", "bfloat16") else 16) * dtype_info(dtype)["eps"]


def flushed(dtype):
    """Below this magnitude TensorFlow's CPU kernels may flush a number to 0: the smallest normal number of the
    precision they compute in (float16's subnormals are float32 normals there)."""
    return {"float16": 0.0, "bfloat16": dtype_info("float32")["tiny"], "float32": dtype_info("float32")["tiny"],
            "float64": dtype_info("float64")["tiny"]}[dtype]


def absolute(dtype):
    """Absolute slack: flushing subnormals to 0, or rounding a float16 subnormal."""
    return max(flushed(dtype), 2 * dtype_info(dtype)["subnormal"])


def describe(inputs, bad):
    return ", ".join(f"{k}={v[bad].tolist()}" for k, v in inputs.items())


def assert_close(got, expected, dtype, what, inputs, nan_allowed=None):
    """`got` lies in the reference's range (low, high) ± tolerance; NaN exactly where the reference is NaN (or
    `nan_allowed`); infinite references exactly; ±inf also where the reference is within rounding of overflow."""
    low, high, scale = expected
    rtol, atol, top = tolerance(dtype), absolute(dtype), dtype_info(dtype)["max"]
    nan = np.isnan(low) | np.isnan(high)
    # Where terms of opposite signs overflow (APL's hinges near the largest number), `inf - inf` is NaN.
    with np.errstate(invalid="ignore", over="ignore"):
        cancelling = (scale > dtype_info("float32" if dtype in ("float16", "bfloat16") else dtype)["max"]) & (
            scale > (1 + 1e-12) * np.maximum(abs(low), abs(high)))
    nan_allowed = np.isnan(got) & (cancelling if nan_allowed is None else nan_allowed | cancelling)
    low, high = np.where(nan_allowed, np.nan, low), np.where(nan_allowed, np.nan, high)
    nan = nan | nan_allowed
    bad = np.isnan(got) ^ nan
    assert not bad.any(), f"{what}: NaN where the reference is {low[bad]}, got {got[bad]} ({describe(inputs, bad)})"
    with np.errstate(invalid="ignore", over="ignore"):
        exact = np.isinf(low) & (low == high)
        bad = exact & (got != low)
        assert not bad.any(), f"{what}: expected {low[bad]}, got {got[bad]} ({describe(inputs, bad)})"
        slack = rtol * np.where(np.isinf(scale), 0.0, scale) + atol
        inside = (got >= low - slack) & (got <= high + slack)
        overflow = np.isinf(got) & (np.maximum(abs(low), abs(high)) >= top * (1 - rtol))
        bad = ~(nan | np.isnan(got) | exact | inside | overflow)
    assert not bad.any(), (f"{what}: got {got[bad]}, the reference is [{low[bad]}, {high[bad]}] ± {slack[bad]} "
                           f"({describe(inputs, bad)})")


def perturbed(name, layer, x, p, dtype):
    """The reference's range over inputs and weights a quarter of the tolerance away from the given ones (how far
    a correctly rounded computation of an ill-conditioned function may move), as (low, high, scale)."""
    rtol, tiny, top = tolerance(dtype), flushed(dtype), dtype_info(dtype)["max"]

    def moved(v, r):  # finite values stay finite
        with np.errstate(over="ignore", invalid="ignore"):
            return np.where(np.isfinite(v), np.clip(v * (1 + r), -top, top), v)

    results = []
    for r in (-rtol / 4, 0.0, rtol / 4):
        q = {k: (moved(v, r) if isinstance(v, np.ndarray) else v) for k, v in p.items()}
        results.append(reference(name, layer, moved(x, r), q))
    # And the inputs TensorFlow may flush to 0.
    results.append(reference(name, layer, np.where(abs(x) < tiny, np.copysign(0.0, x), x), p))
    # Which outputs are NaN is decided by the unperturbed reference.
    with np.errstate(invalid="ignore"):
        low = np.where(np.isnan(results[1][0]), np.nan, np.fmin.reduce([r[0] for r in results]))
        high = np.where(np.isnan(results[1][1]), np.nan, np.fmax.reduce([r[1] for r in results]))
    return low, high, np.fmax.reduce([r[2] for r in results])


# ---------------------------------------------------------------------------------------------------------------
# The layer on inputs.

def draw_layer(data, name):
    """A layer constructed with plausible arguments (refused ones are skipped), the arguments and the dtype
    policy."""
    config = draw_config(data, name, invalid=False)
    policy = data.draw(st.sampled_from(POLICIES), label="policy")
    layer = construct(name, config, dtype=policy)
    if isinstance(layer, ValueError):
        assert_names_an_argument(layer, config, f"{name}({config})")
        hypothesis.reject()
    return layer, config, policy


def weight_values():
    return st.one_of(st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.25, 0.1, 1e-3, 1e-30, 1e4, -1e4, 2.0, -0.5]),
                     st.floats(-10, 10))


def context_weight_values():
    """Weights of the layers that draw on their input's context: their convolutions and dense layers sum several
    products, which the edge weights above would overflow in 16-bit types where the float64 reference does not; and a
    product with a weight near the smallest normal number may be flushed to 0 (`0 * inf` is NaN where the reference
    has inf), which the batch norm's division then magnifies beyond any absolute slack."""
    return st.one_of(st.sampled_from([0.0, -0.0, 1.0, -1.0, 0.25, 0.1, 1e-3, 2.0, -0.5]),
                     st.floats(-3, 3).map(lambda v: v if abs(v) >= 1e-3 else 0.0))


def set_weights(data, layer):
    """Random weights, passed through each weight's constraint (as training does); a batch norm's moving variance is
    not negative."""
    context = record_of(layer).ranks is not None
    for weight in layer.weights:
        size = int(np.prod(weight.shape))
        values = np.array(data.draw(st.lists(context_weight_values() if context else weight_values(), min_size=size,
                                             max_size=size), label=weight.path), "float32").reshape(weight.shape)
        values = abs(values) if weight.name == "moving_variance" else values
        value = keras.ops.convert_to_tensor(values, weight.dtype)
        weight.assign(value if weight.constraint is None else weight.constraint(value))


def build(data, layer, shape):
    """Builds `layer` for `shape`; False if it refuses the shape with a ValueError that says why."""
    try:
        layer.build(shape)
        layer.compute_output_shape(shape)
    except ValueError as error:
        message = str(error)
        assert "Received" in message and ("shape" in message or "axis" in message), message
        return False
    set_weights(data, layer)
    return True


def call(layer, x, training):
    """Output, input gradient and weight gradients of sum(layer(x))."""
    xt = tf.constant(x)
    kwargs = {"training": training} if "training" in inspect.signature(layer.call).parameters else {}
    with tf.GradientTape() as tape:
        tape.watch(xt)
        y = layer(xt, **kwargs)
    gx, *gw = tape.gradient(y, [xt, *layer.trainable_weights], output_gradients=tf.ones_like(y))
    return y, gx, [g for g in gw if g is not None]


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", NAMES)
def test_values_and_gradients(name, profile):
    run(profile, _check_values, name)


def draw_and_call(data, name, layer, config, policy, shape, values):
    """Draws an input of `shape` from `values(compute dtype)` and, where the layer takes it, the training flag;
    calls the built layer and checks the dtypes and shape of its output and input gradient. Returns the input as
    the layer computes with it (float64), the flag, the failure label, and the output and gradients."""
    compute = layer.compute_dtype
    fed = "float32" if policy.startswith("mixed") else policy
    size = int(np.prod(shape))
    x = np.array(data.draw(st.lists(values(compute), min_size=size, max_size=size), label="x"), "float64")
    with np.errstate(over="ignore"):
        x = x.reshape(shape).astype(NUMPY[compute]).astype(NUMPY[fed])
    training = "training" in inspect.signature(layer.call).parameters and data.draw(st.booleans(), label="training")
    what = f"{name}({config}, dtype={policy}) on {shape}" + (", training" if training else "")
    y, gx, gw = call(layer, x, training)
    assert keras.backend.standardize_dtype(y.dtype) == compute, what
    assert keras.backend.standardize_dtype(gx.dtype) == fed, what
    assert tuple(y.shape) == tuple(layer.compute_output_shape(shape)), what
    return x.astype(NUMPY[compute]).astype("float64"), training, what, y, gx, gw


def _check_values(data, name):
    if RECORDS[name].ranks is not None:
        return _check_context(data, name)
    layer, config, policy = draw_layer(data, name)
    shape = draw_shape(data, layer)
    if not build(data, layer, shape):
        return
    x, training, what, y, gx, gw = draw_and_call(data, name, layer, config, policy, shape, input_values)
    compute = layer.compute_dtype
    p = parameters(name, layer, training)
    what += f", weights {({w.name: p[w.name].tolist() for w in layer.weights})}" if layer.weights else ""
    nan_allowed = None
    if isinstance(layer, GatedActivation):
        # The product of a value and a gate is IEEE's: ±inf * 0 is NaN, also where one of them rounds or is
        # flushed to 0 in the precision the gate is computed in.
        a, b = np.split(x, 2, axis=layer.axis)
        with np.errstate(all="ignore"):
            gate = _gate_limits(name, b, p)
        zero = flushed(p["work_dtype"]) + dtype_info(compute)["subnormal"]
        nan_allowed = (np.isinf(a) & (abs(gate) < zero)) | (np.isinf(gate) & (abs(a) < zero))
    inputs = inputs_of_outputs(name, layer, x)
    assert_close(as_float64(y), perturbed(name, layer, x, p, compute), compute, f"{what}: f(x)", inputs,
                 nan_allowed)
    check_gradients(name, layer, x, p, as_float64(gx), [as_float64(g) for g in gw], compute, what, training)


def check_gradients(name, layer, x, p, gx, gw, dtype, what, training):
    """NaN at NaN inputs, finite at finite ones, parameter gradients NaN only with a NaN input (or where the inputs'
    terms of a sum overflow with both signs: `OPPOSITE_OVERFLOWS`), and (element-wise activations) the float64
    formula's derivative."""
    nan_in = np.isnan(x)
    assert np.isnan(gx[nan_in]).all(), f"{what}: the gradient at a NaN input is {gx[nan_in]}, not NaN"
    if not nan_in.any():
        opposite = OPPOSITE_OVERFLOWS.get(name, lambda weight, x, p: False)
        for weight, g in zip(layer.trainable_weights, gw):
            if opposite(weight.name, x, p):
                continue
            assert not np.isnan(g).any(), f"{what}: NaN parameter gradient {g.tolist()} at x={x.tolist()}"
    if isinstance(layer, GatedActivation):
        # Both halves of a pair finite: both derivatives (the gate, and the value times the gate's slope) finite,
        # unless that product, a * gate'(b) with |gate'| < 1.2, overflows the dtype, or the value times a few times
        # the gate's input overflows float32 (the gate's backward pass multiplies the value by its terms before they
        # are summed, or multiplied by a slope that may be 0).
        a, b = np.split(x, 2, axis=layer.axis)
        with np.errstate(all="ignore"):
            fine = np.isfinite(a) & np.isfinite(b) & (abs(a) * np.maximum(abs(b), 4) < dtype_info("float32")["max"])
            fits = np.concatenate([np.ones_like(fine), 1.2 * abs(a) < dtype_info(dtype)["max"]], axis=layer.axis)
        pair = np.concatenate([fine, fine], axis=layer.axis) & fits
        bad = pair & ~np.isfinite(gx)
        a2, b2 = np.concatenate([a, a], axis=layer.axis), np.concatenate([b, b], axis=layer.axis)
        assert not bad.any(), f"{what}: non-finite gradient {gx[bad]} at a={a2[bad]}, b={b2[bad]}"
        return
    finite = np.isfinite(x)
    if name == "crelu" or training:
        assert np.isfinite(gx[finite]).all(), f"{what}: non-finite gradient {gx[finite]} at finite x {x[finite]}"
        return
    expected, noise, known = stable_derivative(name, x, p, dtype)
    # Finite wherever the derivative (either side's, at a kink) fits the dtype.
    fits = finite & (reference_derivative(name, x, p)[3] < dtype_info(dtype)["max"] / 2)
    assert np.isfinite(gx[fits]).all(), f"{what}: non-finite gradient {gx[fits]} at finite x {x[fits]}"
    # A derivative is a product of factors, one of which may be flushed to 0 where the product is not (swish's
    # x * sigmoid'(beta * x) at x = -30: 30 * 6e-40): a wider absolute slack than for values.
    rtol, atol = tolerance(dtype), absolute(dtype) + 1e3 * flushed(dtype)
    with np.errstate(invalid="ignore", over="ignore"):
        slack = (1e-4 + 4 * rtol) * abs(expected) + atol + noise
        overflow = np.isinf(gx) & (abs(expected) >= dtype_info(dtype)["max"] * (1 - rtol))
        bad = known & ~(abs(gx - expected) <= slack) & ~(np.isinf(expected) & (gx == expected)) & ~overflow
    assert not bad.any(), f"{what}: f'(x) at x={x[bad]} is {gx[bad]}, the float64 formula's {expected[bad]}"


def reference_derivative(name, x, p):
    """The float64 formula's derivative, the rounding error of the differences, where the derivative is known,
    and the steepest one-sided slope. At ±inf: the slope between HUGE and 2 HUGE. Elsewhere a central difference,
    known where one-sided differences agree at steps relative to max(|x|, 1) and to |x| (a kink nearer to x than
    the step hides from the first) and rounding the formula's values cannot hide it (not at a kink)."""
    f = lambda v: elementwise(name, v, p)[0]  # noqa: E731
    with np.errstate(all="ignore"):
        finite = np.where(np.isfinite(x), x, 0.0)
        h = 1e-7 * np.maximum(abs(finite), 1.0)
        fx = f(finite)
        sides, noises = [], []
        for step in (h, h / 4, np.maximum(1e-7 * abs(finite), 1e-300)):
            sides += [(fx - f(finite - step)) / step, (f(finite + step) - fx) / step]
            noises += [1e3 * dtype_info("float64")["eps"] * abs(fx) / step] * 2
        agree = np.all([np.isclose(s, sides[0], rtol=1e-5, atol=0) | (abs(s - sides[0]) <= n + noises[0])
                        for s, n in zip(sides, noises)], axis=0)
        noise = noises[0]
        central = (f(finite + h) - f(finite - h)) / (2 * h)
        clear = abs(central) > noise
        big = np.where(np.isinf(x), np.sign(x) * HUGE, 1.0)
        slope = (f(2 * big) - f(big)) / big
    expected = np.where(np.isinf(x), slope, central)
    known = (np.isfinite(x) & agree & clear) | (np.isinf(x) & np.isfinite(slope))
    if name in KINKS:
        known &= ~KINKS[name](x, p)
    return expected, np.where(np.isinf(x), 0.0, noise), known, np.fmax.reduce([abs(s) for s in sides[:4]])


def stable_derivative(name, x, p, dtype):
    """`reference_derivative`, known only where it is the same within the rounding of x (no kink or threshold
    between x and its neighbours, whichever way the layer rounds a threshold)."""
    expected, noise, known, _ = reference_derivative(name, x, p)
    rtol, tiny, top = tolerance(dtype), flushed(dtype), dtype_info(dtype)["max"]
    with np.errstate(over="ignore", invalid="ignore"):
        neighbours = (np.clip(x * (1 - rtol / 4), -top, top), np.clip(x * (1 + rtol / 4), -top, top),
                      np.where(abs(x) < tiny, np.copysign(0.0, x), x))
    for moved in neighbours:
        other, _, other_known, _ = reference_derivative(name, np.where(np.isinf(x), x, moved), p)
        with np.errstate(invalid="ignore"):
            known &= other_known & (abs(other - expected) <= 1e-4 * abs(expected) + 2 * noise)
    return expected, noise, known


# ---------------------------------------------------------------------------------------------------------------
# The activations that draw on their input's context (FReLU, DY-ReLU, meta-ACON; their record's `ranks`): an output
# depends on other inputs than its own, so the reference is the whole layer in float64, with each output's `scale`
# bounding the magnitude of the terms it sums (a convolution's, a dense layer's, a mean's). Their inputs stay within
# ±1e3 (±30 in 16-bit types) besides ±0, ±inf and NaN, and their weights within ±3 (`set_weights`), so no intermediate
# overflows where the float64 reference does not; and away from the smallest normal numbers, whose products the
# kernels may flush to 0 (the element-wise activations are checked there).

def _weights(layer):
    """The weights by path in the layer, each as the layer computes with it: in its compute dtype, except the batch
    norm's, which Keras keeps and uses in float32 under a mixed policy."""
    return {w.path.removeprefix(layer.path + "/"): as_float64(w if "funnel_norm/" in w.path
                                                             else keras.ops.cast(w, layer.compute_dtype))
            for w in layer.weights}


def _channels_last(x, layer):
    return np.moveaxis(x, 1, -1) if layer.data_format == "channels_first" else x


def _depthwise_same(x, kernel, bias):
    """A depthwise convolution with zero ("same") padding of x (samples, positions..., channels)."""
    pad = kernel.shape[0] // 2
    padded = np.pad(x, [(0, 0)] + [(pad, pad)] * (x.ndim - 2) + [(0, 0)])
    out = np.zeros_like(x) + bias
    for offset in np.ndindex(*kernel.shape[:-1]):
        window = tuple(slice(o, o + n) for o, n in zip(offset, x.shape[1:-1]))
        out = out + kernel[offset] * padded[(slice(None), *window, slice(None))]
    return out


def _context_frelu(x, layer, w, training):
    """FReLU: max(x, T(x)), T the batch norm (the batch's statistics in training) of the funnel convolution. The
    scale of T: the convolution's terms, over the deviation; in training also the variance's cancellation, which
    Keras computes as E[h²] − E[h]²."""
    kernel, bias = w["funnel/kernel"][..., 0], w.get("funnel/bias", 0.0)
    h = _depthwise_same(x, kernel, bias)
    h_scale = _depthwise_same(np.where(np.isfinite(x), abs(x), 0.0), abs(kernel), abs(bias))
    axes = tuple(range(x.ndim - 1))
    if training:
        mean, var = h.mean(axis=axes), h.var(axis=axes)
    else:
        mean, var = w["funnel_norm/moving_mean"], w["funnel_norm/moving_variance"]
    deviation = np.sqrt(var + layer.epsilon)
    gamma, beta = w["funnel_norm/gamma"], w["funnel_norm/beta"]
    t = (h - mean) / deviation * gamma + beta
    t_scale = (h_scale + abs(mean)) / deviation * abs(gamma) + abs(beta)
    if training:
        t_scale = t_scale + abs(h - mean) / deviation * abs(gamma) * (h * h).mean(axis=axes) / (2 * deviation ** 2)
    y = np.where((x > t) | np.isnan(x), x, t)
    return y, np.where(x > t, abs(x), t_scale), kernel[..., 0].size + 8


def _hyper(x, w, *names, relu=False):
    """The dense layers `names` on the mean over x's positions (x channels last), relu between them where asked,
    and the scale of their outputs' terms."""
    positions = tuple(range(1, x.ndim - 1))
    v, scale = x.mean(axis=positions), np.where(np.isfinite(x), abs(x), 0.0).mean(axis=positions)
    for i, name in enumerate(names):
        kernel, bias = w[f"{name}/kernel"], w[f"{name}/bias"]
        v, scale = v @ kernel + bias, scale @ abs(kernel) + abs(bias)
        if relu and i < len(names) - 1:
            v = np.where(v < 0, 0.0, v)
    return v, scale


def _per_sample(v, x):
    return v.reshape(v.shape[:1] + (1,) * (x.ndim - 2) + v.shape[1:])


def _context_dy_relu(x, layer, w, training):
    """DY-ReLU-B: the max of K lines a_k x + b_k per sample and channel (ties to the later line, a line of slope 0
    at its intercept at ±inf), a and b from 2σ(θ) − 1 of the hyper function."""
    theta, theta_scale = _hyper(x, w, "squeeze", "residuals", relu=True)
    k, c = layer.pieces, x.shape[-1]
    delta, delta_scale = (v.reshape(len(x), 2, k, c) for v in (np.tanh(theta / 2), theta_scale / 2))
    finite = np.where(np.isfinite(x), x, 0.0)
    y, scale = None, 0.0
    for piece in range(k):
        a = _per_sample((1.0 if piece == 0 else 0.0) + layer.lambda_a * delta[:, 0, piece], x)
        b = _per_sample(layer.lambda_b * delta[:, 1, piece], x)
        z = np.where(np.isinf(x) & (a == 0), 0.0, a * x) + b
        y = z if y is None else np.where(np.isnan(z) | ~((y > z) | np.isnan(y)), z, y)
        scale = scale + abs(finite) * (abs(a) + _per_sample(layer.lambda_a * delta_scale[:, 0, piece], x)) + abs(b) \
            + _per_sample(layer.lambda_b * delta_scale[:, 1, piece], x)
    hidden = w["squeeze/kernel"].shape[-1]
    return y, scale, int(np.prod(x.shape[1:-1])) + 2 * (c + hidden) + 8


def _context_meta_acon(x, layer, w, training):
    """meta-ACON: ACON-C with beta = σ of the hyper function per sample and channel; beta's error reaches f through
    ∂f/∂β = (p1 − p2)² x² σ'(z), at most (p1 − p2)² x² / 4."""
    theta, theta_scale = _hyper(x, w, "squeeze", "expand")
    p = {"p1": w["p1"], "p2": w["p2"], "beta": _per_sample(scipy.special.expit(theta), x)}
    finite = np.where(np.isfinite(x), x, 0.0)
    y, scale = _acon_c(finite, p)
    for sign in (1, -1):
        at = np.isinf(x) & (np.sign(x) == sign)
        y = np.where(at, np.broadcast_to(_acon_c_limit(sign)(p), x.shape), y)
    y = np.where(np.isnan(x), np.nan, y)
    scale = scale + (w["p1"] - w["p2"]) ** 2 * finite ** 2 / 16 * _per_sample(theta_scale, x)
    hidden = w["squeeze/kernel"].shape[-1]
    return y, np.where(np.isinf(x), 0.0, scale), int(np.prod(x.shape[1:-1])) + 2 * (x.shape[-1] + hidden) + 8


# name -> f(x, layer, weights, training): (f(x) in float64, the scale of its terms, how many roundings of that
# scale the layer's result may be off by).
CONTEXT_FORMULAS = {"frelu": _context_frelu, "dy_relu": _context_dy_relu, "meta_acon": _context_meta_acon}


def context_reference(name, layer, x, training):
    """(value, scale, roundings) of the layer's output on the float64 array x, in its own data format."""
    with np.errstate(all="ignore"):
        y, scale, roundings = CONTEXT_FORMULAS[name](_channels_last(x, layer), layer, _weights(layer), training)
    back = (lambda v: np.moveaxis(v, -1, 1)) if layer.data_format == "channels_first" else (lambda v: v)
    return back(y), back(np.broadcast_to(scale, y.shape)), roundings


def context_values(dtype):
    top = 30.0 if dtype in ("float16", "bfloat16") else 1e3
    specials = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 3.0, -3.0, 20.0, -20.0, top, -top, math.inf, -math.inf, math.nan]
    return st.one_of(st.sampled_from(specials), st.floats(-top, top).map(lambda v: v if abs(v) >= 1e-3 else 0.0))


def _check_context(data, name):
    layer, config, policy = draw_layer(data, name)
    shape = draw_shape(data, layer)
    if not build(data, layer, shape):
        assert len(shape) not in RECORDS[name].ranks, f"{name} refused a rank its record lists: {shape}"
        return
    x, training, what, y, gx, gw = draw_and_call(data, name, layer, config, policy, shape, context_values)
    compute = layer.compute_dtype
    value, scale, roundings = context_reference(name, layer, x, training)
    got = as_float64(y)
    assert np.isnan(got[np.isnan(x)]).all(), f"{what}: NaN in, not NaN out: {got[np.isnan(x)]}"
    assert_close(got, (value, value, roundings * scale / 4), compute, f"{what}: f(x)", {"x": x})
    gx, gw = as_float64(gx), [as_float64(g) for g in gw]
    assert np.isnan(gx[np.isnan(x)]).all(), f"{what}: the gradient at a NaN input is {gx[np.isnan(x)]}, not NaN"
    if not np.isfinite(x).all():
        return
    assert np.isfinite(gx).all() or not np.isfinite(value).all(), f"{what}: non-finite gradient {gx} at finite x"
    for g in gw:
        assert not np.isnan(g).any(), f"{what}: NaN parameter gradient {g.tolist()} at x={x.tolist()}"
    check_context_gradient(name, layer, x, gx, compute, training, what)


def check_context_gradient(name, layer, x, gx, dtype, training, what):
    """The input gradient against the float64 reference along a direction: sum(gx * d) against the central difference
    of sum(f) along d, where the one-sided differences agree at a small step and at one of 100 roundings of the
    dtype: no kink so near that the layer's rounding could put x on its other side."""
    d = np.random.default_rng(int(abs(x).sum() * 1e3) % 2 ** 32).normal(size=x.shape)
    total = lambda v: context_reference(name, layer, v, training)[0].sum()  # noqa: E731
    sides = []
    for h in (1e-6, 100 * dtype_info(dtype)["eps"]):
        h *= max(1.0, np.abs(x).max())
        with np.errstate(all="ignore"):
            here, up, down = total(x), total(x + h * d), total(x - h * d)
        sides += [(up - here) / h, (here - down) / h]
        if len(sides) == 2:
            central = (up - down) / (2 * h)
    if not np.isfinite(sides).all() or np.ptp(sides) > 1e-2 * np.abs(sides).max() + 1e-6:
        return
    rtol = {"float16": 3e-2, "bfloat16": 1e-1}.get(dtype, 1e-3)
    directional = (gx * d).sum()
    assert abs(directional - central) <= rtol * (abs(gx * d).sum() + 1e-3), \
        f"{what}: d f(x) / dx along a direction is {directional}, the float64 formula's {central}"


# ---------------------------------------------------------------------------------------------------------------
# Round trips.

@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("name", NAMES)
def test_config_and_keras_file_round_trips(name, profile, tmp_path_factory):
    run(profile, _check_round_trips, name, tmp_path_factory)


def _check_round_trips(data, name, tmp_path_factory):
    layer, config, policy = draw_layer(data, name)
    shape = draw_shape(data, layer)
    if not build(data, layer, shape):
        return
    x = np.asarray(np.random.default_rng(0).normal(size=shape) * 3, "float32")
    x.flat[0] = -math.inf
    expected = as_float64(layer(x))
    twin = type(layer).from_config(layer.get_config())
    twin.build(shape)
    twin.set_weights(layer.get_weights())
    assert twin.get_config() == layer.get_config()
    np.testing.assert_array_equal(as_float64(twin(x)), expected)
    if not data.draw(st.integers(0, 3), label="save") == 0:
        return  # saving costs ~0.1 s: a quarter of the examples
    model = keras.Sequential([keras.Input(shape[1:], batch_size=shape[0]), layer])
    path = tmp_path_factory.mktemp("fuzz") / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_array_equal(as_float64(loaded(x)), expected)
    assert loaded.layers[-1].get_config() == layer.get_config()
