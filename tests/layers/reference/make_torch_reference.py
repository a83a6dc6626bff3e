"""Writes `torch_edge_cases.json`: PyTorch's outputs and gradients of every relu_zoo activation at edge inputs.

PyTorch is not a dependency of relu_zoo or of its tests: `tests/layers/test_torch_reference.py` only reads the JSON
written here. Regenerate it (after adding an activation, or changing a case below or one a record declares) in a
separate environment:

    python3 -m venv /tmp/torchvenv && /tmp/torchvenv/bin/pip install torch==2.13.0 numpy
    /tmp/torchvenv/bin/python tests/layers/reference/make_torch_reference.py        # new or changed cases
    /tmp/torchvenv/bin/python tests/layers/reference/make_torch_reference.py --all  # every case, on this CPU

The cases are `CASES` below and those an activation's record declares (`torch=` in its layer file, a torch
expression, read from the source: a new activation needs no edit here). Each names a registered relu_zoo
activation, the constructor arguments and parameter values to give it,
and computes the same function with PyTorch: `torch.nn.functional` where PyTorch has the activation, otherwise
the paper's formula written with torch ops (SReLU, PELU, APL, Swish-beta, CReLU, ReLU with Keras' extra
arguments); for float16 / bfloat16 inputs a formula is evaluated in float32 and rounded once, as PyTorch's
own kernels do, rather than rounded after every op. For every dtype the inputs are cast to that dtype first; the JSON stores those cast inputs,
`y = f(x)`, `dx = d sum(y) / dx` and, for learnable activations, `d sum(y) / d parameter`. The input is a
single row of shape (1, n); learnable parameters have one value per element (rank-2 input: one channel per
element), so each parameter gradient belongs to one input value.
"""

import ast
import json
import math
import pathlib
import sys

import torch
import torch.nn.functional as F

INPUTS = [0.0, 1e-8, -1e-8, 1.0, -1.0, 1e4, -1e4, 65504.0, -65504.0, math.inf, -math.inf, math.nan]
DTYPES = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32, "float64": torch.float64}
OUT = pathlib.Path(__file__).with_name("torch_edge_cases.json")
LAYERS = pathlib.Path(__file__).resolve().parents[3] / "relu_zoo" / "layers"


def _keras_relu(negative_slope, max_value, threshold):
    # keras.layers.ReLU: max_value if x >= max_value; x if threshold < x < max_value;
    # negative_slope * (x - threshold) otherwise (negative_slope > 0 here: 0 * x would be NaN at -inf).
    # Written with the derivative relu_zoo documents at the kinks.
    def f(x):
        top = x >= max_value if max_value is not None else torch.zeros_like(x, dtype=torch.bool)
        capped = torch.where(top, torch.full_like(x, max_value if max_value is not None else 0.0), x)
        return torch.where(x > threshold, capped, negative_slope * (x - threshold))

    return f


def _srelu(x, t_left, a_left, t_right, a_right):
    right = t_right + a_right * (x - t_right)
    left = t_left + a_left * (x - t_left)
    return torch.where(x >= t_right, right, torch.where(x <= t_left, left, x))


def _pelu(x, alpha, beta):
    negative = alpha * torch.expm1(torch.clamp(x, max=0.0) / beta)
    return torch.where(x >= 0, (alpha / beta) * x, negative)


def _apl(x, a, b):
    y = F.relu(x)
    for s in range(a.shape[0]):
        y = y + a[s] * F.relu(b[s] - x)
    return y


def _halves(gate):
    """`a * gate(b)` over the halves of the last axis (value first, as F.glu), the gate evaluated op by op in
    the input's dtype as relu_zoo does (the gate rounded once, then the product)."""

    def f(x):
        a, b = x.chunk(2, dim=-1)
        return a * gate(b)

    return f


def _with_limits(fn):
    # fn(b) at finite b; its limits at ±inf (b and 0, slopes 1 and 0), which relu_zoo gives for silu and gelu
    # ("limits at ±inf" in the docs) where PyTorch evaluates inf * 0 = NaN. fn never sees an infinity, so
    # its gradient there is 0, not NaN.
    def gate(b):
        far = torch.isinf(b)
        return torch.where(far, F.relu(b), fn(torch.where(far, torch.zeros_like(b), b)))

    return gate


# (case id, relu_zoo activation name, constructor kwargs, parameter values (broadcast to one per element),
#  torch function of (x, **parameters)). Parameter values are exact in float16 and bfloat16.
CASES = [
    ("relu", "relu", {}, {}, lambda x: F.relu(x)),
    ("relu_capped", "relu", {"max_value": 1.0, "threshold": 0.5}, {},
     lambda x: F.hardtanh(F.threshold(x, 0.5, 0.0), 0.0, 1.0)),
    ("relu_keras_leaky", "relu", {"negative_slope": 0.25, "max_value": 6.0}, {}, _keras_relu(0.25, 6.0, 0.0)),
    ("relu6", "relu6", {}, {}, lambda x: F.relu6(x)),
    ("leaky_relu", "leaky_relu", {}, {}, lambda x: F.leaky_relu(x, 0.01)),
    ("leaky_relu_0.2", "leaky_relu", {"negative_slope": 0.2}, {}, lambda x: F.leaky_relu(x, 0.2)),
    ("prelu", "prelu", {}, {"alpha": 0.25}, lambda x, alpha: F.prelu(x, alpha)),
    ("rrelu", "rrelu", {}, {}, lambda x: F.rrelu(x, 1 / 8, 1 / 3, training=False)),
    ("rrelu_inverse", "rrelu", {"lower": 3.0, "upper": 8.0, "parameterization": "inverse"}, {},
     lambda x: F.leaky_relu(x, 2 / 11)),
    ("srelu", "srelu", {}, {"t_left": -1.0, "a_left": 0.25, "t_right": 1.0, "a_right": 0.5}, _srelu),
    ("pelu", "pelu", {}, {"alpha": 2.0, "beta": 0.5}, _pelu),
    ("apl", "apl", {"hinges": 2}, {"a": [[0.5], [-0.25]], "b": [[0.0], [1.0]]}, _apl),
    ("swish_beta", "swish_beta", {}, {"beta": 1.5}, lambda x, beta: x * torch.sigmoid(beta * x)),
    ("elu", "elu", {}, {}, lambda x: F.elu(x)),
    ("elu_0.5", "elu", {"alpha": 0.5}, {}, lambda x: F.elu(x, 0.5)),
    ("celu", "celu", {"alpha": 2.0}, {}, lambda x: F.celu(x, 2.0)),
    ("selu", "selu", {}, {}, lambda x: F.selu(x)),
    ("gelu", "gelu", {}, {}, lambda x: F.gelu(x)),
    ("gelu_tanh", "gelu", {"approximate": True}, {}, lambda x: F.gelu(x, approximate="tanh")),
    ("silu", "silu", {}, {}, lambda x: F.silu(x)),
    ("mish", "mish", {}, {}, lambda x: F.mish(x)),
    ("softplus", "softplus", {}, {}, lambda x: F.softplus(x)),
    ("softplus_beta", "softplus", {"beta": 2.0, "threshold": 10.0}, {},
     lambda x: F.softplus(x, beta=2.0, threshold=10.0)),
    ("crelu", "crelu", {}, {}, lambda x: torch.cat([F.relu(x), F.relu(-x)], dim=-1)),
    # Gated units: the 12 inputs split into values 0, 1e-8, ..., 1e4 and gates -1e4, 65504, ..., NaN.
    ("glu", "glu", {}, {}, lambda x: F.glu(x, dim=-1)),
    ("reglu", "reglu", {}, {}, _halves(F.relu)),
    ("geglu", "geglu", {}, {}, _halves(_with_limits(F.gelu))),
    ("swiglu", "swiglu", {}, {}, _halves(_with_limits(F.silu))),
    ("bilinear", "bilinear", {}, {}, _halves(lambda b: b)),
]

# Cases written as formulas of torch ops rather than one torch.nn.functional call.
FORMULAS = {"relu_keras_leaky", "srelu", "pelu", "apl", "swish_beta", "crelu"}


def declared_cases(layers=LAYERS):
    """The cases the activation records declare (`torch=` of `@activation(...)`, relu_zoo.layers.base.Record), read
    from the layer files' source: (case id, activation, kwargs, params, expression)."""
    found = []
    for path in sorted(layers.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            called = getattr(node, "func", None)
            if not (isinstance(node, ast.Call) and getattr(called, "id", getattr(called, "attr", None)) == "activation"
                    and node.args):
                continue
            for keyword in node.keywords:
                if keyword.arg == "torch":
                    name = ast.literal_eval(node.args[0])
                    found += [(case_id, name, kwargs, params, expression)
                              for case_id, kwargs, params, expression in ast.literal_eval(keyword.value)]
    return found


def expression_function(expression):
    """f(x, **parameters) evaluating a declared case's expression with `torch` and `F`."""
    code = compile(expression, "<torch case>", "eval")
    return lambda x, **parameters: eval(code, {"torch": torch, "F": F, "x": x, **parameters})  # noqa: S307


def is_formula(expression):
    """Whether a declared expression is a formula of torch ops rather than one torch.nn.functional call."""
    tree = ast.parse(expression, mode="eval").body
    return not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Attribute)
                and getattr(tree.func.value, "id", None) == "F")


def _values(t):
    return [float(v) for v in t.detach().to(torch.float64).reshape(-1).tolist()]


def run_case(fn, params, dtype, formula):
    x = torch.tensor([INPUTS], dtype=torch.float64).to(dtype).requires_grad_()
    n = x.shape[1]
    tensors = {}
    for name, value in params.items():
        value = torch.tensor(value, dtype=torch.float64)
        shape = (value.shape[0], n) if value.ndim == 2 else (n,)
        tensors[name] = value.expand(shape).to(dtype).clone().requires_grad_()
    if formula and dtype in (torch.float16, torch.bfloat16):
        # PyTorch's "opmath": compute in float32, round once; autograd rounds the gradients once too.
        y = fn(x.float(), **{k: t.float() for k, t in tensors.items()}).to(dtype)
    else:
        y = fn(x, **tensors)
    y.backward(torch.ones_like(y))
    result = {"x": _values(x), "y": _values(y), "dx": _values(x.grad)}
    if tensors:
        result["dparams"] = {name: t.grad.to(torch.float64).tolist() for name, t in tensors.items()}
    return result


def _stored_results():
    """{case id: (its definition, results)} of the fixture as stored, when its inputs are this script's."""
    if not OUT.is_file():
        return {}
    stored = json.loads(OUT.read_text())
    if json.dumps(stored.get("inputs")) != json.dumps(INPUTS):  # as text: the inputs hold NaN
        return {}
    return {case["id"]: (_definition(case), case["results"]) for case in stored["cases"]}


def _definition(case):
    # As JSON text, as the cases are stored: tuples become lists, and NaN compares equal to itself.
    return json.dumps({key: case.get(key) for key in ("activation", "kwargs", "params", "expression")}, sort_keys=True)


def main(argv=None):
    # PyTorch's vectorized kernels (erf, tanh) differ in the last bits between CPUs: recomputing every case on
    # another machine would change cases nobody touched. So by default a case whose definition is unchanged keeps
    # its stored results; --all recomputes them all.
    recompute = "--all" in (sys.argv[1:] if argv is None else argv)
    kept = {} if recompute else _stored_results()
    torch.use_deterministic_algorithms(True)
    cases = []
    definitions = [(case_id, activation, kwargs, params, fn, None) for case_id, activation, kwargs, params, fn in CASES]
    definitions += [(case_id, activation, kwargs, params, expression_function(expression), expression)
                    for case_id, activation, kwargs, params, expression in declared_cases()]
    for case_id, activation, kwargs, params, fn, expression in definitions:
        case = {"id": case_id, "activation": activation, "kwargs": kwargs, "params": params}
        if expression is not None:
            # The expression is stored, so that a changed declaration without a regenerated fixture fails the tests.
            case["expression"] = expression
        old = kept.get(case_id)
        if old is not None and old[0] == _definition(case):
            case["results"] = old[1]
        else:
            formula = case_id in FORMULAS if expression is None else is_formula(expression)
            case["results"] = {name: run_case(fn, params, dtype, formula) for name, dtype in DTYPES.items()}
        cases.append(case)
    ids = [case["id"] for case in cases]
    if len(set(ids)) != len(ids):
        raise SystemExit(f"case ids must be unique: {sorted(i for i in set(ids) if ids.count(i) > 1)}")
    document = {
        "generator": "tests/layers/reference/make_torch_reference.py",
        "torch_version": torch.__version__,
        "inputs": INPUTS,
        "cases": cases,
    }
    # Python's json writes NaN / Infinity literals, which json.load reads back.
    OUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {OUT} ({len(cases)} cases x {len(DTYPES)} dtypes, {len(cases) - sum(1 for c in cases if kept.get(c['id']) and kept[c['id']][0] == _definition(c))} computed)")


if __name__ == "__main__":
    main()
