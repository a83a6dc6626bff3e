"""The one place where relu_zoo touches private Keras API, isolated, version-checked and tested.

Keras 3's TensorFlow trainer cannot `fit` with `tf.distribute.MultiWorkerMirroredStrategy` as shipped
(keras-team/keras#20585, tensorflow#72388; re-checked with Keras 3.15.1 and plain public use of the strategy:
building the model inside `strategy.scope()`, a dataset with `AutoShardPolicy.DATA`, `model.fit` -> "Attempt to
convert a value (PerReplica...) to a Tensor"). Building the model, optimizer and metrics before `fit`,
distributing the dataset yourself (`experimental_distribute_dataset` / `distribute_datasets_from_function`)
still fail the same way, and the second bug below is inside the step function whatever the input. So
`--distribute multi_worker` needs the two replacements below; nothing else in relu_zoo uses `keras.src`, and
nothing here runs unless multi_worker is requested. The tested Keras versions are pinned in
`.ci/constraints.txt`; `tests/run/test_train.py` runs two local workers and checks the version gate.
"""

import keras
import tensorflow as tf

from relu_zoo.run.spec import ConfigError

# Keras versions whose TF trainer has the two multi-worker bugs below and on which the fix was verified
# (tests/run/test_train.py::test_multi_worker_two_processes_match_one_process).
MULTI_WORKER_KERAS = ("3.15.",)


def patch_keras_for_multi_worker():
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
    if not keras.__version__.startswith(MULTI_WORKER_KERAS):
        raise ConfigError(
            f"--distribute multi_worker needs a workaround for Keras' TF trainer (keras-team/keras#20585) that "
            f"was verified with Keras {', '.join(v + 'x' for v in MULTI_WORKER_KERAS)}; this is Keras "
            f"{keras.__version__}. Use --distribute mirrored on one machine or --shard to spread a sweep over "
            "machines, or re-verify the workaround (relu_zoo.run._keras_compat) and the "
            "multi-worker test with this version.")
    # Imported here, not at the top: only a multi_worker run touches Keras' private modules.
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
