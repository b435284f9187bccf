"""The speed benchmark runs end to end at toy sizes (its real run is not part of the tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def test_imdb_speed_benchmark_smoke(tmp_path: Path) -> None:
    out = tmp_path / "imdb_speed.json"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "imdb_speed.py"), "--train", "200", "--configs", "2",
                           "--epochs", "1", "--jobs-trials", "2", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(out.read_text())
    sides = {"tutorial_loop", "product_sweep", "bare_fit", "product_one_trial", "jobs_1", "jobs_2"}
    assert set(report["results"]) == sides
    assert all(report["results"][side]["seconds"] > 0 and report["results"][side]["peak_rss_mb"] > 100 for side in sides)
    assert len(report["ratios"]) == 8 and all(isinstance(v, float) for v in report["ratios"].values())
    assert "c) speed-up with 2 jobs (goal >= 1.7)" in done.stdout
