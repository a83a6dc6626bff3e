"""Finding a TFDS dataset, and downloading and preparing it when it is missing and the network answers.

Data is found the TFDS way, in `data_dir` or else `$TFDS_DATA_DIR` (read at call time, not at import) or
else `~/tensorflow_datasets`. A dataset that is not prepared there is downloaded and prepared by TFDS (with
its progress bar), as `tfds.load` does by default, unless `download=False` (`train.py --no-download`).
Before downloading, `open_builder` checks that the hosts TFDS would download from answer a TCP connection
within a few seconds (`relu_zoo._net.unreachable`): without network TFDS retries its downloads for minutes,
and the user should hear at once that the data is missing and how to bring it from another machine.
"""

import os

import tensorflow as tf

from relu_zoo import _logs

from relu_zoo._net import unreachable, url_address


class DatasetNotFoundError(RuntimeError):
    """The TFDS dataset of a task is not prepared in the data directory and was not downloaded."""


def read_split(builder, split):
    """A TFDS split's examples, files in order, without TFDS's automatic in-memory cache.

    TFDS caches small datasets (mnist, spoken_digit) as read; `load()` caches the preprocessed examples
    instead, and a capped split (`max_examples`, `take(n)`) stops reading TFDS's cache halfway, which
    tf.data reports as "The calling iterator did not fully read the dataset being cached" and discards.
    """
    import tensorflow_datasets as tfds

    return builder.as_dataset(split=split, shuffle_files=False, read_config=tfds.ReadConfig(try_autocache=False))


def resolve_data_dir(data_dir=None):
    """The TFDS data directory: `data_dir`, else `$TFDS_DATA_DIR`, else `~/tensorflow_datasets`.

    TFDS reads `TFDS_DATA_DIR` once at import; reading it here honours a change made afterwards.
    """
    data_dir = data_dir or os.environ.get("TFDS_DATA_DIR") or os.path.join("~", "tensorflow_datasets")
    return os.path.expanduser(os.fspath(data_dir))


DOWNLOAD_MODES = ("auto", True, False)
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
    command = _logs.is_command()  # the fixes a user can apply: flags on our commands, arguments in Python
    if download is False:
        raise DatasetNotFoundError(_not_found_message(
            tfds_name, builder, data_dir,
            "Downloading is off (--no-download)." if command else "Downloading is off (download=False).",
            "or allow the download on a machine with network: " + (
                "leave out --no-download." if command else 'download="auto" (the default).'))) from None
    if download == "auto":
        addresses = download_addresses(builder)
        failed = unreachable(addresses)
        if failed:
            host, port, reason = failed[0]
            raise DatasetNotFoundError(_not_found_message(
                tfds_name, builder, data_dir,
                f"It was not downloaded: no network. TFDS would download it from "
                f"{', '.join(f'{h}:{p}' for h, p in addresses)}, and {host}:{port} did not answer ({reason}).",
                "or run the same command again once this machine reaches those hosts (directly, or through the "
                "proxy set in https_proxy)." if command else
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
        f"  - point TFDS_DATA_DIR ({'or train.py --data-dir' if _logs.is_command() else 'or data_dir=...'}) at a "
        f"folder that holds "
        f"{tfds_name}/{builder.version}/ prepared by TFDS;\n"
        f"  - on a machine with network, prepare it with `tfds build {tfds_name} --data_dir DIR` (or "
        f"`tfds.builder({tfds_name!r}, data_dir=DIR).download_and_prepare()`) and copy "
        f"DIR/{tfds_name.split('/')[0]} into {data_dir!r};\n"
        f"  - {last_fix}"
    )
