"""One run: build the model, train it on the task's data, evaluate it, and record the result.

Determinism: each run seeds Python/NumPy/TF (`keras.utils.set_random_seed`), enables TF op determinism and
shuffles and augments the training data of epoch e from (seed, e) alone (`TaskData.train_epochs`). A run that
is killed and resumed from its last finished epoch (`EpochBackup`, which also restores the random generators'
states) ends with the same metrics as one that never stopped.

Training itself is a plain `model.fit` of the model, data and optimizer: no callback changes what it computes
(tests/run/test_train_guard.py checks that a run's history equals a plain fit's). The runner once re-seeded every
`SeedGenerator` at each epoch start to make resumption exact. That did not cause the CIFAR-10 collapses it was
suspected of (dead ReLU units in the cnn's dense head after Adam's first steps, seen in plain fits too), but it
gave a run another dropout stream than a plain fit of the same seed, so no run could be checked against one;
restoring the states from the backup keeps resumption exact without touching an uninterrupted run.
"""

import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from relu_zoo import _cpu, _deprecation, _io, _logs, models, tasks
from relu_zoo.diagnostics import ActivationDiagnostics, activation_layers, all_layers
from relu_zoo.run import interrupt, metrics, store
from relu_zoo.models.common import flip_tta
from relu_zoo.run.callbacks import (DivergenceMonitor, EpochBackup, EpochTimer, Lookahead, PeakMemory, SaveJSON,
                                    StopOnSignal)
from relu_zoo.run.distribute import Distribution
from relu_zoo.run.optim import make_loss, make_optimizer
from relu_zoo.run.precision import dtype_policy
from relu_zoo.run.spec import identity


def download_mode(config):
    """`Task.load`'s `download` for a sweep: download what is missing when the network answers, unless
    `--no-download` (`download: false`)."""
    return "auto" if config.download else False


class TaskCache:
    """Loads each task's data once per sweep (vectorizers and spectrograms are not free)."""

    def __init__(self, config):
        self.config = config
        self._data = {}

    def get(self, task):
        if task not in self._data:
            caps = {"train": self.config.max_train_examples, "validation": self.config.max_eval_examples,
                    "test": self.config.max_eval_examples}
            self._data[task] = tasks.get(task).replace(**self.config.task_kwargs).load(
                data_dir=self.config.data_dir, download=download_mode(self.config), batch_size=self.config.batch_size,
                seed=0,
                max_examples={k: v for k, v in caps.items() if v is not None})
        return self._data[task]


def run_one(run, config, data, run_dir, log=print, command=None, distribution=None):
    """Trains and evaluates one run; writes `result.json` atomically; returns the result dict.

    A multi-worker non-chief runs exactly the same steps (its collective ops must match the chief's) in a
    temporary folder that is removed afterwards, resuming from the chief's backup in `run_dir`.
    """
    distribution = distribution or Distribution()
    # A signal stops the run at a batch end: raised in the middle of TensorFlow's tracing it would be mangled.
    with interrupt.deferred(), _logs.new_models_traced():
        if distribution.is_chief:
            return _run_one(run, config, data, Path(run_dir), Path(run_dir), log, command, distribution)
        work_dir = Path(tempfile.mkdtemp(prefix=f"relu_zoo_worker{distribution.task_id}_"))
        try:
            return _run_one(run, config, data, work_dir, Path(run_dir), log, command, distribution)
        finally:
            shutil.rmtree(work_dir, ignore_errors=True)


def fit_verbosity(verbose, stdout=None):
    """`fit`'s `verbose` for the config's: "auto" is Keras' progress bar (1) on a terminal or in a notebook, and one
    line per epoch (2) when stdout is a file or a pipe, where every redraw of the bar (`\\r`, colour codes) would
    be kept: hundreds of KB per sweep in a log file. Keras' own "auto" is 1 everywhere."""
    if verbose != "auto":
        return verbose
    stdout = sys.stdout if stdout is None else stdout
    try:
        terminal = stdout.isatty()
    except (AttributeError, ValueError):  # no stream, or a closed one
        terminal = False
    return 1 if terminal or "ipykernel" in sys.modules else 2


def build_model(run, config, data, distribution):
    """The compiled model of `run`, in the strategy's scope: `batch_size` is the global batch, which `fit`
    splits across the replicas; learnable activation parameters are ordinary (mirrored) variables."""
    clipnorm = config.clipnorm or models.get_builder(run.model).clipnorm
    steps_per_epoch = math.ceil(data.num_examples["train"] / config.batch_size)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(dtype_policy(config))  # layers take the policy when they are built
    try:
        with distribution.scope():
            model = models.create_model(run.model, task=data.spec, activation=run.activation,
                                        **config.model_kwargs)
            model.compile(optimizer=make_optimizer(config, steps_per_epoch, clipnorm), loss=make_loss(config),
                          metrics=metrics.compiled(data.spec.modality))
    finally:
        keras.config.set_dtype_policy(previous)
    if config.weight_decay or config.optimizer == "adamw":
        # Decay the weights only: not learned activation parameters (He et al. 2015 keep PReLU's slopes out of
        # it; decay would pull them to 0, towards ReLU) nor batch-norm shifts and scales.
        excluded = activation_layers(model) + [
            layer for layer in all_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization) or getattr(layer, "no_weight_decay", False)]
        model.optimizer.exclude_from_weight_decay(var_list=[w for layer in excluded for w in layer.trainable_weights])
    prepare = models.get_builder(run.model).prepare
    if prepare is not None:
        prepare(model, data)  # e.g. airbench's whitening conv, set from the training images
    if distribution.strategy is None:
        build_training_state(model, data)
    return model, steps_per_epoch


def build_training_state(model, data):
    """Creates the optimizer's, the loss tracker's and the metrics' variables before `fit` traces its step.

    Without a distribution strategy Keras creates them while tracing the first train step, and TensorFlow
    traces a function whose first trace created variables a second time: every run traced its train step
    twice (9.6 instead of 6.3 CPU seconds for a 4-step fit of the mnist `cnn`). Here they are
    created up front, the way Keras does itself under a strategy: the optimizer's from the model's weights,
    the others by one inference-mode pass over a validation batch (no dropout, no random draw, no batch-norm
    update) whose metric values are reset. Training is unchanged (tests/run/test_train_guard.py).
    """
    if model.optimizer is not None and not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    batch = next(iter(data.validation.take(1)), None)
    if batch is None:  # no validation data: Keras creates the metrics' variables while tracing, as before
        return
    x, y = batch[:2]
    y_pred = model(x, training=False)
    model.compute_loss(x, y, y_pred, training=False)
    model.compute_metrics(x, y, y_pred)
    model.reset_metrics()


def _diagnostics(config, data, run_dir, start_epoch):
    """The diagnostics callback (continuing its history on resume) and the callback that saves it."""
    if not config.diagnostics:
        return None, []
    # Held-out images where there are any; a task trained on its whole train split probes training images.
    source = data.validation.unbatch() if data.num_examples["validation"] else data.train_unbatched
    probe_x, probe_y = next(iter(source.batch(config.probe_examples)))
    diagnostics = ActivationDiagnostics(probe_x, probe_y)
    path = run_dir / "diagnostics.json"
    if path.exists() and start_epoch:
        diagnostics.history = json.loads(path.read_text())
    return diagnostics, [diagnostics, SaveJSON(path, lambda: diagnostics.history)]


def _run_one(run, config, data, run_dir, restore_dir, log, command, distribution):
    started = time.perf_counter()
    run_dir.mkdir(parents=True, exist_ok=True)
    start_epoch = distribution.agree(f"the epoch {run.run_id} resumes from",
                                     store.resume_epoch(restore_dir / store.BACKUP_DIR))
    if start_epoch:
        log(f"[{run.run_id}] resuming from epoch {start_epoch}")
    keras.utils.set_random_seed(run.seed)
    tf.config.experimental.enable_op_determinism()
    model, steps_per_epoch = build_model(run, config, data, distribution)

    # Epoch e is shuffled/augmented from (seed, e) alone: a resumed run sees the batches it would have seen.
    train = distribution.prepare(data.train_epochs(start_epoch, config.epochs, seed=run.seed))
    # A task may train on its whole train split (validation_every=None): then there is nothing to validate on.
    validation = distribution.prepare(data.validation) if data.num_examples["validation"] else None
    test_data = distribution.prepare(data.test)
    monitor = DivergenceMonitor()
    lookahead = [Lookahead(config.epochs * steps_per_epoch)] if config.lookahead else []
    diagnostics, diagnostic_callbacks = _diagnostics(config, data, run_dir, start_epoch)
    callbacks = [
        StopOnSignal(), EpochTimer(), monitor, *lookahead, *diagnostic_callbacks,
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=start_epoch > 0),
        keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False, profile_batch=0),
        # Last, so that when a backup exists the epoch's CSV row and diagnostics exist too.
        EpochBackup(run_dir / store.BACKUP_DIR, restore_root=restore_dir / store.BACKUP_DIR,
                    initial_epoch=start_epoch, extra=lookahead),
    ]
    with PeakMemory() as memory:
        model.fit(train, validation_data=validation, epochs=config.epochs, initial_epoch=start_epoch,
                  steps_per_epoch=steps_per_epoch, callbacks=callbacks, verbose=fit_verbosity(config.verbose), shuffle=False)
        history = store.history_from_csv(run_dir / "history.csv")
        diverged = monitor.diverged_epoch is not None or any(
            not math.isfinite(h.get("loss", 0.0)) for h in history)
        diverged = bool(distribution.agree(f"whether {run.run_id} diverged", int(diverged)))
        stop = [StopOnSignal()]
        test = {} if diverged else model.evaluate(test_data, return_dict=True, verbose=0, callbacks=stop)
        if config.tta and not diverged:
            tta_model = flip_tta(model, mode="flip" if config.tta is True else config.tta)
            tta_model.compile(loss=make_loss(config), metrics=["accuracy"])
            tta = tta_model.evaluate(test_data, return_dict=True, verbose=0, callbacks=stop)
            test["accuracy_tta"] = tta["accuracy"]
    if config.save_checkpoint and not diverged:
        # The preprocessor travels with the model so it can be served on raw inputs (relu_zoo.pretrained).
        for obj, filename in ((data.preprocessor, "preprocessor.keras"), (model, "model.keras")):
            _io.atomic_write(run_dir / filename, obj.save, suffix=".keras")

    diverged_epoch = monitor.diverged_epoch
    if diverged and diverged_epoch is None:
        diverged_epoch = next(h["epoch"] for h in history if not math.isfinite(h.get("loss", 0.0)))
    epoch_times = [h["epoch_time"] for h in history if "epoch_time" in h]
    found = activation_layers(model)
    metric = metrics.for_modality(data.spec.modality)
    result = {
        "run_id": run.run_id,
        "task": run.task,
        "model": run.model,
        "activation": run.label,
        "activation_spec": run.activation,
        "activation_config": keras.layers.serialize(found[0]) if found else None,
        "seed": run.seed,
        "status": "diverged" if diverged else "ok",
        "diverged_epoch": diverged_epoch,
        "epochs": config.epochs,
        "history": history,
        "test_loss": None if diverged else float(test["loss"]),
        "test_accuracy": None if diverged else float(test["accuracy"]),
        "test_accuracy_tta": float(test["accuracy_tta"]) if "accuracy_tta" in test else None,
        # The number the run is compared by (relu_zoo.run.metrics): test_accuracy, or e.g. test_bits_per_byte.
        "metric": metric.name,
        f"test_{metric.name}": None if diverged else float(test[metric.name]),
        "val_accuracy": history[-1].get("val_accuracy") if history else None,
        "params": int(model.count_params()),
        "dtype_policy": model.dtype_policy.name,
        # The Keras backend that trained it: its kernels and random streams differ (relu_zoo.run.report).
        "backend": keras.backend.backend(),
        "epoch_times": epoch_times,
        "mean_epoch_time": float(np.mean(epoch_times)) if epoch_times else None,
        "peak_memory_mb": memory.peak_mb,
        # Wall seconds of this process on the run: model building, tracing, training, diagnostics, evaluation
        # (what a protocol's cost adds up); a resumed run counts its last part only.
        "run_seconds": time.perf_counter() - started,
        # The CPU beside the seconds: times of different machines are never compared as one.
        "machine": _cpu.describe(),
        "train_examples": data.num_examples["train"],
        "test_split": "test",
        "test_examples": data.num_examples["test"],
        "command": command,
        "diagnostics": diagnostics.history if diagnostics else None,
        "config": identity(config),
        "versions": store.versions(),
        "replicas": distribution.replicas,
    }
    store.write_result(run_dir, result)
    return result


# Moved to relu_zoo.schedules and relu_zoo.losses, registered on `import relu_zoo` so checkpoints load compiled.
__getattr__ = _deprecation.moved(__name__, {
    "Warmup": "relu_zoo.schedules.Warmup",
    "SparseSmoothedCrossentropy": "relu_zoo.losses.SparseSmoothedCrossentropy",
})
