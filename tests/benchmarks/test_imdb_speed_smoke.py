"""The speed benchmark runs end to end at toy sizes (its real run is not part of the tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support import REPO


def test_imdb_speed_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "imdb_speed.json"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "imdb_speed.py"),
            "--train",
            "200",
            "--configs",
            "2",
            "--epochs",
            "1",
            "--jobs-trials",
            "2",
            "--jobs-epochs",
            "1",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    results = report["results"]
    processes = {"tutorial_loop", "product_sweep", "one_epoch_each", "bare_fit", "product_one_trial", "jobs_1", "jobs_2"}
    assert set(results) == processes | {"ceiling"}
    assert all(results[side]["seconds"] > 0 and results[side]["peak_rss_mb"] > 100 for side in processes)
    assert results["product_one_trial"]["trial_seconds"] > 0 and results["bare_fit"]["fit_seconds"] > 0
    assert results["jobs_2"]["trials_per_hour_while_training"] > 0 and results["ceiling"]["speed_up"] > 0
    goals = {key: value for key, value in report["ratios"].items() if "(goal" in key}
    assert len(goals) == 5 and all(isinstance(value, float) for value in goals.values())
    assert "c) speed-up with 2 jobs while training (goal >= 1.7)" in done.stdout
