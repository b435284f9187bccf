"""Reading Keras's dataset files safely: ``.npz`` archives and pickled batches.

Keras stores ragged sequences as pickled numpy object arrays, and CIFAR's batches are pickles,
so a plain ``allow_pickle=True`` would let a tampered file run code. These readers unpickle
numpy arrays and plain containers only, and turn every kind of damage into one ``DataError``
that names the file.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sweeps.errors import DataError


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Rebuilds numpy object arrays and nothing else: a tampered file cannot run code."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_pickle(path: Path) -> Any:
    """Load a pickled Keras dataset file (CIFAR's batches), allowing numpy arrays only.

    Raises:
        DataError: the file is missing, truncated, or holds anything but plain data.
    """
    try:
        with open(path, "rb") as handle:
            return _NumpyOnlyUnpickler(handle, encoding="bytes").load()
    except FileNotFoundError:
        raise DataError(f"{path}: missing") from None
    except (EOFError, OSError, ValueError, pickle.UnpicklingError) as error:
        raise DataError(f"{path}: not a readable pickle (truncated or corrupt?): {error}") from None


def read_npz(path: Path, keys: tuple[str, ...], convert: Callable[[str, np.ndarray], Any] | None = None) -> dict[str, Any]:
    """Read ``keys`` from a Keras dataset ``.npz`` (ragged sequences are pickled object arrays).

    ``convert(key, array)``, if given, is applied to each array as soon as it is read, so a
    large object array can be turned into something compact before the next one is loaded.

    Raises:
        DataError: the file is not a readable npz, or lacks one of ``keys``; the message
            names the file and what is wrong.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            members = {Path(name).stem: name for name in archive.namelist()}
            missing = [key for key in keys if key not in members]
            if missing:
                raise DataError(
                    f"{path}: missing key(s) {', '.join(missing)}; a Keras {path.name} holds "
                    f"{', '.join(keys)} (found: {', '.join(sorted(members)) or 'nothing'})"
                )
            arrays = {}
            for key in keys:
                with archive.open(members[key]) as member:
                    array = _read_npy(member, archive.getinfo(members[key]).file_size)
                arrays[key] = _converted(path, key, array, convert) if convert else array
            return arrays
    except DataError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, pickle.UnpicklingError) as error:
        raise DataError(f"{path}: not a readable Keras .npz file (truncated or corrupt?): {error}") from None


def read_npz_as(
    path: Path,
    keys: tuple[str, ...],
    postprocess: Callable[[dict[str, Any]], Any],
    convert: Callable[[str, np.ndarray], Any] | None = None,
) -> Any:
    """``postprocess`` applied to ``read_npz(path, keys, convert)``: a Keras dataset file through
    Keras's own steps on it (shuffles, splits), which also check its shapes.

    Raises:
        DataError: the file is unreadable, or ``postprocess`` refuses its contents with a
            ``ValueError``; the message names the file and what is wrong.
    """
    arrays = read_npz(path, keys, convert)
    try:
        return postprocess(arrays)
    except ValueError as error:
        raise DataError(f"{path}: {error}") from None


def _converted(path: Path, key: str, array: np.ndarray, convert: Callable[[str, np.ndarray], Any]) -> Any:
    try:
        return convert(key, array)
    except ValueError as error:  # the contents, not the file, are wrong: say what
        raise DataError(f"{path}: {error}") from None


def _read_npy(member: Any, size: int) -> np.ndarray:
    """One array of an npz member of ``size`` bytes; its header is checked against that size
    first, so a header claiming a trillion values fails at once instead of allocating them."""
    major, _ = np.lib.format.read_magic(member)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, fortran, dtype = read_header(member)
    if not dtype.hasobject:
        claimed = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
        if claimed > size:
            raise ValueError(f"its header claims {shape} values of {dtype} ({claimed} bytes), but it holds {size} bytes")
        data = member.read(claimed)
        if len(data) < claimed:
            raise ValueError(f"it holds {len(data)} of the {claimed} bytes its header claims (truncated?)")
        return np.frombuffer(bytearray(data), dtype=dtype).reshape(shape, order="F" if fortran else "C")
    # An object array (ragged sequences): unpickle numpy types only.
    return _NumpyOnlyUnpickler(io.BytesIO(member.read())).load()
