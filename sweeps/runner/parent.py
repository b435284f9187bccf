"""The parent run of a study's invocation: opened once, described once, closed as the dashboard.

Closing it records what the study found: the trial counts, the epochs trained against the
budget, the best trial's params and metrics (so parents of several studies or nights compare
in the runs table), the table of trials, the comparison plots, and a description holding the
comparison itself. The best trial keeps its model.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sweeps.data.dataset import Dataset
from sweeps.engines.base import TrialRecord, TrialState, best_record
from sweeps.faults import crash_point
from sweeps.logs import say
from sweeps.reporting import dashboard
from sweeps.runner.trial import SweepContext, dataset_input
from sweeps.tracking import query
from sweeps.tracking.tracker import Tracker


def describe(ctx: SweepContext, fixed: dict[str, Any], dataset: Dataset) -> None:
    """What the parent run records once: the fixed values, the budget, the data, the search-space file."""
    params = {**fixed, "trials": ctx.spec.trials, "data.location": dataset.source.location}
    ctx.tracker.log(ctx.parent_run_id, params=params)
    ctx.tracker.log_dataset(ctx.parent_run_id, dataset_input(dataset))
    ctx.tracker.log_text(ctx.parent_run_id, ctx.spec.text, "search_space.yaml")


def keep_best_model(ctx: SweepContext, records: list[TrialRecord]) -> None:
    """Log this process's best model if its trial is the study's best, and delete the models
    of trials that are not (an earlier invocation's or another worker's best)."""
    if ctx.best_model is None or ctx.keep_models == "all":
        return
    best = best_record(records, ctx.spec.objective)
    _, run_id, model = ctx.best_model
    if best is None or best.attrs.get("mlflow_run_id") != run_id:
        return
    ctx.tracker.log_model(run_id, model)
    others = [r.attrs["mlflow_run_id"] for r in records if r.attrs.get("mlflow_run_id") not in (None, run_id)]
    ctx.tracker.delete_models(others)


def close(ctx: SweepContext, study: str, records: list[TrialRecord], table: str, status: str) -> None:
    """Record what the study found on the parent run, then end it with ``status``."""
    tracker, parent, spec = ctx.tracker, ctx.parent_run_id, ctx.spec
    counts = {
        state: sum(r.state == state for r in records) for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    }
    best = best_record(records, spec.objective)
    try:
        metrics = {f"trials_{state.lower()}": count for state, count in counts.items()}
        metrics.update(_epochs(records, parent))
        tags: dict[str, Any] = {}
        params: dict[str, Any] = {}
        if best is not None:
            metrics[f"best_{spec.objective.metric}"] = best.value
            if best.attrs.get(spec.test_metric) is not None:
                metrics[spec.test_metric] = best.attrs[spec.test_metric]
            tags = {"best.trial": best.number, **{f"best.{k}": v for k, v in best.params.items()}}
            params = dict(best.params)  # the swept params' best values, beside the fixed ones
        tracker.log(parent, params=params, metrics=metrics, tags=tags)
        tracker.log_text(parent, table + "\n", "trials.md")
        _dashboard(ctx, study, counts)
        crash_point("closing-parent")
    finally:
        tracker.end_run(parent, status)


def _epochs(records: list[TrialRecord], parent: str) -> dict[str, int]:
    """Epochs of every trial run under ``parent`` (by any worker) against the epochs they would
    have trained with no early stopping, pruning or Hyperband."""
    mine = [r.attrs for r in records if r.attrs.get("mlflow_parent_run_id") == parent]
    trained, budget = sum(a.get("epochs_trained") or 0 for a in mine), sum(a.get("epochs_budget") or 0 for a in mine)
    return {"epochs_trained_total": trained, "epochs_budget_total": budget, "epochs_saved": budget - trained}


def _dashboard(ctx: SweepContext, study: str, counts: dict[str, int]) -> None:
    """The comparison plots and the description; a plot that cannot be drawn is skipped with a
    warning, never a reason to lose the sweep's record."""
    tracker, spec = ctx.tracker, ctx.spec
    try:
        records = study_records(tracker, spec.name, study, list(spec.params))
        with tempfile.TemporaryDirectory(prefix="sweeps-plots-") as directory:
            written = dashboard.write_study_plots(records, Path(directory), ctx.engine.optuna_study, spec.sampler.grid)
            for path in written:
                tracker.log_file(ctx.parent_run_id, path, "plots")
        names = [path.name for path in written]
        tracker.set_note(ctx.parent_run_id, dashboard.note(spec.description, study, records, counts, names, ctx.parent_run_id))
    except Exception as error:
        say(f"  warning: the study's dashboard was skipped: {type(error).__name__}: {error}")


def study_records(tracker: Tracker, sweep: str, study: str, params: list[str]) -> dashboard.StudyRecords:
    """A study's trials, samples and curves, read back from MLflow."""
    uri = tracker.tracking_uri
    return dashboard.StudyRecords(
        query.runs(sweep, uri, study=study), query.samples(sweep, uri, study=study), query.curves(sweep, uri, study=study), params
    )
