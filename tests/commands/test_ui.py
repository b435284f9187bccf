"""`sweeps ui` serves the MLflow UI on the project's store; a real browser finds the trials in it."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from sweeps.data.sources import DataOptions
from sweeps.runner.sweep import RunOptions, run_sweep
from sweeps.spec.sweep import load_spec
from sweeps.tracking.stores import Stores
from tests.support import REPO

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_ui(workdir: Path, port: int) -> subprocess.Popen:
    """``python -m sweeps ui --port PORT`` in ``workdir``, once it answers HTTP."""
    server = subprocess.Popen(
        [sys.executable, "-m", "sweeps", "ui", "--port", str(port)],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise AssertionError(f"the UI did not answer on port {port}: {server.communicate()[1][-2000:]}")


def stop(server: subprocess.Popen) -> int:
    server.send_signal(signal.SIGINT)
    return server.wait(timeout=30)


@pytest.fixture
def swept(workdir: Path, imdb_dir: Path) -> Path:
    """``workdir`` holding a two-trial imdb_depth study in its default store."""
    spec = load_spec(REPO / "search_spaces" / "imdb_depth.yaml", {"epochs": 1}, trials=2)
    stores = Stores.resolve(root=workdir / "mlruns")
    run_sweep(spec, RunOptions(stores, DataOptions(imdb_dir, stores.cache_dir)))
    return workdir


def test_ui_serves_http_200_on_loopback_and_stops(swept: Path) -> None:
    port = free_port()
    server = start_ui(swept, port)
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/ajax-api/2.0/mlflow/experiments/get-by-name?experiment_name=imdb_depth", timeout=10
        ) as response:
            assert response.status == 200 and b'"imdb_depth"' in response.read()
    finally:
        code = stop(server)
    assert code == 0
    assert f"at http://127.0.0.1:{port}" in server.stdout.read()


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")
def test_browser_finds_the_trial_runs(swept: Path, tmp_path: Path) -> None:
    from mlflow import MlflowClient
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    experiment = MlflowClient(f"sqlite:///{swept / 'mlruns' / 'mlflow.db'}").get_experiment_by_name("imdb_depth")
    port = free_port()
    server = start_ui(swept, port)
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
        browser.get(f"http://127.0.0.1:{port}/#/experiments/{experiment.experiment_id}/runs")
        wait = WebDriverWait(browser, 90)
        # Trials are nested under the invocation's parent run: expand it.
        wait.until(lambda b: b.find_element(By.CSS_SELECTOR, "button[data-component-id*='runnamecellrenderer']")).click()
        wait.until(lambda b: "trial-0" in b.page_source and "trial-1" in b.page_source)
        screenshot = Path(os.environ.get("SWEEPS_SCREENSHOT_DIR", tmp_path)) / "mlflow_ui_imdb_depth.png"
        browser.save_screenshot(str(screenshot))
        print(f"screenshot: {screenshot}")
        assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        browser.quit()
        stop(server)
