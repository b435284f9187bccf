"""Every shipped sweep: it loads, its pipeline builds a model, and one tiny epoch runs end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from sweeps.data.sources import DataOptions
from sweeps.runner.sweep import RunOptions, run_sweep
from sweeps.spec.catalog import sweep_files
from sweeps.spec.sweep import load_spec
from sweeps.tracking.stores import Stores
from tests.support import REPO, mlflow_runs

SPACES = sweep_files(REPO / "search_spaces")


def test_the_twelve_named_sweeps_are_shipped() -> None:
    assert {p.stem for p in SPACES} >= {
        "imdb_depth",
        "imdb_width",
        "imdb_activation",
        "imdb_loss",
        "imdb_regularization",
        "imdb_further_experiments",
        "reuters_bottleneck",
        "boston_kfold",
        "mnist_dense",
        "cifar10_cnn",
        "sequence_features",
        "text_sentiment",
    }


@pytest.mark.parametrize("path", SPACES, ids=[p.stem for p in SPACES])
def test_sweep_runs_one_tiny_trial(path: Path, data_dir: Path, workdir: Path) -> None:
    spec = load_spec(path, {"epochs": 1, "batch_size": 32}, trials=1)
    stores = Stores.resolve(root=workdir / "mlruns")
    result = run_sweep(spec, RunOptions(stores, DataOptions(data_dir, stores.cache_dir)))
    (record,) = result.records
    assert record.state == "COMPLETE", record.attrs.get("error")
    assert result.dataset.source.kind == "data-dir"
    runs = mlflow_runs(workdir, spec.name)
    trial_runs = [r for r in runs if r.data.tags.get("sweeps.role") == "trial"]
    assert len(trial_runs) == 1 and trial_runs[0].info.status == "FINISHED"
    assert trial_runs[0].info.run_name == " ".join(f"{k}={v}" for k, v in record.params.items())  # what it tried
    for name, value in record.params.items():
        assert trial_runs[0].data.params[name] == str(value)
    assert f"best_{spec.objective.metric}" in trial_runs[0].data.metrics
