"""Shared fixtures: tiny data files in Keras's own formats, and running the real command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parents[1]


def write_imdb(directory: Path, train: int = 300, test: int = 200, seed: int = 0) -> Path:
    """Write an ``imdb.npz`` exactly as Keras ships it: object arrays of Python int lists."""
    from pipelines.imdb import generate_contents, to_object_array

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "imdb.npz"
    contents = generate_contents(train, test, seed)
    np.savez(path, **{key: to_object_array(value) if key.startswith("x_") else value for key, value in contents.items()})
    return path


def write_all_formats(directory: Path) -> Path:
    """Tiny files of every task, each in the exact format its loader reads (DESIGN.md §4)."""
    import pickle

    from pipelines import boston_housing, cifar10, mnist, reuters, sequence_trend, text_sentiment
    from pipelines.imdb import to_object_array

    write_imdb(directory)
    contents = reuters.generate_contents(count=250)
    np.savez(directory / "reuters.npz", x=to_object_array(contents["x"]), y=contents["y"])
    np.savez(directory / "boston_housing.npz", **boston_housing.generate_contents(count=60))
    np.savez(directory / "mnist.npz", **mnist.generate_contents(train=200, test=50))
    batches = directory / "cifar-10-batches-py"
    batches.mkdir()
    (x_train, y_train), (x_test, y_test) = cifar10.generate(train=100, test=20)
    for index in range(5):
        rows = slice(20 * index, 20 * (index + 1))
        (batches / f"data_batch_{index + 1}").write_bytes(pickle.dumps(cifar10.batch_file(x_train[rows], y_train[rows])))
    (batches / "test_batch").write_bytes(pickle.dumps(cifar10.batch_file(x_test, y_test)))
    np.savez(directory / "sequence_trend.npz", **sequence_trend.generate_contents(windows_count=200, steps=12))
    lines = [f"{rating} {text}" for rating, text in text_sentiment.generate_corpus(lines=300)]
    (directory / "text_sentiment.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return directory


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


def run_sweeps(*args: str, cwd: Path, timeout: float = 300, **env_vars: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sweeps ARGS`` in a subprocess, as a user would (plus ``env_vars``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SWEEPS_DATA_DIR")}
    env.update(PYTHONPATH=str(REPO), **env_vars)
    return subprocess.run([sys.executable, "-m", "sweeps", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def mlflow_runs(workdir: Path, experiment: str) -> list:
    """Every run of ``experiment`` in the default store under ``workdir``."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []
