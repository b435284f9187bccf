"""One trial, tracked: a nested MLflow run around one fit, or around K folds or N replicates.

The runner hands each proposal here; this module opens the trial's run (and a nested run per
fold or replicate), trains through ``sweeps.training``, records the outcome, tells the engine,
and closes every run it opened whatever happens.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any

import keras

from sweeps.data.dataset import Dataset
from sweeps.engines.base import Engine, Outcome, Proposal, TrialState
from sweeps.errors import Interrupted, PipelineError, TrialFailed, first_line
from sweeps.faults import crash_point
from sweeps.reporting import plots
from sweeps.runner.progress import Progress
from sweeps.runner.signals import shielded
from sweeps.spec.objective import Objective
from sweeps.spec.sweep import SweepSpec
from sweeps.tracking.callbacks import EpochLogger, model_summary
from sweeps.tracking.records import (
    FINAL_STEP,
    ROLE,
    TRIAL,
    DatasetRecord,
    dataset_record,
    part_run_name,
    trial_run_name,
)
from sweeps.tracking.tracker import FAILED, FINISHED, KILLED, Tracker
from sweeps.training import several
from sweeps.training.datasets import DatasetCache
from sweeps.training.fit import BuildFailed, Continuation, FitRequest, Fitted, train
from sweeps.training.fused import why_not_fused

_RUN_STATUS = {
    TrialState.COMPLETE: FINISHED,
    TrialState.PRUNED: FINISHED,
    TrialState.FAIL: FAILED,
}  # engine state -> MLflow run status


@dataclass
class SweepContext:
    """What every trial of one invocation shares."""

    spec: SweepSpec
    engine: Engine
    tracker: Tracker
    datasets: DatasetCache
    parent_run_id: str
    tags: dict[str, Any]  # recorded on every run of the sweep
    progress: Progress
    keep_models: str = "best"  # "best": the study's best trial keeps its model; "all": every trial does
    models_built: bool = False  # once one model was built, a build error is a bad combination, not a bug
    best_model: tuple[float, str, Any] | None = None  # this process's best trial: value, run id, model

    @property
    def objective(self) -> Objective:
        return self.spec.objective


def run_tracked_trial(ctx: SweepContext, proposal: Proposal) -> Outcome:
    """Run one proposed trial as a nested MLflow run and tell the engine how it ended.

    Any exception inside the trial makes it FAIL (message as a tag, traceback as an artifact);
    a KeyboardInterrupt fails it, ends its run as KILLED, and propagates.

    Raises:
        PipelineError: the pipeline's ``build_model`` raised before any model was built in this
            process: its code is broken, so the sweep stops at once (the trial is FAIL first).
    """
    spec, engine, tracker = ctx.spec, ctx.engine, ctx.tracker
    hp = {**spec.hyperparameters(proposal.params), **proposal.overrides}
    tags = {**ctx.tags, ROLE: TRIAL, "trial": proposal.number, **proposal.tags}
    run_id = tracker.start_run(trial_run_name(proposal.params, proposal.number), tags, ctx.parent_run_id)
    ids = {"mlflow_run_id": run_id, "mlflow_parent_run_id": ctx.parent_run_id}
    engine.note(proposal, ids)  # at once, so a crash cannot separate the two records
    outcome, broken = Outcome(TrialState.FAIL, attrs={**ids, "error": "interrupted"}), None
    interrupted = True  # stays True only if a KeyboardInterrupt (Ctrl-C, SIGTERM) escapes
    try:
        outcome = _attempt(ctx, proposal, hp, run_id)
        interrupted = False
    except Exception as error:
        interrupted = False
        if isinstance(error, BuildFailed) and not ctx.models_built:
            broken = PipelineError(
                f"pipeline {spec.pipeline.name}: {first_line(error, with_type=False)}; "
                "fix the pipeline (this trial was recorded as FAIL)"
            )
        outcome = Outcome(
            TrialState.FAIL, attrs={**ids, "error": first_line(error, with_type=not isinstance(error, TrialFailed))}
        )
        tracker.log_text(run_id, "".join(traceback.format_exception(error)), "traceback.txt")
    finally:
        _record(ctx, proposal, run_id, outcome, interrupted)
    if broken is not None:
        raise broken
    ctx.models_built = True
    return outcome


def _record(ctx: SweepContext, proposal: Proposal, run_id: str, outcome: Outcome, interrupted: bool) -> None:
    """Tell the engine and MLflow how the trial ended, shielded from Ctrl-C.

    Raises:
        Interrupted: Ctrl-C arrived while the records were written; they were written first.
    """
    try:
        with shielded():
            error = {"error": outcome.attrs["error"]} if outcome.state == TrialState.FAIL else {}
            ctx.tracker.log(run_id, tags={"state": outcome.state, **error})
            ctx.engine.tell(proposal, outcome)
            crash_point("after-tell")
            ctx.tracker.end_run(run_id, KILLED if interrupted else _RUN_STATUS[outcome.state])
    except KeyboardInterrupt:
        ended = "was marked FAIL and its run KILLED" if interrupted else f"ended {outcome.state} as it was stopped"
        raise Interrupted(f"trial {proposal.number} {ended}") from None


def _attempt(ctx: SweepContext, proposal: Proposal, hp: dict[str, Any], run_id: str) -> Outcome:
    """Train the trial on its run and record what it produced; its model kept as ``keep_models`` says."""
    spec, tracker = ctx.spec, ctx.tracker
    tracker.log(run_id, params={**hp, **proposal.params})  # variants labels too, for grouping
    dataset = ctx.datasets.get(hp)
    tracker.log_dataset(run_id, dataset_input(dataset))
    pruning = _Pruning(ctx.engine, proposal, spec.objective.metric)
    fitted = _train(ctx, proposal, FitRequest(spec.pipeline, dataset, hp, ctx.objective), run_id, pruning)
    state = TrialState.PRUNED if pruning.pruned else TrialState.COMPLETE
    measured = {
        "best_epoch": fitted.best_epoch,
        "epochs_trained": fitted.epochs_trained,
        "epochs_budget": _epoch_budget(spec, hp, proposal),
    }
    ids = {"mlflow_run_id": run_id, "mlflow_parent_run_id": ctx.parent_run_id}
    outcome = Outcome(state, fitted.value, {**ids, **fitted.test, **fitted.metrics, **measured})
    _log_fitted(tracker, run_id, spec, proposal, fitted)
    if state == TrialState.COMPLETE:
        _keep_model(ctx, run_id, fitted)
    return outcome


def _train(ctx: SweepContext, proposal: Proposal, request: FitRequest, run_id: str, pruning: _Pruning) -> Fitted:
    spec = ctx.spec
    if spec.folds or spec.repeats > 1:
        name = trial_run_name(proposal.params, proposal.number)
        return _several(ctx, request, run_id, {**ctx.tags, "trial": proposal.number}, name)
    callbacks = [
        EpochLogger(ctx.tracker, run_id),
        pruning,
        ctx.progress.epoch_callback(f"trial {proposal.number}", request.hp["epochs"]),
    ]
    return train(
        request,
        callbacks,
        Continuation(proposal.initial_epoch, proposal.warm_start, proposal.checkpoint),
        wants_test=lambda: not pruning.pruned,
    )


def _several(ctx: SweepContext, request: FitRequest, run_id: str, tags: dict[str, Any], trial_name: str) -> Fitted:
    """A trial made of several fits - K folds or N replicates - each a run nested under the
    trial's run with its own per-epoch metrics; the trial's run gets the averaged curves.
    A fit interrupted or failed ends its nested run as such."""
    tracker, metric = ctx.tracker, ctx.spec.objective.metric
    parts = several.plan(request, ctx.spec.folds, ctx.spec.repeats)
    open_runs: dict[int, str] = {}

    def callbacks_for(part: several.Part) -> list[keras.callbacks.Callback]:
        name = part_run_name(trial_name, part.kind, part.index, len(parts))
        open_runs[part.index] = tracker.start_run(name, {**tags, ROLE: part.kind, **part.tags}, run_id)
        label = f"trial {tags['trial']} {part.kind} {part.index + 1}/{len(parts)}"
        return [EpochLogger(tracker, open_runs[part.index]), ctx.progress.epoch_callback(label, request.hp["epochs"])]

    def done(part: several.Part, fitted: Fitted) -> None:
        tracker.log(
            open_runs[part.index],
            metrics={f"best_{metric}": fitted.value, "best_epoch": fitted.best_epoch, **fitted.test},
            tags={"state": TrialState.COMPLETE},
            step=FINAL_STEP,
        )
        tracker.end_run(open_runs.pop(part.index), FINISHED)

    try:
        fuse = ctx.spec.fuse and why_not_fused(request.pipeline) is None
        fitted = several.run(request, parts, callbacks_for, done, fuse)
    except BaseException as error:
        with shielded():  # the fits that were running when it broke
            for nested in open_runs.values():
                tracker.log(nested, tags={"state": TrialState.FAIL})
                tracker.end_run(nested, KILLED if isinstance(error, KeyboardInterrupt) else FAILED)
        raise
    tracker.log_history(run_id, fitted.history)
    return fitted


def _log_fitted(tracker: Tracker, run_id: str, spec: SweepSpec, proposal: Proposal, fitted: Fitted) -> None:
    tracker.log(
        run_id,
        metrics={
            **fitted.test,
            **fitted.metrics,
            f"best_{spec.objective.metric}": fitted.value,
            "best_epoch": fitted.best_epoch,
            "epochs_trained": fitted.epochs_trained,
        },
        step=FINAL_STEP,
    )
    title = f"{spec.name} trial {proposal.number}: " + ", ".join(f"{k}={v}" for k, v in proposal.params.items())
    figure = plots.learning_curves(fitted.history, title)
    try:
        tracker.log_figure(run_id, figure, "learning_curves.png")
    finally:
        plots.close(figure)
    tracker.log_text(run_id, model_summary(fitted.model), "model_summary.txt")


def dataset_input(dataset: Dataset) -> DatasetRecord:
    """The dataset a run trained on, as MLflow records it (the Datasets column)."""
    source = dataset.source
    sizes = {k: v for k, v in dataset.info.items() if k.endswith("_samples")}
    return dataset_record(source.task or "data", source.kind, source.location, source.fingerprint, sizes)


def _keep_model(ctx: SweepContext, run_id: str, fitted: Fitted) -> None:
    """Keep every trial's model, or remember this process's best one (logged once, at the end)."""
    if ctx.keep_models == "all":
        ctx.tracker.log_model(run_id, fitted.model)
    elif ctx.best_model is None or ctx.objective.better(fitted.value, ctx.best_model[0]):
        ctx.best_model = (fitted.value, run_id, fitted.model)


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
