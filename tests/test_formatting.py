"""Values as people read them: a float without its noise, a long text as one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sweeps.engines.base import TrialRecord
from sweeps.formatting import headline, param_text
from sweeps.reporting import report
from sweeps.reporting.tables import trials_table
from sweeps.tracking.records import trial_run_name

NOISY = {"dropout": 0.1 * 3, "momentum": 0.7000000000000001}  # what a 0.1 step leaves


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.1 * 3, "0.3"),
        (0.7000000000000001, "0.7"),
        (0.05 + 0.1, "0.15"),
        (np.float64(0.1 * 3), "0.3"),  # as pandas reads params back
        (0.37454011884736254, "0.3745"),  # drawn from a range: four significant digits
        (1e-05, "1e-05"),
        (0.00012345678, "0.0001235"),
        (2.0, "2.0"),
        (3, "3"),
        ("relu", "relu"),
        (True, "True"),
        (float("nan"), "nan"),
    ],
)
def test_a_float_is_shown_without_its_noise(value: object, shown: str) -> None:
    assert param_text(value) == shown


def test_run_names_and_tables_show_the_value_without_noise() -> None:
    assert trial_run_name(NOISY, 3) == "dropout=0.3 momentum=0.7"
    record = TrialRecord(0, "COMPLETE", dict(NOISY), 0.5, {"test_accuracy": 0.5, "best_epoch": 1})
    table = trials_table([record], list(NOISY), "val_accuracy", "test_accuracy", record)
    assert table.splitlines()[1].split()[2:4] == ["0.3", "0.7"]
    assert "0.30000000000000004" not in table and "0.7000000000000001" not in table


def test_the_report_shows_the_value_without_noise() -> None:
    trials = pd.DataFrame(
        {
            "sweep": "s",
            "study": "s",
            "trial": [0, 1, 2, 3],
            "state": "COMPLETE",
            "run_id": ["a", "b", "c", "d"],
            "objective": "val_accuracy",
            "direction": "maximize",
            "value": [0.5, 0.52, 0.6, 0.61],
            "params.dropout": [0.1, 0.1, 0.1 * 3, 0.1 * 3],
            "metrics.test_accuracy": [0.5, 0.5, 0.6, 0.6],
            "metrics.best_epoch": 1,
        }
    )
    samples = trials.assign(sample=trials["value"], sample_run_id=trials["run_id"])
    built = report.build(trials, samples, pd.DataFrame(), ["dropout"])
    text = built.render("text")
    assert "0.30000000000000004" not in text and "dropout=0.3 vs 0.1" in text, text


def test_a_headline_is_the_first_line_cut_to_the_width() -> None:
    assert headline("short\nand more", 40) == "short"
    assert headline("x" * 50, 10) == "xxxxxxx..."


def test_the_nightly_history_shows_the_best_value_without_noise(tmp_path) -> None:
    from sweeps.reporting.nightly import history
    from sweeps.tracking.tracker import FINISHED, Tracker

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "s")
    tags = {"nightly": "2026-12-01", "objective.metric": "val_accuracy", "best.dropout": 0.1 * 3, "best.activation": "relu"}
    run_id = tracker.start_run("s 2026-12-01", tags)
    tracker.log(run_id, metrics={"best_val_accuracy": 0.5})
    tracker.end_run(run_id, FINISHED)
    assert history(tracker, "s") == [["2026-12-01", "0.5000", "activation=relu dropout=0.3", "-"]]
