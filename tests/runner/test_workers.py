"""Many workers on one study (PostgreSQL, and --jobs through Optuna's gRPC proxy), dead workers, kill -9 and
resume, secrets."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import optuna
from mlflow import MlflowClient

from sweeps.faults import CRASH_AT
from tests.processes import free_port
from tests.support import REPO, start_sweeps, write_grid

FORKS: list[int] = []  # this process's fork()s (vfork and posix_spawn run no at-fork hooks)
os.register_at_fork(before=lambda: FORKS.append(os.getpid()))


def spaces(tmp_path: Path, **changes: object) -> Path:
    return write_grid(tmp_path / "spaces", **changes)


def start(tmp_path: Path, *args: str, crash_at: str | None = None) -> subprocess.Popen:
    """``sweeps run g12 ARGS`` as a process of its own; ``crash_at`` kills it there (SIGKILL)."""
    crash = {CRASH_AT: crash_at} if crash_at else {}
    return start_sweeps("run", "g12", "--spaces", str(tmp_path / "spaces"), *args, cwd=tmp_path, **crash)


def trials(storage: str, study: str) -> list[optuna.trial.FrozenTrial]:
    loaded = optuna.load_study(study_name=study, storage=storage)
    return [t for t in loaded.trials if not t.user_attrs.get("sweeps.stepped_aside")]


def children(tracking: str, study: str) -> list:
    client = MlflowClient(tracking)
    experiment = client.get_experiment_by_name("g12")
    return [
        r
        for r in client.search_runs([experiment.experiment_id], f"tags.study = '{study}'")
        if "mlflow.parentRunId" in r.data.tags
    ]


def points(items) -> list[tuple]:
    return sorted((int(p["layers"]), int(p["units"])) for p in items)


def test_four_workers_share_one_grid_on_postgresql(pg, tmp_path: Path, imdb_dir: Path) -> None:
    url, password = pg
    storage, tracking = f"{url}/optuna", f"{url}/mlflow"
    spaces(tmp_path, fuse_trials=4)  # (sets of 4: one worker alone could not take the grid in two asks)
    args = ["--data-dir", str(imdb_dir), "--storage", storage, "--tracking-uri", tracking, "--study", "four"]
    workers = [start(tmp_path, *args) for _ in range(4)]
    outputs = [worker.communicate(timeout=600) for worker in workers]
    assert [w.returncode for w in workers] == [0] * 4, outputs
    done = trials(storage, "four")
    assert Counter(t.state.name for t in done) == {"COMPLETE": 12}
    assert points(t.params for t in done) == sorted((layers, u) for layers in (1, 2, 3) for u in (4, 8, 16, 32))
    runs = children(tracking, "four")
    assert len(runs) == 12 and {r.info.status for r in runs} == {"FINISHED"}
    assert points(r.data.params for r in runs) == points(t.params for t in done)  # each point once
    assert len({r.data.tags["mlflow.parentRunId"] for r in runs}) == 1  # one parent for the study
    per_worker = Counter(r.data.tags["worker.pid"] for r in runs)
    print(f"trials per worker: {dict(per_worker)}")
    assert len(per_worker) >= 2  # the work was spread
    # Secrets: the password appears in no output and no MLflow param or tag.
    assert all(password not in out + err for out, err in outputs)
    parent = MlflowClient(tracking).get_run(runs[0].data.tags["mlflow.parentRunId"])
    for run in [*runs, parent]:
        assert not any(password in str(v) for v in [*run.data.params.values(), *run.data.tags.values()])
    assert parent.data.tags["storage"] == storage.replace(password, "***") and parent.info.status == "FINISHED"


def test_jobs_through_optunas_grpc_proxy_run_every_point_once_and_lose_no_worker(pg, tmp_path: Path, imdb_dir: Path) -> None:
    """The team's recommended path: ``--jobs`` workers on a study behind Optuna's gRPC proxy. The
    launcher holds its channel to the proxy while it starts them; none may die, none run a point twice."""
    url, _ = pg
    port = free_port()
    log = tmp_path / "proxy.log"
    with open(log, "w") as output:
        proxy = subprocess.Popen(
            [sys.executable, "-m", "sweeps.engines.optuna_proxy", "--storage", f"{url}/optuna", "--port", str(port)],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_port(proxy, port, log)
        spaces(tmp_path, fuse_trials=4, fixed={"epochs": 1, "batch_size": 64})  # (sets of 4: the work spreads)
        args = ["--data-dir", str(imdb_dir), "--storage", f"grpc://127.0.0.1:{port}", "--tracking-uri", f"{url}/mlflow"]
        run = start(tmp_path, *args, "--study", "proxied", "--jobs", "3")
        out, err = run.communicate(timeout=600)
    finally:
        proxy.terminate()
        proxy.wait(timeout=30)
    logs = {path.name: path.read_text() for path in (tmp_path / "mlruns" / "logs").glob("worker-*.log")}
    assert run.returncode == 0, (err, logs)  # any worker that stopped with an error (SIGABRT: -6) fails the sweep
    assert len(logs) == 3 and not any("epoll_wait" in text for text in logs.values()), logs
    done = trials(f"{url}/optuna", "proxied")
    assert Counter(t.state.name for t in done) == {"COMPLETE": 12}
    assert points(t.params for t in done) == sorted((layers, u) for layers in (1, 2, 3) for u in (4, 8, 16, 32))  # each once
    # The trials ran in the workers, not in the launcher, and the launcher closed the one parent.
    assert "3 workers, 1 thread(s) each" in err and "12 trial(s), 12 run now" in out
    kids = children(f"{url}/mlflow", "proxied")
    pids = {r.data.tags["worker.pid"] for r in kids}
    assert len(kids) == 12 and len(pids) >= 2 and str(run.pid) not in pids
    parent = MlflowClient(f"{url}/mlflow").get_run(kids[0].data.tags["mlflow.parentRunId"])
    assert parent.info.status == "FINISHED" and parent.data.metrics["epochs_trained_total"] == 12 * 1


def wait_for_port(process: subprocess.Popen, port: int, log: Path, timeout: float = 120) -> None:
    """Until something listens on ``port`` (``process`` is serving), or fail with what it wrote to ``log``."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port} (exit {process.poll()}): {log.read_text()[-2000:]}")


def test_a_killed_workers_trials_are_failed_and_retried_by_another(pg, tmp_path: Path, imdb_dir: Path) -> None:
    """The victim takes all four trials to train together and is SIGKILLed as the first of them
    opens its MLflow run; the survivor, started then, fails the four as their worker's process
    is gone and runs their points again."""
    url, _ = pg
    storage, tracking = f"{url}/optuna", f"{url}/mlflow"
    spaces(
        tmp_path,
        trials=4,
        params={"layers": {"type": "categorical", "choices": [1, 2]}, "units": {"type": "categorical", "choices": [4, 8]}},
    )
    args = ["--data-dir", str(imdb_dir), "--storage", storage, "--tracking-uri", tracking, "--study", "killed"]
    victim = start(tmp_path, *args, "--heartbeat", "1", crash_at="trial-started:1")
    victim.communicate(timeout=600)
    assert victim.returncode == -9
    taken = trials(storage, "killed")
    assert [t.state.name for t in taken] == ["RUNNING"] * 4  # one batch
    assert all(t.user_attrs["worker"].endswith(f":{victim.pid}") for t in taken)
    opened = [t for t in taken if t.user_attrs.get("mlflow_run_id")]
    assert len(opened) == 1, [t.user_attrs for t in taken]  # killed as the batch's first run opened
    survivor = start(tmp_path, *args, "--heartbeat", "1")
    out, err = survivor.communicate(timeout=600)
    assert survivor.returncode == 0, err
    done = trials(storage, "killed")
    failed = [t for t in done if t.state.name == "FAIL"]
    assert sorted(t.number for t in failed) == sorted(t.number for t in taken)
    complete = [t for t in done if t.state.name == "COMPLETE"]
    assert points(t.params for t in complete) == [(1, 4), (1, 8), (2, 4), (2, 8)]  # retried, none twice
    runs = {r.info.run_id: r for r in children(tracking, "killed")}
    assert runs[opened[0].user_attrs["mlflow_run_id"]].info.status == "KILLED"
    assert sorted(r.info.status for r in runs.values()) == ["FINISHED"] * 4 + ["KILLED"]


def test_kill_9_then_resume_keeps_every_finished_trial(tmp_path: Path, imdb_dir: Path) -> None:
    """SIGKILL while the third trial trains (two done, its MLflow run open), then resume: trials
    one at a time, as the keras_tuner engine and TensorFlow's backend train them."""
    spaces(
        tmp_path,
        trials=6,
        fuse_trials=1,
        params={"layers": {"type": "categorical", "choices": [1, 2, 3]}, "units": {"type": "categorical", "choices": [4, 8]}},
    )
    storage, tracking = f"sqlite:///{tmp_path / 'mlruns' / 'optuna.db'}", f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    first = start(tmp_path, "--data-dir", str(imdb_dir), crash_at="trial-started:3")
    first.communicate(timeout=600)
    assert first.returncode == -9
    before = trials(storage, "g12")
    kept = {t.number: (t.params, t.value, t.user_attrs["mlflow_run_id"]) for t in before if t.state.name == "COMPLETE"}
    (cut,) = [t for t in before if t.state.name == "RUNNING"]
    assert len(kept) == 2
    print(f"before resume: {Counter(t.state.name for t in before)}")

    resumed = start(tmp_path, "--data-dir", str(imdb_dir))
    out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert "closed 2 run(s) left RUNNING by a process that died" in err, err  # the cut trial's run, the old parent
    after = trials(storage, "g12")
    print(f"after resume: {Counter(t.state.name for t in after)}")
    assert {t.number: (t.params, t.value, t.user_attrs["mlflow_run_id"]) for t in after if t.number in kept} == kept
    assert [t.state.name for t in after if t.number == cut.number] == ["FAIL"]
    complete = [t for t in after if t.state.name == "COMPLETE"]
    assert points(t.params for t in complete) == sorted((layers, u) for layers in (1, 2, 3) for u in (4, 8))
    client = MlflowClient(tracking)
    experiment = client.get_experiment_by_name("g12")
    statuses = Counter(r.info.status for r in client.search_runs([experiment.experiment_id]))
    assert statuses == {"FINISHED": 6 + 1, "KILLED": 2}  # 6 trials + the new parent; the cut trial and old parent
    assert client.get_run(cut.user_attrs["mlflow_run_id"]).info.status == "KILLED"
