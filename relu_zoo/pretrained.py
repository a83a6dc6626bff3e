"""Pretrained checkpoints: `list_pretrained()`, `load(name)`, verified and downloaded on demand.

A checkpoint is a self-describing folder `<model>_<activation>.<task>/`:

    model.keras          the trained model (inputs: preprocessed tensors; outputs: logits)
    preprocessor.keras   the task's preprocessing (raw uint8 image / string / waveform -> model input)
    metadata.json        task, model, activation config, seed, epochs, command, metrics, versions, date,
                         sha256 of every other file
    README.md            the model card

Every file's sha256 is verified before anything is loaded, and models load
with `safe_mode=True` only. Building the zoo from finished runs: `relu_zoo.zoo`.

Checkpoint folders are found in `sources()`, the first holding a name wins: `$RELU_ZOO_MODELS` alone when
set; else the `models/` folder of a source checkout, then every installed distribution that declares an entry
point in the `relu_zoo.checkpoints` group (its value a package whose folders are checkpoints, read with
importlib.resources: `relu-zoo-models`, built from `models/`, is one), then the zoo's index that
`pip install .` installs with the library into `<prefix>/share/relu_zoo/models` (metadata and cards, no
weights: the `[tool.setuptools.data-files]` table of pyproject.toml, found through the distribution's RECORD).
`checkpoint_file` takes the weights (`model.keras`, `preprocessor.keras`) from the checkpoint's folder when
it has them, else from the cache (`$RELU_ZOO_CACHE`, default the user cache folder `~/.cache/relu_zoo`),
else downloads them from `$RELU_ZOO_BASE_URL/<name>/<file>` into the cache with `keras.utils.get_file`
(progress bar, sha256 checked against the metadata before the file is kept).
"""

import hashlib
import json
import os
import shutil
import sys
import tempfile
import urllib.parse
import warnings
from pathlib import Path
from typing import NamedTuple

from relu_zoo.registry import did_you_mean
from relu_zoo import _deprecation
from relu_zoo._net import unreachable, url_address

MODEL_FILE = "model.keras"
PREPROCESSOR_FILE = "preprocessor.keras"
METADATA_FILE = "metadata.json"
CARD_FILE = "README.md"
INDEX_FILE = "index.json"


WEIGHT_FILES = (MODEL_FILE, PREPROCESSOR_FILE)  # not in relu_zoo's wheel: in relu-zoo-models, the cache or the network
MODELS_ENV = "RELU_ZOO_MODELS"
CACHE_ENV = "RELU_ZOO_CACHE"
BASE_URL_ENV = "RELU_ZOO_BASE_URL"


class ChecksumError(ValueError):
    """A checkpoint file does not match the sha256 recorded in its metadata."""


class CheckpointUnavailableError(RuntimeError):
    """A checkpoint's file is neither in its folder nor in the cache, and could not be downloaded."""


INSTALLED_ZOO = "share/relu_zoo/models"  # where `pip install .` puts models/, relative to the install prefix
ENTRY_POINTS = "relu_zoo.checkpoints"  # distributions that ship checkpoint folders (pyproject entry points)
WEIGHTS_DISTRIBUTION = "relu-zoo-models"  # this repository's checkpoints, built from models/
CHECKOUT = Path(__file__).resolve().parents[1] / "models"
# What `list_pretrained(where=True)` says of a checkpoint whose weights are not in its folder.
CACHED, DOWNLOAD = "cache", "download"


class Source(NamedTuple):
    """A folder of checkpoint folders, and what put it there (`MODELS_ENV`, "checkout", "<distribution>
    <version>", or "relu_zoo <version> index": metadata and cards without weights)."""
    root: Path
    origin: str


def sources():
    """Where checkpoints are looked for, in order (see the module docstring); the first holding a name wins."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return [Source(Path(env), MODELS_ENV)]
    found = [Source(CHECKOUT, "checkout")] if (CHECKOUT / INDEX_FILE).is_file() else []
    found += distribution_sources()
    index = installed_zoo_dir()
    if index is not None:
        found.append(Source(index, f"relu_zoo {_version('relu_zoo')} index"))
    return found


def distribution_sources():
    """The installed distributions' checkpoint folders: each entry point of group `relu_zoo.checkpoints` names
    a package (`name = "package"` in `[project.entry-points."relu_zoo.checkpoints"]`) whose subfolders are
    checkpoint folders. Sorted by distribution, so the order does not depend on sys.path."""
    from importlib import metadata, resources

    found = []
    points = metadata.entry_points(group=ENTRY_POINTS)
    for point in sorted(points, key=lambda p: (p.dist.name if p.dist else "", p.name)):
        origin = f"{point.dist.name} {point.dist.version}" if point.dist else point.name
        try:
            root = resources.files(point.module)
        except (ImportError, TypeError) as e:  # TypeError: a module, not a package
            warnings.warn(f"Skipping the checkpoints of {origin}: its {ENTRY_POINTS} entry point "
                          f"{point.value!r} is not an importable package ({e}); reinstall {origin}.", stacklevel=2)
            continue
        if not isinstance(root, Path):
            warnings.warn(f"Skipping the checkpoints of {origin}: its package {point.module} is not a folder on "
                          f"disk (a zip?); install it unzipped with pip.", stacklevel=2)
            continue
        found.append(Source(root, origin))
    return found


def _version(distribution):
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def zoo_dir():
    """The one folder the zoo is built in (`relu_zoo.zoo` writes there): `$RELU_ZOO_MODELS`, else a checkout's
    `models/`, else the index installed with the package. Reading looks further: `sources()`."""
    env = os.environ.get(MODELS_ENV)
    if env:
        return Path(env)
    if (CHECKOUT / INDEX_FILE).is_file():
        return CHECKOUT
    return installed_zoo_dir() or CHECKOUT


def installed_zoo_dir():
    """The zoo installed with the distribution (its RECORD lists `.../share/relu_zoo/models/index.json`)."""
    from importlib import metadata

    try:
        files = metadata.distribution("relu_zoo").files or []
    except metadata.PackageNotFoundError:
        return None
    for file in files:
        if file.name == INDEX_FILE and file.as_posix().endswith(f"{INSTALLED_ZOO}/{INDEX_FILE}"):
            path = Path(file.locate()).resolve()
            if path.is_file():
                return path.parent
    return None


def _register_custom_objects():
    """Imports what registers relu_zoo's serializable objects, so `safe_mode=True` loading finds them:
    the model building blocks (e.g. `MaskedGlobalMaxPooling1D`), the preprocessing layers and the metrics a
    compiled model names (a language model's `BitsPerByte`, with its task)."""
    import relu_zoo.models  # noqa: F401
    import relu_zoo.tasks  # noqa: F401


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _folders(root=None):
    """{name: (its checkpoint folder, the Source it is in)}, the first source holding a name winning."""
    found = {}
    for source in [Source(Path(root), str(root))] if root else sources():
        if source.root.is_dir():
            for folder in sorted(source.root.iterdir()):
                if (folder / METADATA_FILE).is_file():
                    found.setdefault(folder.name, (folder, source))
    return found


def list_pretrained(root=None, where=False):
    """Names of the checkpoints (folders with a metadata.json) in `root`, default every one of `sources()`,
    sorted.

    With `where=True`, a dict {name: where its weights are}: the origin of the folder holding them
    ("checkout", "relu-zoo-models 0.1.0", "RELU_ZOO_MODELS"), "cache" (downloaded before, verified), or
    "download" (fetched from `$RELU_ZOO_BASE_URL` when first loaded).
    """
    folders = _folders(root)
    if not where:
        return sorted(folders)
    return {name: _where(name, folder, source) for name, (folder, source) in sorted(folders.items())}


def _where(name, folder, source):
    recorded = json.loads((folder / METADATA_FILE).read_text()).get("sha256", {})
    weights = [f for f in WEIGHT_FILES if f in recorded]
    missing = [f for f in weights if not (folder / f).is_file()]
    if not missing:
        return source.origin
    cached = all((cache_dir() / name / f).is_file() and sha256(cache_dir() / name / f) == recorded[f]
                 for f in missing)
    return CACHED if cached else DOWNLOAD


def describe():
    """What `relu-zoo list pretrained` prints: each checkpoint and where its weights are
    (`list_pretrained(where=True)`), then the folders behind those words, and how to get the ones to download."""
    where = list_pretrained(where=True)
    width = max(map(len, where), default=0) + 2
    lines = [f"{name:{width}}{place}" for name, place in where.items()]
    if not where:
        lines.append(f"No checkpoints: install them with `pip install ./models` in a checkout of relu_zoo (the "
                     f"{WEIGHTS_DISTRIBUTION} distribution).")
    lines.append("")
    lines += [f"{source.origin}: {source.root}" for source in sources() if source.origin in where.values()]
    if CACHED in where.values():
        lines.append(f"{CACHED}: {cache_dir()} ({CACHE_ENV})")
    if DOWNLOAD in where.values():
        lines.append(f"{DOWNLOAD}: fetched on first load from {base_url() or BASE_URL_ENV + ', which is not set'}; "
                     f"or install the weights: `pip install ./models` in a checkout (the {WEIGHTS_DISTRIBUTION} "
                     "distribution)")
    return "\n".join(lines).rstrip()


def checkpoint_dir(name, root=None):
    """The folder of checkpoint `name`: in `root`, default the first of `sources()` that has it."""
    folders = _folders(root)
    if name not in folders:
        available = sorted(folders)
        hint = did_you_mean(name, available)
        where = root or ", ".join(str(s.root) for s in sources()) or "no zoo"
        listing = ", ".join(available) if available else (
            f"none. Install the checkpoints: `pip install ./models` in a checkout of relu_zoo (the "
            f"{WEIGHTS_DISTRIBUTION} distribution), or set {MODELS_ENV} to a copy of its models/ folder")
        raise ValueError(f"Unknown pretrained model {name!r} in {where}.{hint} Available: {listing}.")
    return folders[name][0]


def metadata(name, root=None):
    return json.loads((checkpoint_dir(name, root) / METADATA_FILE).read_text())


def cache_dir():
    """Where downloaded checkpoint files are kept: `$RELU_ZOO_CACHE`, else the user cache folder
    (`$XDG_CACHE_HOME/relu_zoo` or `~/.cache/relu_zoo`; `~/Library/Caches/relu_zoo` on macOS,
    `%LOCALAPPDATA%\\relu_zoo` on Windows), as `<cache>/<name>/<file>`."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or "~/AppData/Local"
    elif sys.platform == "darwin":
        base = "~/Library/Caches"
    else:
        base = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(base).expanduser() / "relu_zoo"


def base_url():
    """`$RELU_ZOO_BASE_URL`: the server holding the zoo's files as `<base>/<name>/<file>`, or None."""
    return os.environ.get(BASE_URL_ENV, "").strip().rstrip("/") or None


def verify(name, root=None):
    """Checks every recorded file's sha256 (fetching weights that are not local, see `checkpoint_file`);
    raises ChecksumError naming the file on any mismatch. Returns the metadata."""
    meta = metadata(name, root)
    if MODEL_FILE not in meta.get("sha256", {}):
        raise ChecksumError(f"{checkpoint_dir(name, root) / METADATA_FILE} records no sha256 for {MODEL_FILE}; "
                            "refusing to load.")
    for filename in meta["sha256"]:
        checkpoint_file(name, filename, root)
    return meta


def checkpoint_file(name, filename, root=None):
    """The path of a checkpoint's file, its sha256 verified against the metadata.

    Looked for in the checkpoint's folder (`checkpoint_dir`: a checkout's models/, an installed distribution
    such as relu-zoo-models, or `$RELU_ZOO_MODELS`; a mismatch there is a ChecksumError, never silently
    replaced), then in the cache (`cache_dir()`; a mismatching copy there, e.g. an interrupted download, is
    downloaded again), then downloaded from `$RELU_ZOO_BASE_URL/<name>/<file>` into the cache.

    Raises:
        ChecksumError: a file in the zoo folder, or the downloaded file, does not match its sha256 (the
            download is removed).
        CheckpointUnavailableError: not local, and no `$RELU_ZOO_BASE_URL` or no network.
    """
    folder = checkpoint_dir(name, root)
    recorded = json.loads((folder / METADATA_FILE).read_text()).get("sha256", {})
    if filename not in recorded:
        raise ChecksumError(f"{folder / METADATA_FILE} records no sha256 for {filename}; refusing to load.")
    expected = recorded[filename]
    local = folder / filename
    if local.is_file():
        actual = sha256(local)
        if actual != expected:
            raise ChecksumError(f"Checkpoint {name!r}: {local} has sha256 {actual}, metadata records {expected}. "
                                "The file was modified or corrupted; restore it (`git checkout models/` in a "
                                "checkout, else reinstall its distribution) instead of loading it.")
        return local
    cached = cache_dir() / name / filename
    if cached.is_file() and sha256(cached) == expected:
        return cached
    return _download(name, filename, expected, cached, folder)


def _download(name, filename, expected, target, folder):
    """Downloads `<base>/<name>/<file>` to `target` with `keras.utils.get_file` (progress bar, sha256).

    get_file writes into a fresh staging folder beside `target`, then the verified file is moved into
    place: an interrupted or wrong download never sits at `target`, and the staging folder is removed.
    """
    base = base_url()
    if base is None:
        raise CheckpointUnavailableError(_unavailable(name, filename, folder, f"{BASE_URL_ENV} is not set"))
    url = f"{base}/{urllib.parse.quote(name)}/{urllib.parse.quote(filename)}"
    if urllib.parse.urlsplit(url).scheme in ("http", "https"):
        failed = unreachable([url_address(url)])
        if failed:
            host, port, reason = failed[0]
            raise CheckpointUnavailableError(_unavailable(
                name, filename, folder, f"{BASE_URL_ENV}={base} is not reachable: no network? ({host}:{port}: "
                f"{reason})"))
    import keras

    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{filename}.", dir=target.parent))
    try:
        try:
            path = keras.utils.get_file(fname=filename, origin=url, file_hash=expected, hash_algorithm="sha256",
                                        cache_dir=str(staging), cache_subdir=str(staging))
        except ValueError as e:  # get_file's "Incomplete or corrupted file detected" (hash mismatch)
            raise ChecksumError(f"Checkpoint {name!r}: {filename} downloaded from {url} does not have the sha256 "
                                f"its metadata records ({expected}); the download was removed. The server holds "
                                f"another version of the file: point {BASE_URL_ENV} at the zoo of this relu_zoo "
                                f"version ({e})") from None
        except Exception as e:  # noqa: BLE001 - get_file raises a bare Exception for HTTP and URL errors
            raise CheckpointUnavailableError(_unavailable(name, filename, folder,
                                                          f"the download failed: {e}")) from None
        os.replace(path, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _unavailable(name, filename, folder, why):
    return (f"Checkpoint {name!r}: {filename} is not in the zoo folder {folder} ({MODELS_ENV}, a checkout's "
            f"models/ or an installed {WEIGHTS_DISTRIBUTION}) nor in the cache {cache_dir() / name} ({CACHE_ENV}), "
            f"and {why}.\n"
            f"To fix it, either:\n"
            f"  - install the checkpoints: `pip install ./models` in a checkout of relu_zoo (the "
            f"{WEIGHTS_DISTRIBUTION} distribution);\n"
            f"  - set {BASE_URL_ENV} to a server holding the zoo's files as <base>/{name}/{filename} (the "
            f"repository's models/ folder served as is), on a machine with network;\n"
            f"  - copy {filename} from a checkout's models/{name}/ (or another machine's cache) into "
            f"{cache_dir() / name}/;\n"
            f"  - or point {MODELS_ENV} at a copy of the repository's models/ folder.")


def load(name, compile=True, raw_inputs=False, root=None):
    """Loads checkpoint `name` after verifying its hashes.

    Args:
        name: A name from `list_pretrained()`, e.g. "cnn_prelu.mnist".
        compile: Restore the training configuration (optimizer, loss, metrics).
        raw_inputs: Return an end-to-end model that takes what a user has
            (uint8 images, strings, int waveforms) with the task's
            preprocessing built in, and outputs class probabilities; for a
            checkpoint whose card names test-time augmentation (metadata
            `tta`), averaged over those views of each input. One Keras model, or on JAX and PyTorch for
            strings and waveforms a `relu_zoo.tasks.raw_inputs.RawInputModel`.
        root: A zoo folder to take it from (default: the first of `sources()` that has it).

    The weights come from the checkpoint's folder, the cache or `$RELU_ZOO_BASE_URL` (see
    `checkpoint_file`).
    """
    model = load_file(checkpoint_file(name, MODEL_FILE, root), compile=compile)
    if not raw_inputs:
        return model
    preprocessor = load_file(checkpoint_file(name, PREPROCESSOR_FILE, root), compile=False)
    tta = metadata(name, root).get("tta")
    from relu_zoo.tasks.raw_inputs import RawInputModel, runs_in_model

    if not runs_in_model(preprocessor):  # strings and spectrograms on JAX and PyTorch
        from relu_zoo.models.common import flip_tta

        return RawInputModel(preprocessor, flip_tta(model, mode=tta) if tta else model)
    return end_to_end(preprocessor, model, tta=tta)


def load_preprocessor(name, root=None):
    """The task preprocessing of checkpoint `name` (raw inputs -> model inputs), after verifying its hash."""
    return load_file(checkpoint_file(name, PREPROCESSOR_FILE, root), compile=False)


def load_file(path, compile=True):
    """A `.keras` file of a checkpoint: `keras.saving.load_model` with `safe_mode=True`, relu_zoo's objects
    registered."""
    import keras

    _register_custom_objects()
    with warnings.catch_warnings():
        # Checkpoints carry the optimizer's configuration but not its state (see `save_lean`).
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        return keras.saving.load_model(path, compile=compile, safe_mode=True)


def end_to_end(preprocessor, model, tta=None):
    """raw input -> preprocessor -> model -> softmax, as one Keras model; with `tta` (a mode of
    `relu_zoo.models.common.flip_tta`), the model's logits averaged over those views of each image."""
    import keras

    if tta:
        from relu_zoo.models.common import flip_tta

        model = flip_tta(model, mode=tta)
    inputs = keras.Input(shape=preprocessor.input_shape[1:], dtype=preprocessor.inputs[0].dtype, name="raw")
    logits = model(preprocessor(inputs))
    probabilities = keras.layers.Softmax(name="probabilities", dtype="float32")(logits)
    return keras.Model(inputs, probabilities, name=f"{model.name}_raw")


CHECK_EXAMPLES = 2000


def raw_test_batches(task_name, max_examples=CHECK_EXAMPLES, batch_size=250, data_dir=None):
    """The first `max_examples` raw test examples of a task, batched `(raw, label)`."""
    from relu_zoo import tasks

    raw = tasks.get(task_name).raw_splits(data_dir=data_dir, max_examples={"test": max_examples})["test"]
    # Waveforms differ in length: zero-padding to the batch maximum is what the preprocessor does anyway.
    return raw.padded_batch(batch_size)


def model_inputs(name, examples=256, data_dir=None):
    """The first `examples` test inputs of checkpoint `name`'s task, preprocessed as its model takes them."""
    from relu_zoo.tasks.raw_inputs import preprocess

    raw = raw_test_batches(metadata(name)["task"], examples, batch_size=examples, data_dir=data_dir)
    return preprocess(load_preprocessor(name), next(raw.as_numpy_iterator())[0])


# Moved: exporting to deployment formats to relu_zoo.deploy, building the zoo from finished runs to relu_zoo.zoo.
__getattr__ = _deprecation.moved(__name__, {
    "export_model": "relu_zoo.deploy.export_model",
    "raw_accuracy": "relu_zoo.scoring.raw_accuracy",
    "card": "relu_zoo.cards.card",
    **{name: f"relu_zoo.zoo.{name}" for name in ("export", "index_rows", "index_markdown", "write_index", "save_lean",
                                                 "TARGETS")},
})
