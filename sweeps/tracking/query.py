"""Sweeps as pandas DataFrames, read from MLflow: the notebook API and what reports build on.

    >>> from sweeps import query
    >>> trials = query.runs("imdb_depth")          # one row per trial
    >>> curves = query.curves("imdb_depth")        # per-epoch metrics, long form
    >>> model = query.best_model("imdb_depth")     # the best trial's Keras model

Columns follow MLflow's naming (``params.layers``, ``metrics.test_accuracy``) because a name
can be both (``loss`` is a hyperparameter and a training metric), plus ``sweep``, ``study``,
``trial``, ``state``, ``engine``, ``value`` (the objective) and ``run_id``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from mlflow.entities import Run

from sweeps.errors import ConfigError, first_line
from sweeps.logs import quiet
from sweeps.spec.objective import MEASURED, Objective
from sweeps.tracking.filters import split_filter
from sweeps.tracking.stores import Stores, mask
from sweeps.tracking.tracker import PARENT_TAG, Tracker

# Final (one-value) metrics, with the measured objectives; every other metric of a trial run is a per-epoch curve.
_FINAL_PREFIXES = ("test_", "best_", "epochs_", "trials_")
_FINAL_SUFFIXES = ("_mean", "_std")


def runs(
    sweeps: str | Sequence[str], tracking_uri: str | None = None, where: str | None = None, study: str | None = None
) -> pd.DataFrame:
    """One row per trial of the named sweep(s), over every invocation (both engines).

    Args:
        sweeps: a sweep name or several.
        tracking_uri: the MLflow store (default: ``MLFLOW_TRACKING_URI`` or ``mlruns/``).
        where: an MLflow filter, e.g. ``"params.activation = 'tanh'"``.
        study: only this study; ``None`` picks each sweep's main study (see ``pick_study``);
            ``"all"`` keeps every study.
    """
    return _frame(_trial_runs(_tracker(tracking_uri), sweeps, where, study))


def samples(
    sweeps: str | Sequence[str], tracking_uri: str | None = None, where: str | None = None, study: str | None = None
) -> pd.DataFrame:
    """One row per measured value: each replicate of a trial with ``repeats``, each fold of a
    K-fold trial, or else the trial itself; with its trial's params. The unit of a t-test."""
    tracker = _tracker(tracking_uri)
    rows = []
    for run in _trial_runs(tracker, sweeps, where, study):
        metric = f"best_{run.data.tags.get('objective.metric')}"
        for sample in [n for n in tracker.children(run) if metric in n.data.metrics] or [run]:
            rows.append({**_row(run), "sample_run_id": sample.info.run_id, "sample": sample.data.metrics.get(metric)})
    return _numeric_params(pd.DataFrame(rows))


def curves(
    sweeps: str | Sequence[str], tracking_uri: str | None = None, where: str | None = None, study: str | None = None
) -> pd.DataFrame:
    """Per-epoch metrics of every trial in long form: sweep, study, trial, run_id, params.*,
    ``metric``, ``step`` (the epoch, from 1) and ``value``."""
    tracker = _tracker(tracking_uri)
    rows = []
    for run in _trial_runs(tracker, sweeps, where, study):
        identity = {key: value for key, value in _row(run).items() if not key.startswith("metrics.")}
        for key in run.data.metrics:
            if key.startswith(_FINAL_PREFIXES) or key.endswith(_FINAL_SUFFIXES) or key in MEASURED:
                continue
            for point in tracker.metric_history(run.info.run_id, key):
                rows.append({**identity, "metric": key, "step": point.step, "value": point.value})
    return _numeric_params(pd.DataFrame(rows))


def best_model(sweep: str, tracking_uri: str | None = None, study: str | None = None) -> Any:
    """The Keras model of the sweep's best COMPLETE trial (its best epoch's weights), as kept in
    MLflow at the end of the sweep.

    Raises:
        ConfigError: the sweep has no COMPLETE trial, or its best trial kept no model.
    """
    trials = runs(sweep, tracking_uri, study=study)
    complete = trials[trials["state"] == "COMPLETE"] if len(trials) else trials
    if complete.empty:
        raise ConfigError(f"sweep '{sweep}' has no COMPLETE trial, so no best model")
    objective = Objective(complete["objective"].iloc[0], complete["direction"].iloc[0])
    best = complete.loc[objective.best(complete.index, key=complete["value"].get)]
    try:
        with quiet():  # TensorFlow's start-up lines and MLflow's download bar are not the caller's
            return _tracker(tracking_uri).load_model(best["run_id"])
    except Exception as error:  # MLflow raises several kinds when nothing is there
        raise ConfigError(f"the best trial of '{sweep}' (run {best['run_id']}) kept no model: {first_line(error)}") from None


def ordered(values: pd.Series) -> list:
    """A parameter's distinct values: numbers ascending, anything else in first-seen order
    (for a grid, the order the search-space file lists them)."""
    distinct = list(dict.fromkeys(values))
    return sorted(distinct) if pd.api.types.is_numeric_dtype(values) else distinct


def pick_study(studies: dict[str, float], sweep: str) -> str:
    """A sweep's main study among ``studies`` (name -> last start time): the one named after
    the sweep if it exists (no overrides), else the most recently run."""
    return sweep if sweep in studies else max(studies, key=studies.get)


def studies(sweep: str, tracking_uri: str | None = None, where: str | None = None) -> dict[str, int]:
    """The sweep's studies and their trials (matching ``where``), the main one (``pick_study``) first."""
    by_study = _by_study(_matching(_tracker(tracking_uri), sweep, where), sweep)
    if not by_study:
        return {}
    main = pick_study({name: max(r.info.start_time for r in found) for name, found in by_study.items()}, sweep)
    return {name: len(by_study[name]) for name in sorted(by_study, key=lambda name: name != main)}


def _trial_runs(tracker: Tracker, sweeps: str | Sequence[str], where: str | None, study: str | None) -> list[Run]:
    found: list[Run] = []
    for sweep in [sweeps] if isinstance(sweeps, str) else list(sweeps):
        trials = _matching(tracker, sweep, where)
        if study != "all" and trials:
            by_study = _by_study(trials, sweep)
            if study is not None and study not in by_study:
                listing = ", ".join(f"{name} ({len(by_study[name])} trials)" for name in sorted(by_study))
                raise ConfigError(f"--study {study}: sweep '{sweep}' has no such study; it has {listing}, or use --study all")
            latest = {name: max(r.info.start_time for r in runs) for name, runs in by_study.items()}
            trials = by_study[study or pick_study(latest, sweep)]
        found.extend(trials)
    return found


def _matching(tracker: Tracker, sweep: str, where: str | None) -> list[Run]:
    """The sweep's trial runs (not their fold or replicate runs) that ``where`` keeps."""
    experiment_id = tracker.experiment_id_of(sweep)
    if experiment_id is None:
        raise ConfigError(f"no runs of sweep '{sweep}' in {mask(tracker.tracking_uri)}; run it first")
    mlflow_filter, numeric = split_filter(where)
    try:
        trials = tracker.runs(experiment_id, " and ".join(["tags.trial != ''", *([mlflow_filter] if mlflow_filter else [])]))
    except Exception as error:  # MLflow raises for a malformed filter
        raise ConfigError(f"--where {where!r}: {first_line(error, with_type=False)}") from None
    return [
        r
        for r in trials
        if "fold" not in r.data.tags and "repeat" not in r.data.tags and all(test(r.data.params) for test in numeric)
    ]


def _by_study(trials: list[Run], sweep: str) -> dict[str, list[Run]]:
    by_study: dict[str, list[Run]] = {}
    for run in trials:
        by_study.setdefault(run.data.tags.get("study", sweep), []).append(run)
    return by_study


_COLUMNS = ["sweep", "study", "trial", "state", "engine", "run_id", "parent_run_id", "objective", "direction", "value"]


def _frame(found: list[Run]) -> pd.DataFrame:
    if not found:  # the columns still, so callers can filter an empty sweep
        return pd.DataFrame(columns=[*_COLUMNS, "data.source"])
    frame = _numeric_params(pd.DataFrame([_row(run) for run in found]))
    return frame.sort_values(["sweep", "study", "trial"]).reset_index(drop=True)


def _numeric_params(frame: pd.DataFrame) -> pd.DataFrame:
    """MLflow keeps params as text; those that are all numbers become numbers (so 2 < 10)."""
    for column in frame.columns:
        if column.startswith("params."):
            converted = pd.to_numeric(frame[column], errors="coerce")
            if converted.notna().sum() == frame[column].notna().sum():
                frame[column] = converted
    return frame


def _row(run: Run) -> dict:
    tags, metric = run.data.tags, run.data.tags.get("objective.metric", "")
    return {
        "sweep": tags.get("sweep"),
        "study": tags.get("study"),
        "trial": int(tags.get("trial", -1)),
        "state": tags.get("state", run.info.status),
        "engine": tags.get("engine"),
        "run_id": run.info.run_id,
        "parent_run_id": tags.get(PARENT_TAG),
        "objective": metric,
        "direction": tags.get("objective.direction")
        or ("minimize" if any(w in metric for w in ("loss", "mae", "mse")) else "maximize"),
        "value": run.data.metrics.get(f"best_{metric}"),
        "objectives": tags.get("objectives"),  # a study of several: all of them (sweeps.reporting.pareto)
        "data.source": tags.get("data.source"),
        **{f"params.{k}": v for k, v in run.data.params.items()},
        **{f"metrics.{k}": v for k, v in run.data.metrics.items()},
    }


def _tracker(tracking_uri: str | None) -> Tracker:
    return Tracker.for_reading(Stores.resolve(tracking_uri).tracking_uri)
