"""Fixtures shared by the tests: tiny data directories, an empty working directory, PostgreSQL,
the command run in this process."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import postgres
from tests.support import Ran, write_all_formats, write_imdb

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# The backend this process's keras starts on, and the one its commands choose (before keras is
# first imported): JAX unless the environment says otherwise. The tests of
# fused fits and feeds also run on the other backend (tests/test_backends.py).
os.environ.setdefault("KERAS_BACKEND", "jax")
# Tests train the same small models again and again, in this process and in the commands they
# start: JAX compiles each program once for the whole suite and reads it back after (the same
# program gives the same numbers). JAX keeps by default only what took a second to compile.
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(Path(tempfile.gettempdir()) / f"sweeps-tests-xla-{os.getuid()}"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")


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


@pytest.fixture
def sweeps_here(monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """``run_sweeps`` without the subprocess: ``python -m sweeps ARGS`` as ``sweeps.cli.main`` in
    this process (its TensorFlow already started), in ``cwd``, with the same environment and
    ``sys.argv``; what it wrote to the file descriptors 1 and 2 comes back as a subprocess's output
    would. For tests of output and records; a test of signals, of an exit by a signal, of workers
    or of the installed command starts the real one (``run_sweeps``)."""
    from sweeps.cli import main

    def run(*args: str, cwd: Path, **env_vars: str) -> Ran:
        with monkeypatch.context() as patched:
            patched.chdir(cwd)
            patched.setattr(sys, "argv", ["sweeps", *args])  # what the records say the command was
            for name in ("MLFLOW_TRACKING_URI", "SWEEPS_DATA_DIR"):
                patched.delenv(name, raising=False)
            for name, value in env_vars.items():
                patched.setenv(name, value)
            capfd.readouterr()  # (what earlier steps of the test wrote is not this command's)
            try:
                code = main(list(args))
            except SystemExit as stop:  # argparse's usage errors, --help
                code = stop.code if isinstance(stop.code, int) else 1
            out, err = capfd.readouterr()
        return Ran(code, out, err)

    return run
