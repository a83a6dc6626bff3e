"""The front door and the docs: the README stays short and runs as CI runs, generated pages are current, and
code comments carry no issue history (that belongs in CHANGELOG.md and commit messages)."""

import json
import re
from pathlib import Path

import pytest

from tools import docs_tables

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _first_screen_commands():
    """The README's first bash block: install, run, test."""
    block = re.search(r"```bash\n(.*?)```", README.read_text(), re.S).group(1)
    return [line.split("#", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_readme_is_a_front_door_not_a_log():
    lines = README.read_text().splitlines()
    assert len(lines) <= 300, f"README.md has {len(lines)} lines: move the long parts into docs/"
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", README.read_text()), "README.md holds a dated measurement"


def test_readme_first_screen_is_install_run_test_and_ci_runs_it_as_written():
    install, run, test = _first_screen_commands()
    assert install.startswith("pip install") and run.startswith("relu-zoo") and "pytest" in test
    ci = (ROOT / ".ci" / "run").read_text()
    assert install in ci.splitlines(), ".ci/run must install exactly as the README says"
    assert any(line.startswith(test) for line in ci.splitlines()), ".ci/run must run the README's test command"


@pytest.mark.parametrize("name", ["presets.md", "training.md", "export.md"])
def test_generated_docs_pages_are_current(name):
    # params.md and checkpoints.md are checked by test_models.py and test_pretrained.py.
    path = docs_tables.GENERATED / name
    assert path.read_text() == docs_tables.page_text(name), f"{path} is stale: run `python tools/docs_tables.py`"


def test_claims_tables_are_current_and_checked_as_generated_files():
    # README.md and the studies page carry one claims table, from the stored study results.
    pages = docs_tables.claims_pages()
    assert set(pages) == {README, docs_tables.STUDIES_PAGE}
    assert not docs_tables.stale(pages), "the claims table is stale: run `python tools/docs_tables.py`"
    for page, link_root in docs_tables.CLAIMS_PAGES.items():
        assert docs_tables.claims_markdown(link_root) in page.read_text()
    assert "](benchmarks/reports/studies/vanishing/README.md)" in README.read_text()
    assert "](../reports/studies/vanishing/README.md)" in docs_tables.STUDIES_PAGE.read_text()


def test_claims_table_says_what_is_missing_or_partial(tmp_path, monkeypatch):
    from relu_zoo.studies import list_studies

    stored = json.loads((docs_tables.REPORTS / "studies" / "sparsity" / "results.json").read_text())
    stored.update(finished_runs=9, expected_runs=21)
    (tmp_path / "studies" / "sparsity").mkdir(parents=True)
    (tmp_path / "studies" / "sparsity" / "results.json").write_text(json.dumps(stored))
    monkeypatch.setattr(docs_tables, "REPORTS", tmp_path)
    rows = {row.split(" | ")[-1]: row for row in docs_tables.claims_markdown("r").splitlines()[2:]}
    assert len(rows) == len(list_studies())
    assert "| *Partial, 9 of 21 runs:* **Not supported here**: the sparsest" in rows["`relu-zoo study sparsity` |"]
    assert "| [sparsity](r/sparsity/README.md) |" in rows["`relu-zoo study sparsity` |"]
    assert "| **Not measured yet**: no stored results | – |" in rows["`relu-zoo study vanishing` |"]


def test_readme_links_and_nav_pages_exist():
    # `mkdocs build --strict` checks the site's own links (CI); these are the README's, and the nav's pages
    # (reports/ pages come from benchmarks/reports/, added by tools/mkdocs_hooks.py).
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text())
    missing = [link for link in links if "://" not in link and not (ROOT / link).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"
    pages = re.findall(r":\s+([\w./-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert pages
    missing = [p for p in pages if not (ROOT / "docs" / p).is_file() and not (ROOT / "benchmarks" / p).is_file()]
    assert not missing, f"mkdocs.yml names pages that do not exist: {missing}"


CODE = [*sorted((ROOT / "relu_zoo").rglob("*.py")), *sorted((ROOT / "relu_zoo" / "presets").glob("*.yaml")),
        *sorted((ROOT / "benchmarks").glob("*.py")), *sorted((ROOT / "tests").rglob("*.py")),
        *sorted((ROOT / "tools").glob("*.py")), ROOT / "train.py"]


def test_code_comments_carry_no_issue_numbers():
    pattern = re.compile(r"\bissue ?#?\d+\b", re.I)  # not stored report folders such as issue17_profiles/
    found = [f"{path.relative_to(ROOT)}:{n}" for path in CODE
             for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, f"issue numbers in code (say why instead; history goes to CHANGELOG.md): {found}"


@pytest.mark.parametrize("section", ["## Use the layers", "## Pretrained checkpoints"])
def test_readme_examples_run_as_written(section, tmp_path, monkeypatch):
    # "## Use with your own model" runs in tests/test_swap.py, where its printed output is checked too.
    code = re.search(r"```python\n(.*?)```", README.read_text().split(section, 1)[1], re.S).group(1)
    monkeypatch.chdir(tmp_path)  # the layers example saves m.keras
    exec(compile(code, "README.md", "exec"), {})


def test_readme_example_activation_is_the_stored_example_file():
    # The README's own-activation example and the file its stored report was made from are one source.
    section = README.read_text().split("## Compare your own activation", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert code == (ROOT / "benchmarks" / "reports" / "standard" / "example" / "my_acts.py").read_text()


def test_the_layout_on_the_docs_home_names_every_public_module():
    # The layout block is written by hand: a module added without a line there fails here.
    text = (ROOT / "docs" / "index.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    package = ROOT / "relu_zoo"
    public = sorted(p.name for p in package.iterdir()
                    if not p.name.startswith(("_", ".")) and (p.suffix == ".py" or (p / "__init__.py").exists()
                                                              or p.name in ("presets", "protocols")))
    missing = [name for name in public if not re.search(rf"^\s+{re.escape(name)}/?\s", block, re.M)]
    assert not missing, f"docs/index.md's layout does not name {missing}"


def test_the_readme_names_every_layer():
    # The README's "What is in it" lists the layers by hand: a layer added without its name there fails here.
    import keras

    from relu_zoo import layers

    bullet = README.read_text().split("- **Layers**", 1)[1].split("\n- **", 1)[0]
    classes = [name for name in layers.__all__
               if isinstance(getattr(layers, name), type) and issubclass(getattr(layers, name), keras.layers.Layer)]
    missing = [name for name in classes if not re.search(rf"(?<![\w-]){re.escape(name)}(?!\w)", bullet)]
    assert classes and not missing, f"README.md's layer list does not name {missing}"
