"""Where a task's data comes from, and the on-disk cache of its encoding (DESIGN.md §4).

Sources, in order: a data directory holding the file in Keras's own format (``--data-dir``
or ``SWEEPS_DATA_DIR``); Keras's loader (its cache, or a download for users online); a
generated sample of the same shape, only when neither is available, announced loudly and
recorded as ``data.source=generated`` on every run. Encoded arrays are cached under
``mlruns/cache`` keyed by the source's fingerprint and the settings that shape the encoding.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from pipelines._files import DataError, read_npz, read_pickle  # noqa: F401  re-exported: pipelines import _data only

log = logging.getLogger(__name__)

GENERATED_WARNING = (
    "WARNING: no {filename} in a --data-dir or Keras's cache and no download possible: "
    "using a GENERATED sample shaped like {task}. Results say nothing about the real task; "
    "every run is tagged data.source=generated."
)

# Bumped when an encoding changes, so old cache files are not mistaken for new ones.
CACHE_VERSION = 1


@dataclass(frozen=True)
class DataSource:
    """Which data a dataset was made from.

    Attributes:
        kind: ``data-dir``, ``keras`` or ``generated``.
        location: the file it was read from (or a description of the generator).
        fingerprint: sha256 over the source bytes and the encoding settings (16 hex digits).
    """

    kind: str
    location: str
    fingerprint: str


@dataclass
class Dataset:
    """Arrays ready for ``model.fit``: train / validation / test, plus provenance.

    ``x_*`` may be dense arrays or ``scipy.sparse`` CSR matrices (Keras feeds those as
    sparse tensors). ``notes`` are things the user should read, e.g. a changed split.
    """

    x_train: Any
    y_train: Any
    x_val: Any
    y_val: Any
    x_test: Any
    y_test: Any
    source: DataSource
    notes: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataOptions:
    """Where to look for data files and where to cache encodings (both optional)."""

    data_dir: Path | None = None
    cache_dir: Path | None = None


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
    raw: RawSource,
    options: DataOptions,
    settings: Mapping[str, Any],
    encode: Callable[[Any], dict[str, Any]],
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
    if options.data_dir is not None and (options.data_dir / raw.filename).exists():
        path = options.data_dir / raw.filename
        return _cached(raw, "data-dir", path, options, settings, encode, lambda: raw.read_file(path))
    if options.data_dir is not None:
        log.warning("no %s in %s; trying Keras's cache", raw.filename, options.data_dir)
    if raw.keras_load is not None:
        cached_file = keras_cache_dir() / (raw.keras_filename or raw.filename)
        if cached_file.exists():
            return _cached(raw, "keras", cached_file, options, settings, encode, raw.keras_load)
        try:
            loaded = raw.keras_load()
        except Exception as error:  # Keras raises a bare Exception for a failed download.
            log.info("Keras could not load %s: %s", raw.filename, error)
        else:
            source = DataSource("keras", str(cached_file), _fingerprint(cached_file, settings))
            return source, encode(loaded)
    print(GENERATED_WARNING.format(filename=raw.filename, task=raw.task), flush=True)
    return _cached(raw, "generated", None, options, settings, encode, raw.generate)


def hold_out(rows: int, wanted: int, what: str) -> tuple[int, list[str]]:
    """Rows to hold out for validation: ``wanted``, or 40% when there are fewer than twice that.

    Returns the count and a note for the user when the 40% rule applied.
    """
    if rows >= 2 * wanted:
        return wanted, []
    held_out = max(1, round(0.4 * rows))
    return held_out, [f"only {rows} {what} (< 2 x validation_samples={wanted}): holding out 40% ({held_out}) for validation"]


def split_validation(arrays: Mapping[str, Any], wanted: int, source: DataSource, what: str) -> Dataset:
    """A Dataset holding out the first ``wanted`` training rows for validation (see ``hold_out``)."""
    x_train, y_train = arrays["x_train"], arrays["y_train"]
    held_out, notes = hold_out(len(y_train), wanted, what)
    return Dataset(
        x_train=x_train[held_out:], y_train=y_train[held_out:], x_val=x_train[:held_out], y_val=y_train[:held_out],
        x_test=arrays["x_test"], y_test=arrays["y_test"], source=source, notes=notes,
        info={"train_samples": len(y_train) - held_out, "validation_samples": held_out, "test_samples": len(arrays["y_test"])},
    )


def labels_for_loss(dataset: Dataset, loss: str, classes: int) -> Dataset:
    """The dataset with one-hot labels for ``categorical_crossentropy``, integer labels otherwise.

    Datasets keep integer labels; this per-trial view costs one small array per split.
    """
    if loss != "categorical_crossentropy":
        return dataset
    eye = np.eye(classes, dtype=np.float32)
    return replace(dataset, y_train=eye[dataset.y_train], y_val=eye[dataset.y_val], y_test=eye[dataset.y_test])


def keras_cache_dir() -> Path:
    """The directory where Keras's ``get_file`` keeps downloaded datasets."""
    home = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser()
    if not os.access(home, os.W_OK) and not os.environ.get("KERAS_HOME"):
        home = Path("/tmp/.keras")
    return home / "datasets"


def _cached(
    raw: RawSource,
    kind: str,
    path: Path | None,
    options: DataOptions,
    settings: Mapping[str, Any],
    encode: Callable[[Any], dict[str, Any]],
    produce: Callable[[], Any],
) -> tuple[DataSource, dict[str, Any]]:
    fingerprint = _fingerprint(path, {**settings, "generated": raw.task} if path is None else settings)
    source = DataSource(kind, str(path) if path else f"generated sample of {raw.task}", fingerprint)
    cache_file = options.cache_dir / f"{raw.task}-{fingerprint}.npz" if options.cache_dir else None
    if cache_file is not None and cache_file.is_file():
        try:
            return source, _load_arrays(cache_file)
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            log.warning("ignoring unreadable cache file %s: %s", cache_file, error)
    arrays = encode(produce())
    if cache_file is not None:
        _save_arrays(cache_file, arrays)
    return source, arrays


def _fingerprint(path: Path | None, settings: Mapping[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps({**settings, "v": CACHE_VERSION}, sort_keys=True).encode())
    files = [] if path is None else sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def _save_arrays(path: Path, arrays: Mapping[str, Any]) -> None:
    """Write arrays (dense or CSR) to ``path`` atomically, so parallel workers never read half a file."""
    flat: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        if sp.issparse(value):
            csr = value.tocsr()
            flat.update({f"{name}.data": csr.data, f"{name}.indices": csr.indices,
                         f"{name}.indptr": csr.indptr, f"{name}.shape": np.array(csr.shape)})
        else:
            flat[name] = np.asarray(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
        np.savez(handle, **flat)
    os.replace(handle.name, path)


def _load_arrays(path: Path) -> dict[str, Any]:
    with np.load(path, allow_pickle=False) as stored:
        flat = {name: stored[name] for name in stored.files}
    arrays: dict[str, Any] = {}
    for name in flat:
        if name.endswith(".shape"):
            base = name[: -len(".shape")]
            arrays[base] = sp.csr_matrix(
                (flat[f"{base}.data"], flat[f"{base}.indices"], flat[f"{base}.indptr"]),
                shape=tuple(flat[name]),
            )
        elif "." not in name:
            arrays[name] = flat[name]
    return arrays
