"""Fused fits give what each fit would have given alone, and are recorded the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sweeps.pipeline as sp
from sweeps.runner.sweep import RunOptions, run_sweep
from sweeps.spec.loading import load_spec
from sweeps.tracking.stores import Stores
from sweeps.training import several
from sweeps.training.fit import FitRequest, Fitted
from sweeps.training.fused import why_not_fused
from tests.support import BASE, REPO, mlflow_runs, write_space

# Fused copies add in another order than one model alone where the backend vectorises them (JAX's
# vmap): a relative 1e-5 at most, per epoch (measured: 0 on TensorFlow, 3e-7 at most on JAX).
TOLERANCE = 1e-5


def trial(spec_file: Path, data_dir: Path, fuse: bool, **hp) -> tuple[Fitted, list[Fitted]]:
    """One trial of several fits, fused or one after another: the trial and each fit."""
    spec = load_spec(spec_file)
    values = {**spec.hyperparameters({}), **hp}
    request = FitRequest(spec.pipeline, spec.pipeline.load_data(values, sp.DataOptions(data_dir)), values, spec.objective)
    parts = several.plan(request, spec.folds, spec.repeats)
    fits: list[Fitted] = []
    combined = several.run(request, parts, lambda part: [], lambda part, fitted: fits.append(fitted), fuse=fuse)
    return combined, fits


def largest_difference(alone: list[Fitted], together: list[Fitted]) -> float:
    """The largest relative difference between any fit's per-epoch curves alone and fused."""
    worst = 0.0
    for one, other in zip(alone, together, strict=True):
        assert one.history.keys() == other.history.keys()
        for key, values in one.history.items():
            a, b = np.array(values), np.array(other.history[key])
            assert a.shape == b.shape, key
            worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12))))
    return worst


def assert_same(alone: tuple[Fitted, list[Fitted]], together: tuple[Fitted, list[Fitted]]) -> float:
    (trial_alone, fits_alone), (trial_fused, fits_fused) = alone, together
    worst = largest_difference(fits_alone, fits_fused)
    assert worst <= TOLERANCE
    assert [f.best_epoch for f in fits_alone] == [f.best_epoch for f in fits_fused]
    assert [f.value for f in fits_alone] == pytest.approx([f.value for f in fits_fused], rel=TOLERANCE)
    for one, other in zip(fits_alone, fits_fused, strict=True):
        assert one.test.keys() == other.test.keys()
        assert [one.test[k] for k in one.test] == pytest.approx([other.test[k] for k in one.test], rel=TOLERANCE)
    assert trial_alone.best_epoch == trial_fused.best_epoch and trial_alone.epochs_trained == trial_fused.epochs_trained
    assert trial_alone.test == pytest.approx(trial_fused.test, rel=TOLERANCE)  # K-fold: the refit on all rows
    print(f"largest relative difference between fused and sequential curves: {worst:.2e}")
    return worst


def test_boston_folds_fused_are_the_folds_trained_alone(tmp_path: Path, data_dir: Path) -> None:
    space = write_space(
        tmp_path,
        {**yaml_of("boston_kfold"), "name": "s", "fixed": {"epochs": 12}},
    )
    assert_same(trial(space, data_dir, fuse=False, units=16), trial(space, data_dir, fuse=True, units=16))


@pytest.mark.parametrize("dropout", [0.0, 0.3], ids=["no_dropout", "dropout"])
def test_imdb_replicates_fused_are_the_replicates_trained_alone(tmp_path: Path, imdb_dir: Path, dropout: float) -> None:
    """Sparse input, three seeds; with dropout too: each copy draws its own masks as it would alone."""
    space = write_space(
        tmp_path, {**BASE, "repeats": 3, "fixed": {"epochs": 3, "dropout": dropout, "early_stopping_patience": 1}}
    )
    assert_same(trial(space, imdb_dir, fuse=False), trial(space, imdb_dir, fuse=True))


def test_lstm_replicates_fuse_too(tmp_path: Path, data_dir: Path) -> None:
    space = write_space(
        tmp_path, {**yaml_of("sequence_features"), "name": "s", "repeats": 2, "fixed": {"epochs": 2, "lstm_units": 8}}
    )
    assert why_not_fused(load_spec(space).pipeline) is None
    assert_same(trial(space, data_dir, fuse=False), trial(space, data_dir, fuse=True))


def test_a_fused_trial_is_recorded_as_a_sequential_one(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    def records(fuse: bool) -> list[tuple]:
        spec = load_spec(REPO / "search_spaces" / "boston_kfold.yaml", {"epochs": 2}, trials=1)
        spec = type(spec)(**{**spec.__dict__, "fuse": fuse})
        stores = Stores.resolve(root=tmp_path / f"mlruns-{fuse}")
        run_sweep(spec, RunOptions(stores, sp.DataOptions(data_dir, stores.cache_dir)))
        from mlflow import MlflowClient

        client = MlflowClient(stores.tracking_uri)
        experiment = client.get_experiment_by_name("boston_kfold")
        runs = client.search_runs([experiment.experiment_id])
        study = {r.info.run_id for r in runs if r.data.tags.get("sweeps.role") == "study"}  # (its name holds the time)
        names = {r.info.run_id: "the study" if r.info.run_id in study else r.info.run_name for r in runs}
        return sorted(
            (
                r.info.run_name,
                names.get(r.data.tags.get("mlflow.parentRunId")),
                tuple(sorted(r.data.metrics)),
                tuple(sorted(k for k in r.data.tags if k not in ("worker.pid", "mlflow.note.content"))),
                tuple(len(client.get_metric_history(r.info.run_id, "val_mae")) for _ in [0] if "val_mae" in r.data.metrics),
            )
            for r in runs
            if r.data.tags.get("sweeps.role") != "study"
        )

    assert records(True) == records(False)


def test_pipelines_that_cannot_fuse_train_one_after_another_with_a_note(tmp_path: Path, imdb_dir: Path, capsys) -> None:
    own = "from sweeps.pipelines.imdb import *  # noqa\nfrom sweeps.pipelines.imdb import HYPERPARAMETERS, OBJECTIVES\n"
    (tmp_path / "own.py").write_text(own + "FUSE = False\n")
    space = write_space(tmp_path, {**BASE, "pipeline": "./own.py", "repeats": 2, "trials": 1, "fixed": {"epochs": 1}})
    spec = load_spec(space)
    assert why_not_fused(spec.pipeline) == "pipeline ./own.py sets FUSE = False"
    stores = Stores.resolve(root=tmp_path / "mlruns")
    (record,) = run_sweep(spec, RunOptions(stores, sp.DataOptions(imdb_dir, stores.cache_dir))).records
    assert record.state == "COMPLETE"
    assert (
        "note: pipeline ./own.py sets FUSE = False, so each trial's replicates train one after another" in capsys.readouterr().err
    )
    assert len(mlflow_runs(tmp_path, "s")) == 4  # the study, the trial, two replicates


def yaml_of(name: str) -> dict:
    import yaml

    return yaml.safe_load((REPO / "search_spaces" / f"{name}.yaml").read_text())
