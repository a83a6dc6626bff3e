"""Export parity and latency: checkpoint x format -> benchmarks/reports/export.json.

    python benchmarks/export.py                       # the docs' export table (needs TFDS_DATA_DIR, relu_zoo[export])
    python benchmarks/export.py --names cnn_prelu.mnist --formats tflite,onnx
    python benchmarks/export.py --names rnn_prelu.imdb_reviews --update   # re-measure some rows of the JSON

For each checkpoint and format: the exported file's size, top-1 agreement and max abs difference against the
Keras model on the first 256 real test inputs (run with the format's own runtime), and the median latency of
one example (batch 1) over `--repeats` calls after warm-up, with the Keras model's `predict_on_batch` as the
reference row. Timings depend on the machine: the JSON records it.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

if not __package__:  # `python benchmarks/export.py`: the checkout's root, so that `benchmarks` imports
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import reporting  # noqa: E402

OUT = Path(__file__).resolve().parent / "reports" / "export.json"
NAMES = ("cnn_relu.mnist", "cnn_prelu.mnist", "cnn_leaky_relu.mnist", "cnn_prelu.spoken_digit",
         "rnn_prelu.imdb_reviews")


def latency_ms(run, x, repeats):
    for _ in range(5):
        run(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(x)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def measure(name, formats, repeats, examples):
    from relu_zoo import deploy, pretrained

    model = pretrained.load(name, compile=False)
    x = pretrained.model_inputs(name, examples)
    keras_file = pretrained.checkpoint_file(name, pretrained.MODEL_FILE)  # the checkout's, else the cache's
    rows = [{"checkpoint": name, "format": "keras", "size_bytes": keras_file.stat().st_size, "examples": len(x),
             "top1_agreement": 1.0, "max_abs_diff": 0.0,
             "latency_ms": latency_ms(model.predict_on_batch, x[:1], repeats)}]
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in formats:
            try:
                path = deploy.export_model(model, fmt, Path(tmp) / name)
                run = deploy.runtime(path, fmt)
                row = {"checkpoint": name, "format": fmt, "size_bytes": deploy.file_size(path),
                       **deploy.parity(model, run, x), "latency_ms": latency_ms(run, x[:1], repeats)}
            except Exception as e:  # noqa: BLE001 - a format that fails is a result of the table too
                row = {"checkpoint": name, "format": fmt, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def markdown(report):
    lines = ["| checkpoint | format | size | top-1 agreement | max abs diff | latency (batch 1) |",
             "|---|---|---:|---:|---:|---:|"]
    for r in report["rows"]:
        if "error" in r:
            lines.append(f"| `{r['checkpoint']}` | {r['format']} | – | fails: {r['error'].split(':')[0]} | – | – |")
            continue
        lines.append(f"| `{r['checkpoint']}` | {r['format']} | {r['size_bytes'] / 1e6:.2f} MB | "
                     f"{100 * r['top1_agreement']:.1f}% of {r['examples']} | {r['max_abs_diff']:.1e} | "
                     f"{r['latency_ms']:.2f} ms |")
    return "\n".join(lines)


def _cpu_model():
    """The CPU's model name, so that latencies of different CPUs are never merged."""
    return reporting.cpu()["model"]


def updated(report, rows, command):
    """`report` with the rows of `rows`' checkpoints replaced in place (new checkpoints appended)."""
    kept, done = [], set()
    for r in report["rows"]:
        if r["checkpoint"] not in {n["checkpoint"] for n in rows}:
            kept.append(r)
        elif r["checkpoint"] not in done:
            kept += [n for n in rows if n["checkpoint"] == r["checkpoint"]]
            done.add(r["checkpoint"])
    kept += [n for n in rows if n["checkpoint"] not in done]
    return {**report, "rows": kept, "updates": report.get("updates", []) + [command]}


def main(argv=None):
    from relu_zoo import deploy

    parser = argparse.ArgumentParser(prog="python benchmarks/export.py", description=__doc__.split("\n")[0])
    parser.add_argument("--names", default=",".join(NAMES))
    parser.add_argument("--formats", default=",".join(deploy.FORMATS))
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--examples", type=int, default=256)
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--update", action="store_true",
                        help="replace only the measured checkpoints' rows of an existing --out (the others stay)")
    args = parser.parse_args(argv)
    import keras
    import tensorflow as tf

    machine = {"platform": platform.platform(), "processor": platform.processor(), "cpu_model": _cpu_model(),
               "cpus": os.cpu_count(), "tensorflow": tf.__version__, "keras": keras.__version__}
    previous = json.loads(Path(args.out).read_text()) if args.update and Path(args.out).is_file() else None
    if previous and previous["machine"] != machine:  # checked before the minutes of measuring
        raise SystemExit(f"--update on another machine than the report's: {machine} != {previous['machine']}")
    rows = []
    for name in args.names.split(","):
        rows += measure(name, args.formats.split(","), args.repeats, args.examples)
    command = "python benchmarks/export.py " + " ".join(sys.argv[1:] if argv is None else argv)
    report = {"machine": machine, "command": command, "rows": rows}
    if previous:
        report = updated(previous, rows, command)
    reporting.write_json(args.out, report)
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
