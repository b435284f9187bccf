"""Nightly verdicts: each scheduled sweep's best tonight against the night before, the night's
summary, and a sweep's history over the nights.

Each night is a fresh study, ``<sweep>@<date>``, so nights are comparable and re-running a date
resumes that night's studies. Earlier nights are found in MLflow (parent runs tagged
``nightly=<date>``), not in a side file.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sweeps.formatting import param_text
from sweeps.reporting.tables import cell, render_table
from sweeps.spec.objective import Objective
from sweeps.tracking.tracker import FINISHED, PARENT_TAG, Tracker

NIGHTLY_EXPERIMENT = "nightly"
IMPROVED, UNCHANGED, REGRESSED, FAILED, FIRST = "improved", "unchanged", "REGRESSED", "FAILED", "first night"
VERDICT_TAG, ERROR_TAG = "verdict.", "error."  # + the sweep's name: tags of a night's summary run


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
        gain = Objective(night.metric, night.direction).gain(night.change)
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


def history(tracker: Tracker, sweep: str) -> list[list[str]]:
    """Rows of (date, best, best configuration, change) for every night of ``sweep``: the nights
    it measured something (its parent runs), and the nights it failed (the nightly summaries)."""
    nights: dict[str, list[str]] = {}
    experiment_id = tracker.experiment_id_of(NIGHTLY_EXPERIMENT)
    for run in tracker.runs(experiment_id, f"tags.`{VERDICT_TAG}{sweep}` = '{FAILED}'") if experiment_id else []:
        error = run.data.tags.get(f"{ERROR_TAG}{sweep}", "")
        nights[run.data.tags["nightly"]] = ["-", f"{FAILED}: {error}" if error else FAILED]
    experiment_id = tracker.experiment_id_of(sweep)
    values: dict[str, float] = {}
    for run in _parents(tracker, experiment_id) if experiment_id else []:
        metric = run.data.tags.get("objective.metric", "")
        if f"best_{metric}" in run.data.metrics:
            date, values[date] = run.data.tags["nightly"], run.data.metrics[f"best_{metric}"]
            best = sorted((k[5:], v) for k, v in run.data.tags.items() if k.startswith("best.") and k != "best.trial")
            nights[date] = [f"{values[date]:.4f}", " ".join(f"{k}={param_text(_logged(v))}" for k, v in best)]
    rows, previous = [], None
    for date in sorted(nights):
        change = "-" if previous is None or date not in values else f"{values[date] - previous:+.4f}"
        rows.append([date, *nights[date], change])
        previous = values.get(date, previous)
    return rows


def summary(date: dt.date, nights: list[Night]) -> str:
    """The night's markdown summary: one row per sweep, regressions first in the headline."""
    bad = {verdict: [n.sweep for n in nights if n.verdict == verdict] for verdict in (REGRESSED, FAILED)}
    said = [f"**{len(names)} sweep(s) {verdict.lower()}: {', '.join(names)}**" for verdict, names in bad.items() if names]
    headline = " ".join(said) or "No sweep regressed or failed."
    rows = [
        [
            n.sweep,
            n.metric,
            cell(n.best),
            n.previous_date or "-",
            cell(n.previous),
            "-" if n.change is None else f"{n.change:+.4f}",
            n.verdict,
            n.error or " ".join(f"{k}={param_text(v)}" for k, v in n.params.items()),
        ]
        for n in nights
    ]
    header = ["sweep", "objective", "tonight", "previous night", "previous", "change", "verdict", "best configuration"]
    return f"# Nightly sweeps, {date.isoformat()}\n\n{headline}\n\n{render_table(header, rows, markdown=True)}\n"


def record_summary(tracker_for: Callable[[str], Tracker], date: dt.date, text: str, nights: list[Night]) -> str:
    """Log the summary to the ``nightly`` experiment: one run per date, updated when re-run."""
    tracker = tracker_for(NIGHTLY_EXPERIMENT)
    existing = tracker.runs(tracker.experiment_id, f"tags.nightly = '{date.isoformat()}'")
    run_id = (
        existing[0].info.run_id if existing else tracker.start_run(f"nightly {date.isoformat()}", {"nightly": date.isoformat()})
    )
    counts = {verdict: sum(n.verdict == verdict for n in nights) for verdict in (IMPROVED, UNCHANGED, REGRESSED, FAILED)}
    verdicts = {f"{VERDICT_TAG}{n.sweep}": n.verdict for n in nights}
    errors = {f"{ERROR_TAG}{n.sweep}": n.error[:500] for n in nights if n.error}
    tracker.log(run_id, metrics={f"sweeps_{k.lower()}": v for k, v in counts.items()}, tags={**verdicts, **errors})
    tracker.log_text(run_id, text, "summary.md")
    tracker.end_run(run_id, FINISHED)
    return run_id


def _parents(tracker: Tracker, experiment_id: str | None = None) -> list:
    """The sweep's nightly parent runs (trial runs carry the tag too), oldest first."""
    found = tracker.runs(experiment_id or tracker.experiment_id, "tags.nightly != ''", order_by=["attributes.start_time ASC"])
    return [run for run in found if PARENT_TAG not in run.data.tags]


def _logged(text: str) -> object:
    """A value kept as a tag's text, read back as the float it was (``0.30000000000000004``),
    so it is shown like any other; other text as it is."""
    try:
        return text if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return text
