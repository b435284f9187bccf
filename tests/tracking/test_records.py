"""What a sweep leaves in MLflow: the dashboard on the parent, numbers not curves for final
values, a small footprint, and the best trial's model that predicts what it was measured at."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from sweeps.data.sources import DataOptions
from sweeps.pipelines import imdb
from sweeps.runner.sweep import RunOptions, run_sweep
from sweeps.spec.loading import load_spec
from sweeps.tracking import query
from sweeps.tracking.stores import Stores
from tests.support import REPO


@pytest.fixture(scope="module")
def depth(tmp_path_factory: pytest.TempPathFactory, imdb_dir: Path) -> Stores:
    """imdb_depth on tiny data: three depths, two epochs each, one fit each (its records whole)."""
    stores = Stores.resolve(root=tmp_path_factory.mktemp("records") / "mlruns")
    spec = load_spec(REPO / "search_spaces" / "imdb_depth.yaml", {"epochs": 2, "validation_samples": 100}, repeats=1)
    run_sweep(spec, RunOptions(stores, DataOptions(imdb_dir, stores.cache_dir)))
    return stores


def test_the_parent_run_is_the_dashboard(depth: Stores) -> None:
    client = MlflowClient(depth.tracking_uri)
    experiment = client.get_experiment_by_name("imdb_depth")
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert "params.`layers`" in experiment.tags["mlflow.sharedViewState.sweeps"]
    (parent,) = client.search_runs([experiment.experiment_id], "tags.`sweeps.role` = 'study'")
    note = parent.data.tags["mlflow.note.content"]
    assert note.startswith("### Does depth matter?") and "| layers | 1 | 1 | 1 |" in note and "layers=1 vs " in note
    assert "get-artifact?path=plots/objective_layers.png" in note
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    assert plots == {"plots/objective_layers.png", "plots/curves_layers.png"}  # one param on a grid: no importances, no history
    best = query.runs("imdb_depth", depth.tracking_uri).sort_values("value").iloc[-1]
    assert parent.data.params["layers"] == str(best["params.layers"])  # the best configuration, comparable across parents
    assert parent.data.metrics["best_val_accuracy"] == best["value"]


def test_final_values_are_numbers_at_step_0_and_curves_run_from_epoch_1(depth: Stores) -> None:
    client = MlflowClient(depth.tracking_uri)
    experiment = client.get_experiment_by_name("imdb_depth")
    trial = client.search_runs([experiment.experiment_id], "tags.`sweeps.role` = 'trial'")[0]
    assert [m.step for m in client.get_metric_history(trial.info.run_id, "val_accuracy")] == [1, 2]
    for final in ("test_accuracy", "best_val_accuracy", "best_epoch", "epochs_trained"):
        assert [m.step for m in client.get_metric_history(trial.info.run_id, final)] == [0]
    value = trial.data.metrics["best_val_accuracy"]
    assert np.float32(value) == np.float32(value) and len(repr(value)) <= 8  # 0.53, not 0.5299999713897705


def test_a_sweeps_records_stay_small(depth: Stores) -> None:
    experiment = MlflowClient(depth.tracking_uri).get_experiment_by_name("imdb_depth")
    folder = depth.cache_dir.parent / experiment.experiment_id
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert total < 2_000_000, f"{total} bytes of artifacts"
    assert not list(folder.rglob("*.html"))


def test_the_best_trial_keeps_its_model_and_it_predicts_what_was_measured(depth: Stores, imdb_dir: Path) -> None:
    client = MlflowClient(depth.tracking_uri)
    experiment = client.get_experiment_by_name("imdb_depth")
    models = client.search_logged_models([experiment.experiment_id])
    trials = query.runs("imdb_depth", depth.tracking_uri)
    best = trials.loc[trials["value"].idxmax()]
    assert [m.source_run_id for m in models] == [best["run_id"]]  # the others keep none
    model = query.best_model("imdb_depth", depth.tracking_uri)
    hp = {**{k: d.default for k, d in imdb.HYPERPARAMETERS.items()}, "validation_samples": 100}
    dataset = imdb.load_data(hp, DataOptions(imdb_dir))
    predicted = model.predict(dataset.x_test, verbose=0).ravel() > 0.5
    assert np.mean(predicted == dataset.y_test) == pytest.approx(best["metrics.test_accuracy"], abs=1e-6)


def test_the_notebook_api_is_quiet(depth: Stores) -> None:
    # A fresh interpreter, as a notebook's kernel is: TensorFlow's native start-up lines and
    # MLflow's download bar would go to its stderr.
    script = (
        "import sys\n"
        "from sweeps import query\n"
        f"uri = {depth.tracking_uri!r}\n"
        "for read in (query.runs, query.curves, query.samples):\n"
        "    assert len(read('imdb_depth', uri))\n"
        "print(type(query.best_model('imdb_depth', uri)).__name__)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "MLFLOW_"))}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env={**env, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0 and done.stdout.strip() == "Functional", done.stderr
    assert done.stderr == ""
