"""MLflow records of a sweep: a parent run per invocation, a nested child run per trial.

Training code never imports mlflow: ``EpochLogger`` is a Keras callback the runner hands to
``fit``, and the runner opens and closes runs (always in ``finally``, so none is left
RUNNING). The experiment is named after the sweep; see DESIGN.md §5 for the record contract.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import keras
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from sweeps.errors import StoreError
from sweeps.stores import mask, retrying

for _name in ("mlflow", "alembic"):
    logging.getLogger(_name).setLevel(logging.WARNING)

FINISHED, FAILED, KILLED = "FINISHED", "FAILED", "KILLED"


class Tracker:
    """Writes one sweep's runs to the MLflow store at ``tracking_uri``.

    Raises:
        StoreError: the store cannot be reached or opened.
    """

    def __init__(self, tracking_uri: str, experiment: str, description: str = "") -> None:
        self.tracking_uri = tracking_uri

        def open_experiment() -> tuple[MlflowClient, str]:
            client = MlflowClient(tracking_uri)  # creates the store's tables on first use
            found = client.get_experiment_by_name(experiment)
            return client, found.experiment_id if found else client.create_experiment(
                experiment, tags={"sweep": experiment, "mlflow.note.content": description})

        try:
            self.client, self.experiment_id = retrying(open_experiment)
        except Exception as error:  # MLflow wraps store failures in several exception types
            raise StoreError(f"--tracking-uri {mask(tracking_uri)}: cannot open MLflow: {mask(str(error).splitlines()[0])}") from None

    def start_run(self, name: str, tags: Mapping[str, Any], parent_id: str | None = None) -> str:
        """Create a RUNNING run (nested under ``parent_id`` if given); return its id."""
        all_tags = {key: str(value) for key, value in tags.items()}
        if parent_id:
            all_tags[MLFLOW_PARENT_RUN_ID] = parent_id
        return self.client.create_run(self.experiment_id, run_name=name, tags=all_tags).info.run_id

    def log(self, run_id: str, params: Mapping[str, Any] = {}, metrics: Mapping[str, float] = {},
            tags: Mapping[str, Any] = {}, step: int = 0) -> None:
        """Log params, metrics (at ``step``) and tags in one request."""
        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[Metric(key, float(value), now, step) for key, value in metrics.items()],
            params=[Param(key, str(value)) for key, value in params.items()],
            tags=[RunTag(key, str(value)) for key, value in tags.items()],
        )

    def log_history(self, run_id: str, history: Mapping[str, list[float]]) -> None:
        """Log whole learning curves at once (``step`` = epoch, from 1), within MLflow's batch limit."""
        now = int(time.time() * 1000)
        metrics = [Metric(key, float(value), now, epoch) for key, values in history.items()
                   for epoch, value in enumerate(values, start=1)]
        for start in range(0, len(metrics), 1000):
            self.client.log_batch(run_id, metrics=metrics[start:start + 1000])

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self.client.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        self.client.log_figure(run_id, figure, artifact_file)

    def log_file(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path)

    def end_run(self, run_id: str, status: str) -> None:
        self.client.set_terminated(run_id, status)


class EpochLogger(keras.callbacks.Callback):
    """Logs every metric Keras reports at the end of each epoch, at ``step=epoch`` (1-based)."""

    def __init__(self, tracker: Tracker, run_id: str) -> None:
        super().__init__()
        self.tracker, self.run_id = tracker, run_id

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        if logs:
            self.tracker.log(self.run_id, metrics=dict(logs), step=epoch + 1)


@cache
def git_commit(directory: Path) -> str:
    """The commit checked out in ``directory`` (``-dirty`` if it has changes), or ``unknown``."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=10)
        if commit.returncode != 0:
            return "unknown"
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=directory,
                                capture_output=True, text=True, timeout=10)
        return commit.stdout.strip() + ("-dirty" if status.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def model_summary(model: keras.Model) -> str:
    """Keras's ``model.summary()`` as plain text."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, line_break=True: lines.append(line))
    return "\n".join(lines)

