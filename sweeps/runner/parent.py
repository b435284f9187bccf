"""The parent run of a study's invocation: opened once, described once, closed as the dashboard.

Closing it records what the study found: the trial counts, the epochs trained against the
budget, the best trial's params and metrics (so parents of several studies or nights compare
in the runs table), the table of trials, the comparison plots, and a description holding the
comparison itself. The best trial keeps its model (``ModelKeeper``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sweeps.data.dataset import Dataset
from sweeps.defaults import KEEP_MODELS
from sweeps.engines.base import TrialRecord, TrialState, best_record
from sweeps.faults import crash_point
from sweeps.logs import say
from sweeps.reporting import dashboard, report
from sweeps.reporting.ranges import scale
from sweeps.reporting.study import StudyRecords
from sweeps.spec.objective import Objective
from sweeps.spec.sweep import SweepSpec
from sweeps.tracking import query
from sweeps.tracking.records import dataset_input
from sweeps.tracking.tracker import Tracker

CLOSED_WHOLE = "sweeps.closed_whole"  # tagged last, once the dashboard is written and the run ended


@dataclass(frozen=True)
class ParentRun:
    """The run every trial of this invocation nests under (shared by ``--jobs`` workers)."""

    tracker: Tracker
    run_id: str
    spec: SweepSpec

    def describe(self, fixed: dict[str, Any], dataset: Dataset) -> None:
        """What the parent run records once: the fixed values, the budget, the data, the search-space file."""
        params = {**fixed, "trials": self.spec.trials, "data.location": dataset.source.location}
        self.tracker.log(self.run_id, params=params)
        self.tracker.log_dataset(self.run_id, dataset_input(dataset))
        self.tracker.log_text(self.run_id, self.spec.text, "search_space.yaml")

    def close(
        self, study: str, records: list[TrialRecord], table: str, status: str, optuna_study: Any = None
    ) -> report.Report | None:
        """Record what the study found on the parent run, then end it with ``status``; return the
        comparison its dashboard shows (``None`` when there is none, or it could not be made).

        ``optuna_study``, when the engine is Optuna, adds Optuna's own plots to the dashboard.
        The run is tagged ``CLOSED_WHOLE`` last: a parent without the tag was stopped while its
        dashboard was written (``recovery.partial_parent`` finds it to be written again).
        """
        tracker, spec = self.tracker, self.spec
        counts = {
            state: sum(r.state == state for r in records) for state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
        }
        best = best_record(records, spec.objective)
        try:
            metrics = {f"trials_{state.lower()}": count for state, count in counts.items()}
            metrics.update(_epochs(records, self.run_id))
            tags: dict[str, Any] = {}
            params: dict[str, Any] = {}
            if best is not None:
                metrics[f"best_{spec.objective.metric}"] = best.value
                if best.attrs.get(spec.test_metric) is not None:
                    metrics[spec.test_metric] = best.attrs[spec.test_metric]
                tags = {"best.trial": best.number, **{f"best.{k}": v for k, v in best.params.items()}}
                params = dict(best.params)  # the swept params' best values, beside the fixed ones
            tracker.log(self.run_id, params=params, metrics=metrics, tags=tags)
            tracker.log_text(self.run_id, table + "\n", "trials.md")
            comparison = self._dashboard(study, counts, optuna_study)
            if comparison is not None:
                metrics, tags = _answers(comparison)
                tracker.log(self.run_id, metrics=metrics, tags=tags)
        finally:
            tracker.end_run(self.run_id, status)
        tracker.log(self.run_id, tags={CLOSED_WHOLE: "true"})
        return comparison

    def _dashboard(self, study: str, counts: dict[str, int], optuna_study: Any) -> report.Report | None:
        """The comparison plots and the description, and the comparison they show; a plot that
        cannot be drawn is skipped with a warning, never a reason to lose the sweep's record."""
        tracker, spec = self.tracker, self.spec
        try:
            records = study_records(tracker, spec, study)
            with tempfile.TemporaryDirectory(prefix="sweeps-plots-") as directory:
                written = dashboard.write_study_plots(records, Path(directory), optuna_study, spec.sampler.grid)
                for path in written:
                    tracker.log_file(self.run_id, path, "plots")
            crash_point("writing-dashboard")
            names = [path.name for path in written]
            comparison = records.comparison()
            tracker.set_note(self.run_id, dashboard.note(spec.description, study, comparison, counts, names, self.run_id))
            return comparison
        except Exception as error:
            say(f"  warning: the study's dashboard was skipped: {type(error).__name__}: {error}")
            return None


class ModelKeeper:
    """Which trials keep their Keras model in MLflow: every trial's (``"all"``, logged at once),
    or the study's best (``"best"``): this process remembers its own best model and logs it
    at the end only if its trial is the study's best, so a model is uploaded once.

    Args:
        tracker: where models are logged.
        objective: what "best" means.
        keep: ``"best"`` or ``"all"``.
    """

    def __init__(self, tracker: Tracker, objective: Objective, keep: str = KEEP_MODELS) -> None:
        self.tracker, self.objective, self.keep_all = tracker, objective, keep == "all"
        self._best: tuple[float, str, Any] | None = None  # this process's best trial: value, run id, model

    def offer(self, run_id: str, value: float, model: Any) -> None:
        """A COMPLETE trial's model: logged now (``"all"``), or remembered if it is this process's best."""
        if self.keep_all:
            self.tracker.log_model(run_id, model)
        elif self._best is None or self.objective.better(value, self._best[0]):
            self._best = (value, run_id, model)

    def keep(self, records: list[TrialRecord]) -> None:
        """Log this process's best model if its trial is the study's best, and delete the models
        of trials that are not (an earlier invocation's or another worker's best)."""
        if self._best is None or self.keep_all:
            return
        best = best_record(records, self.objective)
        _, run_id, model = self._best
        if best is None or best.attrs.get("mlflow_run_id") != run_id:
            return
        self.tracker.log_model(run_id, model)
        others = [r.attrs["mlflow_run_id"] for r in records if r.attrs.get("mlflow_run_id") not in (None, run_id)]
        self.tracker.delete_models(others)


def _answers(comparison: report.Report) -> tuple[dict[str, float], dict[str, str]]:
    """The comparison's answers as the parent run's metrics and tags: each parameter's
    importance, and the trials of a Pareto front."""
    ranking = comparison.importance.shares if comparison.importance is not None else {}
    front = comparison.front
    tags = {"pareto.trials": ",".join(map(str, front.on_front["trial"]))} if front is not None else {}
    return {f"importance.{name}": share for name, share in ranking.items()}, tags


def _epochs(records: list[TrialRecord], parent: str) -> dict[str, int]:
    """Epochs of every trial run under ``parent`` (by any worker) against the epochs they would
    have trained with no early stopping, pruning or Hyperband."""
    mine = [r.attrs for r in records if r.attrs.get("mlflow_parent_run_id") == parent]
    trained, budget = sum(a.get("epochs_trained") or 0 for a in mine), sum(a.get("epochs_budget") or 0 for a in mine)
    return {"epochs_trained_total": trained, "epochs_budget_total": budget, "epochs_saved": budget - trained}


def study_records(tracker: Tracker, spec: SweepSpec, study: str) -> StudyRecords:
    """A study's trials, samples and curves, read back from MLflow."""
    uri, sweep = tracker.tracking_uri, spec.name
    return StudyRecords(
        query.runs(sweep, uri, study=study),
        query.samples(sweep, uri, study=study),
        query.curves(sweep, uri, study=study),
        list(spec.params),
        {name: scale(param.type, param.log, spec.sampler.grid) for name, param in spec.params.items()},
    )
