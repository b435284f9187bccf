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
