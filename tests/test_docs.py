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


def test_the_layers_public_api_is_generated_from_the_layer_files(tmp_path, monkeypatch):
    # A new layer file needs no import line by hand: the generated block lists every layer file's public classes.
    init = docs_tables.LAYERS_INIT
    assert not docs_tables.stale({init: docs_tables.replace_between(init.read_text(), docs_tables.LAYERS_INIT_MARKERS,
                                                                     docs_tables.layers_init())}), \
        "relu_zoo/layers/__init__.py is stale: run `python tools/docs_tables.py`"
    import relu_zoo.layers

    block = docs_tables.layers_init()
    assert all(f'"{name}",' in block for name in relu_zoo.layers.__all__)
    # A toy layer file is picked up from its source alone.
    layers = tmp_path / "layers"
    layers.mkdir()
    for name in ("__init__.py", "base.py", "relu.py"):
        (layers / name).write_text((init.parent / name).read_text())
    (layers / "half_relu.py").write_text("class HalfReLU:\n    pass\n\n\nclass _Helper:\n    pass\n")
    monkeypatch.setattr(docs_tables, "LAYERS_INIT", layers / "__init__.py")
    assert docs_tables.layers_init() == ("from relu_zoo.layers.half_relu import HalfReLU\n"
                                         "from relu_zoo.layers.relu import ReLU\n\n"
                                         '__all__ = [\n    "HalfReLU",\n    "ReLU",\n]')


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
    assert "| *Partial, 9 of 21 runs:* **Inconclusive**: the sparsest" in rows["`relu-zoo study sparsity` |"]
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
    pattern = re.compile(r"\bissue ?#?\d+\b", re.I)
    found = [f"{path.relative_to(ROOT)}:{n}" for path in CODE
             for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not found, f"issue numbers in code (say why instead; history goes to CHANGELOG.md): {found}"


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
    # The README's "What is in it" lists the layers (generated from the records by tools/docs_tables.py).
    import keras

    from relu_zoo import layers

    bullet = README.read_text().split("- **Layers**", 1)[1].split("\n- **", 1)[0]
    classes = [name for name in layers.__all__
               if isinstance(getattr(layers, name), type) and issubclass(getattr(layers, name), keras.layers.Layer)]
    missing = [name for name in classes if not re.search(rf"(?<![\w-]){re.escape(name)}(?!\w)", bullet)]
    assert classes and not missing, f"README.md's layer list does not name {missing}"


# -- The docs' snippets: what they name exists, under its current name ----------------------------------------
#
# Checked on README.md and docs/**/*.md (not docs/changelog.md, the history, which names old things on purpose):
# - Python names: each `relu_zoo.<...>` dotted name anywhere in the text, each dotted name in inline code that
#   starts with a module of relu_zoo (`pretrained.load`), and in ```python blocks each `from relu_zoo... import
#   name` and each attribute read from a relu_zoo module. Each is imported and read; an ImportError, an
#   AttributeError or a relu_zoo DeprecationWarning fails (the docs use the new names).
# - ```python blocks run, each in a fresh namespace and an empty folder, except a block right after the line
#   `<!-- not run: <why> -->`: the rule for a block that trains, downloads or needs the reader's own files.
# - `relu-zoo COMMAND ...` in any code block or inline code: the command exists, each --flag is an option of
#   its parser (relu_zoo.console's own parser, read without starting a process), and none is a deprecated
#   spelling.
# - Each `relu_zoo/...` path exists, except the reader's own files in a how-to, named my_* (my_unit.py).

DOC_PAGES = [README, *sorted(p for p in (ROOT / "docs").rglob("*.md") if p != ROOT / "docs" / "changelog.md")]
FENCE = re.compile(r"^( *)```(\w*)[^\n]*\n(.*?)^\1```", re.S | re.M)
NOT_RUN = re.compile(r"<!-- not run: .+ -->\n*$")
MODULES = sorted(p.stem for p in (ROOT / "relu_zoo").iterdir()
                 if not p.name.startswith(("_", ".")) and (p.suffix == ".py" or (p / "__init__.py").is_file()))
# A dotted name in the text: relu_zoo.x.y, or pretrained.load in inline code (not inside keras.layers.Dense).
DOTTED = re.compile(r"(?<![\w.])((?:relu_zoo|" + "|".join(MODULES) + r")(?:\.[A-Za-z_]\w*)+)")
FILE_SUFFIXES = {"py", "md", "json", "yaml", "yml", "toml", "keras", "tflite", "onnx", "xml", "bin", "csv", "png",
                 "txt", "jsonl"}
RELU_ZOO_DOTTED = re.compile(r"(?<![\w.])(relu_zoo(?:\.[A-Za-z_]\w*)+)")
COMMAND = re.compile(r"(?<![\w/.-])relu-zoo(?=[ \t]|$)(.*)", re.M)


def _page_parts(page):
    """(fenced blocks as (language, code, whether marked not run, line), the text outside them)."""
    text = page.read_text()
    blocks = [(m.group(2), m.group(3), bool(NOT_RUN.search(text[:m.start()])), text.count("\n", 0, m.start()) + 1)
              for m in FENCE.finditer(text)]
    return blocks, FENCE.sub("", text)


def _inline_code(prose):
    return re.findall(r"`([^`\n]+)`", prose)


def _python_names(code):
    """The relu_zoo names a Python block imports or reads: `from relu_zoo.x import y` -> relu_zoo.x.y, and
    `pretrained.load` after `from relu_zoo import pretrained` -> relu_zoo.pretrained.load."""
    import ast

    tree = ast.parse(code)
    bound, names = {}, set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "relu_zoo":
                    names.add(alias.name)
                    bound[alias.asname or "relu_zoo"] = alias.name if alias.asname else "relu_zoo"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "relu_zoo":
            for alias in node.names:
                names.add(f"{node.module}.{alias.name}")
                bound[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        chain = []
        while isinstance(node, ast.Attribute):
            chain.insert(0, node.attr)
            node = node.value
        if chain and isinstance(node, ast.Name) and node.id in bound:
            names.add(".".join([bound[node.id], *chain]))
    return names


def _doc_names(page):
    """{dotted name: where} of the relu_zoo names the page uses."""
    blocks, prose = _page_parts(page)
    found = [*RELU_ZOO_DOTTED.findall(prose), *(d for span in _inline_code(prose) for d in DOTTED.findall(span)),
             *(d for language, code, _, _ in blocks if language != "python" for d in RELU_ZOO_DOTTED.findall(code))]
    names = {(d if d.startswith("relu_zoo.") else f"relu_zoo.{d}"): "text" for d in found
             if d.rsplit(".", 1)[1] not in FILE_SUFFIXES}
    for language, code, _, line in blocks:
        if language == "python":
            names.update({name: f"python block at line {line}" for name in _python_names(code) if name not in names})
    return names


def _resolve(dotted):
    """None when `dotted` names a current relu_zoo module or attribute; else what is wrong."""
    import importlib
    import warnings

    parts = dotted.split(".")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            for i in range(len(parts), 0, -1):
                try:
                    found = importlib.import_module(".".join(parts[:i]))
                    break
                except ModuleNotFoundError as e:  # no such module: the name is an attribute of a shorter one
                    if e.name not in {".".join(parts[:j]) for j in range(1, i + 1)}:
                        raise
            stub = getattr(found, "__deprecated__", None)  # a module left at an old path (warns only once)
            for part in parts[i:]:
                found = getattr(found, part)
        except (ImportError, AttributeError) as e:
            return f"{type(e).__name__}: {e}"
    deprecated = [stub] if stub else []
    deprecated += [str(w.message) for w in caught
                   if issubclass(w.category, DeprecationWarning) and str(w.message).startswith("relu_zoo.")]
    return deprecated[0] if deprecated else None


# Entry-point groups are named like modules but are not modules.
ENTRY_POINT_GROUPS = {"relu_zoo.checkpoints", "relu_zoo.activations"}


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_name_only_current_python_names(page):
    from relu_zoo import plugins, pretrained

    assert ENTRY_POINT_GROUPS == {pretrained.ENTRY_POINTS, plugins.GROUP}
    wrong = {f"{name} ({where})": problem for name, where in _doc_names(page).items()
             if name not in ENTRY_POINT_GROUPS for problem in [_resolve(name)] if problem}
    assert not wrong, f"{page.relative_to(ROOT)} names what does not exist (or is deprecated): {wrong}"


def _python_blocks_to_run():
    seen, blocks = set(), []
    for page in DOC_PAGES:
        for language, code, not_run, line in _page_parts(page)[0]:
            if language == "python" and not not_run and code not in seen:
                seen.add(code)
                where = f"{page.relative_to(ROOT)}:{line}"
                blocks.append(pytest.param(code, where, id=where))
    return blocks


@pytest.mark.parametrize(("code", "where"), _python_blocks_to_run())
def test_docs_python_blocks_run(code, where, tmp_path, monkeypatch):
    # README's "Use with your own model" also runs in tests/test_swap.py, where its printed output is checked.
    import warnings

    monkeypatch.chdir(tmp_path)  # the layers example saves m.keras
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(code, where, "exec"), {})
    deprecated = [str(w.message) for w in caught
                  if issubclass(w.category, DeprecationWarning) and str(w.message).startswith("relu_zoo.")]
    assert not deprecated, deprecated


def _doc_commands(page):
    """[(the text after `relu-zoo`, where)] of every command in the page's code blocks and inline code."""
    blocks, prose = _page_parts(page)
    found = [(m.group(1), "inline code") for span in _inline_code(prose) for m in COMMAND.finditer(span)]
    for _, code, _, line in blocks:
        code = code.replace("\\\n", " ")  # continued lines
        found += [(m.group(1), f"block at line {line}") for m in COMMAND.finditer(code)]
    # The command ends at a comment, a pipe, a `;` or `&&`, or the closing quote or bracket of a YAML string.
    return [(re.split(r"\s#|\||;|&&|\"\]", rest, maxsplit=1)[0].split(), where) for rest, where in found]


def _command_problems(tokens, parsers):
    """What is wrong with `relu-zoo <tokens>`: an unknown command, an unknown or deprecated flag."""
    import argparse

    from test_console import command_parser

    from relu_zoo import console
    from relu_zoo._deprecation import RenamedFlag

    if not tokens or tokens[0] in ("-h", "--help", "--version"):
        return []
    if tokens[0] not in console.COMMANDS:
        return [f"no command {tokens[0]!r}"]
    if tokens[0] not in parsers:
        parsers[tokens[0]] = command_parser(tokens[0])
    parser = parsers[tokens[0]]
    problems = []
    for token in tokens[1:]:
        # argparse has no public listing of a parser's options or subcommands: its private tables, read-only.
        commands = [a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if commands and token in commands[0]:
            parser = commands[0][token]
        elif token.startswith("--"):
            action = parser._option_string_actions.get(token.split("=", 1)[0])
            if action is None:
                problems.append(f"{parser.prog} has no {token.split('=', 1)[0]}")
            elif isinstance(action, RenamedFlag):
                problems.append(f"{parser.prog} {token.split('=', 1)[0]} is deprecated: use {action.new}")
    return problems


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_commands_use_current_commands_and_flags(page):
    parsers = {}
    wrong = [f"{where}: relu-zoo {' '.join(tokens)}: {problem}" for tokens, where in _doc_commands(page)
             for problem in _command_problems(tokens, parsers)]
    assert not wrong, f"{page.relative_to(ROOT)}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("page", DOC_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_name_only_existing_package_files(page):
    paths = re.findall(r"(?<![\w/.~-])(relu_zoo/[\w/.-]*\w)", page.read_text())
    missing = sorted({path for path in paths if not (ROOT / path).exists() and "/my_" not in path})
    assert not missing, f"{page.relative_to(ROOT)} names files that do not exist: {missing}"
