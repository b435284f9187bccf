"""Keras models kept in MLflow: the best trial's, logged once at the end of a sweep.

A model is an MLflow logged model named ``model`` whose source is its trial's run, so
``mlflow.keras.load_model("runs:/<run id>/model")`` gives it back and MLflow's UI lists it in the
Models column. Models of trials that are no longer the best are deleted, so a study keeps one.
Everything goes through an explicit client: MLflow's fluent API would set the tracking URI and
experiment for the whole process (and its environment, inherited by later subprocesses).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from typing import Any

from sweeps.spec.backend import tensorflow_unstarted

MODEL_NAME = "model"


def log_model(client: Any, experiment_id: str, run_id: str, model: Any) -> None:
    """Log ``model`` (a Keras model) as the logged model of the run ``run_id``."""
    import mlflow.keras
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import Model

    logging.getLogger("mlflow.keras.save").setLevel(logging.ERROR)  # "no signature": a sparse input has none to infer
    logged = client.create_logged_model(experiment_id, name=MODEL_NAME, source_run_id=run_id)
    client.log_outputs(run_id, [LoggedModelOutput(logged.model_id, step=0)])
    identity = {"run_id": run_id, "model_uuid": logged.model_id, "model_id": logged.model_id}
    description = Model(artifact_path=logged.artifact_location, **identity)
    # Naming the requirements spares MLflow inferring them, which takes seconds.
    requirements = _requirements()
    with tempfile.TemporaryDirectory(prefix="sweeps-model-") as directory:
        local = f"{directory}/{MODEL_NAME}"
        with tensorflow_unstarted():
            mlflow.keras.save_model(model, local, mlflow_model=description, pip_requirements=requirements)
        client.log_model_artifacts(logged.model_id, local)
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)


def _requirements() -> list[str]:
    """Keras and its backend's framework, at the versions installed (without importing them)."""
    from importlib.metadata import PackageNotFoundError, version

    import keras

    backend = keras.backend.backend()
    for distribution in {"tensorflow": ("tensorflow", "tensorflow-cpu"), "jax": ("jax",), "torch": ("torch",)}[backend]:
        try:
            return [f"keras=={keras.__version__}", f"{backend}=={version(distribution)}"]
        except PackageNotFoundError:
            continue
    return [f"keras=={keras.__version__}"]


def delete_models(client: Any, experiment_id: str, run_ids: Iterable[str]) -> int:
    """Delete the models logged on the runs ``run_ids``; return how many were deleted."""
    wanted, deleted = set(run_ids), 0
    for found in client.search_logged_models([experiment_id], filter_string=f"name = '{MODEL_NAME}'"):
        if found.source_run_id in wanted:
            client.delete_logged_model(found.model_id)
            deleted += 1
    return deleted


def load_model(client: Any, run_id: str) -> Any:
    """The Keras model logged on the run ``run_id``."""
    import mlflow.keras
    from mlflow.artifacts import download_artifacts

    experiment_id = client.get_run(run_id).info.experiment_id
    found = [
        m
        for m in client.search_logged_models([experiment_id], filter_string=f"name = '{MODEL_NAME}'")
        if m.source_run_id == run_id
    ]
    if not found:
        raise LookupError(f"run {run_id} kept no model")
    with tempfile.TemporaryDirectory(prefix="sweeps-model-") as directory:
        local = download_artifacts(artifact_uri=found[0].artifact_location, dst_path=directory, tracking_uri=client.tracking_uri)
        return mlflow.keras.load_model(local)
