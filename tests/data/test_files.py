"""Keras's dataset files read safely: plain data only, and every kind of damage one line naming the file."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from sweeps.data.files import read_npz, read_pickle
from sweeps.errors import DataError


def test_a_pickled_batch_of_numpy_arrays_and_plain_containers_reads(tmp_path: Path) -> None:
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 4), np.uint8), b"labels": [0, 1]}))
    batch = read_pickle(path)
    assert batch[b"labels"] == [0, 1] and batch[b"data"].shape == (2, 4)


def test_a_pickle_that_would_run_code_is_refused(tmp_path: Path) -> None:
    class Payload:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({b"data": Payload()}))
    with pytest.raises(DataError, match=rf"^{path}: not a readable pickle .*refusing to load builtins\.print"):
        read_pickle(path)


def test_a_missing_or_truncated_pickle_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=rf"^{tmp_path / 'gone'}: missing$"):
        read_pickle(tmp_path / "gone")
    path = tmp_path / "half"
    path.write_bytes(pickle.dumps({b"labels": list(range(100))})[:20])
    with pytest.raises(DataError, match=rf"^{path}: not a readable pickle \(truncated or corrupt\?\)"):
        read_pickle(path)


def test_read_npz_reads_the_keys_asked_for_and_converts_each_as_it_is_read(tmp_path: Path) -> None:
    ragged = np.empty(2, dtype=object)
    ragged[:] = [[1, 2, 3], [4]]
    path = tmp_path / "tiny.npz"
    np.savez(path, x=ragged, y=np.array([0, 1]), extra=np.zeros(3))
    seen = []
    arrays = read_npz(path, ("x", "y"), lambda key, array: seen.append(key) or len(array))
    assert arrays == {"x": 2, "y": 2} and seen == ["x", "y"]  # (extra is not read)
    plain = read_npz(path, ("x",))
    assert [list(row) for row in plain["x"]] == [[1, 2, 3], [4]]


def test_a_conversion_that_finds_the_contents_wrong_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.npz"
    np.savez(path, x=np.zeros(2))

    def strict(key: str, array: np.ndarray) -> np.ndarray:
        raise ValueError(f"{key} must hold integers")

    with pytest.raises(DataError, match=rf"^{path}: x must hold integers$"):
        read_npz(path, ("x",), strict)


def test_missing_keys_say_what_the_file_holds(tmp_path: Path) -> None:
    path = tmp_path / "tiny.npz"
    np.savez(path, x=np.zeros(2))
    with pytest.raises(DataError, match=rf"^{path}: missing key\(s\) y; a Keras tiny\.npz holds x, y \(found: x\)$"):
        read_npz(path, ("x", "y"))


def test_a_member_shorter_than_its_header_says_is_refused(tmp_path: Path) -> None:
    import zipfile

    header = tmp_path / "header.npy"
    np.save(header, np.zeros(1000))
    path = tmp_path / "tiny.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", header.read_bytes()[:-4000])  # the header says 8000 bytes; 4000 are there
    with pytest.raises(DataError, match=rf"^{path}: not a readable Keras \.npz file .*its header claims \(1000,\) values"):
        read_npz(path, ("x",))
