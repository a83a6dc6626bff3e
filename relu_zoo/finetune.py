"""Fine-tune a zoo checkpoint with swapped activations, measuring test accuracy before and after.

    relu-zoo finetune cnn_relu.mnist --to prelu --epochs 1 --out benchmarks/reports/swap

loads the checkpoint (`relu_zoo.pretrained.load`), replaces its ReLUs with new PReLU layers
(`relu_zoo.swap_activations`), fine-tunes on the checkpoint's task pipeline (`relu_zoo.tasks`) with plain
`model.fit`, and writes `<out>/<checkpoint>-<to>.json` (atomically) and a markdown table `.md`. A control,
the unswapped checkpoint fine-tuned the same way, is on by default.
"""

import datetime
import time

import keras

from relu_zoo import registry
from relu_zoo.swap import count_activations, swap_activations


def finetune(checkpoint, to, *, match=("relu",), epochs=1, batch_size=128, learning_rate=5e-4,
             max_train_examples=None, seed=0, control=True, data_dir=None, verbose=2):
    """Loads a zoo checkpoint, swaps its activations and fine-tunes it on the checkpoint's task.

    Test accuracy is measured on the full test split of the task three times: the checkpoint as trained,
    the swapped model before fine-tuning (new activations, old weights) and after. With `control=True` the
    unswapped checkpoint is fine-tuned the same way (same batches in the same order, same optimizer), so the
    gain of the swap can be told apart from the gain of training longer.

    The optimizer is Adam with a cosine decay from `learning_rate` to 0 over the fine-tuning steps; the
    loss the zoo's (sparse categorical cross-entropy on logits).

    Returns:
        A JSON-ready dict: the settings, the site counts, and per model the test accuracy/loss and the
        training time.
    """
    from relu_zoo import pretrained, tasks
    from relu_zoo.run import store

    meta = pretrained.metadata(checkpoint)
    data = tasks.get(meta["task"]).load(data_dir=data_dir, batch_size=batch_size, seed=seed,
                                        max_examples={"train": max_train_examples} if max_train_examples else None)
    train_examples = data.num_examples["train"]
    steps = -(-train_examples // batch_size)

    def evaluate(model):
        loss, accuracy = model.evaluate(data.test, verbose=0)
        return {"test_accuracy": float(accuracy), "test_loss": float(loss)}

    def compile_(model):
        schedule = keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=epochs * steps)
        model.compile(optimizer=keras.optimizers.Adam(schedule),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])

    def fit(model):
        compile_(model)
        keras.utils.set_random_seed(seed)  # the same dropout masks for the swapped model and the control
        start = time.perf_counter()
        # `train_epochs`: epoch e's order depends on (seed, e) only, so both models see the same batches.
        model.fit(data.train_epochs(0, epochs), epochs=epochs, steps_per_epoch=steps, shuffle=False,
                  verbose=verbose)
        seconds = time.perf_counter() - start
        return {**evaluate(model), "train_seconds": round(seconds, 1)}

    original = pretrained.load(checkpoint, compile=False)
    compile_(original)
    checkpoint_metrics = evaluate(original)
    swapped = swap_activations(original, to, match=match)
    compile_(swapped)
    result = {
        "checkpoint": checkpoint,
        "task": meta["task"],
        "to": to if isinstance(to, str) else registry.name_of(type(registry.get(to))),
        "match": list(match) if not isinstance(match, str) else [match],
        "sites": count_activations(original, match=match),
        "new_params": swapped.count_params() - original.count_params(),
        "settings": {"epochs": epochs, "batch_size": batch_size, "learning_rate": learning_rate,
                     "schedule": "cosine to 0", "optimizer": "adam", "seed": seed,
                     "train_examples": train_examples, "test_examples": data.num_examples["test"]},
        "checkpoint_metrics": checkpoint_metrics,
        "swapped_before": evaluate(swapped),
    }
    result["swapped_after"] = fit(swapped)
    if control:
        result["control_after"] = fit(pretrained.load(checkpoint, compile=False))
    result["backend"] = keras.backend.backend()
    result["versions"] = store.versions()
    result["date"] = datetime.date.today().isoformat()
    return result


def result_markdown(result):
    """A table of a `finetune` result."""
    s = result["settings"]
    rows = [("checkpoint as trained", result["checkpoint_metrics"]),
            (f"swapped to {result['to']}, before fine-tuning", result["swapped_before"]),
            (f"swapped to {result['to']}, fine-tuned", result["swapped_after"])]
    if "control_after" in result:
        rows.append(("control: not swapped, fine-tuned the same way", result["control_after"]))
    lines = [f"`{result['checkpoint']}`: {sum(result['sites'].values())} {'/'.join(result['match'])} sites "
             f"-> `{result['to']}` (+{result['new_params']:,} parameters); fine-tuned {s['epochs']} epoch(s) on "
             f"{s['train_examples']:,} examples, Adam {s['learning_rate']:g} cosine to 0, batch {s['batch_size']}, "
             f"seed {s['seed']}; test split: {s['test_examples']:,} examples.", "",
             "| model | test accuracy | test loss | fine-tune time |", "|---|---:|---:|---:|"]
    for label, m in rows:
        time_ = f"{m['train_seconds']:.0f} s" if "train_seconds" in m else "–"
        lines.append(f"| {label} | {100 * m['test_accuracy']:.2f}% | {m['test_loss']:.4f} | {time_} |")
    return "\n".join(lines)
