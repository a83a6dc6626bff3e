"""Every registered activation against PyTorch at edge inputs, in every float dtype and mixed precision.

The PyTorch numbers come from `tests/layers/reference/torch_edge_cases.json`, written by
`tests/layers/reference/make_torch_reference.py` (PyTorch is not needed to run this test; see that script to
regenerate the fixture). Inputs: 0, ±1e-8, ±1, ±1e4, ±65504, ±inf, NaN, each cast to the dtype first.
Checked: outputs, input gradients, and the gradients of learnable parameters.

Where relu_zoo differs from PyTorch on purpose, `DIFFERENCES` says how; each entry must change at least one
reference number (so the list cannot go stale) and is named in the list of differences in
`docs/howto/layers.md`.
"""

import json
import math
import pathlib

import keras
import ml_dtypes
import numpy as np
import pytest
from keras import ops

import relu_zoo
from relu_zoo.layers.base import RECORDS

FIXTURE = pathlib.Path(__file__).parent / "reference" / "torch_edge_cases.json"
REFERENCE = json.loads(FIXTURE.read_text())
CASES = {case["id"]: case for case in REFERENCE["cases"]}
LAYERS_PAGE = pathlib.Path(__file__).resolve().parents[2] / "docs" / "howto" / "layers.md"

NUMPY_DTYPES = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16, "float32": np.float32,
                "float64": np.float64}
# Relative tolerance per dtype, in units in the last place: 2 for the 16-bit types (both libraries compute
# in float32 and round once, but TensorFlow's fused ReLU kernels round the slope first); 16 for float32 and
# float64, where Mish's gradient at -1 is a difference of terms 5x its size, evaluated in another order.
RTOL = {"float16": 2 * 2.0 ** -10, "bfloat16": 2 * 2.0 ** -7, "float32": 16 * 2.0 ** -23, "float64": 16 * 2.0 ** -52}
# Absolute tolerance: TensorFlow's CPU kernels flush results below the smallest normal number of the precision they
# compute in to 0 (float32 for bfloat16; a float16 result is a float32 normal there), where PyTorch keeps them
# (PAU's d/da5 = x**5 / Q at x = 1e-8 is 1e-40).
ATOL = {"float16": 0.0, "bfloat16": float(np.finfo(np.float32).tiny), "float32": float(np.finfo(np.float32).tiny),
        "float64": float(np.finfo(np.float64).tiny)}
# (layer dtype or policy, reference dtype): a mixed policy computes in the 16-bit type from float32 inputs.
SETTINGS = [("float16", "float16"), ("bfloat16", "bfloat16"), ("float32", "float32"), ("float64", "float64"),
            ("mixed_float16", "float16"), ("mixed_bfloat16", "bfloat16")]

SMOOTH_TAILS = {"gelu", "gelu_tanh", "silu", "mish", "swish_beta", "quick_gelu", "hard_swish"}


def _nan_gradient(case, quantity, x, value):
    # One rule for every activation: a NaN input gives a NaN gradient (PyTorch's piecewise-linear kernels
    # return the slope of whichever branch a comparison with NaN selects, e.g. relu'(NaN) = 1). The same
    # holds for a parameter that acts through a kink: APL's hinge positions b, SReLU's thresholds, FReLU's funnel and
    # DY-ReLU's intercepts (the max of lines whose winner a NaN leaves undecided).
    at_kink = ((case == "apl" and quantity == "b") or (case == "srelu" and quantity != "y")
               or (case, quantity) in (("frelu", "funnel"), ("dy_relu", "b")))
    return math.nan if math.isnan(x) and (quantity == "dx" or at_kink) else value


# Parameter gradients at ±inf where PyTorch computes `0 * inf = NaN` in the piece an input is not on (SReLU's
# other slope; PELU's linear piece at -inf, whose exponential piece has the limits d/dalpha = -1, d/dbeta = 0;
# xIELU's quadratic piece at -inf, its exponential one at +inf), and values and slopes at ±inf where PyTorch's
# formula meets `inf - inf` or `inf * 0` (xIELU at -inf, (beta - alpha_n) x: +inf, slope beta - alpha_n;
# ACON-C's asymptotes p1 x at +inf and p2 x at -inf for the case's p1 = 1, p2 = 0.25, beta = 1.5; PAU's P / Q is
# inf / inf there: for the case's coefficients f ~ (a5 x + a4 - a5 |b3| / |b4| sign(x)) / |b4|, so f' -> a5 / |b4|
# = 0.5, df/da4 -> 1 / |b4| = 3.2, df/db3 -> -sign(b3) sign(x) a5 / b4**2 = ±1.6, and the lower terms' -> 0).
XIELU_SLOPE = -math.log1p(math.exp(2.0))  # beta - alpha_n = -softplus(w_n) for the case's w_n = 2
PARAMETER_LIMITS = {("srelu", 1): {"a_left": 0.0}, ("srelu", -1): {"a_right": 0.0},
                    ("pelu", -1): {"alpha": -1.0, "beta": 0.0},
                    ("xielu", 1): {"alpha_n": 0.0},
                    ("xielu", -1): {"y": math.inf, "dx": XIELU_SLOPE, "alpha_p": 0.0},
                    ("acon_c", 1): {"dx": 1.0, "p1": math.inf, "p2": 0.0, "beta": 0.0},
                    ("acon_c", -1): {"y": -math.inf, "dx": 0.25, "p1": 0.0, "p2": -math.inf, "beta": 0.0},
                    ("pau", 1): {"y": math.inf, "dx": 0.5, "a1": 0.0, "a2": 0.0, "a3": 0.0, "a4": 3.2, "a5": math.inf,
                                 "b1": 0.0, "b2": 0.0, "b3": 1.6, "b4": -math.inf},
                    ("pau", -1): {"y": -math.inf, "dx": 0.5, "a1": 0.0, "a2": 0.0, "a3": 0.0, "a4": 3.2,
                                  "a5": -math.inf, "b1": 0.0, "b2": 0.0, "b3": -1.6, "b4": math.inf}}

# meta-ACON computes ACON-C (its case has ACON-C's parameters); DY-ReLU's losing line at ±inf is `0 * inf` in
# PyTorch's gradient of its slope (the case's slopes 1 and -0.25: a different line wins at each end), 0 here.
PARAMETER_LIMITS.update({("meta_acon", sign): PARAMETER_LIMITS["acon_c", sign] for sign in (1, -1)})
PARAMETER_LIMITS.update({("dy_relu", sign): {"a": 0.0} for sign in (1, -1)})


def _apl_at_minus_inf():
    # The hinges are sum_s a_s * (b_s - x) there: ±inf by the sign of sum_s a_s (PyTorch: inf - inf = NaN).
    total = sum(a for (a,) in CASES["apl"]["params"]["a"])
    return math.copysign(math.inf, total) if total else sum(
        a * b for (a,), (b,) in zip(CASES["apl"]["params"]["a"], CASES["apl"]["params"]["b"]))


def _limits_at_infinity(case, quantity, x, value):
    # x * sigmoid(x), x * Phi(x), x * tanh(softplus(x)) at ±inf: PyTorch evaluates inf * 0 = NaN; relu_zoo
    # gives the limits (f(-inf) = 0, f'(inf) = 1, f'(-inf) = 0, and 0 for Swish's beta). The same for APL's value
    # at -inf and the parameter gradients of PARAMETER_LIMITS.
    if not math.isinf(x):
        return value
    if case == "apl" and quantity == "y" and x < 0:
        return _apl_at_minus_inf()
    if math.isnan(value) and quantity in PARAMETER_LIMITS.get((case, math.copysign(1, x)), {}):
        return PARAMETER_LIMITS[case, math.copysign(1, x)][quantity]
    if case not in SMOOTH_TAILS:
        return value
    if quantity == "y":
        return value if x > 0 else 0.0
    return (1.0 if x > 0 else 0.0) if quantity == "dx" else 0.0


def _exact_slope(case, quantity, x, value):
    # PyTorch's hardsigmoid backward multiplies by `1.0f / 6.0f`, a float32 constant, also in float64.
    return 1 / 6 if case == "hard_sigmoid" and quantity == "dx" and value == float(np.float32(1 / 6)) else value


# Phrase of the docs page -> rule(case id, quantity ("y", "dx" or a parameter name), input, PyTorch value) -> ours.
DIFFERENCES = {
    "NaN input gives a NaN gradient": _nan_gradient,
    "limits at ±inf": _limits_at_infinity,
    "exact slope in float64": _exact_slope,
}


def expected_values(case_id, quantity, xs, values):
    out = []
    for x, value in zip(np.resize(xs, len(values)), values):  # CReLU: two outputs per input
        for rule in DIFFERENCES.values():
            value = rule(case_id, quantity, x, value)
        out.append(value)
    return np.array(out, dtype="float64")


def run(case, setting):
    """relu_zoo's outputs, input gradients and parameter gradients for `case` under `setting`."""
    import tensorflow as tf

    reference = "float16" if setting == "mixed_float16" else "bfloat16" if setting == "mixed_bfloat16" else setting
    xs = np.array([case["results"][reference]["x"]])
    mixed = setting.startswith("mixed")
    if RECORDS[case["activation"]].ranks is not None:
        return _run_function(case, setting, xs, reference), reference
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(setting if mixed else "float32")
    try:
        layer = relu_zoo.get(case["activation"], **case["kwargs"], **({} if mixed else {"dtype": setting}))
        layer.build(xs.shape)
        for name, value in case["params"].items():
            variable = getattr(layer, name)
            value = np.broadcast_to(np.array(value, "float64"), variable.shape)
            variable.assign(value.astype(keras.backend.standardize_dtype(variable.dtype)))
        x = tf.constant(xs.astype("float32" if mixed else NUMPY_DTYPES[setting]))
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        grads = tape.gradient(y, [x] + list(layer.trainable_weights), output_gradients=tf.ones_like(y))
    finally:
        keras.config.set_dtype_policy(previous)
    assert keras.backend.standardize_dtype(y.dtype) == reference
    result = {"y": np.asarray(tf.cast(y, "float64")).ravel(), "dx": np.asarray(tf.cast(grads[0], "float64")).ravel()}
    for weight, g in zip(layer.trainable_weights, grads[1:]):
        result[weight.name] = np.asarray(tf.cast(g, "float64"))
    return result, reference


def _run_function(case, setting, xs, reference):
    """`run` for an activation that draws on its input's context (its record's `ranks`): its function in
    `relu_zoo.activations`, the element-wise part the PyTorch expression computes, with the context given as the
    case's parameters (one value per input, as the fixture's PyTorch tensors; float32 under a mixed policy, as a
    layer's weights, the input cast to the 16-bit type as a layer casts it)."""
    import tensorflow as tf

    mixed = setting.startswith("mixed")
    n = xs.shape[-1]
    params = {}
    for name, value in case["params"].items():
        value = np.array(value, "float64")
        value = np.broadcast_to(value, (value.shape[0], n) if value.ndim == 2 else (n,))
        params[name] = tf.constant(value.astype("float32" if mixed else NUMPY_DTYPES[setting]))
    x = tf.constant(xs.astype("float32" if mixed else NUMPY_DTYPES[setting]))
    with tf.GradientTape() as tape:
        tape.watch([x, *params.values()])
        y = RECORDS[case["activation"]].function(tf.cast(x, reference), **params)
    grads = tape.gradient(y, [x, *params.values()], output_gradients=tf.ones_like(y))
    assert keras.backend.standardize_dtype(y.dtype) == reference
    result = {"y": np.asarray(tf.cast(y, "float64")).ravel(), "dx": np.asarray(tf.cast(grads[0], "float64")).ravel()}
    for name, g in zip(params, grads[1:]):
        result[name] = np.asarray(tf.cast(g, "float64"))
    return result


def assert_matches(got, expected, rtol, what, atol=0.0):
    got, expected = np.asarray(got, "float64").ravel(), np.asarray(expected, "float64").ravel()
    assert got.shape == expected.shape, what
    nan = np.isnan(expected)
    assert np.array_equal(np.isnan(got), nan), f"{what}: NaN at {np.isnan(got)}, expected at {nan}\n{got}\n{expected}"
    inf = np.isinf(expected)
    assert np.array_equal(got[inf], expected[inf]), f"{what}: infinities\n{got}\n{expected}"
    finite = ~(nan | inf)
    np.testing.assert_allclose(got[finite], expected[finite], rtol=rtol, atol=atol, err_msg=what)


requires_tensorflow = pytest.mark.skipif(keras.backend.backend() != "tensorflow",
                                         reason="gradients are taken with tf.GradientTape")


def test_fixture_covers_every_activation_and_the_edge_inputs():
    assert set(relu_zoo.list_activations()) <= {case["activation"] for case in CASES.values()}, \
        "declare the activation's PyTorch counterpart in its record (`torch=`) and regenerate the fixture"
    assert REFERENCE["inputs"][:9] == [0.0, 1e-8, -1e-8, 1.0, -1.0, 1e4, -1e4, 65504.0, -65504.0]
    assert REFERENCE["inputs"][9:11] == [math.inf, -math.inf] and math.isnan(REFERENCE["inputs"][11])
    for case in CASES.values():
        assert set(case["results"]) == set(NUMPY_DTYPES)
        for dtype, result in case["results"].items():
            # The stored inputs are the edge inputs rounded to the dtype, as this test feeds them.
            rounded = np.array(REFERENCE["inputs"], "float64").astype(NUMPY_DTYPES[dtype]).astype("float64")
            np.testing.assert_array_equal(result["x"], rounded)


def test_the_fixture_holds_the_cases_the_records_declare_as_declared():
    # A record's `torch=` cases (relu_zoo.layers.base.Record) reach the fixture only by regenerating it.
    for record in RECORDS.values():
        for case_id, kwargs, params, expression in record.torch:
            stored = CASES.get(case_id, {})
            assert (stored.get("activation"), stored.get("kwargs"), stored.get("params"), stored.get("expression")) \
                == (record.name, kwargs, json.loads(json.dumps(params)), expression), \
                f"the fixture's case {case_id!r} is not the one {record.name!r} declares: regenerate it as " \
                "tests/layers/reference/make_torch_reference.py says"


@requires_tensorflow
@pytest.mark.parametrize("setting,reference", SETTINGS)
@pytest.mark.parametrize("case_id", sorted(CASES))
def test_matches_pytorch(case_id, setting, reference):
    case = CASES[case_id]
    got, reference = run(case, setting)
    torch = case["results"][reference]
    xs, rtol = torch["x"], RTOL[reference]
    atol = ATOL[reference]
    assert_matches(got["y"], expected_values(case_id, "y", xs, torch["y"]), rtol, f"{case_id} {setting} f(x)", atol)
    assert_matches(got["dx"], expected_values(case_id, "dx", xs, torch["dx"]), rtol, f"{case_id} {setting} f'(x)",
                   atol)
    for name, values in torch.get("dparams", {}).items():
        values = np.array(values, "float64")
        expected = np.stack([expected_values(case_id, name, xs, row) for row in values.reshape(-1, len(xs))])
        assert_matches(got[name], expected.reshape(values.shape), rtol, f"{case_id} {setting} d/d{name}", atol)


def test_every_listed_difference_changes_a_pytorch_number_and_is_documented():
    section = LAYERS_PAGE.read_text().split("### Deliberate differences from PyTorch", 1)
    assert len(section) == 2, f"{LAYERS_PAGE} needs a 'Deliberate differences from PyTorch' section"
    for phrase, rule in DIFFERENCES.items():
        assert phrase in section[1].split("\n## ", 1)[0], f"{LAYERS_PAGE} does not list {phrase!r}"
        changed = 0
        for case_id, case in CASES.items():
            for result in case["results"].values():
                quantities = {"y": result["y"], "dx": result["dx"], **result.get("dparams", {})}
                for quantity, values in quantities.items():
                    values = np.array(values, "float64")
                    # Parameter gradients: one row per parameter slice. Outputs may be wider (CReLU) or
                    # narrower (gated units) than the input: one row, matched to the inputs by position.
                    rows = values.reshape(-1, len(result["x"])) if quantity not in ("y", "dx") else [values]
                    for row in rows:
                        xs = np.resize(result["x"], len(row))
                        single = [rule(case_id, quantity, x, v) for x, v in zip(xs, row)]
                        changed += int(np.sum(~np.isclose(single, row, rtol=0, atol=0, equal_nan=True)))
        assert changed, f"{phrase!r} changes no PyTorch number: PyTorch agrees now, drop it from the list"
