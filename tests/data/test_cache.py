"""Encoded datasets on disk: keyed by what made them, written whole, read back as they were."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from sweeps.data.cache import cached, fingerprint, load_arrays, save_arrays


def test_the_fingerprint_follows_the_settings_and_the_bytes(tmp_path: Path) -> None:
    data = tmp_path / "tiny.npz"
    data.write_bytes(b"first")
    first = fingerprint(data, {"num_words": 100})
    assert len(first) == 16 and first == fingerprint(data, {"num_words": 100})
    assert fingerprint(data, {"num_words": 200}) != first
    data.write_bytes(b"other")
    assert fingerprint(data, {"num_words": 100}) != first
    assert fingerprint(None, {"num_words": 100}) != fingerprint(None, {"num_words": 200})  # a generated sample


def test_a_directorys_fingerprint_covers_each_files_name_and_bytes(tmp_path: Path) -> None:
    batches = tmp_path / "batches"
    batches.mkdir()
    (batches / "a").write_bytes(b"1")
    (batches / "b").write_bytes(b"2")
    before = fingerprint(batches, {})
    (batches / "b").rename(batches / "c")
    renamed = fingerprint(batches, {})
    assert renamed != before  # the same bytes under another name
    (batches / "c").write_bytes(b"3")
    assert fingerprint(batches, {}) not in (before, renamed)  # other bytes under that name


def test_dense_and_sparse_arrays_come_back_as_they_were_saved(tmp_path: Path) -> None:
    matrix = sp.random(20, 30, density=0.1, format="csr", dtype=np.float32, random_state=0)
    arrays = {"x_train": matrix, "y_train": np.arange(20, dtype=np.int64), "x_test": np.ones((2, 3), np.float32)}
    path = tmp_path / "cache" / "tiny-0123.npz"
    save_arrays(path, arrays)
    assert [p.name for p in path.parent.iterdir()] == ["tiny-0123.npz"]  # no temporary file left beside it
    loaded = load_arrays(path)
    assert set(loaded) == set(arrays)
    assert sp.issparse(loaded["x_train"]) and loaded["x_train"].shape == (20, 30)
    assert loaded["x_train"].dtype == np.float32 and (loaded["x_train"] != matrix).nnz == 0
    np.testing.assert_array_equal(loaded["y_train"], arrays["y_train"])
    assert loaded["x_test"].dtype == np.float32


def test_cached_encodes_once_then_reads_the_file(tmp_path: Path) -> None:
    calls = []

    def produce() -> dict:
        calls.append(1)
        return {"x": np.arange(3)}

    path = tmp_path / "tiny-abc.npz"
    first, again = cached(path, produce), cached(path, produce)
    assert len(calls) == 1 and path.is_file()
    np.testing.assert_array_equal(first["x"], again["x"])
    cached(None, produce)  # no cache directory: encoded every time, nothing written
    assert len(calls) == 2 and [p.name for p in tmp_path.iterdir()] == ["tiny-abc.npz"]


def test_an_unreadable_cache_file_is_said_in_the_log_and_encoded_again(tmp_path: Path, caplog) -> None:
    path = tmp_path / "tiny-abc.npz"
    path.write_bytes(b"PK\x03\x04 half a file")
    with caplog.at_level(logging.WARNING, logger="sweeps.data.cache"):
        arrays = cached(path, lambda: {"x": np.arange(4)})
    assert list(arrays["x"]) == [0, 1, 2, 3]
    assert f"ignoring unreadable cache file {path}" in caplog.text
    assert list(load_arrays(path)["x"]) == [0, 1, 2, 3]  # replaced by a whole one


@pytest.mark.parametrize("value", [np.array([1.5, 2.5]), np.array([[1, 2], [3, 4]], np.uint8)])
def test_a_dense_arrays_dtype_and_shape_are_kept(tmp_path: Path, value: np.ndarray) -> None:
    save_arrays(tmp_path / "a.npz", {"x": value})
    loaded = load_arrays(tmp_path / "a.npz")["x"]
    assert loaded.dtype == value.dtype and loaded.shape == value.shape
