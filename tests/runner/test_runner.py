"""The trial loop's failure policy, in process: failed trials are recorded and the sweep goes on."""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np
import pytest
import yaml

import sweeps.pipeline as sp
from sweeps.errors import ConfigError, PipelineError, SweepAborted
from sweeps.pipelines import imdb
from sweeps.runner.sweep import RunOptions, run_sweep
from sweeps.spec.loading import load_spec
from sweeps.tracking.stores import Stores
from tests.support import BASE, REPO, mlflow_runs, write_space

real_build = imdb.build_model


def flaky_build(hp, dataset):
    """layers=2 cannot be built; layers=3 trains to a NaN loss; layers=1 is fine."""
    if hp["layers"] == 2:
        raise ValueError("cannot build this combination")
    model = real_build(hp, dataset)
    if hp["layers"] == 3:
        model.compile(
            optimizer="rmsprop", loss=lambda y, p: keras.ops.log(p - 2.0), metrics=[keras.metrics.BinaryAccuracy(name="accuracy")]
        )
    return model


def sweep(workdir: Path, imdb_dir: Path, **changes):
    spec = load_spec(write_space(workdir, {**BASE, **changes}))
    stores = Stores.resolve(root=workdir / "mlruns")
    return run_sweep(spec, RunOptions(stores, sp.DataOptions(imdb_dir, stores.cache_dir)))


@pytest.mark.parametrize("engine", ["optuna", "keras_tuner"])
def test_failed_and_nan_trials_are_recorded_and_the_sweep_goes_on(
    workdir: Path, imdb_dir: Path, monkeypatch, engine: str
) -> None:
    monkeypatch.setattr(imdb, "build_model", flaky_build)
    result = sweep(workdir, imdb_dir, engine=engine, params={"layers": {"type": "categorical", "choices": [1, 2, 3]}})
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


@pytest.mark.parametrize("engine", ["optuna", "keras_tuner"])
def test_consecutive_failures_stop_the_sweep_with_the_reasons(workdir: Path, imdb_dir: Path, monkeypatch, engine: str) -> None:
    monkeypatch.setattr(imdb, "build_model", flaky_build)
    with pytest.raises(
        SweepAborted,
        match=r"2 consecutive trials failed, stopping \(max_consecutive_failures=2\): "
        r"trial 1: ValueError: cannot build.*; trial 2: loss became nan",
    ):
        sweep(
            workdir,
            imdb_dir,
            engine=engine,
            max_consecutive_failures=2,
            params={"layers": {"type": "categorical", "choices": [1, 2, 3]}},
        )
    runs = mlflow_runs(workdir, "s")
    assert all(r.info.status != "RUNNING" for r in runs)
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.info.status == "FAILED"


def test_a_pipeline_whose_first_model_cannot_be_built_stops_the_sweep_at_once(workdir: Path, imdb_dir: Path, monkeypatch) -> None:
    """A bug in the pipeline's own code is not a bad combination: the first model failing to
    build stops the sweep with the file and line, after recording that trial as FAIL."""
    monkeypatch.setattr(imdb, "build_model", flaky_build)
    with pytest.raises(
        PipelineError,
        match=r"pipeline imdb: ValueError: cannot build this combination "
        r"\(in build_model, .*\).*fix the pipeline",
    ):
        sweep(workdir, imdb_dir, params={"layers": {"type": "categorical", "choices": [2, 1, 3]}})
    runs = mlflow_runs(workdir, "s")
    assert [r.info.status for r in runs] == ["FAILED", "FAILED"]  # the trial and the parent
    (trial,) = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert trial.data.tags["state"] == "FAIL" and "cannot build" in trial.data.tags["error"]


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


@pytest.mark.parametrize("fuse_trials", [1, 3], ids=["one at a time", "judged in order"])
def test_pruned_and_early_stopped_trials_record_the_epochs_they_trained(
    workdir: Path, imdb_dir: Path, monkeypatch, fuse_trials: int
) -> None:
    """Trial 1 is pruned after its second epoch (the engine's verdict, forced here: as it trains,
    or as its fused set is judged in order); every trial stops one epoch after its best. Each
    run records its epochs; the parent adds them up."""
    from sweeps.engines.optuna import OptunaEngine

    live, in_order = OptunaEngine.should_prune, OptunaEngine.pruned_in_order
    monkeypatch.setattr(
        OptunaEngine,
        "should_prune",
        lambda self, proposal, epoch, value: live(self, proposal, epoch, value) or (proposal.number, epoch) == (1, 2),
    )
    monkeypatch.setattr(
        OptunaEngine,
        "pruned_in_order",
        lambda self, proposal, values, before: 2 if proposal.number == 1 else in_order(self, proposal, values, before),
    )
    result = sweep(
        workdir,
        imdb_dir,
        fuse_trials=fuse_trials,
        fixed={"epochs": 6, "early_stopping_patience": 1},
        pruner={"type": "median"},
        params={"layers": {"type": "categorical", "choices": [1, 2, 3]}},
    )
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")
    runs = mlflow_runs(workdir, "s")
    trials = {int(r.data.tags["trial"]): r for r in runs if "mlflow.parentRunId" in r.data.tags}
    records = {r.number: r for r in result.records}
    assert records[1].state == "PRUNED" and trials[1].data.metrics["epochs_trained"] == 2
    assert "test_accuracy" not in trials[1].data.metrics  # a half-trained model is not tested
    for number, run in trials.items():
        epochs = len(client.get_metric_history(run.info.run_id, "val_accuracy"))
        assert run.data.metrics["epochs_trained"] == records[number].attrs["epochs_trained"] == epochs
        assert records[number].attrs["epochs_budget"] == 6
        if records[number].state == "COMPLETE":
            assert "test_accuracy" in run.data.metrics
            assert epochs == 6 or epochs == run.data.metrics["best_epoch"] + 1  # patience 1
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags).data.metrics
    trained = sum(run.data.metrics["epochs_trained"] for run in trials.values())
    assert parent["epochs_trained_total"] == trained and parent["epochs_budget_total"] == 18
    assert parent["epochs_saved"] == 18 - trained >= 4


def test_kfold_trial_has_k_nested_fold_runs_and_mean_std(workdir: Path, data_dir: Path) -> None:
    from mlflow import MlflowClient

    spec = load_spec(REPO / "search_spaces" / "boston_kfold.yaml", {"epochs": 3}, trials=1)
    stores = Stores.resolve(root=workdir / "mlruns")
    result = run_sweep(spec, RunOptions(stores, sp.DataOptions(data_dir, stores.cache_dir)))
    (record,) = result.records
    assert record.state == "COMPLETE"
    runs = mlflow_runs(workdir, "boston_kfold")
    (trial_run,) = [r for r in runs if r.data.tags.get("sweeps.role") == "trial"]
    assert trial_run.info.run_name == "units=16 layers=1"  # the grid's first point
    folds = sorted(
        (r for r in runs if r.data.tags.get("mlflow.parentRunId") == trial_run.info.run_id),
        key=lambda r: int(r.data.tags["fold"]),
    )
    assert [r.info.run_name for r in folds] == [f"units=16 layers=1 · fold {k}/4" for k in range(1, 5)]
    assert {r.data.tags["sweeps.role"] for r in folds} == {"fold"}
    client = MlflowClient(stores.tracking_uri)
    for fold in folds:
        assert fold.info.status == "FINISHED"
        assert [m.step for m in client.get_metric_history(fold.info.run_id, "val_mae")] == [1, 2, 3]
    scores = np.array([fold.data.metrics["best_val_mae"] for fold in folds])
    metrics = trial_run.data.metrics
    assert metrics["val_mae_mean"] == pytest.approx(scores.mean()) == pytest.approx(record.value)
    assert metrics["val_mae_std"] == pytest.approx(scores.std(ddof=1))
    averaged = client.get_metric_history(trial_run.info.run_id, "val_mae")  # the tutorial's average curve
    assert [m.step for m in averaged] == [1, 2, 3]
    assert "test_mae" in metrics and record.attrs["val_mae_mean"] == pytest.approx(scores.mean())


def test_repeats_run_each_configuration_with_several_seeds(workdir: Path, imdb_dir: Path) -> None:
    result = sweep(workdir, imdb_dir, repeats=3, fixed={"epochs": 2}, params={"layers": {"type": "categorical", "choices": [1]}})
    (record,) = result.records
    runs = mlflow_runs(workdir, "s")
    (trial_run,) = [r for r in runs if r.data.tags.get("sweeps.role") == "trial"]
    replicas = sorted(
        (r for r in runs if r.data.tags.get("mlflow.parentRunId") == trial_run.info.run_id),
        key=lambda r: int(r.data.tags["repeat"]),
    )
    assert [r.data.tags["seed"] for r in replicas] == ["0", "1", "2"]  # one seed each
    assert [r.info.run_name for r in replicas] == ["layers=1 · repeat 1/3", "layers=1 · repeat 2/3", "layers=1 · repeat 3/3"]
    values = np.array([r.data.metrics["best_val_accuracy"] for r in replicas])
    assert record.value == pytest.approx(values.mean())
    assert trial_run.data.metrics["val_accuracy_std"] == pytest.approx(values.std(ddof=1))
    assert trial_run.data.metrics["epochs_trained"] == 6


def test_a_kfold_trial_clearly_worse_after_two_folds_is_pruned_there(workdir: Path, data_dir: Path) -> None:
    """Optuna's Wilcoxon pruner judges a trial fold by fold against the best trial's same folds."""
    document = yaml.safe_load((REPO / "search_spaces" / "boston_kfold.yaml").read_text())
    document |= {
        "name": "by_fold",
        "trials": 2,
        "fixed": {**document["fixed"], "epochs": 3, "units": 16, "layers": 1},
        "params": {"learning_rate": {"type": "categorical", "choices": [0.01, 1e-9]}},  # the second barely moves
        "pruner": {"type": "wilcoxon", "p_threshold": 0.3},
    }
    spec = load_spec(write_space(workdir, document, "by_fold"))
    stores = Stores.resolve(root=workdir / "mlruns")
    result = run_sweep(spec, RunOptions(stores, sp.DataOptions(data_dir, stores.cache_dir)))
    assert [r.state for r in result.records] == ["COMPLETE", "PRUNED"]
    runs = mlflow_runs(workdir, "by_fold")
    trials = {int(r.data.tags["trial"]): r for r in runs if r.data.tags.get("sweeps.role") == "trial"}
    folds = {
        number: sorted(int(r.data.tags["fold"]) for r in runs if r.data.tags.get("mlflow.parentRunId") == trial.info.run_id)
        for number, trial in trials.items()
    }
    assert folds == {0: [0, 1, 2, 3], 1: [0, 1]}  # stopped after its second fold: two fewer fits, and no refit
    assert trials[1].data.tags["state"] == "PRUNED" and trials[1].info.status == "FINISHED"
    assert "test_mae" not in trials[1].data.metrics and "test_mae" in trials[0].data.metrics
    assert all(r.info.status == "FINISHED" for r in runs)


@pytest.mark.parametrize(
    ("pruner", "several", "says"),
    [
        ({"type": "median"}, {"folds": 4}, "cannot be pruned by epoch (median); use type wilcoxon"),
        ({"type": "wilcoxon"}, {}, "wilcoxon judges a trial fit by fit, so it needs folds or repeats"),
        ({"type": "wilcoxon"}, {"folds": 4}, "the smallest p-value is 0.125, not below p_threshold 0.1"),
        ({"type": "wilcoxon", "n_startup_steps": 5}, {"repeats": 4}, "it starts judging after 5 fits"),
        ({"type": "wilcoxon", "p_threshold": 2}, {"folds": 4}, "is a p-value, at most 1"),
    ],
)
def test_a_pruner_that_cannot_judge_the_trials_is_refused(workdir: Path, pruner: dict, several: dict, says: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(says)):
        load_spec(write_space(workdir, {**BASE, **several, "sampler": {"type": "tpe"}, "pruner": pruner}))


def test_a_ctrl_c_swallowed_after_the_last_epoch_stops_the_trial_not_the_next_one(
    workdir: Path, imdb_dir: Path, monkeypatch
) -> None:
    """A Ctrl-C raised in a finalizer as a trial is recorded (its epochs done) is dropped by
    Python; the trial must still end as interrupted, not COMPLETE with the worker going on."""
    import signal

    from sweeps.errors import Interrupted
    from sweeps.runner import trial
    from sweeps.runner.signals import install_interrupt_handlers, interrupt_heard

    def swallowing(*args, **kwargs) -> None:
        try:
            signal.raise_signal(signal.SIGINT)
        except KeyboardInterrupt:  # as Python does with what a finalizer raised
            pass

    monkeypatch.setattr(trial.plots, "log_learning_curves", swallowing)
    before = signal.signal(signal.SIGINT, signal.default_int_handler), signal.getsignal(signal.SIGTERM)
    install_interrupt_handlers()
    try:
        with pytest.raises(Interrupted):
            sweep(workdir, imdb_dir)
    finally:
        interrupt_heard()
        signal.signal(signal.SIGINT, before[0])
        signal.signal(signal.SIGTERM, before[1])
    runs = mlflow_runs(workdir, "s")
    assert {r.info.status for r in runs} == {"KILLED"}
    assert {r.data.tags.get("state") for r in runs if "mlflow.parentRunId" in r.data.tags} == {"FAIL"}
