"""The runner's structure (relu_zoo/run): imports point one way, no module imports another that imports it back
(also not from inside a function), private Keras API stays in one module, modules stay readable."""

import ast
from pathlib import Path

import pytest

RUN = Path(__file__).parents[1] / "relu_zoo" / "run"
# Each module may import only modules listed before it (the order of relu_zoo/run/__init__.py's docstring).
ORDER = ["values", "spec", "plan", "store", "records", "claims", "_keras_compat", "callbacks", "distribute", "precision", "optim", "train", "stats", "plots", "report",
         "sweep", "ray_sweep"]


def run_imports(path):
    """The relu_zoo.run modules that `path` imports anywhere (top level or inside functions)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "relu_zoo.run":
                found.update(alias.name for alias in node.names)
            elif node.module.startswith("relu_zoo.run."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[2] for a in node.names if a.name.startswith("relu_zoo.run."))
    return found


def test_every_module_is_in_the_order():
    assert sorted(p.stem for p in RUN.glob("*.py") if p.stem != "__init__") == sorted(
        m for m in ORDER if (RUN / f"{m}.py").exists())


@pytest.mark.parametrize("module", [p.stem for p in sorted(RUN.glob("*.py")) if p.stem != "__init__"])
def test_imports_point_down(module):
    allowed = set(ORDER[:ORDER.index(module)])
    imported = run_imports(RUN / f"{module}.py")
    assert imported <= allowed, f"{module} imports {sorted(imported - allowed)}, which come after it"


@pytest.mark.parametrize("path", sorted(RUN.glob("*.py")), ids=lambda p: p.name)
def test_modules_stay_short(path):
    assert len(path.read_text().splitlines()) <= 330


def test_private_keras_api_only_in_keras_compat():
    root = RUN.parent
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py") if "keras.src" in p.read_text())
    assert users == ["run/_keras_compat.py"]
