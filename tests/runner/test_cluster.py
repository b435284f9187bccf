"""``--cluster``: sweep workers as tasks on a Dask scheduler and two single-threaded Dask workers,
all on 127.0.0.1 and stopped with their whole process trees; a Dask worker killed mid-trial."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient

from sweeps.errors import ConfigError
from sweeps.faults import CRASH_AT, CRASH_WHOM
from sweeps.runner.cluster import check_workers, connected
from tests.dask_cluster import QUIET, Cluster, dask_cluster
from tests.processes import alive
from tests.support import BASE, REPO, start_sweeps, write_space

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """A scheduler, ``w0``, and ``w1`` that offers one GPU (Dask's resources: nothing checks it is real)."""
    with dask_cluster(tmp_path_factory.mktemp("dask")) as started:
        started.start_worker("w0")
        started.start_worker("w1", "--resources", "GPU=1")
        started.wait_for_workers(2)
        yield started


def sweep(tmp_path: Path, address: str, study: str, *args: str, **env: str) -> subprocess.Popen:
    """``sweeps run s`` (a 3-point grid over layers on tiny IMDB) on the cluster, sqlite stores in ``tmp_path``."""
    (tmp_path / "spaces").mkdir(exist_ok=True)
    write_space(tmp_path / "spaces", BASE)
    command = ["run", "s", "--spaces", "spaces", "--study", study]
    command += ["--cluster", address, "--shared-filesystem", "--data-dir", str(tmp_path / "data"), *args]
    return start_sweeps(*command, cwd=tmp_path, merged=True, **env)


def trials(tmp_path: Path, study: str) -> list[optuna.trial.FrozenTrial]:
    loaded = optuna.load_study(study_name=study, storage=f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}")
    return [t for t in loaded.trials if not t.user_attrs.get("sweeps.stepped_aside")]


def runs(tmp_path: Path, study: str) -> list:
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("s")
    return client.search_runs([experiment.experiment_id], f"tags.study = '{study}'")


def trial_runs(tmp_path: Path, study: str) -> list:
    """The trial runs of ``study`` (no parent, no nested replicate runs: this grid has none)."""
    return [r for r in runs(tmp_path, study) if "mlflow.parentRunId" in r.data.tags]


def until(condition, what: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def each_point_once(tmp_path: Path, study: str) -> None:
    complete = [t for t in trials(tmp_path, study) if t.state.name == "COMPLETE"]
    assert sorted(t.params["layers"] for t in complete) == [1, 2, 3]
    finished = [r for r in trial_runs(tmp_path, study) if r.info.status == "FINISHED"]
    assert sorted(int(r.data.params["layers"]) for r in finished) == [1, 2, 3]
    assert {r.info.status for r in runs(tmp_path, study)} <= {"FINISHED", "KILLED"}  # nothing RUNNING


def test_two_sweeps_share_the_cluster_each_point_once(cluster: Cluster, tmp_path: Path, imdb_dir: Path) -> None:
    """The first sweep's two workers run on both Dask workers; a second, started while the first
    runs, asks for a GPU and so runs on w1 alone; each trains every point of its grid once."""
    os.symlink(imdb_dir, tmp_path / "data")
    first = sweep(tmp_path, cluster.address, "first", "--jobs", "2")
    until(lambda: _running(tmp_path, "first"), "a trial of the first")
    second = sweep(tmp_path, cluster.address, "second", "--worker-resources", "GPU=1")
    out_first, out_second = first.communicate(timeout=600)[0], second.communicate(timeout=600)[0]
    assert first.returncode == 0 and second.returncode == 0, out_first + out_second
    assert "sweep workers ran on the cluster: " in out_first and {"on w0", "on w1"} <= set(_placements(out_first))
    for study in ("first", "second"):
        each_point_once(tmp_path, study)
        assert {r.data.tags["worker.cluster"] for r in trial_runs(tmp_path, study)} == {cluster.address}
    assert {r.data.tags["worker.name"] for r in trial_runs(tmp_path, "second")} == {"w1"}  # the only worker with a GPU
    assert len({r.data.tags["mlflow.parentRunId"] for r in trial_runs(tmp_path, "first")}) == 1


def _running(tmp_path: Path, study: str) -> bool:
    if not (tmp_path / "mlruns" / "optuna.db").exists():
        return False
    try:
        return any(t.state.name == "RUNNING" for t in trials(tmp_path, study))
    except KeyError:  # (the study is not created yet)
        return False


def _run_open(tmp_path: Path, study: str) -> bool:
    if not (tmp_path / "mlruns" / "mlflow.db").exists():  # (a client would make it)
        return False
    try:
        return any(r.info.status == "RUNNING" for r in trial_runs(tmp_path, study))
    except AttributeError:  # (the experiment is not created yet)
        return False


def _placements(output: str) -> list[str]:
    line = next(line for line in output.splitlines() if "sweep workers ran on the cluster:" in line)
    return [" ".join(item.split()[1:3]) for item in line.split(": ", 1)[1].split(", ")]


def test_a_dask_worker_killed_mid_trial_fails_it_and_the_grid_completes_elsewhere(tmp_path: Path, imdb_dir: Path) -> None:
    """w0 (no nanny to restart it) is SIGKILLed as its sweep worker's first trial starts, the grid's
    three points taken as one fused set; its sweep worker ends with it, failing the trial it opened
    and the two it had not; once w1 joins, Dask runs that sweep worker again there, which trains
    the three points."""
    os.symlink(imdb_dir, tmp_path / "data")
    with dask_cluster(tmp_path / "dask") as killed:
        victim = killed.start_worker("w0", "--no-nanny", **{CRASH_AT: "trial-started", CRASH_WHOM: "parent"})
        killed.wait_for_workers(1)
        command = sweep(tmp_path, killed.address, "killed", "--jobs", "2")
        assert victim.wait(timeout=300) == -9
        assert [t.state.name for t in trials(tmp_path, "killed")].count("COMPLETE") == 0
        until(lambda: trials(tmp_path, "killed")[0].state.name == "FAIL", "the killed trial to be failed")
        killed.start_worker("w1")
        out = command.communicate(timeout=600)[0]
        assert command.returncode == 0, out
    done = trials(tmp_path, "killed")
    assert Counter(t.state.name for t in done) == {"COMPLETE": 3, "FAIL": 3}
    each_point_once(tmp_path, "killed")
    killed_runs = [r for r in trial_runs(tmp_path, "killed") if r.info.status == "KILLED"]
    assert len(killed_runs) == 1 and killed_runs[0].data.tags["worker.name"] == "w0"
    assert not alive({int(killed_runs[0].data.tags["worker.pid"])})  # the sweep worker ended with its Dask worker
    assert {r.data.tags["worker.name"] for r in trial_runs(tmp_path, "killed") if r.info.status == "FINISHED"} == {"w1"}
    assert [r.info.status for r in runs(tmp_path, "killed") if "mlflow.parentRunId" not in r.data.tags] == ["FINISHED"]


def test_ctrl_c_stops_every_sweep_worker_on_the_cluster_and_leaves_nothing_running(
    cluster: Cluster, tmp_path: Path, imdb_dir: Path
) -> None:
    os.symlink(imdb_dir, tmp_path / "data")
    # Trials of up to 3000 epochs (until early stopping): one still trains when the Ctrl-C lands.
    command = sweep(tmp_path, cluster.address, "stopped", "--jobs", "2", "--epochs", "3000")
    # A trial's run opens after the engine marks it RUNNING: Ctrl-C between the two leaves no run to kill.
    until(lambda: _running(tmp_path, "stopped") and _run_open(tmp_path, "stopped"), "a trial's run")
    command.send_signal(signal.SIGINT)
    out = command.communicate(timeout=300)[0]
    assert command.returncode == 130, out
    assert "interrupted: the sweep workers' running trials were marked FAIL and their runs KILLED" in out
    assert "RUNNING" not in {t.state.name for t in trials(tmp_path, "stopped")}
    assert "RUNNING" not in {r.info.status for r in runs(tmp_path, "stopped")}
    assert "KILLED" in {r.info.status for r in trial_runs(tmp_path, "stopped")}
    with connected(cluster.address, 10) as client:
        until(lambda: not any(client.processing().values()), "the cluster to be idle")


def test_a_path_a_worker_cannot_see_is_named_before_anything_is_recorded(cluster: Cluster) -> None:
    with connected(cluster.address, 10) as client, pytest.raises(ConfigError) as refused:
        check_workers(client, [("--data-dir", "/nowhere/data")], {})
    assert "dask worker w" in str(refused.value) and "--data-dir /nowhere/data does not exist on " in str(refused.value)


def test_sqlite_stores_are_refused_without_a_shared_filesystem(sweeps_here, tmp_path: Path, imdb_dir: Path) -> None:
    (tmp_path / "spaces").mkdir()
    write_space(tmp_path / "spaces", BASE)
    args = ["run", "s", "--spaces", "spaces", "--data-dir", str(imdb_dir)]
    ran = sweeps_here(*args, "--cluster", "tcp://127.0.0.1:9", cwd=tmp_path)
    assert ran.returncode == 2 and "a sqlite file on this machine, which a cluster's workers cannot share" in ran.stderr
    assert not (tmp_path / "mlruns" / "mlflow.db").exists()


def test_a_scheduler_that_does_not_answer_is_one_line(sweeps_here, tmp_path: Path, imdb_dir: Path) -> None:
    (tmp_path / "spaces").mkdir()
    write_space(tmp_path / "spaces", BASE)
    args = ["run", "s", "--spaces", "spaces", "--data-dir", str(imdb_dir), "--shared-filesystem", "--connect-timeout", "1"]
    ran = sweeps_here(*args, "--cluster", "tcp://127.0.0.1:9", cwd=tmp_path)
    assert ran.returncode == 1 and "--cluster tcp://127.0.0.1:9: no Dask scheduler answered within 1 s" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_every_run_option_is_given_to_the_sweep_workers_or_deliberately_not() -> None:
    from sweeps.cli import build_parser, command_parsers
    from sweeps.commands import on_cluster

    run = command_parsers(build_parser())["run"]
    options = {action.dest for action in run._actions if action.dest != "help"}
    handled = {*on_cluster.FORWARDED, *on_cluster.FORWARDED_FLAGS, *on_cluster.RESOLVED_HERE, *on_cluster.LAUNCHER_ONLY}
    assert options == handled


def test_worker_resources_are_read_and_refused_in_one_line() -> None:
    import argparse

    from sweeps.commands.on_cluster import resources

    assert resources("GPU=1") == {"GPU": 1.0} and resources("GPU=0.5,MEMORY=8e9") == {"GPU": 0.5, "MEMORY": 8e9}
    for bad in ("GPU", "GPU=0", "=1", "GPU=many"):
        with pytest.raises(argparse.ArgumentTypeError, match="expected NAME=N with N > 0"):
            resources(bad)


def test_a_hosts_cores_are_divided_between_the_sweep_workers_it_can_run_at_once() -> None:
    from sweeps.runner.cluster import slots_per_host

    workers = {
        "a": {"host": "n1", "nthreads": 4, "resources": {"GPU": 2}},
        "b": {"host": "n1", "nthreads": 1, "resources": {}},
        "c": {"host": "n2", "nthreads": 2, "resources": {"GPU": 1}},
    }
    assert slots_per_host(workers, {}) == {"n1": 5, "n2": 2}
    assert slots_per_host(workers, {"GPU": 1}) == {"n1": 2, "n2": 1}  # b holds no GPU task


def test_each_sweep_worker_of_a_dask_worker_gets_its_own_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The device assignment of ``--jobs`` inside a Dask worker: slot i of its tasks gets GPU i mod G."""
    from sweeps.runner.cluster_worker import PARENT_PID, Assignment, _environment

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5")
    assignment = Assignment(["s"], [], "tcp://127.0.0.1:8786", "stop", {}, {"SWEEPS_STORAGE": "sqlite:////x.db"})
    first, second = (_environment(assignment, "w0", slot, 2, 3) for slot in (0, 1))
    assert (first["CUDA_VISIBLE_DEVICES"], second["CUDA_VISIBLE_DEVICES"]) == ("4", "5")
    assert first["OMP_NUM_THREADS"] == "3" and first["SWEEPS_STORAGE"] == "sqlite:////x.db"
    assert first["SWEEPS_WORKER_NAME"] == "w0" and first[PARENT_PID] == str(os.getpid())
    shared = _environment(assignment, "w0", 2, 3, 1)  # three sweep workers on two GPUs: a memory share each
    assert shared["CUDA_VISIBLE_DEVICES"] == "4" and shared["XLA_PYTHON_CLIENT_MEM_FRACTION"] == "0.45"


def test_cluster_options_without_a_cluster_are_refused(sweeps_here, tmp_path: Path, imdb_dir: Path) -> None:
    (tmp_path / "spaces").mkdir()
    write_space(tmp_path / "spaces", BASE)
    ran = sweeps_here("run", "s", "--spaces", "spaces", "--data-dir", str(imdb_dir), "--worker-resources", "GPU=1", cwd=tmp_path)
    assert ran.returncode == 2 and "are for a Dask cluster: add --cluster tcp://HOST:PORT" in ran.stderr


def test_the_readme_slows_the_dask_timers_the_tests_and_benchmark_slow() -> None:
    exported = (REPO / "README.md").read_text().split("export DASK_", 1)[1].split("\npython", 1)[0]
    assert dict(part.split("=", 1) for part in ("DASK_" + exported).replace("\\\n", " ").split()) == QUIET
