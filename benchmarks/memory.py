"""Peak resident memory of a whole `python train.py` process (default: the default comparison).

    python benchmarks/memory.py [--json benchmarks/reports/training/memory.json] [-- extra train.py flags]

`ru_maxrss` of that child alone, from `os.wait4` (benchmarks/train_process.py): the whole process, TensorFlow
included; an earlier, bigger child of this process does not count.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if not __package__:  # `python benchmarks/memory.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import reporting, train_process  # noqa: E402

MEMORY_TARGET_MB = 3 * 1024


def memory(extra=()):
    with tempfile.TemporaryDirectory() as out:
        run = train_process.train_py(list(extra), out)
    return {"train_command": run["command"], "peak_rss_mb": run["peak_rss_mb"], "wall_s": run["wall_s"],
            "target_mb": MEMORY_TARGET_MB}


def markdown(report):
    peak = report["peak_rss_mb"]
    return (f"`{report['train_command']}`: peak resident memory {peak:,.0f} MB (target ≤ {report['target_mb']:,} MB: "
            f"{reporting.verdict(peak <= report['target_mb'])}), {report['wall_s'] / 60:.1f} min")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python benchmarks/memory.py", description=__doc__.splitlines()[0])
    parser.add_argument("--json", default=None, help="also write the measurement to this JSON file")
    args, extra = parser.parse_known_args(argv)
    report = memory([e for e in extra if e != "--"])
    reporting.publish(report, "memory.py", argv, markdown, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
