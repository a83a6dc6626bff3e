"""A checkpoint's model card (its README.md), written from its metadata by `card()`: what it is, how to use it,
its metrics (in bits per byte for a language model, with the text it writes), its target and how to re-run it.
"""

from relu_zoo import _cpu
from relu_zoo.run.metrics import BITS_PER_BYTE


def raw_input_accuracy(metrics):
    """The test accuracy `pretrained.load(..., raw_inputs=True)` gives, on which targets are judged: measured on
    the stored checkpoint over the whole test split at export; for checkpoints exported before that was measured,
    the run's own (with its test-time augmentation where it had one, as the raw-input model includes it)."""
    if metrics.get("raw_input_test_accuracy") is not None:
        return metrics["raw_input_test_accuracy"]
    with_tta = metrics.get("test_accuracy_tta")
    return metrics["test_accuracy"] if with_tta is None else with_tta


def missed_target(row):
    """Whether an index row (or a card's metrics with `target_accuracy`) misses its target; False without one."""
    return row["target_accuracy"] is not None and raw_input_accuracy(row) < row["target_accuracy"]


def card(meta):
    """The model card (README.md) text of a checkpoint."""
    target = meta.get("target_accuracy")
    lines = [
        f"# {meta['name']}",
        "",
        f"The relu_zoo `{meta['model']}` model trained on TFDS `{meta['task']}` with the `{meta['activation']}` "
        "activation.",
        "",
        "## Use",
        "",
        *_use_lines(meta),
        "Intended use: a reference point for comparing activations, a starting point for fine-tuning, "
        "teaching. Not evaluated for any production use.",
        "",
        "## Data",
        "",
        f"TFDS `{meta['task']}`: trained on {meta['data']['train_examples']:,} training examples; metrics on "
        f"the `{meta['data']['test_split']}` split ({meta['data']['test_examples']:,} examples). "
        f"{meta['data'].get('notes', '')}",
        "",
        "## Metrics",
        "",
        *_metric_lines(meta),
        *_tta_lines(meta),
        *_raw_input_lines(meta),
        *_check_lines(meta),
        *_sample_lines(meta),
    ]
    if target is not None:
        judged = raw_input_accuracy(meta["metrics"])
        verdict = "met" if judged >= target else f"**missed** — {meta.get('target_note') or 'no reason recorded'}"
        which = " (the raw-input model's on the whole split)" if "raw_input_test_accuracy" in meta["metrics"] else ""
        lines += [f"Target accuracy {100 * target:.1f}%{which}: {verdict}.", ""]
    lines += ["## Training", "", f"Seed {meta['seed']}, {meta['epochs']} epochs{_cost(meta)}. Reproduce with:", "",
              "```", meta["command"], "```", "", *_reproduce_lines(meta)]
    learned = meta.get("learned_parameters") or {}
    if learned:
        lines += ["## Learned activation parameters (per layer: mean [min, max])", "", "| layer | parameter | "
                  "mean | min | max |", "|---|---|---|---|---|"]
        for layer, params in learned.items():
            for param, st in params.items():
                lines.append(f"| {layer} | {param} | {st['mean']:.4f} | {st['min']:.4f} | {st['max']:.4f} |")
        lines.append("")
    lines += ["## Limits", "", "Single seed; accuracy differences between checkpoints of different activations "
              "are not evidence of a ranking (see `train.py` reports for multi-seed statistics). Inputs must be "
              "preprocessed like the training data unless loaded with `raw_inputs=True`.", "",
              f"Versions: relu_zoo {meta['versions']['relu_zoo']}, keras {meta['versions']['keras']}, "
              f"tensorflow {meta['versions']['tensorflow']}. Created {meta['date']}.", ""]
    return "\n".join(lines)


def _language(meta):
    return "test_bits_per_byte" in meta["metrics"]


def _use_lines(meta):
    name = meta["name"]
    lines = ["```python", "from relu_zoo import pretrained"]
    if _language(meta):
        lines += ["from relu_zoo.sample import sample", "",
                  f"model = pretrained.load({name!r})   # byte ids (batch, context) -> next-byte logits",
                  'print(sample(model, "This movie was", length=300, temperature=0.8))', "```", "",
                  f"or `relu-zoo sample {name} --prompt \"This movie was\" --temperature 0.8`.", ""]
        return lines
    return lines + [f"model = pretrained.load({name!r})                   # preprocessed inputs -> logits",
                    f"raw = pretrained.load({name!r}, raw_inputs=True)    # raw inputs -> probabilities", "```", ""]


def _metric_lines(meta):
    metrics, split = meta["metrics"], meta["data"]["test_split"]
    if _language(meta):
        return ["| split | bits per byte | next-byte accuracy | loss |", "|---|---|---|---|",
                f"| {split} | {metrics['test_bits_per_byte']:.4f} | {100 * metrics['test_accuracy']:.2f}% | "
                f"{metrics['test_loss']:.4f} |", ""]
    return ["| split | accuracy | loss |", "|---|---|---|",
            f"| {split} | {100 * metrics['test_accuracy']:.2f}% | {metrics['test_loss']:.4f} |", ""]


def _check_lines(meta):
    check = meta["check"]
    bits = f", {check['bits_per_byte']:.4f} bits per byte" if "bits_per_byte" in check else ""
    return [f"Accuracy of the raw-input model on the first {check['examples']:,} test examples (what the "
            f"test suite re-checks): {100 * check['accuracy']:.2f}%{bits}.", ""]


def _sample_lines(meta):
    drawn = meta.get("sample")
    if not drawn:
        return []
    return [f"Its text after {drawn['prompt']!r} (temperature {drawn['temperature']}, seed {drawn['seed']}, "
            f"{drawn['length']} bytes), as `sample` writes it:", "", "```text", drawn["prompt"] + drawn["text"],
            "```", ""]


def _cost(meta):
    """", 412 s of training in mixed_bfloat16 on <CPU> (its speed flags, cores)": what the epochs cost where they
    ran (checkpoints made before runs recorded their machine say nothing)."""
    seconds, machine = meta.get("train_seconds"), meta.get("machine")
    if seconds is None or not machine:
        return ""
    stored = "" if meta["dtype_policy"] == "float32" else " (the checkpoint computes in float32)"
    return f", {seconds:,.0f} s of training in {meta['dtype_policy']}{stored} on {_cpu.text(machine)}"


def _reproduce_lines(meta):
    reproduction = meta.get("reproduction")
    if not reproduction:
        return []
    recorded, tolerance = meta["metrics"][reproduction["metric"]], reproduction["tolerance"]
    within = (f"±{tolerance:.4f} of {recorded:.4f}" if reproduction["metric"] == f"test_{BITS_PER_BYTE.name}" else
              f"±{100 * tolerance:.2f} points of {100 * recorded:.2f}%")
    return [f"`relu-zoo reproduce {meta['name']}` runs it (into `runs/reproduce/{meta['name']}`) and checks that its "
            f"{reproduction['metric'].replace('_', ' ')} is within {within}.", ""]


def _raw_input_lines(meta):
    accuracy = meta["metrics"].get("raw_input_test_accuracy")
    if accuracy is None:
        return []
    if _language(meta):
        return [f"The stored checkpoint as `pretrained.load(..., raw_inputs=True)` gives it (float32) on the run's "
                f"{meta['data']['test_examples']:,} test windows: "
                f"{meta['metrics']['raw_input_test_bits_per_byte']:.4f} bits per byte, next-byte accuracy "
                f"{100 * accuracy:.2f}%.", ""]
    return [f"The stored checkpoint as `pretrained.load(..., raw_inputs=True)` gives it (uint8 inputs, float32"
            f"{', its test-time augmentation' if meta.get('tta') else ''}) on the whole `{meta['data']['test_split']}`"
            f" split: {100 * accuracy:.2f}%.", ""]


def _tta_lines(meta):
    tta, with_tta = meta.get("tta"), meta["metrics"].get("test_accuracy_tta")
    if not tta:
        return []
    views = {"flip": "the image and its mirror image",
             "flip_translate": "the image and its mirror image, each also shifted by one pixel both ways"}[tta]
    return [f"With test-time augmentation ({tta}: the logits averaged over {views}): "
            f"{100 * with_tta:.2f}%. `pretrained.load(..., raw_inputs=True)` includes it; the plain model "
            "(`pretrained.load(...)`) does not.", ""]
