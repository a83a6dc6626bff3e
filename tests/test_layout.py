"""The package's structure: imports point one way (a declared order, no circles, also not from inside a
function), private API of Keras, TensorFlow and PyTorch stays in one module, modules stay readable.

Adding a module means placing it in ORDER: the list is the architecture, bottom first.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "relu_zoo"

# Each module may import only modules listed before it. A subpackage's name stands for its `__init__`, which
# Python runs before any of its modules: importing `relu_zoo.tasks.base` from outside `tasks` also imports
# `relu_zoo.tasks`, so that must come first too. "x.*" is every module of x not named elsewhere: peers that may
# not import each other. "" is relu_zoo/__init__.py (the public API).
ORDER = [
    "_deprecation", "_compat",
    "_io", "_cpu", "_logs", "_startup", "_net", "_xla", "_torch_ops", "task_spec", "_numerics", "_slopes", "_elementwise", "_rational", "modern_activations", "context_activations", "activations", "schedules", "losses",
    "layers.base", "layers.*", "layers", "classics", "plugins", "names", "activation_spec",
    "registry", "swap", "",
    "diagnostics",
    "tasks.preprocessing", "tasks.tfds_data", "tasks.base", "tasks.*", "tasks",
    "models.registry", "models.common", "models.transformer", "models.*", "models",
    "deploy", "pretrained", "scoring", "sample",
    "run.values", "run.spec", "run.plan", "run.store", "run.records", "run.locks", "run.claims",
    "run.interrupt", "run.callbacks", "run.distribute", "run.machine", "run.precision", "run.optim", "run.stats",
    "run.metrics", "run.train",
    "run.sequential", "run.plots", "run.report", "run.sweep", "run.rounds",
    "run.jobs", "run.protocol", "run.ray_sweep", "run", "comparison",
    "studies.common", "studies.bits", "studies.*", "studies",
    "cards", "zoo", "reproduce", "finetune", "predict", "console",
]
# What a reader can take in at once. activations.py holds the math of every activation with its docstring
# (Keras' own activations.py is ~600 lines).
# The command line holds one parser and handler per command (train, compare, report, list, ...): one job, many
# commands.
MAX_LINES = {"activations": 640, "console": 600}
DEFAULT_MAX_LINES = 460


def module_name(path, root=PACKAGE):
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def position(name):
    """The index in ORDER of module `name` (a group "x.*" for an unlisted module of subpackage x)."""
    if name in ORDER:
        return ORDER.index(name)
    group = name.rpartition(".")[0] + ".*"
    return ORDER.index(group) if "." in name and group in ORDER else None


def _resolve(dotted):
    """The module of relu_zoo that `import relu_zoo.<dotted>` names (a name inside a module -> the module)."""
    while dotted not in MODULES:
        dotted = dotted.rpartition(".")[0]
    return dotted


def lazy_exports(tree, path):
    """The nodes of a package `__init__`'s module `__getattr__` (PEP 562): it runs on first attribute access,
    after the package has finished importing, so its imports of modules above the package form no circle."""
    if path.name != "__init__.py":
        return set()
    return {id(node) for top in tree.body if isinstance(top, ast.FunctionDef) and top.name == "__getattr__"
            for node in ast.walk(top)}


def imports(path, root=PACKAGE, lazy=False):
    """The modules of the package at `root` that `path` imports anywhere (top level or inside functions),
    including the parent packages Python runs on the way; those of a package's `__getattr__` only if `lazy`."""
    package = root.name
    found = set()
    tree = ast.parse(path.read_text())
    skip = set() if lazy else lazy_exports(tree, path)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module != package and not node.module.startswith(package + "."):
                continue
            inner = node.module[len(package) + 1:]
            for alias in node.names:
                full = f"{inner}.{alias.name}".lstrip(".")
                found.add(full if full in MODULES else _resolve(inner))
        elif isinstance(node, ast.Import):
            found.update(_resolve(a.name[len(package) + 1:]) for a in node.names
                         if a.name == package or a.name.startswith(package + "."))
    with_parents = set()
    for name in found:
        parts = name.split(".")
        with_parents.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return with_parents


def test_every_module_has_a_place_in_the_order():
    assert [name for name in MODULES if position(name) is None] == []
    assert [name for name in ORDER if "*" not in name and name not in MODULES] == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down(name):
    mine = position(name)
    own_package = name.rpartition(".")[0] if "." in name else None
    above = sorted(other for other in imports(MODULES[name]) - {name, own_package}
                   if not name.startswith(other + ".") and (position(other) or 0) >= mine)
    assert above == [], f"relu_zoo.{name} imports {above}, which ORDER places at or above it"


def test_lazy_exports_only_name_public_modules_above():
    """relu_zoo.compare is the one lazy export: it reaches the runner, which imports the package itself."""
    lazy = {name: imports(path, lazy=True) - imports(path) for name, path in MODULES.items()}
    assert {name: sorted(found) for name, found in lazy.items() if found} == {"": ["comparison"]}


def test_no_import_circle():
    graph = {name: imports(path) - {name} for name, path in MODULES.items()}
    # A module's own packages are already running when it is imported: not an edge.
    graph = {name: {o for o in deps if not name.startswith(o + ".")} for name, deps in graph.items()}
    state = {}

    def visit(name, stack):
        state[name] = "open"
        for other in sorted(graph[name]):
            if state.get(other) == "open":
                pytest.fail("import circle: " + " -> ".join([*stack[stack.index(other):], other]))
            if other not in state:
                visit(other, [*stack, other])
        state[name] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_stay_short(name):
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES.get(name, DEFAULT_MAX_LINES), f"relu_zoo/{name}: {lines} lines; split it by job"


# -- private API of Keras, TensorFlow and PyTorch: only in relu_zoo/_compat.py -------------------------------------
#
# Everywhere else (the package, the benchmarks, the tools) these are flagged:
# 1. modules that are a library's implementation, not its API, imported or reached as attributes: `keras.src`
#    (Keras' public API is `keras.*` outside it), `tensorflow.python`, `.tsl`, `.core`, `.compiler` (TensorFlow's
#    is the `tf.*` attributes), TensorFlow 1's `tf.compat.v1`, and any `_`-module (`torch._C`);
# 2. attributes with one leading underscore (`x._name`, also `getattr(x, "_name")`) whose name relu_zoo never
#    defines itself (a `def`/`class`, an assignment at module or class level or to `self._name`/`cls._name`, an
#    import): the private members of other libraries' objects, inherited ones included (`self._build_at_init()` in
#    a Keras layer), whatever variable holds the object. relu_zoo's own private members, in any module, are
#    defined somewhere, so they pass; so do the underscore names that are public API (namedtuple's);
# 3. tests of a class's internal module path, `x.__module__` against a dotted name or by its end
#    (`type(op).__module__.endswith("ops.nn")`); `x.__module__.split(".")[0] == "keras"` (the package) passes.
# A private name relu_zoo happens to define for itself too would pass rule 2: a limit of a rule by name.

COMPAT = PACKAGE / "_compat.py"
PRIVATE_API_SCOPE = [p for p in sorted([*PACKAGE.rglob("*.py"), *(ROOT / "benchmarks").glob("*.py"),
                                        *(ROOT / "tools").glob("*.py")]) if p != COMPAT]
INTERNAL_MODULES = {"keras": {"src"}, "tensorflow": {"python", "tsl", "core", "compiler"}, "torch": set()}
PUBLIC_UNDERSCORE = {"_asdict", "_fields", "_field_defaults", "_make", "_replace"}  # collections.namedtuple's API


def private_module(dotted):
    """Whether the dotted path `dotted` is inside a library's implementation (rule 1)."""
    parts = dotted.split(".")
    library = {"tf": "tensorflow"}.get(parts[0], parts[0])
    if library not in INTERNAL_MODULES or len(parts) < 2:
        return False
    rest = parts[1:]
    return (rest[0] in INTERNAL_MODULES[library] or rest[:2] == ["compat", "v1"]
            or any(p.startswith("_") and not p.startswith("__") for p in rest))


def private_name(name):
    return name.startswith("_") and not name.startswith("__") and name not in PUBLIC_UNDERSCORE


def own_private_names(trees):
    """The `_`-names relu_zoo defines itself, in any of `trees` (rule 2)."""
    names = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, ast.alias):
                names.add(node.asname or node.name.split(".")[0])
            elif (isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store)
                  and isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                names.add(node.attr)
    return {name for name in names if private_name(name)}


def _dotted(node):
    """"a.b.c" for a chain of attributes on a name, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def _strings(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple):
        return [s for element in node.elts for s in _strings(element)]
    return []


def private_uses(tree, own):
    """(line, what) for every use of private API in `tree` (the rules above); `own`: relu_zoo's `_`-names."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            found.update((node.lineno, f"import {m}") for m in modules if private_module(m))
        elif isinstance(node, ast.Import):
            found.update((node.lineno, f"import {a.name}") for a in node.names if private_module(a.name))
        elif isinstance(node, ast.Attribute):
            dotted = _dotted(node)
            if dotted and private_module(dotted):
                found.add((node.lineno, dotted))
            elif private_name(node.attr) and node.attr not in own:
                found.add((node.lineno, f"._{node.attr[1:]}"))
        if isinstance(node, ast.Call):
            function = _dotted(node.func) or ""
            if function in ("getattr", "hasattr", "setattr", "delattr") and len(node.args) > 1:
                found.update((node.lineno, f"{function}(..., {name!r})") for name in _strings(node.args[1])
                             if private_name(name) and name not in own)
            if function in ("importlib.import_module", "__import__") and node.args:
                found.update((node.lineno, f"import {m}") for m in _strings(node.args[0]) if private_module(m))
            if (isinstance(node.func, ast.Attribute) and node.func.attr in ("startswith", "endswith")
                    and "__module__" in ast.unparse(node.func.value) and node.args):
                layout = [m for m in _strings(node.args[0]) if node.func.attr == "endswith" or "." in m.rstrip(".")]
                found.update((node.lineno, f"__module__.{node.func.attr}({m!r})") for m in layout)
        if isinstance(node, ast.Compare) and "__module__" in ast.unparse(node):
            for side in (node.left, *node.comparators):
                found.update((node.lineno, f"__module__ == {m!r}") for m in _strings(side) if "." in m.rstrip("."))
    return sorted(found)


def test_private_api_only_in_compat():
    trees = {path: ast.parse(path.read_text()) for path in PRIVATE_API_SCOPE}
    own = own_private_names(trees.values())
    uses = [f"{path.relative_to(ROOT)}:{line}: {what}" for path, tree in trees.items()
            for line, what in private_uses(tree, own)]
    assert uses == [], "private API outside relu_zoo/_compat.py; add a named function there:\n" + "\n".join(uses)


@pytest.mark.parametrize("code, flagged", [
    ("from keras.src import tree", True),
    ("import keras.src.ops.nn", True),
    ("from tensorflow.python.util import _pywrap_util_port", True),
    ("from tensorflow.tsl.profiler.protobuf import xplane_pb2", True),
    ("x = keras.src.ops.relu", True),
    ("tf.compat.v1.Session()", True),
    ("import torch._C", True),
    ("importlib.import_module('keras.src.trainers')", True),
    ("class L(keras.layers.Layer):\n    def __init__(self):\n        self._build_at_init()", True),
    ("torch.ops.aten._prelu_kernel_backward(dy, x, a)", True),
    ("strategy = model._distribute_strategy", True),
    ("hasattr(torch, '_prelu_kernel')", True),
    ("type(op).__module__.endswith('ops.nn')", True),
    ("type(op).__module__ == 'keras.src.ops.nn'", True),
    ("class A:\n    def _own(self):\n        return self._own()", False),  # relu_zoo's own private member
    ("_CACHE = {}\ndef f(module):\n    return module._CACHE", False),  # another relu_zoo module's
    ("site._replace(path='x')", False),  # namedtuple's public API
    ("import keras.ops.nn\nkeras.ops.relu(x)", False),
    ("obj.__module__.split('.')[0] == 'keras'", False),
    ("fn.__module__ == __name__", False),
])
def test_private_api_rule(code, flagged):
    tree = ast.parse(code)
    assert bool(private_uses(tree, own_private_names([tree]))) is flagged


# -- benchmarks/: scripts that import relu_zoo and each other explicitly, in this order ------------------------

BENCHMARKS = ROOT / "benchmarks"
BENCHMARK_ORDER = ["reporting", "train_process", "default_run", "standard_protocol", "ops", "backends", "layer_steps",
                   "layers", "phases", "pipeline", "export", "xu2015", "cifar10_epochs", "cifar10_collapse",
                   "airbench_torch", "cifar10_parity", "epoch_speed", "step_stages", "preset_accuracy", "memory",
                   "precision", "tf_settings", "mnist_time_to_99", "speed_targets", "training"]
# `reporting` and `train_process` hold what several scripts share; `training` only forwards the old commands.
BENCHMARK_MAX_LINES = {}


def benchmark_imports(path):
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "benchmarks":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("benchmarks."):
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("benchmarks."))
    return found


def test_every_benchmark_is_in_the_order():
    assert sorted(p.stem for p in BENCHMARKS.glob("*.py") if p.stem != "__init__") == sorted(BENCHMARK_ORDER)


@pytest.mark.parametrize("name", BENCHMARK_ORDER)
def test_benchmark_imports_point_down_and_are_explicit(name):
    path = BENCHMARKS / f"{name}.py"
    above = benchmark_imports(path) - set(BENCHMARK_ORDER[:BENCHMARK_ORDER.index(name)])
    assert above == set(), f"benchmarks/{name}.py imports {sorted(above)}, which come after it"
    assert "spec_from_file_location" not in path.read_text(), "import siblings as `from benchmarks import x`"
    lines = len(path.read_text().splitlines())
    assert lines <= BENCHMARK_MAX_LINES.get(name, DEFAULT_MAX_LINES), f"benchmarks/{name}.py: {lines} lines"


def test_the_package_imports_no_benchmark_or_tool():
    for path in PACKAGE.rglob("*.py"):
        names = []
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.append(node.module)
        assert not [n for n in names if n.split(".")[0] in ("benchmarks", "tools")], path


# Benchmarks measure the library as users get it: its public API. The one exception reads TensorFlow's profiler
# traces (private TensorFlow API, so through relu_zoo's compatibility module).
BENCHMARK_PRIVATE_IMPORTS = {"ops": {"relu_zoo._compat"}}


@pytest.mark.parametrize("name", BENCHMARK_ORDER)
def test_benchmarks_import_relu_zoo_public_names_only(name):
    private = set()
    for node in ast.walk(ast.parse((BENCHMARKS / f"{name}.py").read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "relu_zoo":
            private.update(f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_"))
            private.update([node.module] if any(p.startswith("_") for p in node.module.split(".")) else [])
        elif isinstance(node, ast.Import):
            private.update(a.name for a in node.names
                           if a.name.split(".")[0] == "relu_zoo" and any(p.startswith("_") for p in a.name.split(".")))
    assert private <= BENCHMARK_PRIVATE_IMPORTS.get(name, set()), f"benchmarks/{name}.py imports {sorted(private)}"
