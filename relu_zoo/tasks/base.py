"""Task registry, the `Task` base class and the pipeline every task shares.

A task turns one TFDS dataset into batched `(x, y)` pipelines for train / validation / test. The order of
work in every pipeline is:

```
TFDS split (files in order, no file shuffling)
 -> carve validation (every `validation_every`-th example) where the dataset has no validation split
 -> cap (`max_examples`, first n)
 -> deterministic preprocessing (decode, tokenize, log-mel), vectorized: batch -> map -> unbatch
 -> cache (in memory)
 -> train only: shuffle(seed, reshuffle each epoch) -> batch -> augmentation (seeded, per epoch)
 -> cheap per-batch preprocessing (image scaling) -> prefetch
```

Finding, downloading and reading the TFDS data: `relu_zoo.tasks.tfds_data`.
"""

import abc

import tensorflow as tf

from relu_zoo import _deprecation
from relu_zoo.names import Registry
# TaskSpec lives outside tasks: building a model for given shapes (create_model(input_shape=...)) needs no
# TensorFlow.
from relu_zoo.task_spec import MODALITIES, TaskSpec  # noqa: F401  (re-exported by relu_zoo.tasks)
from relu_zoo.tasks.tfds_data import open_builder, read_split

SPLITS = ("train", "validation", "test")
AUTOTUNE = tf.data.AUTOTUNE




class TaskData:
    """Ready pipelines of one task, from `Task.load()`.

    Attributes:
        train, validation, test: Batched `tf.data.Dataset`s of `(x, y)`: `x` as in `spec.input_shape` /
            `spec.input_dtype`, `y` int32 labels. Cached and prefetched; `train` is reshuffled every epoch
            in a seeded order (and augmented, where enabled); validation and test keep their order.
        spec: The task's `TaskSpec`.
        preprocessor: Functional `keras.Model` from a batch of raw inputs (`raw_input_spec`) to model
            inputs: what the pipelines apply. Its last layer is the task's preprocessing layer
            (`ImageNormalization`, the adapted `TextVectorization`, `LogMelSpectrogram`).
        raw_input_spec: `tf.TensorSpec` of one raw example (uint8 image, scalar string, int waveform).
        train_unbatched: Preprocessed training examples `(x, y)` in their fixed (unshuffled) order, not
            augmented: for a training loop that orders epochs itself (see also `train_epochs`).
    """

    def __init__(self, train, validation, test, spec, preprocessor, raw_input_spec, *, batch_size, seed, examples,
                 train_epoch):
        self.train = train
        self.validation = validation
        self.test = test
        self.spec = spec
        self.preprocessor = preprocessor
        self.raw_input_spec = raw_input_spec
        self.batch_size = batch_size
        self.seed = seed
        self._examples = examples
        self._train_epoch = train_epoch
        self._num_examples = None

    def __repr__(self):
        return f"<TaskData {self.spec.name!r}>"

    def split(self, name):
        """The pipeline of split `name` ("train", "validation" or "test")."""
        if name not in SPLITS:
            raise ValueError(f"Unknown split {name!r}. Valid splits: {', '.join(SPLITS)}.")
        return getattr(self, name)

    @property
    def train_unbatched(self):
        """Preprocessed training examples, unbatched, in their fixed order, not augmented."""
        return self._examples["train"]

    @property
    def num_examples(self):
        """`{split: examples}`, counted on first use (one pass over each split, which fills the cache).

        Counting also declares each pipeline's length (`tf.data.experimental.assert_cardinality`): the
        filters that carve validation (and the speech test split) hide it from tf.data, and Keras then learns
        the end of an unknown-length `validation_data` by running into it, with the warning "Your input ran
        out of data; interrupting training".
        """
        if self._num_examples is None:
            self._num_examples = {split: int(ds.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
                                  for split, ds in self._examples.items()}
            for split, n in self._num_examples.items():
                self._examples[split] = self._examples[split].apply(tf.data.experimental.assert_cardinality(n))
                batches = -(-n // self.batch_size)  # every pipeline batches without drop_remainder
                setattr(self, split, getattr(self, split).apply(tf.data.experimental.assert_cardinality(batches)))
        return dict(self._num_examples)

    def train_epochs(self, start_epoch, stop_epoch, seed=None):
        """Training batches of epochs `start_epoch .. stop_epoch - 1` as one dataset, for exact resumption.

        Epoch `e` is shuffled (and augmented) with seeds derived from `(seed, e)` only, so a run restarted
        at epoch `e` sees the same batches as one that never stopped. Every epoch has
        `ceil(num_examples["train"] / batch_size)` batches: pass that as `steps_per_epoch` to `fit`.

        Args:
            start_epoch: First epoch (0-based).
            stop_epoch: One past the last epoch.
            seed: Integer >= 0; default the `seed` given to `load()`. Runs with different seeds can share
                one loaded (and cached) `TaskData`.
        """
        if not 0 <= start_epoch <= stop_epoch:
            raise ValueError(f"Need 0 <= start_epoch <= stop_epoch. Received: start_epoch={start_epoch}, "
                             f"stop_epoch={stop_epoch}")
        if seed is None:
            seed = self.seed
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"`seed` must be an integer >= 0. Received: seed={seed!r}")
        steps = -(-self.num_examples["train"] // self.batch_size)
        epochs = [self._train_epoch(epoch, seed) for epoch in range(start_epoch, stop_epoch)]
        if not epochs:
            return self.train.take(0)
        # One dataset per epoch with Python-int seeds, chosen in turn: a tensor seed inside flat_map breaks
        # in TensorFlow's seed logic when the global seed is 0 (it compares the tensor to 0 as a bool).
        choice = tf.data.Dataset.range(len(epochs) * steps).map(lambda k: k // steps)
        return tf.data.Dataset.choose_from_datasets(epochs, choice).prefetch(AUTOTUNE)

    def with_preprocessing(self, model, name=None):
        """Wraps a trained `model` so it takes raw inputs (`raw_input_spec`) instead of model inputs.

        The result is a functional `keras.Model` (raw -> preprocessor -> model); it saves to `.keras` and
        loads with `safe_mode=True` after `import relu_zoo.tasks`.
        """
        import keras

        spec = self.raw_input_spec
        inputs = keras.Input(shape=tuple(spec.shape), dtype=spec.dtype.name, name="raw_inputs")
        outputs = model(self.preprocessor(inputs))
        return keras.Model(inputs, outputs, name=name or f"{model.name}_raw")


class Task(abc.ABC):
    """One TFDS dataset as train / validation / test pipelines; subclasses define the modality.

    Args:
        name: Registry key.
        tfds_name: TFDS name, with config where needed (`"imdb_reviews/plain_text"`).
        class_names: Class names in label order.
        tfds_splits: Where each of our splits comes from: a TFDS split name, or `None` for validation to
            be carved from the TFDS train split.
        validation_every: When carving, every `validation_every`-th train example (by position in the
            TFDS files, which TFDS shuffled when it prepared them) goes to validation: 10 means 10%.
            Deterministic, and spread evenly over the file instead of one contiguous block.
        description: One line for tables.
    """

    modality = None

    def __init__(self, name, tfds_name, class_names, *, tfds_splits=None, validation_every=10,
                 description=""):
        self.name = name
        self.tfds_name = tfds_name
        self.class_names = tuple(class_names)
        self.tfds_splits = dict(tfds_splits or {"train": "train", "validation": None, "test": "test"})
        if set(self.tfds_splits) != set(SPLITS) or self.tfds_splits["train"] is None:
            raise ValueError(f"`tfds_splits` must map each of {SPLITS} to a TFDS split (validation may be None). "
                             f"Received: tfds_splits={self.tfds_splits}")
        if validation_every is not None and not (isinstance(validation_every, int) and validation_every >= 2):
            raise ValueError(f"`validation_every` must be an integer >= 2, or None to train on the whole TFDS "
                             f"train split without validation. Received: validation_every={validation_every!r}")
        self.validation_every = validation_every
        self.description = description

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r} ({self.tfds_name})>"

    def get_config(self):
        """Constructor arguments, so `type(task)(**task.get_config())` rebuilds the task."""
        return {"name": self.name, "tfds_name": self.tfds_name, "class_names": self.class_names,
                "tfds_splits": dict(self.tfds_splits), "validation_every": self.validation_every,
                "description": self.description}

    def replace(self, **changes):
        """A new task with some constructor arguments changed, e.g. `replace(name="sd_mfcc", features="mfcc")`."""
        config = self.get_config()
        unknown = sorted(set(changes) - set(config))
        if unknown:
            raise ValueError(f"Unknown option(s) for {type(self).__name__}: {', '.join(unknown)}. "
                             f"Options: {', '.join(sorted(config))}.")
        return type(self)(**{**config, **changes})

    # -- what subclasses define -----------------------------------------------------------------

    @property
    @abc.abstractmethod
    def spec(self):
        """The `TaskSpec`."""

    @property
    @abc.abstractmethod
    def raw_input_spec(self):
        """`tf.TensorSpec` of one raw example."""

    @abc.abstractmethod
    def select(self, example):
        """TFDS feature dict -> `(raw_input, int32 label)`."""

    @abc.abstractmethod
    def build_preprocessor(self, raw_train):
        """The preprocessing layer; `raw_train` (unbatched `(raw, y)`) is there for layers that adapt.

        `prepare` and `finalize` receive it, and call it inside `tf.data` on TensorFlow tensors whatever the
        Keras backend (`relu_zoo.tasks.preprocessing`: `TFDataLayer`, `vectorize_in_tf_data`); `load()` also
        wraps it in a functional model, `TaskData.preprocessor`.
        """

    def prepare(self, ds, preprocessor):
        """Deterministic, expensive preprocessing before the cache (unbatched `(x, y)` in and out)."""
        return ds

    def finalize(self, ds, preprocessor):
        """Cheap per-batch preprocessing after the cache, shuffling and augmentation."""
        return ds

    def default_augment(self):
        """Whether `load(augment=None)` augments the training split."""
        return False

    def augment_batch(self, x, seed, epoch=None, index=None, run_seed=0):
        """Train-time augmentation of a batch of cached inputs; `seed` is a `(2,)` int64 stateless seed.

        `epoch` (an int64 scalar tensor, or None where the pipeline does not know it), `index` (each
        example's position in the unshuffled training split, `(batch,)` int64) and `run_seed` (the run's
        integer seed) let an augmentation depend on the epoch, on the example itself and on the run. Only called for tasks whose `default_augment()` is True.
        """
        raise NotImplementedError(f"Task {self.name!r} defines no augmentation.")

    # -- loading ------------------------------------------------------------------------------------

    def raw_splits(self, data_dir=None, max_examples=None, download="auto"):
        """Unbatched `(raw_input, int32 label)` datasets per split, in a deterministic order.

        What `load()` preprocesses; also the input for a model wrapped by `TaskData.with_preprocessing`.
        Arguments as in `load()`.
        """
        caps = _resolve_caps(max_examples)  # bad arguments fail before any data is looked for
        builder = open_builder(self.tfds_name, data_dir=data_dir, download=download)
        tfds_classes = builder.info.features["label"].num_classes
        if tfds_classes != self.spec.num_classes:
            raise ValueError(f"Task {self.name!r} expects {self.spec.num_classes} classes but the TFDS dataset "
                             f"{self.tfds_name!r} in {builder.data_dir} has {tfds_classes}.")
        splits = self._split(builder)
        return {name: ds.take(caps[name]) if caps[name] is not None else ds for name, ds in splits.items()}

    def _read(self, builder, split):
        """One TFDS split as `(raw, y)`, files read in order (shuffle_files=False) so carving is stable."""
        return read_split(builder, split).map(self.select, num_parallel_calls=AUTOTUNE)

    def _split(self, builder):
        """Our three splits from the TFDS ones (`tfds_splits`), carving validation where it is `None`.

        Tasks whose test set is not a TFDS split (`tfds_splits["test"] is None`) override this.
        """
        if self.tfds_splits["test"] is None:
            raise NotImplementedError(f"{type(self).__name__} must override _split(): task {self.name!r} has "
                                      f"no TFDS test split.")
        train = self._read(builder, self.tfds_splits["train"])
        if self.tfds_splits["validation"] is None:
            train, validation = carve(train, self.validation_every)
        else:
            validation = self._read(builder, self.tfds_splits["validation"])
        return {"train": train, "validation": validation, "test": self._read(builder, self.tfds_splits["test"])}

    def load(self, data_dir=None, batch_size=128, seed=0, max_examples=None, shuffle_buffer=10_000,
             augment=None, download="auto", cache=True):
        """Builds the train / validation / test pipelines.

        Args:
            data_dir: TFDS data directory; default `$TFDS_DATA_DIR`, else `~/tensorflow_datasets`.
            batch_size: Examples per batch (the last batch of a split may be smaller).
            seed: Seeds the training shuffle order and the augmentation; each epoch gets a new order,
                the same in every run with the same seed. (TensorFlow combines op seeds with its global
                seed, `keras.utils.set_random_seed` / `tf.random.set_seed`, as set when `load()` runs;
                unset, it is a fixed default.)
            max_examples: Cap for quick runs: an int for every split, or a dict such as
                `{"train": 1000, "test": 500}`. The first n examples of each split are kept.
            shuffle_buffer: Shuffle buffer size for the training split (examples).
            augment: Train-time augmentation; `None` means the task's default (on for CIFAR only).
            download: What to do when the dataset is not prepared in the data directory. `"auto"`
                (default): TFDS downloads and prepares it if its download hosts answer (checked in a few
                seconds), else `DatasetNotFoundError` at once. `False`: never download, fail at once.
                `True`: try the download without the check (e.g. a network that blocks the check).
            cache: Cache the preprocessed examples in memory (recommended; speech_commands needs ~1.3 GB).

        Returns:
            `TaskData`.

        Raises:
            DatasetNotFoundError: the dataset is not prepared in the data directory and `download` is
                False, the network is unreachable, or the download failed.
            ValueError: bad arguments.
        """
        _check_positive_int("batch_size", batch_size)
        _check_positive_int("shuffle_buffer", shuffle_buffer)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"`seed` must be an integer >= 0. Received: seed={seed!r}")
        if augment is None:
            augment = self.default_augment()
        elif augment and not self.default_augment():
            raise ValueError(f"Task {self.name!r} defines no augmentation; use augment=None or False.")
        raw = self.raw_splits(data_dir=data_dir, max_examples=max_examples, download=download)
        # The pipelines call the layer itself: on JAX and PyTorch it computes with TensorFlow ops inside tf.data
        # (relu_zoo.tasks.preprocessing), which a Keras model of those backends cannot.
        preprocessor = self.build_preprocessor(raw["train"])

        cached = {}
        for split, ds in raw.items():
            ds = self.prepare(ds, preprocessor)
            cached[split] = ds.cache() if cache else ds

        def finish(ds):
            return self.finalize(ds, preprocessor).prefetch(AUTOTUNE)

        def augmented(batches, seeds, epoch=None, run_seed=seed):
            # Batches of (position in the unshuffled split, (x, y)).
            if not augment:
                return batches.map(lambda i, example: example)
            return tf.data.Dataset.zip((batches, seeds)).map(
                lambda batch, s: (self.augment_batch(batch[1][0], s, epoch, batch[0], run_seed), batch[1][1]),
                num_parallel_calls=AUTOTUNE)

        # The position travels with each example through the shuffle (which orders by seed alone, whatever
        # the elements), for augmentations that treat each example in its own way.
        indexed = cached["train"].enumerate()
        # `train`: one pipeline re-iterated every epoch; a seeded order and seeded random stream that
        # restart with new numbers on every iteration, identical across runs with the same seed.
        train = indexed.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        train = augmented(train.batch(batch_size, num_parallel_calls=AUTOTUNE),
                          tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2))

        def train_epoch(epoch, run_seed):
            epoch_seed = (run_seed * 1_000_003 + epoch) % (2**63 - 1)
            batches = (indexed.shuffle(shuffle_buffer, seed=epoch_seed, reshuffle_each_iteration=False)
                       .batch(batch_size, num_parallel_calls=AUTOTUNE))
            seeds = tf.data.Dataset.range(tf.int64.max).map(lambda i: tf.stack([tf.constant(epoch_seed, tf.int64), i]))
            return self.finalize(augmented(batches, seeds, tf.constant(epoch, tf.int64), run_seed), preprocessor)

        examples = {split: self.finalize(ds.batch(batch_size), preprocessor).unbatch() for split, ds in cached.items()}
        return TaskData(
            train=finish(train),
            validation=finish(cached["validation"].batch(batch_size, num_parallel_calls=AUTOTUNE)),
            test=finish(cached["test"].batch(batch_size, num_parallel_calls=AUTOTUNE)),
            spec=self.spec, preprocessor=self._preprocessor_model(preprocessor), raw_input_spec=self.raw_input_spec,
            batch_size=batch_size, seed=seed, examples=examples, train_epoch=train_epoch)

    def _preprocessor_model(self, layer):
        """Wraps the preprocessing layer as raw Input -> layer, a model that saves and reloads on its own."""
        import keras

        raw = self.raw_input_spec
        inputs = keras.Input(shape=tuple(raw.shape), dtype=raw.dtype.name, name=f"raw_{raw.name}")
        return keras.Model(inputs, layer(inputs), name=f"{self.name.replace('/', '_')}_preprocessor")


def carve(ds, every):
    """Splits `ds` into `(rest, every-th)`: position `i` goes to the second part iff `i % every == every - 1`.

    Both parts read `ds` (cache them); the split depends only on the order of `ds`. `every=None` holds nothing
    out: `(ds, empty)`, for training on the whole split.
    """
    if every is None:
        return ds, ds.take(0)
    indexed = ds.enumerate()
    every = tf.constant(every, tf.int64)

    def drop_index(i, example):
        return example

    rest = indexed.filter(lambda i, example: tf.not_equal(i % every, every - 1)).map(drop_index)
    held_out = indexed.filter(lambda i, example: tf.equal(i % every, every - 1)).map(drop_index)
    return rest, held_out


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")


def _resolve_caps(max_examples):
    """`None`, an int or a `{split: n}` dict -> `{split: n or None}` for all splits."""
    if max_examples is None:
        return dict.fromkeys(SPLITS)
    if isinstance(max_examples, dict):
        unknown = sorted(set(max_examples) - set(SPLITS))
        if unknown:
            raise ValueError(f"Unknown split(s) in `max_examples`: {', '.join(unknown)}. "
                             f"Valid splits: {', '.join(SPLITS)}.")
        caps = {split: max_examples.get(split) for split in SPLITS}
    else:
        caps = dict.fromkeys(SPLITS, max_examples)
    for split, cap in caps.items():
        if cap is not None:
            _check_positive_int(f"max_examples[{split!r}]", cap)
    return caps


# -- registry -------------------------------------------------------------------------------------------

TASKS = Registry("task", listing="Valid tasks")


def register_task(task, overwrite=False):
    """Adds `task` (a `Task`) to the registry under `task.name`; returns it.

    Raises:
        ValueError: the name is taken and `overwrite` is False.
    """
    if not isinstance(task, Task):
        raise TypeError(f"`task` must be a relu_zoo.tasks.Task. Received: task={task!r}")
    if task.name in TASKS and not overwrite:
        raise ValueError(f"Task {task.name!r} is already registered; pass overwrite=True to replace it.")
    return TASKS.register(task.name, task, overwrite=True)


def list_tasks(modality=None):
    """Sorted registered task names, optionally only those of one modality."""
    if modality is not None and modality not in MODALITIES:
        raise ValueError(f"`modality` must be one of {MODALITIES} or None. Received: modality={modality!r}")
    return TASKS.names(where=lambda task: modality is None or task.modality == modality)


def get(name):
    """The registered `Task` called `name` (a `Task` passes through).

    Raises:
        ValueError: unknown name; the message lists the valid names and the closest match.
    """
    if isinstance(name, Task):
        return name
    return TASKS.get(name)


# Moved to relu_zoo.tasks.tfds_data, the module that finds, downloads and reads the TFDS data.
__getattr__ = _deprecation.moved(__name__, {name: f"relu_zoo.tasks.tfds_data.{name}" for name in (
    "DatasetNotFoundError", "resolve_data_dir", "download_addresses", "DOWNLOAD_MODES", "GCS_HOST")})
