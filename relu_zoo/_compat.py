"""The one module where relu_zoo touches private API of Keras, TensorFlow or PyTorch.

Each use is a named function here, with the public API it stands in for and the versions it was checked on, so
a new release is re-verified in one file. `tests/test_layout.py` holds the rest of the package and the benchmarks
to public API: no `keras.src` or `tensorflow.python` import, no private attribute of another library's objects,
no test of Keras' internal module paths. This module imports no library at its top: each function imports what
it touches, so importing it is free and backend-neutral.
"""


def build_at_init(layer):
    """Marks `layer` built at the end of its `__init__` when its class keeps Keras' default `build()`, as Keras'
    own weight-free layers do (`keras.layers.ReLU`, `GaussianNoise`).

    Keras has no public call for it: setting `layer.built = True` alone skips the post-build steps and the state
    lock its `_build_at_init()` applies. Checked on Keras 3.15.1; a Keras 3 without the method (it came with
    keras-team/keras#20880) gets what its own layers did then, `built = True`.
    """
    method = getattr(layer, "_build_at_init", None)
    if method is not None:
        method()
        return
    import keras

    if type(layer).build is keras.layers.Layer.build:
        layer.built = True


def is_keras_nn_op(op):
    """Whether the operation `op` of a functional graph is one of Keras' `keras.ops.nn` functions
    (`keras.ops.relu(x)` puts a `Relu` operation in the graph).

    Keras exports those functions but not their `Operation` classes, so the internal module that defines them
    (`keras.src.ops.nn`) is the only way to tell them from a user's operation of the same name. Checked on Keras
    3.15.1.
    """
    module = type(op).__module__
    return module.startswith("keras.") and module.endswith("ops.nn")


def onednn_enabled():
    """Whether this process' TensorFlow runs its oneDNN kernels (for records that state how they were timed).

    TensorFlow has no public query: `tf.sysconfig.get_build_info()` describes the build, not the switch it reads
    from `TF_ENABLE_ONEDNN_OPTS` when imported. Checked on TensorFlow 2.21.
    """
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def xspace_proto():
    """The `XSpace` protocol buffer class of TensorFlow's profiler traces (`*.xplane.pb`).

    `tf.profiler` writes the traces but exports no class to read them. Checked on TensorFlow 2.21.
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    return xplane_pb2.XSpace


def torch_prelu_kernels():
    """(forward, backward): PyTorch's own PReLU kernels, each None where this PyTorch lacks it.

    The public `torch.nn.functional.prelu` brings its own autograd and puts the slope on dimension 1 (channels
    first); `relu_zoo._torch_ops` needs the bare kernels under it for its own backward (NaN rule, a slope of any
    broadcast shape), and those are private. Checked on PyTorch 2.13 (benchmarks/reports/backends); where one is
    missing `relu_zoo._torch_ops` computes the same with `torch.where`.
    """
    import torch

    return getattr(torch, "_prelu_kernel", None), getattr(torch.ops.aten, "_prelu_kernel_backward", None)


# -- multi-worker fit ---------------------------------------------------------------------------------------------

# Keras versions whose TF trainer has the two multi-worker bugs below and on which the fix was verified
# (tests/run/test_train.py::test_multi_worker_two_processes_match_one_process); pinned in .ci/constraints.txt.
MULTI_WORKER_KERAS = ("3.15.",)


def multi_worker_verified():
    """Whether this Keras is one `patch_keras_for_multi_worker` was verified on (`MULTI_WORKER_KERAS`)."""
    import keras

    return keras.__version__.startswith(MULTI_WORKER_KERAS)


def patch_keras_for_multi_worker():
    """Fixes Keras' TF trainer for `MultiWorkerMirroredStrategy` (keras-team/keras#20585, tensorflow#72388).

    Keras 3's TensorFlow trainer cannot `fit` with the strategy as shipped, and no public use avoids it (re-checked
    with Keras 3.15.1: building the model, optimizer and metrics inside `strategy.scope()` before `fit`, a dataset
    with `AutoShardPolicy.DATA`, distributing it yourself with `experimental_distribute_dataset` or
    `distribute_datasets_from_function`):

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

    Both replacements change nothing unless the model's strategy is a multi-worker one. Applied once; returns
    False and changes nothing on a Keras that `multi_worker_verified()` does not accept, since the private
    functions replaced here may have changed (`relu_zoo.run.distribute` refuses multi_worker then).
    """
    if not multi_worker_verified():
        return False
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer as tf_trainer

    if getattr(tf_trainer, "_relu_zoo_multi_worker_fix", False):
        return True
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
    return True
