"""`sweeps ui NAME`: MLflow's UI on the project's store, opened on the sweep's trials; a real
browser sees the trials' values and objective without a click, and the parent run's page holds
the comparison. The UI stops, every process it started with it, on Ctrl-C."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from sweeps.data.sources import DataOptions
from sweeps.runner.signals import interruptible_children
from sweeps.runner.sweep import RunOptions, run_sweep
from sweeps.spec.loading import load_spec
from sweeps.tracking.records import in_training_view
from sweeps.tracking.stores import Stores
from tests.processes import descendants, free_port, still_alive_after, stop_tree
from tests.support import REPO

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def start_ui(workdir: Path, *args: str) -> tuple[subprocess.Popen, str]:
    """``python -m sweeps ui ARGS`` in ``workdir``, and the address it printed once it answered."""
    with interruptible_children():
        server = subprocess.Popen(
            [sys.executable, "-m", "sweeps", "ui", *args],
            cwd=workdir,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    printed: list[str] = []
    reader = threading.Thread(target=lambda: printed.append(server.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout=180)  # the event: the first line on stdout, printed only once the UI answers
    if not printed or not printed[0].startswith("http"):
        stop_tree(server)
        raise AssertionError(f"the UI printed no address: {printed} {server.stderr.read()[-2000:]}")
    return server, printed[0].strip()


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory, imdb_dir: Path) -> Iterator[Path]:
    """A project holding imdb_depth trained with 2 seeds per depth, so there is a t-test to show."""
    workdir = tmp_path_factory.mktemp("ui")
    spec = load_spec(REPO / "search_spaces" / "imdb_depth.yaml", {"epochs": 2, "validation_samples": 100}, trials=2, repeats=2)
    stores = Stores.resolve(root=workdir / "mlruns")
    run_sweep(spec, RunOptions(stores, DataOptions(imdb_dir, stores.cache_dir)))
    yield workdir


def test_ui_answers_then_ctrl_c_stops_every_process_it_started(swept: Path) -> None:
    port = free_port()
    server, address = start_ui(swept, "--port", str(port))
    try:
        assert address == f"http://127.0.0.1:{port}/#/experiments?workflowType=machine_learning"
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=imdb_depth", timeout=10
        ) as response:
            assert response.status == 200 and b'"imdb_depth"' in response.read()
        family = descendants(server.pid)
        assert family, "the UI runs MLflow in processes of its own"
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=10) == 0  # within 10 s, every process included
        assert not still_alive_after(family)
    finally:
        stop_tree(server)


def test_a_port_in_use_is_one_line_and_exit_1(swept: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "sweeps", "ui", "--port", str(port)],
            cwd=swept,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: the MLflow UI: port {port} on 127.0.0.1 is in use (Address already in use); choose another with --port"
    ]


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")
def test_a_browser_sees_the_trials_and_the_parent_holds_the_comparison(swept: Path, tmp_path: Path) -> None:
    from mlflow import MlflowClient
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    client = MlflowClient(f"sqlite:///{swept / 'mlruns' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("imdb_depth")
    (parent,) = client.search_runs([experiment.experiment_id], "tags.`sweeps.role` = 'study'")
    shots = Path(os.environ.get("SWEEPS_SCREENSHOT_DIR", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    server, address = start_ui(swept, "imdb_depth", "--port", str(free_port()))
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1600,1000",
    ):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        assert f"/#/experiments/{experiment.experiment_id}/runs?" in address
        browser.get(address)
        wait = WebDriverWait(browser, 90)
        # Without a click: the runs table (not a GenAI page), each trial named by its depth,
        # the objective as a column.
        expected = ("layers=1", "layers=2", "best_val_accuracy", "matching runs")
        wait.until(lambda b: all(text in b.page_source for text in expected))
        assert "/runs" in browser.current_url
        assert "Judges" not in browser.page_source and "Evaluation runs" not in browser.page_source  # not GenAI's sidebar
        browser.save_screenshot(str(shots / "mlflow_ui_trials.png"))
        # The parent run's page, as the links sweeps writes open it: the comparison table and the
        # t-test's sentence, in the model-training view.
        page = f"{address.split('#')[0]}#/experiments/{experiment.experiment_id}/runs/{parent.info.run_id}"
        browser.get(in_training_view(page))
        wait.until(lambda b: "mean ± std" in b.page_source and "layers=2 vs 1: " in b.page_source)
        assert "significant at 0.05 (n=2 each)" in browser.page_source
        assert "Judges" not in browser.page_source and "Evaluation runs" not in browser.page_source
        browser.save_screenshot(str(shots / "mlflow_ui_parent.png"))
        print(f"screenshots: {shots / 'mlflow_ui_trials.png'} {shots / 'mlflow_ui_parent.png'}")
    finally:
        browser.quit()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=15)
        finally:
            stop_tree(server)
