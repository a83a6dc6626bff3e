"""Task registry, the `Task` base class and the TFDS plumbing every task shares.

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

Data is found the TFDS way, in `data_dir` or else `$TFDS_DATA_DIR` (read at call time, not at import) or
else `~/tensorflow_datasets`. A dataset that is not prepared there is downloaded and prepared by TFDS (with
its progress bar), as `tfds.load` does by default, unless `download=False` (`train.py --no-download`).
Before downloading, `open_builder` checks that the hosts TFDS would download from answer a TCP connection
within a few seconds (`unreachable`): without network TFDS retries its downloads for minutes, and the
user should hear at once that the data is missing and how to bring it from another machine.
"""

import abc
import os
import socket
import threading
import time
import urllib.parse
import urllib.request

import tensorflow as tf

# TaskSpec lives with the models: building one for given shapes (create_model(input_shape=...)) needs no TensorFlow.
from relu_zoo.models.spec import MODALITIES, TaskSpec
from relu_zoo.registry import Registry

SPLITS = ("train", "validation", "test")
AUTOTUNE = tf.data.AUTOTUNE


class DatasetNotFoundError(RuntimeError):
    """The TFDS dataset of a task is not prepared in the data directory and was not downloaded."""


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
        if not (isinstance(validation_every, int) and validation_every >= 2):
            raise ValueError(f"`validation_every` must be an integer >= 2. "
                             f"Received: validation_every={validation_every!r}")
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

        `load()` wraps it in a functional model (`TaskData.preprocessor`), which `prepare` and `finalize`
        receive.
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

    def augment_batch(self, x, seed):
        """Train-time augmentation of a batch of cached inputs; `seed` is a `(2,)` int64 stateless seed.

        Only called for tasks whose `default_augment()` is True.
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
        preprocessor = self._preprocessor_model(self.build_preprocessor(raw["train"]))

        cached = {}
        for split, ds in raw.items():
            ds = self.prepare(ds, preprocessor)
            cached[split] = ds.cache() if cache else ds

        def finish(ds):
            return self.finalize(ds, preprocessor).prefetch(AUTOTUNE)

        def augmented(batches, seeds):
            if not augment:
                return batches
            return tf.data.Dataset.zip((batches, seeds)).map(
                lambda batch, s: (self.augment_batch(batch[0], s), batch[1]), num_parallel_calls=AUTOTUNE)

        # `train`: one pipeline re-iterated every epoch; a seeded order and seeded random stream that
        # restart with new numbers on every iteration, identical across runs with the same seed.
        train = cached["train"].shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
        train = augmented(train.batch(batch_size, num_parallel_calls=AUTOTUNE),
                          tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2))

        def train_epoch(epoch, run_seed):
            epoch_seed = (run_seed * 1_000_003 + epoch) % (2**63 - 1)
            batches = (cached["train"].shuffle(shuffle_buffer, seed=epoch_seed, reshuffle_each_iteration=False)
                       .batch(batch_size, num_parallel_calls=AUTOTUNE))
            seeds = tf.data.Dataset.range(tf.int64.max).map(lambda i: tf.stack([tf.constant(epoch_seed, tf.int64), i]))
            return self.finalize(augmented(batches, seeds), preprocessor)

        examples = {split: self.finalize(ds.batch(batch_size), preprocessor).unbatch() for split, ds in cached.items()}
        return TaskData(
            train=finish(train),
            validation=finish(cached["validation"].batch(batch_size, num_parallel_calls=AUTOTUNE)),
            test=finish(cached["test"].batch(batch_size, num_parallel_calls=AUTOTUNE)),
            spec=self.spec, preprocessor=preprocessor, raw_input_spec=self.raw_input_spec,
            batch_size=batch_size, seed=seed, examples=examples, train_epoch=train_epoch)

    def _preprocessor_model(self, layer):
        """Wraps the preprocessing layer as raw Input -> layer, a model that saves and reloads on its own."""
        import keras

        raw = self.raw_input_spec
        inputs = keras.Input(shape=tuple(raw.shape), dtype=raw.dtype.name, name=f"raw_{raw.name}")
        return keras.Model(inputs, layer(inputs), name=f"{self.name.replace('/', '_')}_preprocessor")


def read_split(builder, split):
    """A TFDS split's examples, files in order, without TFDS's automatic in-memory cache.

    TFDS caches small datasets (mnist, spoken_digit) as read; `load()` caches the preprocessed examples
    instead, and a capped split (`max_examples`, `take(n)`) stops reading TFDS's cache halfway, which
    tf.data reports as "The calling iterator did not fully read the dataset being cached" and discards.
    """
    import tensorflow_datasets as tfds

    return builder.as_dataset(split=split, shuffle_files=False, read_config=tfds.ReadConfig(try_autocache=False))


def carve(ds, every):
    """Splits `ds` into `(rest, every-th)`: position `i` goes to the second part iff `i % every == every - 1`.

    Both parts read `ds` (cache them); the split depends only on the order of `ds`.
    """
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


def resolve_data_dir(data_dir=None):
    """The TFDS data directory: `data_dir`, else `$TFDS_DATA_DIR`, else `~/tensorflow_datasets`.

    TFDS reads `TFDS_DATA_DIR` once at import; reading it here honours a change made afterwards.
    """
    data_dir = data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.join("~", "tensorflow_datasets")
    return os.path.expanduser(os.fspath(data_dir))


DOWNLOAD_MODES = ("auto", True, False)
PROBE_TIMEOUT = 5.0  # seconds for every download host together: well inside the 60 s a user waits offline
GCS_HOST = ("storage.googleapis.com", 443)  # TFDS's own bucket: tried first for prepared copies of many datasets


def open_builder(tfds_name, data_dir=None, download="auto"):
    """A TFDS builder whose data is prepared (downloading it if allowed), or one clear `DatasetNotFoundError`.

    Checks for `<data_dir>/<name>/<config>/<version>/dataset_info.json` first: TFDS's own check in
    `as_dataset` retries for ~10 s. `download` as in `Task.load`: with `"auto"` the hosts of the builder's
    download URLs must answer within `PROBE_TIMEOUT` seconds (`unreachable`) before TFDS's
    `download_and_prepare` runs, because its downloads retry for minutes without network.
    """
    import tensorflow_datasets as tfds

    if not any(download is mode for mode in (True, False)) and download != "auto":
        raise ValueError(f"`download` must be one of {DOWNLOAD_MODES}. Received: download={download!r}")
    data_dir = resolve_data_dir(data_dir)
    try:
        builder = tfds.builder(tfds_name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise DatasetNotFoundError(f"TFDS {tfds.__version__} has no dataset {tfds_name!r} ({e}). "
                                   f"Install a tensorflow-datasets version that has it.") from None
    if _is_prepared(builder):
        return builder
    if download is False:
        raise DatasetNotFoundError(_not_found_message(
            tfds_name, builder, data_dir, "Downloading is off (train.py --no-download, download=False).",
            "or allow the download: leave out --no-download (download=\"auto\"), on a machine with network.")
        ) from None
    if download == "auto":
        addresses = download_addresses(builder)
        failed = unreachable(addresses)
        if failed:
            host, port, reason = failed[0]
            raise DatasetNotFoundError(_not_found_message(
                tfds_name, builder, data_dir,
                f"It was not downloaded: no network. TFDS would download it from "
                f"{', '.join(f'{h}:{p}' for h, p in addresses)}, and {host}:{port} did not answer ({reason}).",
                "or, if this machine reaches those hosts in a way the check misses, force the download with "
                "download=True.")) from None
    try:
        builder.download_and_prepare()  # TFDS's progress bars show the download and the preparation
    except Exception as e:  # noqa: BLE001 - any failure means the same thing to the user, shown in one line
        reason = f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"
        raise DatasetNotFoundError(_not_found_message(
            tfds_name, builder, data_dir, f"TFDS's download failed: {reason}",
            "or run the same command again once the network works (TFDS resumes from its download folder).")
        ) from None
    return builder


def download_addresses(builder):
    """`[(host, port)]` TFDS connects to when downloading `builder`'s data: the hosts of its registered URLs
    (`builder.url_infos`, from the dataset's checksums file), else TFDS's bucket; each through the proxy
    set for its scheme (`https_proxy` etc.) when there is one."""
    try:
        urls = list(builder.url_infos or {})
    except Exception:  # noqa: BLE001 - a builder without a checksums file: its URLs are not known up front
        urls = []
    return list(dict.fromkeys(url_address(url) for url in urls or [f"https://{GCS_HOST[0]}/"]))


def url_address(url):
    """The `(host, port)` a download of `url` connects to: its own, or that of the proxy set for its scheme
    (`https_proxy`, `http_proxy`, honouring `no_proxy`)."""
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def unreachable(addresses, timeout=PROBE_TIMEOUT):
    """The `(host, port)` pairs that do not accept a TCP connection within `timeout` seconds, as
    `[(host, port, reason)]`; `[]` when all answer.

    All are tried at once, each in a daemon thread, and waited for `timeout` seconds in all: a DNS lookup
    that hangs (it ignores socket timeouts) is given up on, not waited for.
    """
    results = {}

    def connect(address):
        try:
            socket.create_connection(address, timeout=timeout).close()
            results[address] = None
        except OSError as e:
            results[address] = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__

    threads = [threading.Thread(target=connect, args=(address,), daemon=True) for address in addresses]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    waited = f"no answer within {timeout:g} s"
    return [(host, port, results.get((host, port), waited)) for host, port in addresses
            if results.get((host, port), waited) is not None]


def _is_prepared(builder):
    return tf.io.gfile.exists(os.path.join(os.fspath(builder.data_dir), "dataset_info.json"))


def _not_found_message(tfds_name, builder, data_dir, why, last_fix):
    name_dir = os.path.join(data_dir, *tfds_name.split("/"))
    found = sorted(tf.io.gfile.listdir(name_dir)) if tf.io.gfile.isdir(name_dir) else []
    other = f" It holds other versions: {', '.join(v.rstrip('/') for v in found)}." if found else ""
    return (
        f"TFDS dataset {tfds_name!r} (version {builder.version}) is not prepared in the data directory "
        f"{data_dir!r} (looked for {os.fspath(builder.data_dir)!r}).{other} {why}\n"
        f"To fix it, either:\n"
        f"  - point TFDS_DATA_DIR (or --data-dir, data_dir=...) at a folder that holds "
        f"{tfds_name}/{builder.version}/ prepared by TFDS;\n"
        f"  - on a machine with network, prepare it with `tfds build {tfds_name} --data_dir DIR` (or "
        f"`tfds.builder({tfds_name!r}, data_dir=DIR).download_and_prepare()`) and copy "
        f"DIR/{tfds_name.split('/')[0]} into {data_dir!r};\n"
        f"  - {last_fix}"
    )


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
