"""The trial loop's failure policy, in process: failed trials are recorded and the sweep goes on."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

from pipelines import _data, imdb
from sweeps.errors import SweepAborted
from sweeps.runner import RunOptions, run_sweep
from sweeps.spec import load_spec
from sweeps.stores import Stores
from tests.conftest import mlflow_runs
from tests.test_spec import BASE, write

real_build = imdb.build_model


def flaky_build(hp, dataset):
    """layers=2 cannot be built; layers=3 trains to a NaN loss; layers=1 is fine."""
    if hp["layers"] == 2:
        raise ValueError("cannot build this combination")
    model = real_build(hp, dataset)
    if hp["layers"] == 3:
        model.compile(optimizer="rmsprop", loss=lambda y, p: keras.ops.log(p - 2.0),
                      metrics=[keras.metrics.BinaryAccuracy(name="accuracy")])
    return model


def sweep(workdir: Path, imdb_dir: Path, **changes):
    spec = load_spec(write(workdir, {**BASE, **changes}))
    stores = Stores.resolve(root=workdir / "mlruns")
    return run_sweep(spec, RunOptions(stores, _data.DataOptions(imdb_dir, stores.cache_dir)))


def test_failed_and_nan_trials_are_recorded_and_the_sweep_goes_on(workdir: Path, imdb_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(imdb, "build_model", flaky_build)
    result = sweep(workdir, imdb_dir, params={"layers": {"type": "categorical", "choices": [2, 3, 1]}})
    states = {r.params["layers"]: r.state for r in result.records}
    assert states == {2: "FAIL", 3: "FAIL", 1: "COMPLETE"}
    errors = {r.params["layers"]: r.attrs.get("error", "") for r in result.records}
    assert "ValueError: cannot build this combination" in errors[2]
    assert "loss became nan at epoch 1" in errors[3]
    children = [r for r in mlflow_runs(workdir, "s") if "mlflow.parentRunId" in r.data.tags]
    by_layers = {r.data.params["layers"]: r for r in children}
    assert by_layers["2"].info.status == "FAILED" and by_layers["2"].data.tags["state"] == "FAIL"
    assert "cannot build" in by_layers["2"].data.tags["error"]
    assert by_layers["1"].info.status == "FINISHED" and by_layers["1"].data.tags["state"] == "COMPLETE"


def test_consecutive_failures_stop_the_sweep_with_the_reasons(workdir: Path, imdb_dir: Path, monkeypatch) -> None:
    monkeypatch.setattr(imdb, "build_model", flaky_build)
    with pytest.raises(SweepAborted, match=r"2 consecutive trials failed, stopping \(max_consecutive_failures=2\): "
                                           r"trial 0: ValueError: cannot build.*; trial 1: loss became nan"):
        sweep(workdir, imdb_dir, max_consecutive_failures=2,
              params={"layers": {"type": "categorical", "choices": [2, 3, 1]}})
    runs = mlflow_runs(workdir, "s")
    assert all(r.info.status != "RUNNING" for r in runs)
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.info.status == "FAILED"


def test_objective_is_the_best_epoch_and_test_uses_its_weights(workdir: Path, imdb_dir: Path) -> None:
    result = sweep(workdir, imdb_dir, fixed={"epochs": 4}, params={"layers": {"type": "categorical", "choices": [1]}})
    (record,) = result.records
    child = next(r for r in mlflow_runs(workdir, "s") if "mlflow.parentRunId" in r.data.tags)
    from mlflow import MlflowClient

    history = MlflowClient(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}").get_metric_history(child.info.run_id, "val_accuracy")
    assert [m.step for m in history] == [1, 2, 3, 4]
    best = max(history, key=lambda m: (m.value, -m.step))
    assert record.value == pytest.approx(best.value)
    assert record.attrs["best_epoch"] == best.step == child.data.metrics["best_epoch"]
