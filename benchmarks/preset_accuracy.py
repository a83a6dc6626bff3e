"""Test accuracy against training time of shipped presets: `train.py --preset P --seeds 1` (ReLU) per preset.

    python benchmarks/preset_accuracy.py [--presets mnist_60s,imdb,spoken_digit] [--json F] [-- extra train.py flags]

Each preset runs in a fresh process (benchmarks/train_process.py). The training time is the sum of Keras epoch
times, which include the per-epoch validation pass; the input pipeline's first pass is in epoch 1.
"""

import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

if not __package__:  # `python benchmarks/preset_accuracy.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import reporting, train_process  # noqa: E402

ACCURACY_TARGETS = {  # preset (mnist, imdb_reviews, spoken_digit): (test accuracy, seconds of training)
    "mnist_60s": (0.990, 60.0),
    "imdb": (0.88, 300.0),
    "spoken_digit": (0.97, 120.0),
    "cifar10": (0.90, 1200.0),  # the CIFAR-10 recipe's target (test split of the JPEG copy)
}


def accuracy(presets, extra=()):
    rows = []
    for preset in presets:
        target_acc, target_s = ACCURACY_TARGETS.get(preset, (None, None))
        with tempfile.TemporaryDirectory() as out:
            run = train_process.train_py(["--preset", preset, "--seeds", "1", *train_process.PRESET_FLAGS,
                                          *extra], out)
        (result,) = run["results"]["runs"]
        train_s = sum(result["epoch_times"])
        tta = result.get("test_accuracy_tta")
        rows.append({"preset": preset, "task": result["task"], "model": result["model"], "epochs": result["epochs"],
                     "test_accuracy": result["test_accuracy"], "test_accuracy_tta": tta,
                     "dtype_policy": result.get("dtype_policy"), "train_s": train_s, "process_s": run["wall_s"],
                     "target_accuracy": target_acc, "target_s": target_s, "command": run["command"],
                     "met": None if target_acc is None else bool(result["test_accuracy"] >= target_acc
                                                                 and train_s <= target_s),
                     "met_with_tta": None if target_acc is None or tta is None else bool(
                         tta >= target_acc and train_s <= target_s)})
    return {"rows": rows}


def markdown(report):
    rows = []
    for r in report["rows"]:
        target = (f"≥ {100 * r['target_accuracy']:.1f}% in ≤ {r['target_s']:.0f} s" if r["target_accuracy"]
                  else "–")
        tta = r.get("test_accuracy_tta")
        rows.append([f"`{r['preset']}`", r["task"], r["model"], r["epochs"], f"{100 * r['test_accuracy']:.2f}%",
                     "–" if tta is None else f"{100 * tta:.2f}%", f"{r['train_s']:.0f}", target,
                     "" if r["met"] is None else reporting.verdict(r["met"]),
                     "" if r.get("met_with_tta") is None else reporting.verdict(r["met_with_tta"])])
    return reporting.table(["preset", "task", "model", "epochs", "test accuracy", "with flip TTA", "training s",
                            "target", "met", "met with TTA"], rows, "lllrrrrlll")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python benchmarks/preset_accuracy.py",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(ACCURACY_TARGETS))
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    args, extra = parser.parse_known_args(argv)
    report = accuracy([p for p in args.presets.split(",") if p], [e for e in extra if e != "--"])
    reporting.publish(report, "preset_accuracy.py", argv, markdown, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
