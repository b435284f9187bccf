"""Studies of several objectives: Optuna's multi-objective study, a metric per objective on every
trial run, and the Pareto front in the report, on the parent run and in its plot."""

from __future__ import annotations

from pathlib import Path

import optuna

import sweeps.pipeline as sp
from sweeps.reporting.study import StudyRecords
from sweeps.runner.sweep import RunOptions, run_sweep
from sweeps.spec.loading import load_spec
from sweeps.tracking import query
from sweeps.tracking.stores import Stores
from tests.support import mlflow_runs, write_space

UNITS, LAYERS = [4, 16, 64], [1, 2]


def size(units: int, layers: int) -> int:
    """Trainable parameters of Boston's Dense stack: 13 inputs, ``layers`` hidden, one output."""
    return 13 * units + units + (layers - 1) * (units * units + units) + units + 1


def two_objectives(workdir: Path, data_dir: Path, second: str, **changes: object) -> tuple:
    document = {
        "name": "size",
        "description": "val_mae against size",
        "pipeline": "boston_housing",
        "sampler": {"type": "grid"},
        "objective": [{"metric": "val_mae"}, {"metric": second}],
        "fixed": {"epochs": 3},
        "params": {"units": {"type": "categorical", "choices": UNITS}, "layers": {"type": "categorical", "choices": LAYERS}},
        **changes,
    }
    spec = load_spec(write_space(workdir, document, "size"))
    stores = Stores.resolve(root=workdir / "mlruns")
    return spec, stores, run_sweep(spec, RunOptions(stores, sp.DataOptions(data_dir, stores.cache_dir)))


def test_a_study_of_val_mae_and_params_has_a_pareto_front(workdir: Path, data_dir: Path) -> None:
    spec, stores, result = two_objectives(workdir, data_dir, "params")
    study = optuna.load_study(study_name="size", storage=stores.storage)
    assert [d.name for d in study.directions] == ["MINIMIZE", "MINIMIZE"] and study.metric_names == ["val_mae", "params"]
    sizes = {size(t.params["units"], t.params["layers"]) for t in study.trials}
    assert {int(t.values[1]) for t in study.trials} == sizes
    runs = mlflow_runs(workdir, "size")
    trials = [r for r in runs if r.data.tags.get("sweeps.role") == "trial"]
    for run in trials:  # a metric per objective
        assert run.data.metrics["params"] == size(int(run.data.params["units"]), int(run.data.params["layers"]))
        assert "best_val_mae" in run.data.metrics
    front = result.comparison.front
    assert front is not None and 1 <= len(front.on_front) <= 6
    assert int(front.on_front["params"].min()) == min(sizes)  # nothing is smaller than the smallest model
    values = front.trials.set_index("trial")[["val_mae", "params"]]
    for _, row in front.on_front.iterrows():  # no trial is better in one objective and no worse in the other
        no_worse = (values["val_mae"] <= row["val_mae"]) & (values["params"] <= row["params"])
        assert not (no_worse & ((values["val_mae"] < row["val_mae"]) | (values["params"] < row["params"]))).any()
    assert "Pareto front of val_mae, params:" in result.comparison.render()
    parent = next(r for r in runs if r.data.tags.get("sweeps.role") != "trial")
    assert parent.data.tags["pareto.trials"] == ",".join(map(str, front.on_front["trial"]))
    importance = {key for key in parent.data.metrics if key.startswith("importance.")}
    assert importance == {"importance.units", "importance.layers"}  # two swept parameters: which matters
    assert "Pareto front (" in parent.data.tags["mlflow.note.content"]
    records = StudyRecords(
        query.runs("size", stores.tracking_uri),
        query.samples("size", stores.tracking_uri),
        query.curves("size", stores.tracking_uri),
        ["units"],
    )
    assert records.report.front is not None
    from mlflow import MlflowClient

    plots = {f.path for f in MlflowClient(stores.tracking_uri).list_artifacts(parent.info.run_id, "plots")}
    assert "plots/pareto_front.png" in plots


def test_a_tpe_study_of_val_mae_and_epoch_seconds_times_each_fit_alone(workdir: Path, data_dir: Path) -> None:
    searched = {"units": {"type": "int", "low": 4, "high": 64, "log": True}, "layers": {"type": "categorical", "choices": LAYERS}}
    spec, stores, result = two_objectives(
        workdir, data_dir, "epoch_seconds", sampler={"type": "tpe", "seed": 1}, trials=4, params=searched
    )
    assert not spec.fuses
    runs = mlflow_runs(workdir, "size")
    trials = [r for r in runs if r.data.tags.get("sweeps.role") == "trial"]
    assert len(trials) == 4 and all(r.data.metrics["epoch_seconds"] > 0 for r in trials)
    assert all(r.state == "COMPLETE" for r in result.records) and result.comparison.front is not None
    from mlflow import MlflowClient

    parent = next(r for r in runs if r.data.tags.get("sweeps.role") != "trial")
    plots = {f.path for f in MlflowClient(stores.tracking_uri).list_artifacts(parent.info.run_id, "plots")}
    assert {"plots/pareto_front.png", "plots/optimization_history.png"} <= plots  # the history of the first objective
