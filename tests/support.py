"""Helpers the tests share: tiny data files in Keras's own formats, a base search space,
running the real command, reading what it recorded. Fixtures are in ``conftest.py``."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]

#: A small valid search space on the IMDB pipeline, for tests to vary.
BASE: dict[str, Any] = {
    "name": "s",
    "description": "a test sweep",
    "pipeline": "imdb",
    "sampler": {"type": "grid", "seed": 1},
    "trials": 3,
    "objective": {"metric": "val_accuracy", "direction": "maximize"},
    "fixed": {"units": 16, "epochs": 2},
    "params": {"layers": {"type": "categorical", "choices": [1, 2, 3]}},
}


#: A 12-point grid on tiny IMDB data, for tests of many workers on one study.
GRID = {
    "name": "g12",
    "description": "a 12-point grid for worker tests",
    "pipeline": "imdb",
    "sampler": {"type": "grid"},
    "trials": 12,
    "objective": {"metric": "val_accuracy"},
    "fixed": {"epochs": 2, "batch_size": 64},
    "params": {
        "layers": {"type": "categorical", "choices": [1, 2, 3]},
        "units": {"type": "categorical", "choices": [4, 8, 16, 32]},
    },
}


def write_grid(directory: Path, **changes: Any) -> Path:
    """``directory`` holding ``g12.yaml``: ``GRID`` with ``changes``."""
    directory.mkdir(parents=True, exist_ok=True)
    write_space(directory, {**GRID, **changes}, name=str(changes.get("name", "g12")))
    return directory


def write_space(directory: Path, document: Any, name: str = "s") -> Path:
    """Write a search-space file ``NAME.yaml`` (a dict as YAML, a string as it is)."""
    path = directory / f"{name}.yaml"
    path.write_text(document if isinstance(document, str) else yaml.safe_dump(document, sort_keys=False))
    return path


def write_imdb(directory: Path, train: int = 300, test: int = 200, seed: int = 0) -> Path:
    """Write an ``imdb.npz`` exactly as Keras ships it: object arrays of Python int lists."""
    from sweeps.pipelines.imdb import generate_contents, to_object_array

    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "imdb.npz"
    contents = generate_contents(train, test, seed)
    np.savez(path, **{key: to_object_array(value) if key.startswith("x_") else value for key, value in contents.items()})
    return path


def tiny_imdb_workspace(prefix: str, space: dict[str, Any]) -> Path:
    """A new directory holding tiny IMDB-format data (``data/``) and the sweep file ``space``
    (``spaces/<its name>.yaml``): the benchmarks' small fixed sweeps."""
    import tempfile

    work = Path(tempfile.mkdtemp(prefix=prefix))
    write_imdb(work / "data", train=300, test=200)
    (work / "spaces").mkdir()
    write_space(work / "spaces", space, name=space["name"])
    return work


def write_all_formats(directory: Path) -> Path:
    """Tiny files of every task, each in the exact format its loader reads."""
    import pickle

    from sweeps.pipelines import boston_housing, cifar10, mnist, reuters, sequence_trend, text_sentiment
    from sweeps.pipelines.imdb import to_object_array

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


@dataclass(frozen=True)
class Ran:
    """What a command run in this process (the ``sweeps_here`` fixture) returned and wrote,
    named as ``subprocess.CompletedProcess`` names them."""

    returncode: int
    stdout: str
    stderr: str


def run_sweeps(*args: str, cwd: Path, timeout: float = 300, **env_vars: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sweeps ARGS`` in a subprocess, as a user would (plus ``env_vars``)."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SWEEPS_DATA_DIR")}
    env.update(PYTHONPATH=str(REPO), **env_vars)
    return subprocess.run(
        [sys.executable, "-m", "sweeps", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def start_sweeps(*args: str, cwd: Path, merged: bool = False, **env_vars: str) -> subprocess.Popen[str]:
    """Start ``python -m sweeps ARGS`` as a process of its own (plus ``env_vars``), its output
    piped (``merged``: stderr into stdout), SIGINT at its default action: a test may send it Ctrl-C
    even when the suite runs as a background job, which ignores SIGINT."""
    from sweeps.runner.signals import interruptible_children

    with interruptible_children():
        return subprocess.Popen(
            [sys.executable, "-m", "sweeps", *args],
            cwd=cwd,
            env={**os.environ, "PYTHONPATH": str(REPO), **env_vars},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if merged else subprocess.PIPE,
            text=True,
        )


def mlflow_runs(workdir: Path, experiment: str) -> list:
    """Every run of ``experiment`` in the default store under ``workdir``."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []
