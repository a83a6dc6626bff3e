"""Model registry (timm pattern): `@register_model` builders and `create_model`."""

import inspect

import keras

from relu_zoo.activation_spec import ActivationSpec
from relu_zoo.layers.base import describe_ranks
from relu_zoo.names import Registry
from relu_zoo.task_spec import TaskSpec

MODELS = Registry("model", listing="Valid models")


def register_model(name, modalities, prepare=None, clipnorm=None, causal=False):
    """Registers `builder(spec, activation, **kwargs) -> keras.Model` for the given modalities.

    `prepare(model, data)`, if given, is called by the runner on a new model before training, with the task's
    `TaskData` (e.g. to set a layer from the training data). `clipnorm` is the gradient clipping the model
    trains with unless the sweep sets one. `causal`: the model predicts each position from the ones before it,
    so an activation that draws on the positions around each element (its record's `ranks`) would see later ones.
    """

    def decorator(builder):
        builder.model_name = name
        builder.modalities = tuple(modalities)
        builder.prepare = prepare
        builder.clipnorm = clipnorm
        builder.causal = causal
        return MODELS.register(name, builder)

    return decorator


def list_models(modality=None):
    """Registered model names (optionally only those supporting `modality`), sorted."""
    return MODELS.names(where=lambda builder: modality is None or modality in builder.modalities)


def model_modalities(name):
    return get_builder(name).modalities


def get_builder(name):
    return MODELS.get(name)


def _resolve_spec(task, input_shape, num_classes, modality, vocab_size):
    if isinstance(task, TaskSpec):
        return task
    if task is not None:
        if isinstance(task, str):
            from relu_zoo import tasks  # TensorFlow: only for the registered (TFDS) tasks

            return tasks.get(task).spec
        raise ValueError(f"`task` must be a task name or a relu_zoo.tasks.TaskSpec. Received: task={task!r}")
    missing = [k for k, v in (("input_shape", input_shape), ("num_classes", num_classes), ("modality", modality))
               if v is None]
    if missing:
        raise ValueError(f"Pass `task=` (a name or TaskSpec), or all of input_shape, num_classes and modality. "
                         f"Missing: {', '.join(missing)}.")
    if modality == "text" and vocab_size is None:
        raise ValueError("A text model needs `vocab_size` (the TextVectorization vocabulary size).")
    return TaskSpec(
        name="custom",
        modality=modality,
        input_shape=tuple(input_shape),
        input_dtype="int64" if modality == "text" else "float32",
        num_classes=int(num_classes),
        class_names=tuple(str(i) for i in range(int(num_classes))),
        vocab_size=vocab_size,
    )


def create_model(name, task=None, activation="relu", *, input_shape=None, num_classes=None, modality=None,
                 vocab_size=None, **kwargs):
    """Builds model `name` for a task.

    Args:
        name: A registered model (`list_models()`).
        task: A task name (`relu_zoo.tasks.list_tasks()`) or a `TaskSpec`.
            Alternatively pass `input_shape`, `num_classes`, `modality`
            (and `vocab_size` for text).
        activation: An activation spec for `relu_zoo.get` (name,
            "name:key=value", config dict, class). Each use site gets its own
            fresh layer, so learnable activations never share weights.
        **kwargs: Builder options. `None` values are dropped so a caller's
            unset options never override the builder's defaults.

    Raises:
        ValueError: unknown model, a model that does not support the task's
            modality, or unknown builder options.
    """
    builder = get_builder(name)
    spec = _resolve_spec(task, input_shape, num_classes, modality, vocab_size)
    if spec.modality not in builder.modalities:
        raise ValueError(f"Model {name!r} does not support {spec.modality} tasks such as {spec.name!r}; "
                         f"it supports: {', '.join(builder.modalities)}. Models for {spec.modality}: "
                         f"{', '.join(list_models(spec.modality))}.")
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    accepted = [p for p in inspect.signature(builder).parameters if p not in ("spec", "activation")]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"Unknown option(s) for model {name!r}: {', '.join(unknown)}. "
                         f"Accepted: {', '.join(accepted)}.")
    check_activation(name, spec, activation, **kwargs)
    return builder(spec, activation, **kwargs)


def check_activation(name, task, activation, **kwargs):
    """Raises a one-line ValueError, naming the fix, unless model `name` (with builder options `kwargs`) can apply
    `activation` at each of its use sites: an activation whose record lists the input `ranks` it takes (one that
    draws on each element's context) needs every site to be of those ranks (an MLP's are rank 2), and a model that is
    not causal. Element-wise activations, classics and plug-ins pass without a look at the model."""
    spec = ActivationSpec.parse(activation)
    if spec.ranks is None:
        return
    builder = get_builder(name)
    task = _resolve_spec(task, None, None, None, None)
    takes = f"{spec.label} draws on the positions around each element"
    if builder.causal:
        raise ValueError(f"Model {name!r} predicts each position from the ones before it, and {takes}, later ones "
                         f"too: compare it in a model that is not causal, or use an element-wise activation.")
    wrong = [r for r in _site_ranks(builder, task, kwargs) if r not in spec.ranks]
    if not wrong:
        return
    fitting = [other for other in list_models(task.modality) if other != name and not get_builder(other).causal
               and set(_site_ranks(get_builder(other), task, {})) <= set(spec.ranks)]
    where = ", ".join(f"rank {r}" + (" (batch, features)" if r == 2 else "") for r in wrong)
    fix = (f"use a model that applies it to feature maps only; for {task.modality} tasks: {', '.join(fitting)}"
           if fitting else f"no model for {task.modality} tasks applies it to feature maps only")
    raise ValueError(f"Model {name!r} applies its activation to tensors of {where}, and {takes}: it takes inputs of "
                     f"rank {describe_ranks(spec.ranks)} (batch, positions..., channels), as after a convolution. "
                     f"To compare it, {fix}.")


def _site_ranks(builder, spec, kwargs):
    """The ranks of the tensors `builder` applies its activation to: the model built once with a probe layer in the
    activation's place, which records the rank of each input it is built for."""
    ranks = set()

    class RankProbe(keras.layers.Layer):
        def build(self, input_shape):
            ranks.add(len(input_shape))

        def call(self, inputs):
            return inputs

        def compute_output_shape(self, input_shape):
            return input_shape

    builder(spec, RankProbe, **kwargs)
    return sorted(ranks)
