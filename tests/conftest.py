"""Fixtures shared by the tests: tiny data directories, an empty working directory, PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import postgres
from tests.support import write_all_formats, write_imdb

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with a tiny file for every task, in Keras's (or the task's) format."""
    return write_all_formats(tmp_path_factory.mktemp("all_data"))


@pytest.fixture(scope="session")
def imdb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with a small generated ``imdb.npz`` (300 train / 200 test reviews)."""
    directory = tmp_path_factory.mktemp("data")
    write_imdb(directory)
    return directory


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory, as a user's project would be: ``mlruns/`` lands here."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SWEEPS_DATA_DIR", raising=False)
    return tmp_path


@pytest.fixture(scope="module")
def pg() -> Iterator[tuple[str, str]]:
    """A throwaway PostgreSQL server: ``(url_prefix, password)``."""
    if postgres.binaries() is None:
        pytest.skip("needs Debian's postgresql package (.ci/run installs it)")
    with postgres.server() as server:
        yield server
