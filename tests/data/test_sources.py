"""Where a task's data comes from: the data directory alone when one is named, else Keras's copy,
else a generated sample said loudly; and the encoded arrays cached under the source's fingerprint."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from sweeps.data.sources import DataOptions, RawSource, existing, keras_cache_dir, load
from sweeps.errors import DataError


def raw(**changes) -> RawSource:
    """A task ``tiny`` whose file holds one number, its Keras loader absent, its sample [7]."""
    parts = {
        "task": "tiny",
        "filename": "tiny.txt",
        "read_file": lambda path: [int(path.read_text())],
        "keras_load": None,
        "generate": lambda: [7],
    }
    return RawSource(**{**parts, **changes})


def encode(values: list[int]) -> dict:
    return {"x": np.array(values)}


def test_a_data_directory_is_read_and_its_encoding_cached(tmp_path: Path, capsys) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "tiny.txt").write_text("3")
    options = DataOptions(tmp_path / "data", tmp_path / "cache")
    source, arrays = load(raw(), options, {"v": 1}, encode)
    assert (source.kind, source.location, source.task) == ("data-dir", str(tmp_path / "data" / "tiny.txt"), "tiny")
    assert list(arrays["x"]) == [3] and capsys.readouterr().err == ""
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [f"tiny-{source.fingerprint}.npz"]
    again, cached = load(raw(read_file=lambda path: pytest.fail("read again")), options, {"v": 1}, encode)
    assert again == source and list(cached["x"]) == [3]


def test_a_named_data_directory_without_the_file_is_an_error_not_a_sample(tmp_path: Path) -> None:
    options = DataOptions(tmp_path, named_by="SWEEPS_DATA_DIR=")
    with pytest.raises(DataError, match=rf"^SWEEPS_DATA_DIR= {tmp_path}: no tiny\.txt there; put tiny\.txt in it, or leave"):
        load(raw(), options, {}, encode)
    with pytest.raises(DataError, match=r"no tiny\.txt there; put Keras's tiny\.txt in it, or leave .* \(Keras's own copy, else"):
        load(raw(keras_load=lambda: [1]), options, {}, encode)


def test_without_data_keras_or_a_download_the_sample_is_announced(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    source, arrays = load(raw(), DataOptions(), {}, encode)
    assert source.kind == "generated" and source.describe() == "GENERATED sample of tiny" and list(arrays["x"]) == [7]
    assert capsys.readouterr().err.strip() == (  # a task of its own: no Keras cache or download to speak of
        "WARNING: no tiny.txt given (--data-dir DIR holding it): using a GENERATED sample shaped like tiny. Results say "
        "nothing about the real task; every run is tagged data.source=generated."
    )
    asked, _ = load(raw(), DataOptions(tmp_path, generated=True), {}, encode)  # asked for, even beside a data dir
    assert asked.kind == "generated" and capsys.readouterr().err == ""


def test_kerass_own_copy_is_the_source_without_a_data_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    assert keras_cache_dir() == tmp_path / "keras" / "datasets"
    (tmp_path / "keras" / "datasets").mkdir(parents=True)
    (tmp_path / "keras" / "datasets" / "keras_tiny.npz").write_bytes(b"Keras's copy")
    source, arrays = load(raw(keras_load=lambda: [5], keras_filename="keras_tiny.npz"), DataOptions(), {}, encode)
    assert (source.kind, source.location) == ("keras", str(tmp_path / "keras" / "datasets" / "keras_tiny.npz"))
    assert list(arrays["x"]) == [5]


def test_kerass_download_messages_go_to_stderr_not_between_the_results(capsys) -> None:
    def keras_load():  # what Keras's get_file prints before its download fails
        print("Downloading data from https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz")
        raise Exception("URL fetch failure")

    raw = RawSource("imdb", "no_such_file.npz", read_file=None, keras_load=keras_load, generate=lambda: {"x": [1]})
    source, arrays = load(raw, DataOptions(), {}, lambda contents: contents)
    assert source.kind == "generated" and arrays == {"x": [1]}
    captured = capsys.readouterr()
    assert captured.out == "" and "Downloading data from" in captured.err


def test_existing_is_a_file_a_directory_or_nothing(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    assert existing(tmp_path / "file") == tmp_path / "file" and existing(tmp_path / "dir") == tmp_path / "dir"
    assert existing(tmp_path / "gone") is None and existing(tmp_path / "dangling") is None
    os.mkfifo(tmp_path / "fifo")  # reading it would wait for a writer forever
    with pytest.raises(DataError, match=rf"^{tmp_path / 'fifo'}: not a regular file; a data directory holds the data files"):
        existing(tmp_path / "fifo")
