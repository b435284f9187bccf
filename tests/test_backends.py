"""Every backend: the same sweep file gives the same records and reports, fused as alone.

This process's keras runs on one backend (``KERAS_BACKEND``, else JAX);
the tests of fused fits and feeds run again in a process of their own on the other one.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

from sweeps.tracking.records import ROLE
from tests.support import BASE, REPO, mlflow_runs, run_sweeps, write_space

OTHER = "tensorflow" if keras.backend.backend() == "jax" else "jax"
BACKEND_TESTS = ("tests/training/test_fused.py", "tests/training/test_feed.py")  # what differs between backends
SWEEP = {**BASE, "repeats": 2, "trials": 2, "params": {"activation": {"type": "categorical", "choices": ["relu", "tanh"]}}}


def test_fused_fits_and_feeds_keep_their_promises_on_the_other_backend() -> None:
    """The tests of fused fits and feeds on the backend this process is not on: fused equal to
    alone, the feeds' batches."""
    env = {**os.environ, "KERAS_BACKEND": OTHER, "PYTHONPATH": str(REPO)}
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *BACKEND_TESTS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert " passed" in ran.stdout.splitlines()[-1]


def records(workdir: Path, backend: str, imdb_dir: Path) -> tuple[list, str]:
    space = write_space(workdir, {**SWEEP, "name": f"on_{backend}"}, f"on_{backend}")
    ran = run_sweeps(str(space), "--backend", backend, "--data-dir", str(imdb_dir), "--epochs", "2", cwd=workdir)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert f"backend {backend} (--backend) | device cpu" in ran.stderr
    report = run_sweeps("report", f"on_{backend}", "--spaces", str(workdir), cwd=workdir)
    assert report.returncode == 0, report.stderr
    return mlflow_runs(workdir, f"on_{backend}"), report.stdout


def shape(runs: list) -> list[tuple]:
    """What a sweep recorded, without the numbers: each run's role, params, metrics and tag names."""
    ignored = {"mlflow.runName", "sweep", "study", "worker.pid", "worker.command", "mlflow.note.content"}
    return sorted(
        (
            run.data.tags.get(ROLE, ""),
            tuple(sorted(run.data.params)),
            tuple(sorted(run.data.metrics)),
            tuple(sorted(set(run.data.tags) - ignored)),
        )
        for run in runs
    )


def test_the_same_sweep_file_records_the_same_things_on_jax_and_tensorflow(workdir: Path, imdb_dir: Path) -> None:
    jax_runs, jax_report = records(workdir, "jax", imdb_dir)
    tf_runs, tf_report = records(workdir, "tensorflow", imdb_dir)
    assert shape(jax_runs) == shape(tf_runs)
    assert {run.data.tags["backend"] for run in jax_runs} == {"jax"}
    assert {run.data.tags["backend"] for run in tf_runs} == {"tensorflow"}
    for report in (jax_report, tf_report):  # the same table and verdicts, on numbers of each backend's own
        assert "activation=tanh vs relu" in report or "activation=relu vs tanh" in report


def test_the_built_in_default_is_said_in_the_header(workdir: Path, imdb_dir: Path) -> None:
    space = write_space(workdir, {**BASE, "trials": 1})
    ran = run_sweeps(str(space), "--data-dir", str(imdb_dir), "--epochs", "1", cwd=workdir, KERAS_BACKEND="")
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "backend jax (pipeline imdb's default) | device cpu" in ran.stderr


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is an extra: pip install 'keras-sweeps[torch]'")
def test_a_sweep_trains_on_pytorch_where_it_is_installed(workdir: Path, imdb_dir: Path) -> None:
    space = write_space(workdir, {**SWEEP, "name": "on_torch"}, "on_torch")
    ran = run_sweeps(str(space), "--backend", "torch", "--data-dir", str(imdb_dir), "--epochs", "1", cwd=workdir)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "fused fits need Keras's JAX or TensorFlow backend, not torch" in ran.stderr
    runs = mlflow_runs(workdir, "on_torch")
    assert {run.data.tags["backend"] for run in runs} == {"torch"} and len(runs) == 1 + 2 + 4
