"""Nothing lost, nothing left RUNNING: a process killed at a named moment (SWEEPS_CRASH_AT), a
failing ask, a full disk, a study resumed on other data, keras-tuner state kept with its stores."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient

from sweeps.cli import main
from sweeps.errors import StoreError
from sweeps.runner.parent import CLOSED_WHOLE
from sweeps.tracking.stores import create_sqlite_store, retrying
from tests.support import BASE, mlflow_runs, run_sweeps, write_imdb, write_space

QUICK = ("--epochs", "1", "--set", "validation_samples=100")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "spaces").mkdir()
    write_space(tmp_path / "spaces", {**BASE, "trials": 2, "params": {"layers": {"type": "categorical", "choices": [1, 2]}}})
    return tmp_path


def sweep_args(project: Path, imdb_dir: Path, *args: str) -> tuple[str, ...]:
    """The command line of the project's sweep ``s`` on ``imdb_dir``, plus ``args``."""
    return ("s", "--spaces", str(project / "spaces"), "--data-dir", str(imdb_dir), *args)


def killed_at(moment: str, project: Path, imdb_dir: Path, *args: str):
    """The sweep as a real process, which kills itself with SIGKILL at ``moment`` (SWEEPS_CRASH_AT)."""
    return run_sweeps(*sweep_args(project, imdb_dir, *args), cwd=project, SWEEPS_CRASH_AT=moment)


def study(project: Path) -> list[optuna.trial.FrozenTrial]:
    """The trials of the store's only study (its name carries any --set overrides)."""
    storage = f"sqlite:///{project / 'mlruns' / 'optuna.db'}"
    (name,) = optuna.get_all_study_names(storage)
    return optuna.load_study(study_name=name, storage=storage).trials


def test_killed_after_telling_optuna_but_before_ending_the_run(project: Path, imdb_dir: Path, sweeps_here) -> None:
    write_space(
        project / "spaces",
        {**BASE, "trials": 2, "fuse_trials": 1, "params": {"layers": {"type": "categorical", "choices": [1, 2]}}},
    )
    killed = killed_at("after-tell", project, imdb_dir)  # (one trial at a time: the other not yet taken)
    assert killed.returncode == -9
    (told,) = study(project)
    assert told.state.name == "COMPLETE"
    run = MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}").get_run(told.user_attrs["mlflow_run_id"])
    assert run.info.status == "RUNNING"  # the crash left it so

    resumed = sweeps_here(*sweep_args(project, imdb_dir), cwd=project)
    assert resumed.returncode == 0, resumed.stderr
    assert "closed 2 run(s) left RUNNING by a process that died" in resumed.stderr  # that trial's, and the parent
    runs = {r.info.run_id: r for r in mlflow_runs(project, "s")}
    assert runs[told.user_attrs["mlflow_run_id"]].info.status == "FINISHED"
    assert runs[told.user_attrs["mlflow_run_id"]].data.tags["state"] == "COMPLETE"
    assert all(r.info.status != "RUNNING" for r in runs.values())
    assert [t.state.name for t in study(project)] == ["COMPLETE", "COMPLETE"]


def test_killed_while_writing_the_parents_dashboard_then_the_next_run_writes_it_whole(
    project: Path, imdb_dir: Path, sweeps_here
) -> None:
    killed = killed_at("writing-dashboard", project, imdb_dir)
    assert killed.returncode == -9
    assert [t.state.name for t in study(project)] == ["COMPLETE", "COMPLETE"]
    (parent,) = [r for r in mlflow_runs(project, "s") if r.data.tags.get("sweeps.role") == "study"]
    assert CLOSED_WHOLE not in parent.data.tags and parent.info.status == "RUNNING"
    assert "mlflow.note.content" not in parent.data.tags  # the plots are there, the note is not yet

    again = sweeps_here(*sweep_args(project, imdb_dir), cwd=project)
    assert again.returncode == 0 and "nothing to run" in again.stdout
    assert "closed 1 run(s) left RUNNING by a process that died" in again.stderr
    assert "it is written whole now" in again.stderr
    runs = mlflow_runs(project, "s")
    assert all(r.info.status != "RUNNING" for r in runs)
    (repaired,) = [r for r in runs if r.data.tags.get("sweeps.role") == "study"]
    assert repaired.info.run_id == parent.info.run_id and repaired.info.status == "FINISHED"
    assert repaired.data.tags[CLOSED_WHOLE] == "true" and " vs " in repaired.data.tags["mlflow.note.content"]
    assert repaired.data.metrics["trials_complete"] == 2
    client = MlflowClient(f"sqlite:///{project / 'mlruns' / 'mlflow.db'}")
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
    assert {"trials.md", "plots"} <= artifacts

    third = sweeps_here(*sweep_args(project, imdb_dir), cwd=project)  # a parent closed whole is left as it is
    assert third.returncode == 0 and "written whole" not in third.stderr


def test_killed_while_making_the_mlflow_store_leaves_no_broken_store(project: Path, imdb_dir: Path, sweeps_here) -> None:
    tracking = f"sqlite:///{project / 'runs' / 'mlflow.db'}"
    first = sweeps_here(*sweep_args(project, imdb_dir, "--trials", "1", "--study", "first"), cwd=project)
    assert first.returncode == 0, first.stderr  # it made the Optuna store: only MLflow's is new below
    killed = killed_at("store-created", project, imdb_dir, "--tracking-uri", tracking)
    assert killed.returncode == -9
    assert not (project / "runs" / "mlflow.db").exists()  # half made, under another name
    assert list((project / "runs").glob("mlflow.db.creating-*"))
    again = sweeps_here(*sweep_args(project, imdb_dir, "--tracking-uri", tracking), cwd=project)
    assert again.returncode == 0, again.stderr
    assert not list((project / "runs").glob("mlflow.db.creating-*"))


def test_a_full_disk_is_said_and_not_retried(tmp_path: Path) -> None:
    attempts = []

    def full(url: str) -> None:
        attempts.append(url)
        raise sqlite3.OperationalError("database or disk is full")

    with pytest.raises(StoreError, match=r"cannot create the store .*mlflow\.db: the disk is full"):
        create_sqlite_store(tmp_path / "mlflow.db", full)
    assert not (tmp_path / "mlflow.db").exists()
    with pytest.raises(sqlite3.OperationalError):
        retrying(lambda: full("x"))
    assert len(attempts) == 2  # the creation's, and one try of retrying: a full disk is not retried


def test_an_ask_that_fails_leaves_nothing_running(project: Path, imdb_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sweeps.engines.optuna as engine

    def broken(trial, name, values):
        raise OverflowError("cannot sample that range")

    monkeypatch.setattr(engine, "suggest", broken)
    monkeypatch.chdir(project)
    assert main(["run", "s", "--spaces", str(project / "spaces"), "--data-dir", str(imdb_dir), *QUICK]) == 1
    assert [t.state.name for t in study(project)] == ["FAIL"]  # failed, not left RUNNING
    for run in mlflow_runs(project, "s"):
        assert run.info.status != "RUNNING"


def test_a_study_is_not_resumed_on_other_data(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    first, second = write_imdb(tmp_path / "a", seed=1).parent, write_imdb(tmp_path / "b", seed=2).parent
    args = ["run", "s", "--spaces", str(project / "spaces"), "--study", "mine", *QUICK]
    monkeypatch.chdir(project)
    assert main([*args, "--trials", "1", "--data-dir", str(first)]) == 0
    assert main([*args, "--trials", "2", "--data-dir", str(second)]) == 2
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert f"study 'mine' was started on other data: data-dir {first / 'imdb.npz'}" in line
    assert f"now data-dir {second / 'imdb.npz'}" in line and "start a new study with --study NAME" in line


def test_keras_tuner_keeps_its_state_with_the_stores(tmp_path: Path, imdb_dir: Path, sweeps_here) -> None:
    spaces = tmp_path / "spaces"
    spaces.mkdir()
    write_space(spaces, {**BASE, "engine": "keras_tuner", "trials": 1, "fixed": {"epochs": 1}})
    for pair in ("one", "two"):  # the same sweep, twice, against two fresh pairs of stores
        tracking, storage = f"sqlite:///{tmp_path / pair / 'mlflow.db'}", f"sqlite:///{tmp_path / pair / 'optuna.db'}"
        stores = ("--tracking-uri", tracking, "--storage", storage)
        done = sweeps_here("s", "--spaces", str(spaces), "--data-dir", str(imdb_dir), *stores, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert (tmp_path / pair / "optuna.db-keras_tuner" / "s" / "oracle.json").is_file()
    assert not (tmp_path / "mlruns" / "keras_tuner").exists()


def test_keras_tuner_state_follows_the_store_file_not_its_folder(
    tmp_path: Path, imdb_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spaces = tmp_path / "spaces"
    spaces.mkdir()
    write_space(spaces, {**BASE, "engine": "keras_tuner", "sampler": {"type": "random", "seed": 1}, "trials": 1})
    monkeypatch.chdir(tmp_path)
    exits = []
    for store in ("a", "b"):  # two fresh studies whose sqlite files share one folder
        stores = ("--tracking-uri", f"sqlite:///runs/{store}-mlflow.db", "--storage", f"sqlite:///runs/{store}.db")
        exits.append(main(["run", "s", "--spaces", str(spaces), "--data-dir", str(imdb_dir), *stores, *QUICK]))
    assert exits == [0, 0]  # the second is not refused as "started with a different setup"
    for store in ("a", "b"):
        (state,) = (tmp_path / "runs" / f"{store}.db-keras_tuner").glob("s*/oracle.json")
        assert json.loads(state.read_text())["tried_so_far"]
    assert not (tmp_path / "runs" / "keras_tuner").exists()


def test_keras_tuner_state_where_an_earlier_version_kept_it_is_resumed(
    tmp_path: Path, imdb_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    spaces = tmp_path / "spaces"
    spaces.mkdir()
    write_space(spaces, {**BASE, "engine": "keras_tuner", "sampler": {"type": "random", "seed": 1}, "trials": 1})
    monkeypatch.chdir(tmp_path)
    args = ["run", "s", "--spaces", str(spaces), "--data-dir", str(imdb_dir), "--study", "kept", *QUICK]
    assert main(args) == 0
    (tmp_path / "mlruns" / "optuna.db-keras_tuner").rename(tmp_path / "mlruns" / "keras_tuner")  # the earlier layout
    capsys.readouterr()
    assert main([*args, "--trials", "2"]) == 0
    assert "study kept: 2 trial(s), 1 run now" in capsys.readouterr().out  # the first trial was resumed
    facts = json.loads((tmp_path / "mlruns" / "optuna.db-keras_tuner" / "kept" / "sweeps.json").read_text())
    assert len(facts["trials"]) == 2
    assert not (tmp_path / "mlruns" / "keras_tuner" / "kept").exists()
