"""Nightly sweeps: run the scheduled sweeps for a date, compare with the night before, alert.

``search_spaces/nightly.yaml`` lists the sweeps, each with its trial budget, a regression
threshold on its objective (absolute), and optional overrides. Each night is a fresh study,
``<sweep>@<date>``, so nights are comparable and re-running a date resumes that night's studies.
Earlier nights are found in MLflow (parent runs tagged ``nightly=<date>``), not in a side file.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sweeps.console import render_table
from sweeps.errors import ConfigError
from sweeps.spec_reader import Reader
from sweeps.tracking import FINISHED, Tracker

NIGHTLY_EXPERIMENT = "nightly"
IMPROVED, UNCHANGED, REGRESSED, FAILED, FIRST = "improved", "unchanged", "REGRESSED", "FAILED", "first night"


@dataclass(frozen=True)
class Entry:
    """One scheduled sweep: its budget, its regression threshold and any overrides."""

    sweep: str
    trials: int
    threshold: float
    overrides: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class Night:
    """One sweep's result on one night, and how it compares with the previous night."""

    sweep: str
    metric: str = ""
    direction: str = "maximize"
    best: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    previous: float | None = None
    previous_date: str | None = None
    verdict: str = FIRST
    error: str = ""

    @property
    def change(self) -> float | None:
        return None if self.best is None or self.previous is None else self.best - self.previous


def load_schedule(path: Path) -> list[Entry]:
    """Read the schedule file.

    Raises:
        ConfigError: a missing or malformed file, or an entry breaking a rule (named).
    """
    try:
        document = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"{path}: cannot read the schedule: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {getattr(error, 'problem', error)}") from None
    top = Reader(str(path), document, "")
    top.only(("sweeps",))
    listed = top.section("sweeps")
    entries = []
    for sweep in listed.data:
        entry = listed.section(str(sweep))
        entry.only(("trials", "threshold", "set"))
        trials = entry.get("trials", int)
        threshold = entry.get("threshold", float)
        if trials < 1 or threshold < 0:
            raise entry.error("trials" if trials < 1 else "threshold", "must be >= 1 trials and a threshold >= 0")
        entries.append(Entry(str(sweep), trials, threshold, dict(entry.section("set", default={}).data)))
    if not entries:
        raise listed.error("", "must list at least one sweep")
    return entries


def study_for(sweep: str, date: dt.date) -> str:
    """The night's own study: ``imdb_depth@2026-11-22``."""
    return f"{sweep}@{date.isoformat()}"


def compare(night: Night, threshold: float) -> Night:
    """Set ``night.verdict``: better or worse than the previous night by more than ``threshold``."""
    if night.error:
        night.verdict = FAILED
    elif night.change is None:
        night.verdict = FIRST
    else:
        gain = night.change if night.direction == "maximize" else -night.change
        night.verdict = IMPROVED if gain > threshold else REGRESSED if gain < -threshold else UNCHANGED
    return night


def previous_night(tracker: Tracker, date: dt.date) -> tuple[str, float, str] | None:
    """The latest night before ``date`` of ``tracker``'s sweep: (date, best value, metric)."""
    best: dict[str, tuple[float, str]] = {}
    for run in _parents(tracker):
        night, metric = run.data.tags["nightly"], run.data.tags.get("objective.metric", "")
        value = run.data.metrics.get(f"best_{metric}")
        if night < date.isoformat() and value is not None and math.isfinite(value):
            best[night] = (value, metric)  # one parent per night unless a night was resumed; any holds its best
    if not best:
        return None
    latest = max(best)
    return latest, *best[latest]


def history(tracker: Tracker) -> list[list[str]]:
    """Rows of (date, best, best params, change) for every night of ``tracker``'s sweep."""
    nights: dict[str, Any] = {}
    for run in _parents(tracker):
        metric = run.data.tags.get("objective.metric", "")
        if f"best_{metric}" in run.data.metrics:
            nights[run.data.tags["nightly"]] = run
    rows, previous = [], None
    for date in sorted(nights):
        run = nights[date]
        value = run.data.metrics[f"best_{run.data.tags['objective.metric']}"]
        params = " ".join(f"{k[5:]}={v}" for k, v in sorted(run.data.tags.items()) if k.startswith("best.") and k != "best.trial")
        rows.append([date, f"{value:.4f}", params, "-" if previous is None else f"{value - previous:+.4f}"])
        previous = value
    return rows


def summary(date: dt.date, nights: list[Night]) -> str:
    """The night's markdown summary: one row per sweep, regressions first in the headline."""
    regressed = [n.sweep for n in nights if n.verdict == REGRESSED]
    headline = (f"**{len(regressed)} sweep(s) regressed: {', '.join(regressed)}**" if regressed
                else "No sweep regressed.")
    rows = [[n.sweep, n.metric, _value(n.best), n.previous_date or "-", _value(n.previous),
             "-" if n.change is None else f"{n.change:+.4f}", n.verdict,
             n.error or " ".join(f"{k}={v}" for k, v in n.params.items())] for n in nights]
    header = ["sweep", "objective", "tonight", "previous night", "previous", "change", "verdict", "best configuration"]
    return f"# Nightly sweeps, {date.isoformat()}\n\n{headline}\n\n{render_table(header, rows, markdown=True)}\n"


def record_summary(tracker_for: Callable[[str], Tracker], date: dt.date, text: str, nights: list[Night]) -> str:
    """Log the summary to the ``nightly`` experiment: one run per date, updated when re-run."""
    tracker = tracker_for(NIGHTLY_EXPERIMENT)
    existing = tracker.client.search_runs([tracker.experiment_id], f"tags.nightly = '{date.isoformat()}'")
    run_id = existing[0].info.run_id if existing else tracker.start_run(f"nightly {date.isoformat()}", {"nightly": date.isoformat()})
    counts = {verdict: sum(n.verdict == verdict for n in nights) for verdict in (IMPROVED, UNCHANGED, REGRESSED, FAILED)}
    tracker.log(run_id, metrics={f"sweeps_{k.lower()}": v for k, v in counts.items()})
    tracker.log_text(run_id, text, "summary.md")
    tracker.end_run(run_id, FINISHED)
    return run_id


def _parents(tracker: Tracker) -> list:
    """The sweep's nightly parent runs (trial runs carry the tag too), oldest first."""
    found = tracker.client.search_runs([tracker.experiment_id], "tags.nightly != ''", order_by=["attributes.start_time ASC"])
    return [run for run in found if "mlflow.parentRunId" not in run.data.tags]


def _value(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
