"""Where a task's data comes from, tried in order.

1. A data directory holding the file in Keras's own format (``--data-dir`` or
   ``SWEEPS_DATA_DIR``).
2. Keras's loader: its cache, or a download for users online.
3. A generated sample of the same shape, only when neither is available, announced loudly and
   recorded as ``data.source=generated`` on every run.

Encoded arrays are cached (``sweeps.data.cache``) keyed by the source's fingerprint and the
settings that shape the encoding.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sweeps.data.cache import cached, fingerprint
from sweeps.data.dataset import Dataset, DataSource, split_validation
from sweeps.errors import DataError
from sweeps.logs import say

log = logging.getLogger(__name__)

GENERATED_WARNING = (
    "WARNING: no {filename} {looked}: using a GENERATED sample shaped like {task}. Results say "
    "nothing about the real task; every run is tagged data.source=generated."
)
#: Where a task's file was looked for: Keras's tasks have Keras's cache and its download too.
LOOKED_WITH_KERAS = "in a --data-dir or Keras's cache and no download possible"
LOOKED_WITHOUT_KERAS = "given (--data-dir DIR holding it)"


@dataclass(frozen=True)
class DataOptions:
    """Where to look for data files and where to cache encodings (both optional).

    A data directory given is the only source: a file missing there is an error, not a reason
    to fall back on generated data. ``generated`` asks for the generated sample outright.
    """

    data_dir: Path | None = None
    cache_dir: Path | None = None
    generated: bool = False
    named_by: str = "--data-dir"  # how the user named the data directory (or SWEEPS_DATA_DIR)


@dataclass(frozen=True)
class RawSource:
    """How to obtain one task's raw data, in the form Keras's ``load_data`` returns it.

    Attributes:
        task: the pipeline's name, for messages.
        filename: the file (or directory, for CIFAR's batches) in Keras's format that a data
            directory holds: ``imdb.npz``, ``cifar-10-batches-py``.
        read_file: parses that file in Keras's format, with Keras's post-processing.
        keras_load: Keras's own loader (cache or download), or ``None`` where Keras has none.
        generate: a generated sample of the same shapes.
        keras_filename: its name in Keras's cache, where that differs from ``filename``.
    """

    task: str
    filename: str
    read_file: Callable[[Path], Any]
    keras_load: Callable[[], Any] | None
    generate: Callable[[], Any]
    keras_filename: str | None = None


def load(
    raw: RawSource, options: DataOptions, settings: Mapping[str, Any], encode: Callable[[Any], dict[str, Any]]
) -> tuple[DataSource, dict[str, Any]]:
    """Find the task's data, then return its encoded arrays, from the cache when possible.

    Args:
        raw: how to obtain the raw data.
        options: data directory and cache directory.
        settings: everything besides the source that shapes ``encode``'s output.
        encode: turns raw data into named arrays (the expensive step worth caching).

    Raises:
        DataError: a file exists but cannot be read as the task's format.
    """
    if options.data_dir is not None and not options.generated:
        path = existing(options.data_dir / raw.filename)
        if path is None:
            whose, otherwise = ("Keras's ", "Keras's own copy, else ") if raw.keras_load is not None else ("", "")
            raise DataError(
                f"{options.named_by} {options.data_dir}: no {raw.filename} there; put {whose}{raw.filename} "
                f"in it, or leave the data directory out ({otherwise}a generated sample)"
            )
        return _from(raw, "data-dir", path, options, settings, lambda: encode(raw.read_file(path)))
    if raw.keras_load is not None and not options.generated:
        cached_file = keras_cache_dir() / (raw.keras_filename or raw.filename)
        if cached_file.exists():
            return _from(raw, "keras", cached_file, options, settings, lambda: encode(_quietly(raw.keras_load)))
        try:
            loaded = _quietly(raw.keras_load)
        except Exception as error:  # Keras raises a bare Exception for a failed download.
            log.info("Keras could not load %s: %s", raw.filename, error)
        else:
            return DataSource("keras", str(cached_file), fingerprint(cached_file, settings), raw.task), encode(loaded)
    if not options.generated:
        looked = LOOKED_WITH_KERAS if raw.keras_load is not None else LOOKED_WITHOUT_KERAS
        say(GENERATED_WARNING.format(filename=raw.filename, looked=looked, task=raw.task))
    return _from(raw, "generated", None, options, settings, lambda: encode(raw.generate()))


def load_dataset(
    raw: RawSource,
    options: DataOptions,
    hp: Mapping[str, Any],
    encode: Callable[[Any], dict[str, Any]],
    what: str,
    **settings: Any,
) -> Dataset:
    """The usual ``load_data`` whole: ``raw``'s data found (``load_encoded``) and encoded by
    ``encode``, cached per task and ``settings`` (what besides the source shapes the encoding),
    then ``hp["validation_samples"]`` training rows held out (``split_validation``; ``what``
    names the rows: ``"training images"``)."""
    source, arrays = load(raw, options, {"task": raw.task, **settings}, encode)
    return split_validation(arrays, hp["validation_samples"], source, what)


def _quietly(keras_load: Callable[[], Any]) -> Any:
    """``keras_load()`` with what it prints ("Downloading data from ...") on stderr: progress, not a result."""
    with contextlib.redirect_stdout(sys.stderr):
        return keras_load()


def existing(path: Path) -> Path | None:
    """``path`` if it is a file or a directory (through symlinks), ``None`` if there is nothing.

    Raises:
        DataError: something else is there (a FIFO, a device such as /dev/zero): reading it
            would hang or never end.
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:  # nothing, or a symlink to nothing
        return None
    except OSError as error:
        raise DataError(f"{path}: cannot read it: {error.strerror}") from None
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return path
    raise DataError(f"{path}: not a regular file; a data directory holds the data files themselves")


def keras_loader(dataset: str, **kwargs: Any) -> Callable[[], Any]:
    """Keras's own ``keras.datasets.<dataset>.load_data(**kwargs)``, imported only when called
    (so a pipeline can be loaded, and its sweep file checked, without starting TensorFlow)."""

    def load() -> Any:
        import keras

        return getattr(keras.datasets, dataset).load_data(**kwargs)

    return load


def keras_source(task: str, read_file: Callable[..., Any], generate: Callable[..., Any], **load_kwargs: Any) -> RawSource:
    """The ``RawSource`` of a dataset Keras ships as ``<task>.npz`` (``mnist``, ``imdb``): that
    file in a data directory read by ``read_file(path, **load_kwargs)``, Keras's own
    ``keras.datasets.<task>.load_data(**load_kwargs)``, else ``generate(**load_kwargs)``; each
    given the same arguments (``num_words=``), so that the three agree."""
    return RawSource(
        task,
        f"{task}.npz",
        partial(read_file, **load_kwargs),
        keras_loader(task, **load_kwargs),
        partial(generate, **load_kwargs),
    )


def keras_cache_dir() -> Path:
    """The directory where Keras's ``get_file`` keeps downloaded datasets."""
    home = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser()
    if not os.access(home, os.W_OK) and not os.environ.get("KERAS_HOME"):
        home = Path("/tmp/.keras")
    return home / "datasets"


def _from(
    raw: RawSource,
    kind: str,
    path: Path | None,
    options: DataOptions,
    settings: Mapping[str, Any],
    produce: Callable[[], dict[str, Any]],
) -> tuple[DataSource, dict[str, Any]]:
    try:
        digest = fingerprint(path, {**settings, "generated": raw.task} if path is None else settings)
    except OSError as error:  # unreadable: permissions, a damaged disk
        raise DataError(f"{path}: cannot read it: {error.strerror}") from None
    source = DataSource(kind, str(path) if path else f"generated sample of {raw.task}", digest, raw.task)
    cache_file = options.cache_dir / f"{raw.task}-{digest}.npz" if options.cache_dir else None
    return source, cached(cache_file, produce)
