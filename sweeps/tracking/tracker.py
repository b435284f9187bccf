"""The one door to MLflow: every read and write of runs goes through a ``Tracker``.

Training code never imports mlflow: ``EpochLogger`` (``sweeps.tracking.callbacks``) is a Keras
callback the runner hands to ``fit``, and the runner opens and closes runs (always in
``finally``, so none is left RUNNING). Each sweep is an experiment named after it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, Run, RunTag
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from sweeps.errors import StoreError, first_line
from sweeps.runner.signals import whole
from sweeps.tracking import models
from sweeps.tracking.records import EXPERIMENT_KIND, VIEW_TAG, DatasetRecord, in_training_view
from sweeps.tracking.stores import absolute, create_sqlite_store, disk_full, mask, retrying, sqlite_path
from sweeps.tracking.templates import new_mlflow_store

for _name in ("mlflow", "alembic"):
    logging.getLogger(_name).setLevel(logging.WARNING)
_chatter = logging.getLogger("sweeps.mlflow")  # what MLflow prints: the log file's, when there is one

FINISHED, FAILED, KILLED, RUNNING = "FINISHED", "FAILED", "KILLED", "RUNNING"
PARENT_TAG = MLFLOW_PARENT_RUN_ID
_BATCH = 1000  # MLflow's limit on metrics per log_batch request


def stored(value: float) -> float:
    """A metric as it is stored. Keras reports float32 values; each is stored as the shortest
    decimal that is the same float32 (0.53, not 0.5299999713897705), so no precision is lost and
    people read what was measured. Other values are stored as they are."""
    value = float(value)
    single = np.float32(value)
    return float(str(single)) if math.isfinite(value) and float(single) == value else value


def beside_database(tracking_uri: str, experiment: str) -> str | None:
    """A sqlite store's artifacts in a folder beside the database file (not under whichever
    directory the first process ran in); other stores decide for themselves."""
    path = sqlite_path(tracking_uri)
    return str(path.parent.resolve() / experiment) if path is not None else None


class Tracker:
    """The MLflow store at ``tracking_uri``, and (when named) one sweep's experiment in it.

    Args:
        tracking_uri: the store.
        experiment: the experiment runs are written to, created if missing; ``None`` to read only.
        description: the experiment's note when it is created.
        view: the experiment's saved runs-table view (``records.runs_view``), set every time.
        artifact_location: where a new experiment's artifacts go (default: beside a sqlite
            database; a tracking server's own store; else MLflow's ``./mlruns``).

    Raises:
        StoreError: the store cannot be reached or opened.
    """

    def __init__(
        self,
        tracking_uri: str,
        experiment: str | None = None,
        description: str = "",
        view: str = "",
        artifact_location: str | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri

        path = sqlite_path(tracking_uri)
        if experiment is not None and path is not None and not path.exists():
            create_sqlite_store(path, new_mlflow_store)

        def connect() -> tuple[MlflowClient, str | None]:
            client = MlflowClient(absolute(tracking_uri))
            if experiment is None:
                return client, None
            found = client.get_experiment_by_name(experiment)
            if found is None:
                tags = {"sweep": experiment, "mlflow.note.content": description, **EXPERIMENT_KIND}
                location = artifact_location or beside_database(tracking_uri, experiment)
                tags.update({VIEW_TAG: view} if view else {})
                return client, client.create_experiment(experiment, artifact_location=location, tags=tags)
            for key, value in {**EXPERIMENT_KIND, **({VIEW_TAG: view} if view else {})}.items():
                if found.tags.get(key) != value:  # experiments made by earlier versions, or the view changed
                    client.set_experiment_tag(found.experiment_id, key, value)
            return client, found.experiment_id

        try:
            self._client, self.experiment_id = retrying(connect)
        except Exception as error:  # MLflow wraps store failures in several exception types
            problem = "the disk is full" if disk_full(error) else first_line(error, False)
            raise StoreError(f"--tracking-uri {mask(tracking_uri)}: cannot open MLflow: {mask(problem)}") from None

    @classmethod
    def for_reading(cls, tracking_uri: str) -> Tracker:
        """A tracker that only reads: a missing local store is an error, not created.

        Raises:
            StoreError: there is no store at ``tracking_uri``.
        """
        path = sqlite_path(tracking_uri)
        if path is not None and not path.exists():
            raise StoreError(f"no MLflow store at {tracking_uri}; run a sweep first, or pass --tracking-uri")
        return cls(tracking_uri)

    # Reading

    def artifact_location(self) -> str:
        """Where this experiment's artifacts go."""
        return self._client.get_experiment(self.experiment_id).artifact_location

    def experiment_id_of(self, name: str) -> str | None:
        """The id of the experiment ``name``, or ``None`` if there is none."""
        found = self._client.get_experiment_by_name(name)
        return None if found is None else found.experiment_id

    def run(self, run_id: str) -> Run:
        return self._client.get_run(run_id)

    def runs(self, experiment_id: str, filter_string: str = "", order_by: list[str] | None = None) -> list[Run]:
        """Every run of the experiment matching ``filter_string`` (all pages)."""
        found, token = [], None
        while True:
            page = self._client.search_runs([experiment_id], filter_string, max_results=1000, order_by=order_by, page_token=token)
            found.extend(page)
            token = page.token
            if not token:
                return found

    def children(self, run: Run) -> list[Run]:
        """The runs nested under ``run``."""
        return self.runs(run.info.experiment_id, f"tags.`{PARENT_TAG}` = '{run.info.run_id}'")

    def metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self._client.get_metric_history(run_id, key)

    # Writing

    @whole
    def start_run(self, name: str, tags: Mapping[str, Any], parent_id: str | None = None) -> str:
        """Create a RUNNING run (nested under ``parent_id`` if given); return its id."""
        all_tags = {key: str(value) for key, value in tags.items()}
        if parent_id:
            all_tags[PARENT_TAG] = parent_id
        return self._client.create_run(self.experiment_id, run_name=name, tags=all_tags).info.run_id

    @whole
    def log(
        self,
        run_id: str,
        params: Mapping[str, Any] = {},
        metrics: Mapping[str, float] = {},
        tags: Mapping[str, Any] = {},
        step: int = 0,
    ) -> None:
        """Log params, metrics (at ``step``) and tags in one request."""
        now = int(time.time() * 1000)
        self._client.log_batch(
            run_id,
            metrics=[Metric(key, stored(value), now, step) for key, value in metrics.items()],
            params=[Param(key, str(value)) for key, value in params.items()],
            tags=[RunTag(key, str(value)) for key, value in tags.items()],
        )

    def log_history(self, run_id: str, history: Mapping[str, list[float]]) -> None:
        """Log whole learning curves at once (``step`` = epoch, from 1), within MLflow's batch limit."""
        now = int(time.time() * 1000)
        steps = [(epoch, {key: value}, now) for key, values in history.items() for epoch, value in enumerate(values, start=1)]
        self.log_steps(run_id, steps)

    @whole
    def log_steps(self, run_id: str, steps: Sequence[tuple[int, Mapping[str, float], int]]) -> None:
        """Log the metrics of several ``(step, metrics, timestamp in ms)`` in as few requests as
        MLflow's batch limit allows."""
        metrics = [Metric(key, stored(value), at, step) for step, values, at in steps for key, value in values.items()]
        for start in range(0, len(metrics), _BATCH):
            self._client.log_batch(run_id, metrics=metrics[start : start + _BATCH])

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._client.log_text(run_id, text, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> None:
        self._client.log_figure(run_id, figure, artifact_file)

    def log_file(self, run_id: str, path: Path, artifact_path: str | None = None) -> None:
        self._client.log_artifact(run_id, str(path), artifact_path)

    @whole
    def log_dataset(self, run_id: str, dataset: DatasetRecord) -> None:
        """Record the data a run trained on as an MLflow dataset input (the UI's Datasets column)."""
        record = Dataset(dataset.name, dataset.digest, dataset.source_type, dataset.source, "", dataset.profile)
        inputs = [DatasetInput(record, [InputTag("mlflow.data.context", dataset.context)])]
        # Workers logging the same dataset at once race to create it; the loser finds it made.
        retrying(lambda: self._client.log_inputs(run_id, inputs))

    @whole
    def set_note(self, run_id: str, markdown: str) -> None:
        """The run's description, rendered as markdown on its page in the UI."""
        self._client.set_tag(run_id, "mlflow.note.content", markdown)

    @whole
    def log_model(self, run_id: str, model: Any) -> None:
        """Keep a Keras model on a run (``runs:/<run id>/model``)."""
        models.log_model(self._client, self.experiment_id, run_id, model)

    @whole
    def delete_models(self, run_ids: list[str]) -> int:
        """Delete the models kept on the runs ``run_ids``; return how many there were."""
        return models.delete_models(self._client, self.experiment_id, run_ids)

    def load_model(self, run_id: str) -> Any:
        """The Keras model kept on the run ``run_id``."""
        return models.load_model(self._client, run_id)

    @whole
    def delete_run(self, run_id: str) -> None:
        """Delete a run that holds nothing (MLflow keeps it, hidden, until its garbage collection)."""
        self._client.delete_run(run_id)

    @whole
    def end_run(self, run_id: str, status: str) -> None:
        """End the run. With a tracking server, MLflow writes "🏃 View run ... at: ..." and
        "🧪 View experiment at: ..." to stdout as it ends each run: they go to the log, with
        the rest of its chatter, not between a worker's progress lines (their links opening
        the UI's model-training view)."""
        printed = io.StringIO()
        try:
            with contextlib.redirect_stdout(printed):
                self._client.set_terminated(run_id, status)
        finally:
            for line in printed.getvalue().splitlines():
                _chatter.info(in_training_view(line))
