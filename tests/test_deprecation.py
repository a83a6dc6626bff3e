"""Public names that moved keep working for one release: reading an old name warns with a DeprecationWarning that
names the new one, at the reader's line, and returns the very object of the new place; a name that never existed
still raises AttributeError."""

import importlib
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Every module that keeps old names, found in the source: a new alias is tested without editing this file.
ALIASED = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts) for p in (ROOT / "relu_zoo").rglob("*.py")
                 if re.search(r"^__getattr__ = _deprecation\.moved\(", p.read_text(), re.M))


def test_the_known_moves_are_aliased():
    assert {"relu_zoo.pretrained", "relu_zoo.run.claims"} <= set(ALIASED)


@pytest.mark.parametrize("name", ALIASED)
def test_each_old_name_warns_naming_the_new_one_and_returns_it(name):
    module = importlib.import_module(name)
    moved = module.__getattr__.moved
    assert moved
    for old, new in moved.items():
        new_module, _, attribute = new.rpartition(".")
        assert new_module != name
        expected = getattr(importlib.import_module(new_module), attribute)
        with pytest.warns(DeprecationWarning) as caught:
            found = getattr(module, old)
        assert found is expected, f"{name}.{old}"
        assert [str(w.message) for w in caught] == [
            f"{name}.{old} is deprecated: use {new} (it will be removed in the next release)."]
        assert caught[0].filename == __file__  # the reader's line, so Python shows it in a user's script
    with pytest.raises(AttributeError, match=f"module '{name}' has no attribute 'no_such_name'"):
        module.no_such_name


def test_the_moved_export_model_imports_as_before():
    from relu_zoo import deploy

    with pytest.warns(DeprecationWarning, match=r"use relu_zoo\.deploy\.export_model"):
        from relu_zoo.pretrained import export_model
    assert export_model is deploy.export_model


def test_the_old_module_of_the_run_locks_warns_on_import_and_keeps_its_names(monkeypatch):
    from relu_zoo.run import locks

    monkeypatch.delitem(sys.modules, "relu_zoo.run.claims", raising=False)
    with pytest.warns(DeprecationWarning, match=r"relu_zoo\.run\.claims is deprecated: use relu_zoo\.run\.locks"):
        claims = importlib.import_module("relu_zoo.run.claims")
    assert claims.__deprecated__.startswith("relu_zoo.run.claims is deprecated: use relu_zoo.run.locks")
    with pytest.warns(DeprecationWarning, match=r"use relu_zoo\.run\.locks\.try_lock"):
        assert claims.try_claim is locks.try_lock
    with pytest.warns(DeprecationWarning):
        # The folder name is the stored sweeps' layout: old and new code lock runs in the same place.
        assert claims.CLAIMS_DIR == locks.LOCKS_DIR == "claims"
