"""One trial, tracked: a nested MLflow run around one fit, or around K folds or N replicates.

The runner hands each proposal to ``TrialRunner.run``; this module opens the trial's run (and a
nested run per fold or replicate), trains through ``sweeps.training``, records the outcome,
tells the engine, and closes every run it opened whatever happens.
"""

from __future__ import annotations

import traceback
from typing import Any

import keras

from sweeps.engines.base import Outcome, Proposal, TrialState
from sweeps.errors import Interrupted, PipelineError, TrialFailed, first_line
from sweeps.faults import crash_point
from sweeps.formatting import param_text
from sweeps.reporting import plots
from sweeps.runner.context import SweepContext
from sweeps.runner.pruning import Pruning
from sweeps.runner.signals import shielded
from sweeps.spec.objective import Objective
from sweeps.spec.sweep import SweepSpec
from sweeps.tracking.callbacks import EpochLogger, model_summary
from sweeps.tracking.records import FINAL_STEP, ROLE, TRIAL, dataset_input, part_run_name, trial_run_name
from sweeps.tracking.tracker import FAILED, FINISHED, KILLED
from sweeps.training import several
from sweeps.training.fit import BuildFailed, Continuation, FitRequest, Fitted, train
from sweeps.training.fused import why_not_fused

_RUN_STATUS = {TrialState.COMPLETE: FINISHED, TrialState.PRUNED: FINISHED, TrialState.FAIL: FAILED}  # -> MLflow run status


class TrialRunner:
    """Runs this process's trials of one sweep, one proposal at a time.

    It remembers whether this process has built a model yet: until then, a build error is the
    pipeline's own bug and stops the sweep; after, it is a bad combination of values.
    """

    def __init__(self, ctx: SweepContext) -> None:
        self.ctx = ctx
        self._built = False

    def run(self, proposal: Proposal) -> Outcome:
        """Run one proposed trial as a nested MLflow run and tell the engine how it ended.

        Any exception inside the trial makes it FAIL (message as a tag, traceback as an artifact);
        a KeyboardInterrupt fails it, ends its run as KILLED, and propagates.

        Raises:
            PipelineError: the pipeline's ``build_model`` raised before any model was built in this
                process: its code is broken, so the sweep stops at once (the trial is FAIL first).
        """
        ctx = self.ctx
        hp = {**ctx.spec.hyperparameters(proposal.params), **proposal.overrides}
        tags = {**ctx.tags, ROLE: TRIAL, "trial": proposal.number, **proposal.tags}
        run_id = ctx.tracker.start_run(trial_run_name(proposal.params, proposal.number), tags, ctx.parent.run_id)
        ids = {"mlflow_run_id": run_id, "mlflow_parent_run_id": ctx.parent.run_id}
        ctx.engine.note(proposal, ids)  # at once, so a crash cannot separate the two records
        crash_point("trial-started")  # a worker killed while its trial trains
        outcome, broken = Outcome(TrialState.FAIL, attrs={**ids, "error": "interrupted"}), None
        interrupted = True  # stays True only if a KeyboardInterrupt (Ctrl-C, SIGTERM) escapes
        try:
            outcome = _attempt(ctx, proposal, hp, run_id)
            interrupted = False
        except Exception as error:
            interrupted = False
            if isinstance(error, BuildFailed) and not self._built:
                broken = PipelineError(
                    f"pipeline {ctx.spec.pipeline.name}: {first_line(error, with_type=False)}; "
                    "fix the pipeline (this trial was recorded as FAIL)"
                )
            message = first_line(error, with_type=not isinstance(error, TrialFailed))
            outcome = Outcome(TrialState.FAIL, attrs={**ids, "error": message})
            ctx.tracker.log_text(run_id, "".join(traceback.format_exception(error)), "traceback.txt")
        finally:
            _record(ctx, proposal, run_id, outcome, interrupted)
        if broken is not None:
            raise broken
        self._built = True
        return outcome


def fit_metrics(fitted: Fitted, objective: Objective, whole_trial: bool = True) -> dict[str, float]:
    """A fit's final values, as its run records them at ``FINAL_STEP``: the objective's best
    (``best_<metric>``), its epoch and the test metrics; a whole trial's also the epochs it
    trained and its summaries over several fits (``<metric>_mean``/``_std``)."""
    metrics = {**fitted.test, f"best_{objective.metric}": fitted.value, "best_epoch": fitted.best_epoch}
    if whole_trial:
        metrics.update({**fitted.metrics, "epochs_trained": fitted.epochs_trained})
    return metrics


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
    """Train the trial on its run and record what it produced; its model offered to the keeper."""
    spec, tracker, objective = ctx.spec, ctx.tracker, ctx.spec.objective
    tracker.log(run_id, params={**hp, **proposal.params})  # variants labels too, for grouping
    dataset = ctx.datasets.get(hp)
    tracker.log_dataset(run_id, dataset_input(dataset))
    pruning = Pruning(ctx.engine, proposal, objective.metric)
    fitted = _train(ctx, proposal, FitRequest(spec.pipeline, dataset, hp, objective), run_id, pruning)
    state = TrialState.PRUNED if pruning.pruned else TrialState.COMPLETE
    measured = fit_metrics(fitted, objective)
    tracker.log(run_id, metrics=measured, step=FINAL_STEP)
    facts = {key: value for key, value in measured.items() if key != f"best_{objective.metric}"}  # the outcome's value
    ids = {"mlflow_run_id": run_id, "mlflow_parent_run_id": ctx.parent.run_id}
    outcome = Outcome(state, fitted.value, {**ids, **facts, "epochs_budget": _epoch_budget(spec, hp, proposal)})
    title = f"{spec.name} trial {proposal.number}: " + ", ".join(f"{k}={param_text(v)}" for k, v in proposal.params.items())
    plots.log_learning_curves(tracker, run_id, fitted.history, title)
    tracker.log_text(run_id, model_summary(fitted.model), "model_summary.txt")
    if state == TrialState.COMPLETE:
        ctx.models.offer(run_id, fitted.value, fitted.model)
    return outcome


def _train(ctx: SweepContext, proposal: Proposal, request: FitRequest, run_id: str, pruning: Pruning) -> Fitted:
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
    tracker = ctx.tracker
    parts = several.plan(request, ctx.spec.folds, ctx.spec.repeats)
    open_runs: dict[int, str] = {}

    def callbacks_for(part: several.Part) -> list[keras.callbacks.Callback]:
        name = part_run_name(trial_name, part.kind, part.index, len(parts))
        open_runs[part.index] = tracker.start_run(name, {**tags, ROLE: part.kind, **part.tags}, run_id)
        label = f"trial {tags['trial']} {part.kind} {part.index + 1}/{len(parts)}"
        return [EpochLogger(tracker, open_runs[part.index]), ctx.progress.epoch_callback(label, request.hp["epochs"])]

    def done(part: several.Part, fitted: Fitted) -> None:
        metrics = fit_metrics(fitted, request.objective, whole_trial=False)
        tracker.log(open_runs[part.index], metrics=metrics, tags={"state": TrialState.COMPLETE}, step=FINAL_STEP)
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


def _epoch_budget(spec: SweepSpec, hp: dict[str, Any], proposal: Proposal) -> int:
    """Epochs a trial trains when nothing stops it early (K-fold: every fold, then the final fit;
    replicates: every seed)."""
    epochs = hp["epochs"] - proposal.initial_epoch
    return (spec.folds + 1) * epochs if spec.folds else spec.repeats * epochs
