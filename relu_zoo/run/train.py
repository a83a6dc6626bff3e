"""Sweep runner: tasks x models x activations x seeds, resumable, one atomic result file per run.

Layout of an output folder (`--out`):

    config.json                 the resolved sweep configuration (identity checked on resume)
    runs/<run_id>/result.json   one finished run (written atomically as soon as it ends)
    runs/<run_id>/history.csv   per-epoch metrics (Keras CSVLogger)
    runs/<run_id>/diagnostics.json, tensorboard/, backup/ (BackupAndRestore while running)
    results.json, results.csv, summary.md, plots/*.png   the report (see relu_zoo.report)

Determinism: each run seeds Python/NumPy/TF (`keras.utils.set_random_seed`),
enables TF op determinism, shuffles the training data with a seed derived
from (seed, epoch), and re-seeds every layer's `SeedGenerator` (dropout,
RReLU) from (seed, epoch) at the start of each epoch. So a run that is
killed and resumed from its last finished epoch (`BackupAndRestore`) ends
with the same metrics as one that never stopped.
"""

import dataclasses
import json
import math
import os
import re
import shutil
import threading
import time
import zlib
from pathlib import Path

import numpy as np

from relu_zoo import config as config_lib
from relu_zoo.config import ConfigError, atomic_write_json

RESULT_FILE = "result.json"


@dataclasses.dataclass(frozen=True)
class RunSpec:
    task: str
    model: str
    activation: object  # spec as given (string or mapping)
    seed: int

    @property
    def label(self):
        return config_lib.activation_label(self.activation)

    @property
    def run_id(self):
        raw = f"{self.task}__{self.model}__{self.label}__seed{self.seed}"
        return re.sub(r"[^A-Za-z0-9_.=-]+", "-", raw)


def run_grid(config):
    """Every run of the sweep, in a stable order (task, model, activation, seed)."""
    return [RunSpec(t, m, a, s) for t in config.tasks for m in config.models for a in config.activations
            for s in config.seeds]


class SweepConfigMismatch(ConfigError):
    pass


def prepare_out_dir(config, write=True):
    """Creates `out` and writes config.json, or checks that an existing one describes the same sweep.

    `write=False` (a multi-worker non-chief) only checks."""
    out = Path(config.out)
    path = out / "config.json"
    current = config_lib.identity(config)
    if path.exists():
        try:
            stored = json.loads(path.read_text()).get("sweep", {})
        except json.JSONDecodeError:
            stored = None
        if stored != json.loads(json.dumps(current)):
            diff = sorted(k for k in set(current) | set(stored or {})
                          if (stored or {}).get(k) != json.loads(json.dumps(current)).get(k))
            raise SweepConfigMismatch(
                f"Output folder {str(out)!r} holds a different sweep (differs in: {', '.join(diff) or 'file'}). "
                "Use a new --out, or delete the folder to start over; to add runs, re-run with that folder's "
                "config (see its config.json)."
            )
    if write:
        atomic_write_json(path, {"sweep": current, "relu_zoo_version": _versions()["relu_zoo"]})
    return out


def _versions():
    import keras
    import tensorflow as tf

    import relu_zoo

    return {"relu_zoo": relu_zoo.__version__, "keras": keras.__version__, "tensorflow": tf.__version__}


class Distribution:
    """How runs are placed on devices: one device (default), `mirrored` (all local devices) or `multi_worker`.

    `multi_worker` is `tf.distribute.MultiWorkerMirroredStrategy` with the cluster from `TF_CONFIG`: every
    worker runs the same command, each step's global batch is split over the workers and the gradients are
    all-reduced, so the weights stay identical. Only the chief (task type "chief", or worker 0 when the
    cluster has no chief) writes into `--out`; the other workers run exactly the same code (every callback,
    checkpoint and evaluation, so every collective op happens in lockstep) but write into a temporary folder
    that is removed. Resuming reads the chief's backups, so `--out` must be on a filesystem all workers see.
    Keras 3.15's TF trainer needs two fixes for this strategy (`_patch_keras_for_multi_worker`).

    Must be created before TensorFlow initializes its devices (first tensor or variable). `cpu_devices`
    splits the CPU into that many logical devices, so `mirrored` can be tried and tested without GPUs.
    """

    def __init__(self, kind=None, cpu_devices=None):
        import tensorflow as tf

        self.kind = kind
        self.task_type, self.task_id, self.has_chief = None, 0, False
        if kind == "multi_worker":
            if cpu_devices:
                raise ConfigError("`cpu_devices` applies to --distribute mirrored only; with multi_worker each "
                                  "worker process is one replica on CPU.")
            self.task_type, self.task_id, self.has_chief = _tf_config_task()
            _patch_keras_for_multi_worker()
        if cpu_devices:
            cpu = tf.config.list_physical_devices("CPU")[0]
            try:
                tf.config.set_logical_device_configuration(
                    cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(cpu_devices)])
            except RuntimeError as e:
                raise ConfigError(f"`cpu_devices` must be set before TensorFlow starts: {e}") from None
        if kind is None:
            self.strategy = None
        elif kind == "mirrored":
            self.strategy = tf.distribute.MirroredStrategy()
        else:
            self.strategy = tf.distribute.MultiWorkerMirroredStrategy()

    @property
    def replicas(self):
        return 1 if self.strategy is None else self.strategy.num_replicas_in_sync

    @property
    def is_chief(self):
        """Whether this process writes results, checkpoints and reports (always, unless multi_worker)."""
        if self.kind != "multi_worker":
            return True
        return self.task_type == "chief" or (not self.has_chief and self.task_id == 0)

    @property
    def name(self):
        return f"{self.task_type} {self.task_id}" if self.kind == "multi_worker" else "local"

    def scope(self):
        import contextlib

        return contextlib.nullcontext() if self.strategy is None else self.strategy.scope()

    def prepare(self, dataset):
        """Multi-worker: shard by element, so each global batch is the one a single process would see
        (the pipelines are built in memory, and file-based auto-sharding would split the data differently)."""
        if self.kind != "multi_worker":
            return dataset
        import tensorflow as tf

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return dataset.with_options(options)

    def agree(self, what, value):
        """Multi-worker: checks that every worker holds the same integer `value` (a collective op, so every
        worker must call it at the same point); raises a ConfigError on all workers when they differ."""
        if self.kind != "multi_worker":
            return value
        import tensorflow as tf

        per_replica = self.strategy.experimental_distribute_values_from_function(
            lambda _: tf.constant([value], tf.int64))
        values = sorted(set(self.strategy.gather(per_replica, axis=0).numpy().tolist()))
        if values != [value]:
            raise ConfigError(f"The workers disagree on {what} (values {values}; {self.name} has {value}). "
                              "Every worker must see the same --out (a shared filesystem).")
        return value


TF_CONFIG_EXAMPLE = ('TF_CONFIG=\'{"cluster": {"worker": ["host0:12345", "host1:12345"]}, '
                     '"task": {"type": "worker", "index": 0}}\'')


def _tf_config_task():
    """(task type, task index, whether the cluster has a chief) from `TF_CONFIG`, or a ConfigError."""
    raw = os.environ.get("TF_CONFIG", "").strip()
    fix = (f"Set it on every worker to the same cluster and that worker's own task, e.g. {TF_CONFIG_EXAMPLE} "
           "on the first machine and index 1 on the second.")
    if not raw:
        raise ConfigError("--distribute multi_worker reads the cluster from the TF_CONFIG environment variable, "
                          "which is not set. " + fix)
    try:
        tf_config = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ConfigError(f"TF_CONFIG is not valid JSON ({e}). " + fix) from None
    cluster = tf_config.get("cluster") if isinstance(tf_config, dict) else None
    task = tf_config.get("task") if isinstance(tf_config, dict) else None
    if not isinstance(cluster, dict) or not isinstance(cluster.get("worker", cluster.get("chief")), list):
        raise ConfigError("TF_CONFIG needs a `cluster` mapping with a `worker` list of \"host:port\" addresses "
                          "(and optionally a one-address `chief` list). " + fix)
    unknown = sorted(set(cluster) - {"chief", "worker"})
    if unknown:
        raise ConfigError(f"TF_CONFIG's cluster has job(s) {unknown} that synchronous multi-worker training does "
                          "not use; keep `chief` and `worker`. " + fix)
    for job, addresses in cluster.items():
        if (not isinstance(addresses, list) or not addresses
                or not all(isinstance(a, str) and re.fullmatch(r"\S+:\d+", a) for a in addresses)):
            raise ConfigError(f"TF_CONFIG's cluster `{job}` must be a non-empty list of \"host:port\" strings. "
                              f"Received: {addresses!r}. " + fix)
    if len(cluster.get("chief", [])) > 1:
        raise ConfigError("TF_CONFIG's cluster can have one `chief` at most. " + fix)
    if not isinstance(task, dict) or task.get("type") not in cluster:
        raise ConfigError(f"TF_CONFIG needs a `task` with a `type` from the cluster ({', '.join(sorted(cluster))}). "
                          f"Received: task={task!r}. " + fix)
    index = task.get("index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < len(cluster[task["type"]]):
        raise ConfigError(f"TF_CONFIG's task index must be an integer from 0 to {len(cluster[task['type']]) - 1} "
                          f"(its position in cluster[{task['type']!r}]). Received: index={index!r}. " + fix)
    return task["type"], index, "chief" in cluster


# Keras versions whose TF trainer has the two multi-worker bugs below and on which the fix was verified
# (tests/test_train.py::test_multi_worker_two_processes_match_one_process).
MULTI_WORKER_KERAS = ("3.15.",)


def _patch_keras_for_multi_worker():
    """Fixes Keras' TF trainer for `MultiWorkerMirroredStrategy` (keras-team/keras#20585, tensorflow#72388).

    1. `TensorFlowTrainer._maybe_symbolic_build` calls `strategy.reduce("MEAN", first_batch, axis=None)`
       eagerly on the first distributed batch, a *structure* of `PerReplica` values. `Strategy.reduce` does
       not take structures; MirroredStrategy happens to return them unchanged, MultiWorkerMirroredStrategy
       with more than one worker fails: "Attempt to convert a value (PerReplica...) to a Tensor". The
       symbolic build only needs the batch's shapes and dtypes, so here it gets this worker's first replica's
       batch (what MirroredStrategy effectively passes) and no cross-worker reduction happens.
    2. `reduce_per_replica(..., reduction="auto")`, which combines each step's per-replica logs, calls
       `strategy.reduce("MEAN", v, axis=0)` in multi-worker mode; the logs (loss, metrics) are scalars, so
       tracing fails with "Invalid reduction dimension 0 for input with 0 dimensions". Here scalars are
       averaged over the replicas with `axis=None`; everything else goes to Keras' function unchanged.

    Both replacements change nothing unless the model's strategy is a multi-worker one. Applied once, only
    for the Keras versions in `MULTI_WORKER_KERAS`; with any other version multi_worker is refused, since
    the private functions replaced here may have changed.
    """
    import keras

    if not keras.__version__.startswith(MULTI_WORKER_KERAS):
        raise ConfigError(
            f"--distribute multi_worker needs a workaround for Keras' TF trainer (keras-team/keras#20585) that "
            f"was verified with Keras {', '.join(v + 'x' for v in MULTI_WORKER_KERAS)}; this is Keras "
            f"{keras.__version__}. Use --distribute mirrored on one machine or --shard to spread a sweep over "
            "machines, or re-verify the workaround (relu_zoo.experiment._patch_keras_for_multi_worker) and the "
            "multi-worker test with this version.")
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if getattr(tf_trainer, "_relu_zoo_multi_worker_fix", False):
        return
    keras_symbolic_build = tf_trainer.TensorFlowTrainer._maybe_symbolic_build
    keras_reduce_per_replica = tf_trainer.reduce_per_replica
    multi_worker = tf_trainer._collective_all_reduce_multi_worker

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is None or strategy is None or not multi_worker(strategy):
            return keras_symbolic_build(self, iterator=iterator, data_batch=data_batch)
        for _, _, it in iterator:
            data_batch = tree.map_structure(
                lambda v: (strategy.experimental_local_results(v)[0]
                           if isinstance(v, tf.distribute.DistributedValues) else v),
                next(it))
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    def reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not multi_worker(strategy):
            return keras_reduce_per_replica(values, strategy, reduction)

        def reduce(v):
            local = strategy.experimental_local_results(v)[0] if tf_trainer._is_per_replica_instance(v) else v
            if getattr(local, "shape", None) is not None and local.shape.rank == 0:
                return strategy.reduce("MEAN", v, axis=None)
            return keras_reduce_per_replica(v, strategy, reduction)

        return tree.map_structure(reduce, values)

    tf_trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    tf_trainer.reduce_per_replica = reduce_per_replica
    tf_trainer._relu_zoo_multi_worker_fix = True


class PeakMemory:
    """Peak resident memory of this process while the block runs (sampled from /proc; Linux)."""

    def __init__(self, interval=0.1):
        self.interval = interval
        self.peak_mb = None

    @staticmethod
    def current_mb():
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024.0
        except OSError:
            return None
        return None

    def _sample(self):
        while not self._stop.wait(self.interval):
            self._update()

    def _update(self):
        now = self.current_mb()
        if now is not None:
            self.peak_mb = max(self.peak_mb or 0.0, now)

    def __enter__(self):
        self._stop = threading.Event()
        self._update()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._update()


def _keras_callbacks():
    import keras

    class EpochTimer(keras.callbacks.Callback):
        """Adds `epoch_time` (seconds) to the epoch logs, so CSVLogger and TensorBoard record it."""

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                logs["epoch_time"] = time.perf_counter() - self._start

    class DivergenceMonitor(keras.callbacks.Callback):
        """Stops training at the first non-finite loss and remembers the epoch (like TerminateOnNaN)."""

        def __init__(self):
            super().__init__()
            self.diverged_epoch = None
            self._epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            self._epoch = epoch

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.diverged_epoch = self._epoch
                self.model.stop_training = True

    class EpochSeeds(keras.callbacks.Callback):
        """Sets every SeedGenerator's state from (seed, epoch, its index) when an epoch starts.

        Makes dropout masks and RReLU slopes of epoch e independent of whether
        epochs before e ran in this process or before a restart.
        """

        def __init__(self, seed):
            super().__init__()
            self.seed = seed

        def on_epoch_begin(self, epoch, logs=None):
            generators = [v for v in self.model.non_trainable_variables if v.path.endswith("seed_generator_state")]
            for index, variable in enumerate(generators):
                # Paths repeat ("seed_generator/seed_generator_state"), so the index keeps streams distinct.
                key = zlib.crc32(f"{self.seed}/{index}".encode()) & 0x7FFFFFFF
                variable.assign(np.array([key, epoch * 1_000_003], dtype=variable.dtype))

    class SaveJSON(keras.callbacks.Callback):
        """Writes `getter()` atomically to `path` after every epoch (diagnostics survive a kill)."""

        def __init__(self, path, getter):
            super().__init__()
            self.path, self.getter = path, getter

        def on_epoch_end(self, epoch, logs=None):
            atomic_write_json(self.path, self.getter())

    class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
        """Keras' BackupAndRestore with an all-or-nothing backup.

        Keras writes the weights in place and then the epoch metadata, so a
        kill between the two leaves the weights of epoch e with the metadata
        of epoch e-1, and the resumed run silently trains epoch e twice. Here
        each backup goes to a fresh folder `epoch<N>/` and a symlink
        `current` is switched to it with one atomic rename; Keras restores
        from `current` as usual.
        """

        def __init__(self, backup_root, restore_root=None):
            # Multi-worker: a non-chief restores from the chief's backups (`restore_root`) and writes its own
            # into a temporary `backup_root` (saving runs the same ops on every worker).
            self.backup_root = Path(backup_root)
            super().__init__(str(Path(restore_root or backup_root) / "current"), save_freq="epoch",
                             delete_checkpoint=False, double_checkpoint=False)

        def _save_model(self):
            stage = self.backup_root / f"epoch{self._current_epoch}"
            shutil.rmtree(stage, ignore_errors=True)
            stage.mkdir(parents=True)
            self.model.save_weights(str(stage / "latest.weights.h5"), overwrite=True)
            (stage / "training_metadata.json").write_text(
                json.dumps({"epoch": self._current_epoch, "batch": self._last_batch_seen}))
            link = self.backup_root / ".current.tmp"
            if link.is_symlink() or link.exists():
                link.unlink()
            os.symlink(stage.name, link)
            os.replace(link, self.backup_root / "current")
            for old in self.backup_root.glob("epoch*"):
                if old != stage:
                    shutil.rmtree(old, ignore_errors=True)

    return EpochTimer, DivergenceMonitor, EpochSeeds, SaveJSON, AtomicBackupAndRestore


def make_optimizer(config, steps_per_epoch, clipnorm=None):
    import keras

    total_steps = max(1, config.epochs * steps_per_epoch)
    lr = config.learning_rate
    if config.schedule == "cosine":
        lr = keras.optimizers.schedules.CosineDecay(config.learning_rate, decay_steps=total_steps)
    elif config.schedule == "one_cycle":
        # Smith & Topin 2017: warm up over the first 30%, then cosine down (Keras' warmup form).
        warmup = max(1, int(0.3 * total_steps))
        lr = keras.optimizers.schedules.CosineDecay(
            config.learning_rate / 25.0, decay_steps=total_steps - warmup, warmup_target=config.learning_rate,
            warmup_steps=warmup)
    kwargs = {"learning_rate": lr}
    if clipnorm:
        kwargs["clipnorm"] = clipnorm
    if config.optimizer == "adam":
        return keras.optimizers.Adam(**kwargs)
    if config.optimizer == "adamw":
        return keras.optimizers.AdamW(weight_decay=config.weight_decay or 1e-4, **kwargs)
    if config.optimizer == "nadam":
        return keras.optimizers.Nadam(**kwargs)
    if config.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(**kwargs)
    return keras.optimizers.SGD(momentum=0.9, nesterov=True, **kwargs)


def _resume_epoch(backup_dir):
    """The epoch the backup will resume from (its training_metadata.json), 0 for a fresh run."""
    path = Path(backup_dir) / "current" / "training_metadata.json"
    try:
        return int(json.loads(path.read_text())["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _history_from_csv(path):
    """Per-epoch metrics from CSVLogger's file; a row repeated by a restart keeps its last occurrence."""
    import csv

    if not Path(path).exists():
        return []
    rows = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            try:
                rows[int(row["epoch"])] = {k: float(v) for k, v in row.items() if k != "epoch" and v != ""}
            except (KeyError, ValueError):
                continue
    return [dict(epoch=e, **rows[e]) for e in sorted(rows)]


class TaskCache:
    """Loads each task's data once per sweep (vectorizers and spectrograms are not free)."""

    def __init__(self, config):
        self.config = config
        self._data = {}

    def get(self, task):
        if task not in self._data:
            from relu_zoo import tasks

            caps = {"train": self.config.max_train_examples, "validation": self.config.max_eval_examples,
                    "test": self.config.max_eval_examples}
            self._data[task] = tasks.get(task).load(
                data_dir=self.config.data_dir, batch_size=self.config.batch_size, seed=0,
                max_examples={k: v for k, v in caps.items() if v is not None})
        return self._data[task]


def run_one(run, config, data, run_dir, log=print, command=None, distribution=None):
    """Trains and evaluates one run; writes `result.json` atomically; returns the result dict.

    A multi-worker non-chief runs exactly the same steps (its collective ops must match the chief's) in a
    temporary folder that is removed afterwards, resuming from the chief's backup in `run_dir`.
    """
    distribution = distribution or Distribution()
    if distribution.is_chief:
        return _run_one(run, config, data, Path(run_dir), Path(run_dir), log, command, distribution)
    import tempfile

    work_dir = Path(tempfile.mkdtemp(prefix=f"relu_zoo_worker{distribution.task_id}_"))
    try:
        return _run_one(run, config, data, work_dir, Path(run_dir), log, command, distribution)
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)


def _run_one(run, config, data, run_dir, restore_dir, log, command, distribution):
    import keras
    import tensorflow as tf

    from relu_zoo import models
    from relu_zoo.diagnostics import ActivationDiagnostics

    EpochTimer, DivergenceMonitor, EpochSeeds, SaveJSON, AtomicBackupAndRestore = _keras_callbacks()
    run_dir.mkdir(parents=True, exist_ok=True)
    backup_dir = run_dir / "backup"
    start_epoch = distribution.agree(f"the epoch {run.run_id} resumes from", _resume_epoch(restore_dir / "backup"))
    if start_epoch:
        log(f"[{run.run_id}] resuming from epoch {start_epoch}")

    keras.utils.set_random_seed(run.seed)
    tf.config.experimental.enable_op_determinism()
    clipnorm = config.clipnorm or (1.0 if run.model == "relu_rnn" else None)  # Le et al. 2015 clip IRNNs
    train_examples = data.num_examples["train"]
    steps_per_epoch = math.ceil(train_examples / config.batch_size)
    # Model, optimizer and metrics live in the strategy's scope; `batch_size` is the global batch, which
    # fit splits across the replicas. Learnable activation parameters are ordinary (mirrored) variables.
    with distribution.scope():
        model = models.create_model(run.model, task=data.spec, activation=run.activation, **config.model_kwargs)
        model.compile(optimizer=make_optimizer(config, steps_per_epoch, clipnorm),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])

    # Epoch e is shuffled/augmented from (seed, e) alone: a resumed run sees the batches it would have seen.
    train = distribution.prepare(data.train_epochs(start_epoch, config.epochs, seed=run.seed))
    validation, test_data = distribution.prepare(data.validation), distribution.prepare(data.test)

    timer, monitor = EpochTimer(), DivergenceMonitor()
    callbacks = [timer, monitor, EpochSeeds(run.seed)]
    diagnostics = None
    if config.diagnostics:
        probe_x, probe_y = next(iter(data.validation.unbatch().batch(config.probe_examples)))
        diagnostics = ActivationDiagnostics(probe_x, probe_y)
        diag_path = run_dir / "diagnostics.json"
        if diag_path.exists() and start_epoch:
            diagnostics.history = json.loads(diag_path.read_text())
        callbacks += [diagnostics, SaveJSON(diag_path, lambda: diagnostics.history)]
    callbacks += [
        keras.callbacks.CSVLogger(str(run_dir / "history.csv"), append=start_epoch > 0),
        keras.callbacks.TensorBoard(str(run_dir / "tensorboard"), write_graph=False, profile_batch=0),
        # Last, so that when a backup exists the epoch's CSV row and diagnostics exist too.
        AtomicBackupAndRestore(backup_dir, restore_root=restore_dir / "backup"),
    ]
    with PeakMemory() as memory:
        model.fit(train, validation_data=validation, epochs=config.epochs, steps_per_epoch=steps_per_epoch,
                  callbacks=callbacks, verbose=config.verbose, shuffle=False)
        history = _history_from_csv(run_dir / "history.csv")
        diverged = monitor.diverged_epoch is not None or any(
            not math.isfinite(h.get("loss", 0.0)) for h in history)
        diverged = bool(distribution.agree(f"whether {run.run_id} diverged", int(diverged)))
        test = {}
        if not diverged:
            test = model.evaluate(test_data, return_dict=True, verbose=0)
    if config.save_checkpoint and not diverged:
        # The preprocessor travels with the model so it can be served on raw inputs (relu_zoo.pretrained).
        for obj, filename in ((data.preprocessor, "preprocessor.keras"), (model, "model.keras")):
            tmp = run_dir / f".{filename}.tmp.keras"
            obj.save(tmp)
            os.replace(tmp, run_dir / filename)

    diverged_epoch = monitor.diverged_epoch
    if diverged and diverged_epoch is None:
        diverged_epoch = next(h["epoch"] for h in history if not math.isfinite(h.get("loss", 0.0)))
    epoch_times = [h["epoch_time"] for h in history if "epoch_time" in h]
    activation_layer = _first_activation_config(model)
    result = {
        "run_id": run.run_id,
        "task": run.task,
        "model": run.model,
        "activation": run.label,
        "activation_spec": run.activation,
        "activation_config": activation_layer,
        "seed": run.seed,
        "status": "diverged" if diverged else "ok",
        "diverged_epoch": diverged_epoch,
        "epochs": config.epochs,
        "history": history,
        "test_loss": None if diverged else float(test["loss"]),
        "test_accuracy": None if diverged else float(test["accuracy"]),
        "val_accuracy": history[-1].get("val_accuracy") if history else None,
        "params": int(model.count_params()),
        "epoch_times": epoch_times,
        "mean_epoch_time": float(np.mean(epoch_times)) if epoch_times else None,
        "peak_memory_mb": memory.peak_mb,
        "train_examples": train_examples,
        "test_split": "test",
        "test_examples": data.num_examples["test"],
        "command": command,
        "diagnostics": diagnostics.history if diagnostics else None,
        "config": config_lib.identity(config),
        "versions": _versions(),
    }
    result["replicas"] = distribution.replicas
    atomic_write_json(run_dir / RESULT_FILE, result)
    shutil.rmtree(backup_dir, ignore_errors=True)
    return result


def _first_activation_config(model):
    import keras

    from relu_zoo.diagnostics import activation_layers

    found = activation_layers(model)
    return keras.layers.serialize(found[0]) if found else None


def load_results(out_dir):
    """Every finished run's result in `out_dir`, in grid order when a config is present."""
    results = []
    for path in sorted(Path(out_dir).glob(f"runs/*/{RESULT_FILE}")):
        results.append(json.loads(path.read_text()))
    return results


def sweep(config, log=print, command=None, distribution=None):
    """Runs every unfinished run of the grid, then writes the report. Returns the summary.md path (None on a
    multi-worker non-chief, which writes nothing into `out`)."""
    from relu_zoo import report

    distribution = distribution or Distribution()
    out = prepare_out_dir(config, write=distribution.is_chief)
    grid = run_grid(config)
    runs = config_lib.shard_runs(grid, config.shard)
    if config.shard:
        log(f"shard {config.shard}: {len(runs)} of {len(grid)} runs")
    todo = [run for run in runs if not (out / "runs" / run.run_id / RESULT_FILE).exists()]
    distribution.agree("the runs left to do", zlib.crc32(" ".join(run.run_id for run in todo).encode()))
    cache = TaskCache(config)
    for task in dict.fromkeys(run.task for run in todo):
        cache.get(task)  # missing data fails here, before any training starts
    done = len(runs) - len(todo)
    for run in todo:
        i = runs.index(run) + 1
        run_dir = out / "runs" / run.run_id
        log(f"[{i}/{len(runs)}] {run.run_id}")
        started = time.perf_counter()
        result = run_one(run, config, cache.get(run.task), run_dir, log=log, command=command,
                         distribution=distribution)
        if result["status"] == "diverged":
            log(f"[{run.run_id}] diverged at epoch {result['diverged_epoch']}; recorded, sweep goes on")
        else:
            log(f"[{run.run_id}] test accuracy {result['test_accuracy']:.4f} "
                f"({time.perf_counter() - started:.0f} s)")
    if done:
        log(f"{done} finished run(s) were already in {out} and were skipped.")
    if not distribution.is_chief:
        return None
    return report.write_report([out], out, config=config, command=command)
