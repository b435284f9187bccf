"""A team's setup: `sweeps server` (MLflow tracking server with an artifact directory, Optuna's
gRPC proxy) on PostgreSQL, and three workers - each with its own working directory and HOME, as
three machines would be - sharing one grid through it. One worker is killed mid-trial."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient

from sweeps.runner.signals import interruptible_children
from tests.processes import descendants, free_port, still_alive_after, stop_tree
from tests.support import REPO, write_grid


def sweeps(*args: str, cwd: Path, home: Path | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SWEEPS_DATA_DIR")}
    env.update(PYTHONPATH=str(REPO), **({"HOME": str(home)} if home else {}))
    with interruptible_children():
        return subprocess.Popen(
            [sys.executable, "-m", "sweeps", *args], cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )


def server_lines(server: subprocess.Popen, until: str, timeout: float = 180) -> list[str]:
    """What the server printed up to the line containing ``until`` (the event: it answers)."""
    lines: list[str] = []

    def read() -> None:
        for line in server.stdout:
            lines.append(line.rstrip("\n"))
            if until in line:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not any(until in line for line in lines):
        stop_tree(server)
        raise AssertionError(f"the server never said {until!r}: {lines} {server.stderr.read()[-2000:]}")
    return lines


@pytest.fixture
def team(pg: tuple[str, str], tmp_path: Path):
    """``sweeps server`` on PostgreSQL with an artifact directory and the Optuna proxy."""
    url, password = pg
    port, proxy = free_port(), free_port()
    artifacts = tmp_path / "server" / "artifacts"
    (tmp_path / "server").mkdir()
    server = sweeps(
        "server",
        "--backend-store-uri",
        f"{url}/mlflow",
        "--artifacts-destination",
        str(artifacts),
        "--optuna-proxy",
        "--storage",
        f"{url}/optuna",
        "--port",
        str(port),
        "--proxy-port",
        str(proxy),
        "--workers",
        "1",
        cwd=tmp_path / "server",
    )
    try:
        lines = server_lines(server, "--tracking-uri")
        yield server, lines, f"http://127.0.0.1:{port}", f"grpc://127.0.0.1:{proxy}", artifacts
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=20)
            finally:
                stop_tree(server)


def test_three_workers_through_the_server_each_point_once_artifacts_on_the_server(
    team, pg: tuple[str, str], tmp_path: Path, imdb_dir: Path
) -> None:
    server, lines, tracking, storage, artifacts = team
    url, password = pg
    assert f"  --tracking-uri {tracking} --storage {storage}" in lines
    assert password not in "\n".join(lines) and "***" in "\n".join(lines)
    spaces = write_grid(tmp_path / "spaces", fixed={"epochs": 3, "batch_size": 64})
    machines = [tmp_path / f"machine{i}" for i in range(3)]
    args = ("run", "g12", "--spaces", str(spaces), "--tracking-uri", tracking, "--storage", storage, "--data-dir", str(imdb_dir))
    for machine in machines:
        (machine / "work").mkdir(parents=True)
        (machine / "home").mkdir()
    workers = [sweeps(*args, cwd=m / "work", home=m / "home") for m in machines]
    by_pid = {str(worker.pid): worker for worker in workers}
    direct = f"{url}/optuna"
    cut = None
    deadline = time.monotonic() + 300
    # The victim: whichever worker first trains a trial with its run recorded (a worker takes a
    # set of trials at once, so two of them can take the whole grid before the third asks).
    while cut is None and time.monotonic() < deadline:
        time.sleep(0.5)
        try:
            study = optuna.load_study(study_name="g12", storage=direct)
        except KeyError:
            continue
        running = [
            t
            for t in study.trials
            if t.state.name == "RUNNING"
            and t.user_attrs.get("mlflow_run_id")
            and t.user_attrs.get("worker", "").rpartition(":")[2] in by_pid
        ]
        cut = running[0] if running else None
    assert cut is not None, "no worker trained a trial"
    victim = by_pid[cut.user_attrs["worker"].rpartition(":")[2]]
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    for survivor in (worker for worker in workers if worker is not victim):
        out, err = survivor.communicate(timeout=600)
        assert survivor.returncode == 0, err

    study = optuna.load_study(study_name="g12", storage=direct)
    trials = [t for t in study.trials if not t.user_attrs.get("sweeps.stepped_aside")]
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    points = Counter((t.params["layers"], t.params["units"]) for t in complete)
    assert sorted(points) == sorted((layers, units) for layers in (1, 2, 3) for units in (4, 8, 16, 32))
    assert set(points.values()) == {1}  # every point once
    assert [t.state.name for t in trials if t.number == cut.number] == ["FAIL"]  # and the cut one retried
    client = MlflowClient(tracking)
    assert client.get_run(cut.user_attrs["mlflow_run_id"]).info.status == "KILLED"
    downloads = tmp_path / "downloads"
    for trial in complete:
        run_id = trial.user_attrs["mlflow_run_id"]
        for artifact in ("learning_curves.png", "model_summary.txt"):
            assert Path(client.download_artifacts(run_id, artifact, str(downloads))).stat().st_size > 0
        tags = client.get_run(run_id).data.tags
        assert tags["worker.host"] == socket.gethostname() and tags["worker.command"].startswith("sweeps run g12 ")
    assert any(artifacts.rglob("learning_curves.png"))  # they live on the server
    for machine in machines:  # and nothing on the "machines" but logs and the data cache
        written = [p.relative_to(machine / "work") for p in (machine / "work").rglob("*") if p.is_file()]
        assert all(p.parts[:2] in (("mlruns", "cache"), ("mlruns", "logs")) for p in written), written

    family = descendants(server.pid)
    server.send_signal(signal.SIGINT)
    assert server.wait(timeout=20) == 0
    assert not still_alive_after(family)


def test_a_database_tracking_uri_says_where_the_artifacts_would_go(pg: tuple[str, str], tmp_path: Path, imdb_dir: Path) -> None:
    url, password = pg
    spaces = write_grid(tmp_path / "spaces", name="solo", trials=1, fixed={"epochs": 1, "batch_size": 64})
    worker = sweeps(
        "run",
        "solo",
        "--spaces",
        str(spaces),
        "--tracking-uri",
        f"{url}/mlflow",
        "--storage",
        f"{url}/optuna",
        "--data-dir",
        str(imdb_dir),
        cwd=tmp_path,
    )
    out, err = worker.communicate(timeout=300)
    assert worker.returncode == 0, err
    warnings = [line for line in err.splitlines() if "note: the artifacts of these runs" in line]
    assert len(warnings) == 1 and "go to " in warnings[0] and "sweeps server --backend-store-uri postgresql://" in warnings[0]
    assert password not in err


def test_the_systemd_unit_runs_the_same_server_and_holds_no_password(tmp_path: Path) -> None:
    from tests.support import run_sweeps

    done = run_sweeps(
        "server",
        "--systemd",
        "--host",
        "0.0.0.0",
        "--optuna-proxy",
        "--storage",
        "postgresql://bob:s3cret@db/optuna",
        "--backend-store-uri",
        "postgresql://bob:s3cret@db/mlflow",
        "--artifacts-destination",
        "s3://team/sweeps",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout
    assert "SWEEPS_BACKEND_STORE_URI=postgresql://bob:***@db/mlflow" in done.stdout
    assert "SWEEPS_STORAGE=postgresql://bob:***@db/optuna" in done.stdout and "replace each *** with its password" in done.stdout
    (exec_start,) = [line for line in done.stdout.splitlines() if line.startswith("ExecStart=")]
    assert exec_start.endswith("-m sweeps server --host 0.0.0.0 --port 5000 --workers 4 --optuna-proxy --proxy-port 13000")
    assert f"EnvironmentFile={tmp_path.resolve() / 'sweeps-server.env'}" in done.stdout


def test_a_proxy_without_a_database_is_one_line(tmp_path: Path) -> None:
    from tests.support import run_sweeps

    done = run_sweeps("server", "--optuna-proxy", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "error: --optuna-proxy: name the study database it fronts with --storage postgresql://... (or sqlite:///...)"
    ]
