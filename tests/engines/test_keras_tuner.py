"""keras-tuner behind the same files and the same MLflow picture as Optuna."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from sweeps.data.sources import DataOptions
from sweeps.errors import ConfigError
from sweeps.runner.sweep import RunOptions, run_sweep
from sweeps.spec.loading import load_spec
from sweeps.tracking.stores import Stores
from tests.support import BASE, mlflow_runs, write_space

SPACE = {"layers": {"type": "categorical", "choices": [1, 2]}, "units": {"type": "categorical", "choices": [4, 8]}}


def sweep(workdir: Path, data: Path, name: str = "s", **changes):
    spec = load_spec(write_space(workdir, {**BASE, "name": name, **changes}, name=name))
    stores = Stores.resolve(root=workdir / "mlruns")
    return run_sweep(spec, RunOptions(stores, DataOptions(data, stores.cache_dir))), stores


def children(workdir: Path, name: str) -> list:
    return [r for r in mlflow_runs(workdir, name) if "mlflow.parentRunId" in r.data.tags]


def test_hyperband_trains_its_schedule_and_continues_promising_trials(workdir: Path, imdb_dir: Path) -> None:
    result, stores = sweep(
        workdir,
        imdb_dir,
        engine="keras_tuner",
        trials=100,
        fixed={"epochs": 4},
        sampler={"type": "hyperband", "seed": 1, "max_epochs": 4, "factor": 2},
        params=SPACE,
    )
    assert result.records and all(r.state == "COMPLETE" for r in result.records)
    client = MlflowClient(stores.tracking_uri)
    runs = children(workdir, "s")
    assert len(runs) == len(result.records)
    continued = [r for r in runs if int(r.data.tags["tuner/initial_epoch"]) > 0]
    assert continued, "Hyperband should continue at least one trial"
    for run in runs:
        tags = run.data.tags
        start, end = int(tags["tuner/initial_epoch"]), int(tags["tuner/epochs"])
        assert {"tuner/bracket", "tuner/round"} <= set(tags)
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")]
        assert steps == list(range(start + 1, end + 1))  # only the epochs it actually trained
        assert run.data.metrics["epochs_trained"] == end - start
        assert run.data.params["epochs"] == str(end)
    trained = sum(r.data.metrics["epochs_trained"] for r in runs)
    assert trained < 4 * 4  # less than the full grid's 4 configurations x 4 epochs
    parent = next(r for r in mlflow_runs(workdir, "s") if "mlflow.parentRunId" not in r.data.tags)
    assert parent.data.metrics["epochs_trained_total"] == trained


def test_both_engines_leave_the_same_kind_of_record(workdir: Path, imdb_dir: Path) -> None:
    grid = {"sampler": {"type": "grid", "seed": 1}, "trials": 2, "params": {"layers": {"type": "categorical", "choices": [1, 2]}}}
    sweep(workdir, imdb_dir, name="by_optuna", engine="optuna", **grid)
    sweep(workdir, imdb_dir, name="by_keras_tuner", engine="keras_tuner", **grid)
    client = MlflowClient(f"sqlite:///{workdir / 'mlruns' / 'mlflow.db'}")

    def shape(run) -> tuple:
        tags = {k for k in run.data.tags if not k.startswith("mlflow.") and k not in ("sweep", "study")}
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        return (
            tuple(sorted(run.data.params)),
            tuple(sorted(run.data.metrics)),
            tuple(sorted(tags)),
            tuple(sorted(artifacts)),
            run.info.status,
        )

    optuna_runs, tuner_runs = children(workdir, "by_optuna"), children(workdir, "by_keras_tuner")
    assert len(optuna_runs) == len(tuner_runs) == 2
    assert {shape(r) for r in optuna_runs} == {shape(r) for r in tuner_runs}
    assert {r.data.tags["engine"] for r in tuner_runs} == {"keras_tuner"}
    assert sorted(r.data.params["layers"] for r in tuner_runs) == ["1", "2"]


def test_resume_continues_from_the_saved_oracle(workdir: Path, imdb_dir: Path) -> None:
    space = {"engine": "keras_tuner", "sampler": {"type": "random", "seed": 3}, "params": SPACE, "fixed": {"epochs": 2}}
    first, _ = sweep(workdir, imdb_dir, trials=2, **space)
    again, _ = sweep(workdir, imdb_dir, trials=3, **space)
    assert (first.ran, again.ran) == (2, 1)
    runs = children(workdir, "s")
    assert sorted(int(r.data.tags["trial"]) for r in runs) == [0, 1, 2]  # nothing finished was re-run
    assert len({(r.data.params["layers"], r.data.params["units"]) for r in runs}) == 3
    assert (workdir / "mlruns" / "optuna.db-keras_tuner" / "s" / "oracle.json").exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pruner": {"type": "median"}}, r"pruner\.type: keras_tuner stops trials itself"),
        (
            {"sampler": {"type": "tpe"}},
            r"sampler\.type: tpe is a sampler of engine optuna; set engine: optuna, or use one of random, grid",
        ),
        (
            {"sampler": {"type": "bayes"}},
            r"sampler\.type: must be one of random, grid, hyperband, bayesian for engine keras_tuner, got 'bayes' \(did",
        ),
        ({"sampler": {"type": "random", "max_epochs": 3}}, r"sampler\.max_epochs: unknown key"),
    ],
)
def test_what_keras_tuner_cannot_express_is_a_config_error(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_spec(write_space(tmp_path, {**BASE, "engine": "keras_tuner", "sampler": {"type": "grid"}, **changes}))


def test_mixed_type_choices_are_refused_for_keras_tuner() -> None:
    """No pipeline declares a mixed-type choice today, so the guard is exercised directly."""
    from sweeps.spec.params import Param, check_keras_tuner_can_express
    from sweeps.spec.reader import Reader

    section = Reader("s.yaml", {"mode": {}}, "params.")
    with pytest.raises(
        ConfigError, match=r"s\.yaml: params\.mode\.choices: keras_tuner needs choices of one type, got \['int', 'str'\]"
    ):
        check_keras_tuner_can_express(section, {"mode": Param("mode", "categorical", choices=(1, "auto"))})


def test_epochs_given_on_the_command_line_cap_hyperbands_schedule() -> None:
    """`--epochs 2` on imdb_hyperband (max_epochs 20): no trial may train more than 2 epochs."""
    from sweeps.engines.keras_tuner import _oracle
    from tests.support import REPO

    spec = load_spec(REPO / "search_spaces" / "imdb_hyperband.yaml", {"epochs": 2})
    assert _oracle(spec).max_epochs == 2
    assert _oracle(load_spec(REPO / "search_spaces" / "imdb_hyperband.yaml")).max_epochs == 20
