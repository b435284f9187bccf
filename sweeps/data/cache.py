"""Encoded datasets on disk, keyed by a fingerprint of their source and settings.

Encoding is the expensive step of loading (IMDB's multi-hot matrix: seconds); a sweep's
processes and later sweeps read the cached arrays instead, written atomically so parallel
workers never read half a file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

log = logging.getLogger(__name__)

# Bumped when an encoding changes, so old cache files are not mistaken for new ones.
CACHE_VERSION = 1


def fingerprint(path: Path | None, settings: Mapping[str, Any]) -> str:
    """sha256 (16 hex digits) over the settings and the bytes of ``path`` (a file or a directory)."""
    digest = hashlib.sha256(json.dumps({**settings, "v": CACHE_VERSION}, sort_keys=True).encode())
    files = [] if path is None else sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def cached(cache_file: Path | None, produce: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The arrays stored in ``cache_file``, or ``produce()``'s, then stored there."""
    if cache_file is not None and cache_file.is_file():
        try:
            return load_arrays(cache_file)
        except (OSError, ValueError, zipfile.BadZipFile) as error:
            log.warning("ignoring unreadable cache file %s: %s", cache_file, error)
    arrays = produce()
    if cache_file is not None:
        save_arrays(cache_file, arrays)
    return arrays


def save_arrays(path: Path, arrays: Mapping[str, Any]) -> None:
    """Write arrays (dense or CSR) to ``path`` atomically."""
    flat: dict[str, np.ndarray] = {}
    for name, value in arrays.items():
        if sp.issparse(value):
            csr = value.tocsr()
            flat.update(
                {
                    f"{name}.data": csr.data,
                    f"{name}.indices": csr.indices,
                    f"{name}.indptr": csr.indptr,
                    f"{name}.shape": np.array(csr.shape),
                }
            )
        else:
            flat[name] = np.asarray(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as handle:
        np.savez(handle, **flat)
    os.replace(handle.name, path)


def load_arrays(path: Path) -> dict[str, Any]:
    """The arrays ``save_arrays`` wrote to ``path``."""
    with np.load(path, allow_pickle=False) as stored:
        flat = {name: stored[name] for name in stored.files}
    arrays: dict[str, Any] = {}
    for name in flat:
        if name.endswith(".shape"):
            base = name[: -len(".shape")]
            arrays[base] = sp.csr_matrix(
                (flat[f"{base}.data"], flat[f"{base}.indices"], flat[f"{base}.indptr"]), shape=tuple(flat[name])
            )
        elif "." not in name:
            arrays[name] = flat[name]
    return arrays
