"""Every shipped sweep: it loads, its pipeline builds a model, and one tiny epoch runs end to end."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sweeps.data.sources import DataOptions
from sweeps.runner.sweep import RunOptions, run_sweep
from sweeps.spec.catalog import sweep_files
from sweeps.spec.loading import load_spec
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


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One working directory and pair of stores for every shipped sweep (each its own experiment
    and study): MLflow builds a new store's tables in seconds, a cost paid once here, not per sweep."""
    with pytest.MonkeyPatch.context() as patched:
        root = tmp_path_factory.mktemp("shipped")
        patched.chdir(root)
        patched.delenv("MLFLOW_TRACKING_URI", raising=False)
        patched.delenv("SWEEPS_DATA_DIR", raising=False)
        yield root


@pytest.mark.parametrize("path", SPACES, ids=[p.stem for p in SPACES])
def test_sweep_runs_one_tiny_trial(path: Path, data_dir: Path, project: Path) -> None:
    spec = load_spec(path, {"epochs": 1, "batch_size": 32}, trials=1, repeats=1)  # one fit: replicates are test_fused's
    stores = Stores.resolve(root=project / "mlruns")
    result = run_sweep(spec, RunOptions(stores, DataOptions(data_dir, stores.cache_dir)))
    (record,) = result.records
    assert record.state == "COMPLETE", record.attrs.get("error")
    assert result.dataset.source.kind == "data-dir"
    runs = mlflow_runs(project, spec.name)
    trial_runs = [r for r in runs if r.data.tags.get("sweeps.role") == "trial"]
    assert len(trial_runs) == 1 and trial_runs[0].info.status == "FINISHED"
    assert trial_runs[0].info.run_name == " ".join(f"{k}={v}" for k, v in record.params.items())  # what it tried
    for name, value in record.params.items():
        assert trial_runs[0].data.params[name] == str(value)
    assert f"best_{spec.objective.metric}" in trial_runs[0].data.metrics
