"""One trial, tracked: a nested MLflow run around a plain fit, K folds or N replicates.

The runner hands each proposal here; this module opens the trial's run (and any nested fold
or replicate runs), trains through ``trial``/``kfold``/``replicates``, records the outcome,
tells the engine, and closes every run it opened whatever happens.
"""

from __future__ import annotations

import signal
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import keras

from pipelines._data import DataOptions, Dataset
from sweeps import kfold, plots, replicates, trial
from sweeps.console import Progress
from sweeps.engines import COMPLETE, FAIL, PRUNED, Engine, Outcome, Proposal
from sweeps.errors import TrialFailed
from sweeps.spec import SweepSpec
from sweeps.tracking import FAILED, FINISHED, KILLED, EpochLogger, Tracker, model_summary

_RUN_STATUS = {COMPLETE: FINISHED, PRUNED: FINISHED, FAIL: FAILED}  # engine state -> MLflow run status


@dataclass
class SweepContext:
    """What every trial of one invocation shares."""

    spec: SweepSpec
    engine: Engine
    tracker: Tracker
    pipeline: ModuleType
    datasets: Datasets
    parent_run_id: str
    tags: dict[str, Any]  # recorded on every run of the sweep
    progress: Progress


def run_tracked_trial(ctx: SweepContext, proposal: Proposal) -> Outcome:
    """Run one proposed trial as a nested MLflow run and tell the engine how it ended.

    Any exception inside the trial makes it FAIL (message as a tag, traceback as an artifact);
    a KeyboardInterrupt fails it, ends its run as KILLED, and propagates.
    """
    spec, engine, tracker, progress = ctx.spec, ctx.engine, ctx.tracker, ctx.progress
    hp = {**spec.hyperparameters(proposal.params), **proposal.overrides}
    run_id = tracker.start_run(f"trial-{proposal.number}", {**ctx.tags, "trial": proposal.number, **proposal.tags}, ctx.parent_run_id)
    # Noted at once, so a crash cannot separate the two records.
    engine.note(proposal, {"mlflow_run_id": run_id, "mlflow_parent_run_id": ctx.parent_run_id})
    outcome = Outcome(FAIL, attrs={"mlflow_run_id": run_id, "mlflow_parent_run_id": ctx.parent_run_id,
                                   "error": "interrupted"})
    interrupted = True  # stays True only if a KeyboardInterrupt (Ctrl-C, SIGTERM) escapes
    try:
        tracker.log(run_id, params={**hp, **proposal.params})  # variants labels too, for grouping
        dataset = ctx.datasets.get(hp)
        pruning = _Pruning(engine, proposal, spec.metric)
        if spec.folds or spec.repeats > 1:
            fitted = _nested(ctx, dataset, hp, run_id, {**ctx.tags, "trial": proposal.number})
        else:
            callbacks = [EpochLogger(tracker, run_id), pruning, progress.epoch_callback(f"trial {proposal.number}", hp["epochs"])]
            fitted = trial.run(ctx.pipeline, dataset, hp, spec.metric, spec.direction, callbacks,
                               trial.Continuation(proposal.initial_epoch, proposal.warm_start, proposal.checkpoint),
                               wants_test=lambda: not pruning.pruned)
        outcome = Outcome(PRUNED if pruning.pruned else COMPLETE, fitted.value, {
            "mlflow_run_id": run_id, "mlflow_parent_run_id": ctx.parent_run_id, **fitted.test, **fitted.metrics,
            "best_epoch": fitted.best_epoch, "epochs_trained": fitted.epochs_trained,
            "epochs_budget": _epoch_budget(spec, hp, proposal)})
        _log_fitted(tracker, run_id, spec, proposal, fitted)
        interrupted = False
    except Exception as error:
        interrupted = False
        outcome = Outcome(FAIL, attrs={"mlflow_run_id": run_id, "mlflow_parent_run_id": ctx.parent_run_id,
                                       "error": _one_line(error)})
        tracker.log_text(run_id, "".join(traceback.format_exception(error)), "traceback.txt")
    finally:
        with shielded():
            error_tag = {"error": outcome.attrs["error"]} if outcome.state == FAIL else {}
            tracker.log(run_id, tags={"state": outcome.state, **error_tag})
            engine.tell(proposal, outcome)
            tracker.end_run(run_id, KILLED if interrupted else _RUN_STATUS[outcome.state])
    return outcome


def _nested(ctx: SweepContext, dataset: Dataset, hp: dict[str, Any], run_id: str, tags: dict[str, Any]) -> trial.TrialResult:
    """A trial made of several fits - K folds or N replicates - each a run nested under the
    trial's run with its own per-epoch metrics; the trial's run gets the averaged curves.
    A fit interrupted or failed ends its nested run as such."""
    spec, tracker, pipeline = ctx.spec, ctx.tracker, ctx.pipeline
    kind, count = ("fold", spec.folds) if spec.folds else ("repeat", spec.repeats)
    nested_runs: list[str] = []

    def callbacks_for(k: int) -> list[keras.callbacks.Callback]:
        extra = {"seed": hp["seed"] + k} if kind == "repeat" else {}
        nested_runs.append(tracker.start_run(f"trial-{tags['trial']}-{kind}-{k}", {**tags, kind: k, **extra}, run_id))
        label = f"trial {tags['trial']} {kind} {k + 1}/{count}"
        return [EpochLogger(tracker, nested_runs[-1]), ctx.progress.epoch_callback(label, hp["epochs"])]

    def done(k: int, result: trial.TrialResult) -> None:
        tracker.log(nested_runs[k], metrics={f"best_{spec.metric}": result.value, "best_epoch": result.best_epoch, **result.test},
                    tags={"state": COMPLETE}, step=result.epochs_trained)
        tracker.end_run(nested_runs[k], FINISHED)

    try:
        if spec.folds:
            fitted = kfold.run(pipeline, dataset, hp, spec.metric, spec.direction, spec.folds, callbacks_for, done)
        else:
            fitted = replicates.run(pipeline, dataset, hp, spec.metric, spec.direction, spec.repeats, callbacks_for, done)
    except BaseException as error:
        if nested_runs:  # the fit that was running when it broke
            with shielded():
                tracker.log(nested_runs[-1], tags={"state": FAIL})
                tracker.end_run(nested_runs[-1], KILLED if isinstance(error, KeyboardInterrupt) else FAILED)
        raise
    tracker.log_history(run_id, fitted.history)
    return fitted


def _log_fitted(tracker: Tracker, run_id: str, spec: SweepSpec, proposal: Proposal, fitted: trial.TrialResult) -> None:
    tracker.log(run_id, metrics={**fitted.test, **fitted.metrics, f"best_{spec.metric}": fitted.value,
                                 "best_epoch": fitted.best_epoch, "epochs_trained": fitted.epochs_trained},
                step=fitted.epochs_trained)
    title = f"{spec.name} trial {proposal.number}: " + ", ".join(f"{k}={v}" for k, v in proposal.params.items())
    figure = plots.learning_curves(fitted.history, title)
    try:
        tracker.log_figure(run_id, figure, "learning_curves.png")
    finally:
        plots.close(figure)
    tracker.log_text(run_id, model_summary(fitted.model), "model_summary.txt")


def _epoch_budget(spec: SweepSpec, hp: dict[str, Any], proposal: Proposal) -> int:
    """Epochs a trial trains when nothing stops it early (K-fold: every fold, then the final fit;
    replicates: every seed)."""
    epochs = hp["epochs"] - proposal.initial_epoch
    return (spec.folds + 1) * epochs if spec.folds else spec.repeats * epochs


class _Pruning(keras.callbacks.Callback):
    """Reports the objective to the engine each epoch and stops the fit when it says prune."""

    def __init__(self, engine: Engine, proposal: Proposal, metric: str) -> None:
        super().__init__()
        self.engine, self.proposal, self.metric, self.pruned = engine, proposal, metric, False

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        value = (logs or {}).get(self.metric)
        if value is not None and self.engine.should_prune(self.proposal, epoch + 1, float(value)):
            self.pruned = True
            self.model.stop_training = True


class Datasets:
    """Datasets loaded once per process, keyed by the hyperparameters that shape them."""

    def __init__(self, pipeline: ModuleType, options: DataOptions) -> None:
        self.pipeline, self.options, self._loaded = pipeline, options, {}
        self._keys = sorted(k for k, decl in pipeline.HYPERPARAMETERS.items() if decl.affects_data)

    def get(self, hp: dict[str, Any]) -> Dataset:
        key = tuple(hp[k] for k in self._keys)
        if key not in self._loaded:
            self._loaded[key] = self.pipeline.load_data(hp, self.options)
        return self._loaded[key]


def _one_line(error: BaseException) -> str:
    """The first line of an error; our own TrialFailed messages need no type name in front."""
    text = str(error).strip().splitlines()
    if not text:
        return type(error).__name__
    return text[0] if isinstance(error, TrialFailed) else f"{type(error).__name__}: {text[0]}"


@contextmanager
def shielded() -> Iterator[None]:
    """Ignore Ctrl-C while runs are being closed, so a second Ctrl-C cannot leave one RUNNING."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
