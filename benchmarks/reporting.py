"""What every benchmark script writes the same way: its recorded command, the machine, markdown tables, and the
report files (JSON, and markdown beside it), each written atomically so a reader never sees half a file."""

import os
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TORCH_PYTHON = "$TORCH_PYTHON"  # a Python with PyTorch, as a recorded command names it (set it in your shell)


def portable(arg):
    """A command-line argument as a record keeps it: a path inside the checkout relative to it, the interpreter
    running this script as `python`, any other absolute path to a Python as `$TORCH_PYTHON` (the only one the
    scripts take: a user's own interpreter with PyTorch), so a stored command holds no folder of this machine."""
    text = str(arg)
    if not os.path.isabs(text):
        return text
    path = Path(text)
    if path == Path(sys.executable):
        return "python"
    if path.is_relative_to(REPO):
        return str(path.relative_to(REPO))
    if path.name.startswith("python"):
        return TORCH_PYTHON
    return text


def command(script, argv=None):
    """`python benchmarks/<script> <args>` as a user would type it in a shell in a checkout (`argv`: default
    sys.argv[1:])."""
    args = [portable(a) for a in (sys.argv[1:] if argv is None else argv)]
    return " ".join(["python", f"benchmarks/{script}", *(a if a == TORCH_PYTHON else shlex.quote(a) for a in args)])


def machine():
    """The machine in one dict: {"cpu", "tensorflow", "onednn", "text"} (relu_zoo.run.machine.describe)."""
    from relu_zoo.run import machine as machine_lib

    return machine_lib.describe()


def cpu():
    """{"model", "flags", "cores"}: the CPU a record states beside a time (relu_zoo.run.machine.cpu)."""
    from relu_zoo.run import machine as machine_lib

    return machine_lib.cpu()


def cpu_text(described):
    """A stored `cpu()` dict in words: "AMD EPYC (avx2, fma, 2 cores)"."""
    from relu_zoo.run import machine as machine_lib

    return machine_lib.cpu_text(described)


def machine_text(stored):
    """A stored report's machine as a sentence: older reports hold one already, newer ones `machine()`'s dict."""
    return stored if isinstance(stored, str) else stored["text"]


def table(header, rows, align=None):
    """A markdown table: `header` cells, `rows` of cells (`|` inside a cell escaped), `align` one of "l"/"r" per
    column (default: the first left, the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    lines = [_row(header), "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    return "\n".join(lines + [_row(row) for row in rows])


def _row(cells):
    text = [str(cell).replace("|", "\\|") for cell in cells]
    return "|" + "|".join(f" {cell} " if cell else " " for cell in text) + "|"


def verdict(ok):
    return "PASS" if ok else "MISS"


def write_json(path, data):
    """`data` as indented JSON, atomically."""
    from relu_zoo.run.store import atomic_write_json

    atomic_write_json(path, data)


def write_text(path, text):
    from relu_zoo.run.store import atomic_write_text

    atomic_write_text(path, text)


def write_file(path, write, suffix=".tmp"):
    """`write(tmp)` fills a temporary file beside `path` (named with `suffix`), renamed into place when done."""
    from relu_zoo.run.store import atomic_write

    atomic_write(path, write, suffix)


def publish(report, script, argv, markdown, json_path):
    """The end of every benchmark script: `report` stamped with its command and machine, printed with its
    `markdown(report)` table, and stored at `json_path` (None: printed only)."""
    report.update(command=command(script, argv), machine=machine())
    print(report["machine"]["text"])
    print(markdown(report))
    write(json_path, report)


def write(json_path, report, markdown=None):
    """Writes `report` to `json_path` and, if given, `markdown` (headed by the report's command and machine) to the
    same path with `.md`; each file atomically. `json_path` None writes nothing."""
    if not json_path:
        return
    write_json(json_path, report)
    if markdown is not None:
        head = [f"`{report['command']}`" if report.get("command") else None,
                machine_text(report["machine"]) if report.get("machine") else None]
        write_text(Path(json_path).with_suffix(".md"), " on ".join(h for h in head if h) + f"\n\n{markdown}\n")
