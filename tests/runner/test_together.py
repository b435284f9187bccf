"""Several trials trained as one fused set (JAX): each recorded as alone, with the numbers of
its fits trained alone."""

from __future__ import annotations

from pathlib import Path

import keras
import pytest

from sweeps.runner.sweep import RunOptions, run_sweep
from sweeps.spec.loading import load_spec
from sweeps.tracking.records import ROLE
from sweeps.tracking.stores import Stores
from tests.support import BASE, REPO, mlflow_runs, write_space

pytestmark = pytest.mark.skipif(keras.backend.backend() != "jax", reason="trials fuse together on JAX alone")


def sweep(workdir: Path, data_dir: Path, document: dict, name: str = "s", **changes) -> dict:
    """Run the sweep in ``document`` (with ``changes``) as ``name``; each trial's params and value."""
    import sweeps.pipeline as sp

    spec = load_spec(write_space(workdir, {**document, **changes, "name": name}, name))
    result = run_sweep(spec, RunOptions(Stores.resolve(), sp.DataOptions(data_dir)))
    return {tuple(sorted(r.params.items())): r.value for r in result.records}


def yaml_of(name: str) -> dict:
    import yaml

    return yaml.safe_load((REPO / "search_spaces" / f"{name}.yaml").read_text())


def test_k_fold_trials_trained_together_are_the_trials_trained_alone(workdir: Path, data_dir: Path, capsys) -> None:
    """Four configurations x 4 folds (two shapes of model), then four final refits, as one set."""
    document = {
        **yaml_of("boston_kfold"),
        "name": "s",
        "fixed": {"epochs": 6},
        "params": {"units": {"type": "categorical", "choices": [8, 16]}, "layers": {"type": "categorical", "choices": [1, 2]}},
        "trials": 4,
    }
    together = sweep(workdir, data_dir, document)
    alone = sweep(workdir, data_dir, document, "alone", fuse=False)
    assert together.keys() == alone.keys() and len(together) == 4
    assert list(together.values()) == pytest.approx(list(alone.values()), rel=1e-5)
    runs = mlflow_runs(workdir, "s")
    assert sum(r.data.tags.get(ROLE) == "fold" for r in runs) == 4 * 4 and all(r.info.status == "FINISHED" for r in runs)


def test_replicated_trials_trained_together_are_the_trials_trained_alone(workdir: Path, imdb_dir: Path) -> None:
    document = {**BASE, "repeats": 2, "trials": 3, "fixed": {"units": 8, "epochs": 2, "dropout": 0.3}}
    together = sweep(workdir, imdb_dir, document)
    alone = sweep(workdir, imdb_dir, document, "alone", fuse=False)
    assert list(together.values()) == pytest.approx(list(alone.values()), rel=1e-5)


def test_a_fit_that_fails_in_the_set_fails_alone(imdb_dir: Path, tmp_path: Path) -> None:
    """Labels that are not numbers make one fit's loss NaN: it fails; the other trains on."""
    from dataclasses import replace

    import numpy as np

    import sweeps.pipeline as sp
    from sweeps.training import fused
    from sweeps.training.fit import FitRequest, Fitted

    spec = load_spec(write_space(tmp_path, {**BASE, "fixed": {"units": 8, "epochs": 2}}))
    hp = spec.hyperparameters({"layers": 1})
    data = spec.pipeline.load_data(hp, sp.DataOptions(imdb_dir))
    unlabelled = replace(data, y_train=np.full(len(data.y_train), np.nan, np.float32))
    requests = [FitRequest(spec.pipeline, rows, hp, spec.objective).trial_view() for rows in (data, unlabelled)]
    fine, broken = fused.fit_across(requests, [[], []], lambda index: True)
    assert isinstance(fine, Fitted) and fine.test and len(fine.history["loss"]) == 2
    assert isinstance(broken, fused.TrialFailed) and "loss became nan at epoch 1" in str(broken)


def test_a_fused_set_is_pruned_as_its_trials_one_after_another_would_be(workdir: Path, imdb_dir: Path) -> None:
    """The median pruner judges each trial of the set in number order against those before it
    that were not pruned: the same trials pruned, at the same epochs, as trained one at a time."""
    document = {
        **BASE,
        "trials": 6,
        "pruner": {"type": "median", "n_startup_trials": 2, "n_warmup_steps": 0},
        "fixed": {"epochs": 6},
        "params": {
            "units": {"type": "categorical", "choices": [4, 16]},
            "loss": {"type": "categorical", "choices": ["binary_crossentropy", "mse"]},
            "layers": {"type": "categorical", "choices": [1, 3]},
        },
    }
    together, alone = (
        outcomes(workdir, imdb_dir, document, "s"),
        outcomes(workdir, imdb_dir, {**document, "fuse_trials": 1}, "alone"),
    )
    assert [state for state, _, _ in together.values()] == [state for state, _, _ in alone.values()]
    assert "PRUNED" in {state for state, _, _ in alone.values()}
    assert together.keys() == alone.keys()
    for key in together:
        assert together[key][1:] == pytest.approx(alone[key][1:], rel=1e-5), key


def outcomes(workdir: Path, data_dir: Path, document: dict, name: str) -> dict:
    """Each trial's state, value and epochs trained (from its run), by its params."""
    import sweeps.pipeline as sp

    spec = load_spec(write_space(workdir, {**document, "name": name}, name))
    result = run_sweep(spec, RunOptions(Stores.resolve(), sp.DataOptions(data_dir)))
    epochs = {
        r.data.tags["trial"]: r.data.metrics.get("epochs_trained") for r in mlflow_runs(workdir, name) if "trial" in r.data.tags
    }
    return {
        tuple(sorted(r.params.items())): (r.state, r.value, epochs[str(r.number)])
        for r in sorted(result.records, key=lambda r: r.number)
    }
