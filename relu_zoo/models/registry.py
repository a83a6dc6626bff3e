"""Model registry (timm pattern): `@register_model` builders and `create_model`."""

import inspect

from relu_zoo.names import Registry
from relu_zoo.task_spec import TaskSpec

MODELS = Registry("model", listing="Valid models")


def register_model(name, modalities, prepare=None, clipnorm=None):
    """Registers `builder(spec, activation, **kwargs) -> keras.Model` for the given modalities.

    `prepare(model, data)`, if given, is called by the runner on a new model before training, with the task's
    `TaskData` (e.g. to set a layer from the training data). `clipnorm` is the gradient clipping the model
    trains with unless the sweep sets one.
    """

    def decorator(builder):
        builder.model_name = name
        builder.modalities = tuple(modalities)
        builder.prepare = prepare
        builder.clipnorm = clipnorm
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
    return builder(spec, activation, **kwargs)
