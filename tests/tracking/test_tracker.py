"""The door to MLflow against a real tracking server: what MLflow prints goes to the log, its
links opening the UI's model-training view."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sweeps.logs import library_logs_to
from sweeps.tracking.tracker import FINISHED, Tracker
from tests.processes import free_port, stop_tree


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mlflow server`` on 127.0.0.1 with a sqlite store: its URL once it answers."""
    where = tmp_path_factory.mktemp("server")
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    store = ["--backend-store-uri", f"sqlite:///{where / 'mlflow.db'}", "--artifacts-destination", str(where / "artifacts")]
    server = subprocess.Popen([*command, *store], cwd=where, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
    try:
        while True:  # the event: the server answers its health check
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"mlflow server did not start: {server.stderr.read()[-2000:]}") from None
                time.sleep(0.2)
        yield url
    finally:
        stop_tree(server)


def test_the_view_run_lines_go_to_the_log_not_the_terminal(tracking_server: str, tmp_path: Path, capfd) -> None:
    tracker = Tracker(tracking_server, "s")
    with library_logs_to(tmp_path / "s.log") as log:
        run_id = tracker.start_run("layers=1", {})
        tracker.end_run(run_id, FINISHED)
    out, err = capfd.readouterr()
    assert "View run" not in out + err and "View experiment" not in out + err
    written, page = log.read_text(), f"{tracking_server}/#/experiments/{tracker.experiment_id}"
    assert f"🏃 View run layers=1 at: {page}/runs/{run_id}?workflowType=machine_learning\n" in written  # not GenAI's view
    assert f"🧪 View experiment at: {page}?workflowType=machine_learning\n" in written
    assert tracker.run(run_id).info.status == FINISHED
