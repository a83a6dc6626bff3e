"""How a run is placed on devices: one device, all local devices, or synchronously across workers."""

import contextlib
import json
import os
import re

import keras
import tensorflow as tf

from relu_zoo import _compat
from relu_zoo.run.spec import ConfigError


class Distribution:
    """How runs are placed on devices: one device (default), `mirrored` (all local devices) or `multi_worker`.

    `multi_worker` is `tf.distribute.MultiWorkerMirroredStrategy` with the cluster from `TF_CONFIG`: every
    worker runs the same command, each step's global batch is split over the workers and the gradients are
    all-reduced, so the weights stay identical. Only the chief (task type "chief", or worker 0 when the
    cluster has no chief) writes into `--out`; the other workers run exactly the same code (every callback,
    checkpoint and evaluation, so every collective op happens in lockstep) but write into a temporary folder
    that is removed. Resuming reads the chief's backups, so `--out` must be on a filesystem all workers see.
    Keras 3.15's TF trainer needs two fixes for this strategy (`relu_zoo._compat`).

    Must be created before TensorFlow initializes its devices (first tensor or variable). `cpu_devices`
    splits the CPU into that many logical devices, so `mirrored` can be tried and tested without GPUs.
    """

    def __init__(self, kind=None, cpu_devices=None):
        self.kind = kind
        self.task_type, self.task_id, self.has_chief = None, 0, False
        if kind == "multi_worker":
            if cpu_devices:
                raise ConfigError("`cpu_devices` applies to --distribute mirrored only; with multi_worker each "
                                  "worker process is one replica on CPU.")
            self.task_type, self.task_id, self.has_chief = _tf_config_task()
            fix_keras_for_multi_worker()
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
        return contextlib.nullcontext() if self.strategy is None else self.strategy.scope()

    def prepare(self, dataset):
        """Multi-worker: shard by element, so each global batch is the one a single process would see
        (the pipelines are built in memory, and file-based auto-sharding would split the data differently)."""
        if self.kind != "multi_worker":
            return dataset
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return dataset.with_options(options)

    def agree(self, what, value):
        """Multi-worker: checks that every worker holds the same integer `value` (a collective op, so every
        worker must call it at the same point); raises a ConfigError on all workers when they differ."""
        if self.kind != "multi_worker":
            return value
        per_replica = self.strategy.experimental_distribute_values_from_function(
            lambda _: tf.constant([value], tf.int64))
        values = sorted(set(self.strategy.gather(per_replica, axis=0).numpy().tolist()))
        if values != [value]:
            raise ConfigError(f"The workers disagree on {what} (values {values}; {self.name} has {value}). "
                              "Every worker must see the same --out (a shared filesystem).")
        return value


def fix_keras_for_multi_worker():
    """Applies relu_zoo's fix of Keras' TF trainer for multi-worker `fit` (`relu_zoo._compat`), or a ConfigError
    on a Keras it was not verified on: the private functions it replaces may have changed there."""
    if not _compat.patch_keras_for_multi_worker():
        raise ConfigError(
            f"--distribute multi_worker needs a workaround for Keras' TF trainer (keras-team/keras#20585) that "
            f"was verified with Keras {', '.join(v + 'x' for v in _compat.MULTI_WORKER_KERAS)}; this is Keras "
            f"{keras.__version__}. Use --distribute mirrored on one machine or --shard to spread a sweep over "
            "machines, or re-verify the workaround (relu_zoo._compat) and the multi-worker test with this version.")


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
