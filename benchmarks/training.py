"""Deprecated: `python benchmarks/training.py COMMAND ...` forwards to the script that does that job now.

| command | script |
|---|---|
| `speed` | `benchmarks/epoch_speed.py` |
| `profile` | `benchmarks/step_stages.py` |
| `accuracy` | `benchmarks/preset_accuracy.py` |
| `memory` | `benchmarks/memory.py` |
| `phases` | `benchmarks/phases.py` |
| `ops` | `benchmarks/tf_settings.py` |
| `precision` | `benchmarks/precision.py` |
| `targets` | `benchmarks/speed_targets.py` |
| `render --json F` | `benchmarks/speed_targets.py --render F` |

It warns with a DeprecationWarning naming the new command, and is removed in the release after next.
"""

import importlib
import sys
import warnings
from pathlib import Path

if not __package__:  # `python benchmarks/training.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SCRIPTS = {"speed": "epoch_speed", "profile": "step_stages", "accuracy": "preset_accuracy", "memory": "memory",
           "phases": "phases", "ops": "tf_settings", "precision": "precision", "targets": "speed_targets",
           "render": "speed_targets"}


def new_command(argv):
    """(script module name, its arguments) for the old `argv` (`render --json F` becomes `--render F`)."""
    command, rest = argv[0], list(argv[1:])
    if command == "render":
        if "--json" not in rest or rest.index("--json") + 1 >= len(rest):
            raise SystemExit("render needs --json (a stored `targets` report)")
        rest = ["--render", rest[rest.index("--json") + 1]]
    return SCRIPTS[command], rest


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SCRIPTS:
        print(__doc__, file=sys.stderr)
        return 2
    name, rest = new_command(argv)
    warnings.warn(f"`python benchmarks/training.py {argv[0]}` is deprecated; use `python benchmarks/{name}.py "
                  f"{' '.join(rest)}`".rstrip() + ".", DeprecationWarning, stacklevel=2)
    # Imported only now: `phases` must start before TensorFlow is imported (the import is its first phase).
    return importlib.import_module(f"benchmarks.{name}").main(rest)


if __name__ == "__main__":
    sys.exit(main())
