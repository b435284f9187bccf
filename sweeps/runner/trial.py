"""One trial, tracked: a nested MLflow run around one fit, or around K folds or N replicates.

The runner hands each proposal to ``TrialRunner.run`` (or several, trained as one fused set, to
``run_together``: ``sweeps.runner.together``); this module opens the trial's run (and a nested
run per fold or replicate), trains through ``sweeps.training``, records the outcome, tells the
engine, and closes every run it opened whatever happens.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sweeps.engines.base import Outcome, Proposal, TrialState
from sweeps.errors import Interrupted, PipelineError, TrialFailed, first_line
from sweeps.faults import crash_point
from sweeps.formatting import param_text
from sweeps.reporting import plots
from sweeps.runner.context import SweepContext
from sweeps.runner.nested import NestedRuns
from sweeps.runner.pruning import FitByFit, Pruning
from sweeps.runner.signals import raise_if_interrupted, shielded
from sweeps.spec.objective import Objective
from sweeps.spec.sweep import SweepSpec
from sweeps.tracking.callbacks import EpochLogger, model_summary
from sweeps.tracking.records import FINAL_STEP, ROLE, TRIAL, dataset_input, trial_run_name
from sweeps.tracking.tracker import FAILED, FINISHED, KILLED
from sweeps.training import several
from sweeps.training.fit import BuildFailed, Continuation, FitRequest, Fitted, train
from sweeps.training.fused import why_not_fused
from sweeps.training.measured import objective_values

_RUN_STATUS = {TrialState.COMPLETE: FINISHED, TrialState.PRUNED: FINISHED, TrialState.FAIL: FAILED}  # -> MLflow run status


@dataclass
class Opened:
    """A trial whose run is open: what it tries, where it records, how it ends (set as it does)."""

    proposal: Proposal
    hp: dict[str, Any]
    run_id: str
    outcome: Outcome
    pruning: Pruning | FitByFit | None = None  # by epoch, or (several fits) by fit


class TrialRunner:
    """Runs this process's trials of one sweep: one proposal at a time, or several trained as
    one fused set (``run_together``).

    It remembers whether this process has built a model yet: until then, a build error is the
    pipeline's own bug and stops the sweep; after, it is a bad combination of values.
    """

    def __init__(self, ctx: SweepContext) -> None:
        self.ctx = ctx
        self.built = False  # whether this process has built a model of the pipeline yet

    def run(self, proposal: Proposal) -> Outcome:
        """Run one proposed trial as a nested MLflow run and tell the engine how it ended.

        Any exception inside the trial makes it FAIL (message as a tag, traceback as an artifact);
        a KeyboardInterrupt fails it, ends its run as KILLED, and propagates.

        Raises:
            PipelineError: the pipeline's ``build_model`` raised before any model was built in this
                process: its code is broken, so the sweep stops at once (the trial is FAIL first).
        """
        return self.run_together([proposal], lambda trials: [_attempt(self.ctx, trials[0])])[0]

    def run_together(
        self, proposals: Sequence[Proposal], train: Callable[[list[Opened]], list[Outcome | Exception]]
    ) -> list[Outcome]:
        """Open every proposal's run, let ``train`` train them (each trial's outcome, or the
        exception that failed it alone), then record each, as ``run`` does for one."""
        trials: list[Opened] = []
        interrupted = True  # stays True only if a KeyboardInterrupt (Ctrl-C, SIGTERM) escapes
        broken = None
        try:
            for proposal in proposals:
                with shielded():  # (an interrupt while a run opens is raised once it is listed, to be closed)
                    trials.append(self._open(proposal))
                crash_point("trial-started")  # a worker killed while its trial trains
            results = _caught(lambda: train(trials), len(trials))
            raise_if_interrupted()  # one a finalizer swallowed as they were recorded: they are not done
            interrupted = False
            for trial, result in zip(trials, results, strict=True):
                trial.outcome = result if isinstance(result, Outcome) else self._failed(trial, result)
                broken = broken or (self._broken(result) if not isinstance(result, Outcome) else None)
        finally:
            _record_all(self.ctx, trials, interrupted)
        if broken is not None:
            raise broken
        self.built = True
        return [trial.outcome for trial in trials]

    def _open(self, proposal: Proposal) -> Opened:
        ctx = self.ctx
        hp = trial_hp(ctx, proposal)
        tags = {**ctx.tags, ROLE: TRIAL, "trial": proposal.number, **proposal.tags}
        run_id = ctx.tracker.start_run(trial_run_name(proposal.params, proposal.number), tags, ctx.parent.run_id)
        ids = {"mlflow_run_id": run_id, "mlflow_parent_run_id": ctx.parent.run_id}
        ctx.engine.note(proposal, ids)  # at once, so a crash cannot separate the two records
        return Opened(proposal, hp, run_id, Outcome(TrialState.FAIL, attrs={**ids, "error": "interrupted"}))

    def _failed(self, trial: Opened, error: Exception) -> Outcome:
        """The outcome of a trial ``error`` failed; its traceback kept as an artifact."""
        message = first_line(error, with_type=not isinstance(error, TrialFailed))
        self.ctx.tracker.log_text(trial.run_id, "".join(traceback.format_exception(error)), "traceback.txt")
        return Outcome(TrialState.FAIL, attrs={**trial.outcome.attrs, "error": message})

    def _broken(self, error: Exception) -> PipelineError | None:
        if isinstance(error, BuildFailed) and not self.built:
            return PipelineError(
                f"pipeline {self.ctx.spec.pipeline.name}: {first_line(error, with_type=False)}; "
                "fix the pipeline (this trial was recorded as FAIL)"
            )
        return None


def trial_hp(ctx: SweepContext, proposal: Proposal) -> dict[str, Any]:
    """What ``proposal`` trains with: the sweep's values with its own, and its engine's overrides."""
    return {**ctx.spec.hyperparameters(proposal.params), **proposal.overrides}


def _record_all(ctx: SweepContext, trials: Sequence[Opened], interrupted: bool) -> None:
    """Record every trial, even where a Ctrl-C arrives while one is recorded (raised after)."""
    stopped = None
    for trial in trials:
        try:
            _record(ctx, trial.proposal, trial.run_id, trial.outcome, interrupted)
        except Interrupted as error:
            stopped = stopped or error
    if stopped is not None:
        raise stopped


def _caught(train: Callable[[], list[Outcome | Exception]], count: int) -> list[Outcome | Exception]:
    """``train()``, or its exception as every trial's result (a KeyboardInterrupt propagates)."""
    try:
        return train()
    except Exception as error:
        return [error] * count


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


def _attempt(ctx: SweepContext, trial: Opened) -> Outcome:
    """Train the trial on its run, one fit after another or a trial's fits fused."""
    request = begin(ctx, trial)
    return finish(ctx, trial, _train(ctx, trial, request))


def begin(ctx: SweepContext, trial: Opened) -> FitRequest:
    """Record what the trial tries and on which data; what it trains (its pruning set up)."""
    tracker = ctx.tracker
    tracker.log(trial.run_id, params={**trial.hp, **trial.proposal.params})  # variants labels too, for grouping
    dataset = ctx.datasets.get(trial.hp)
    tracker.log_dataset(trial.run_id, dataset_input(dataset))
    trial.pruning = Pruning(ctx.engine, trial.proposal, ctx.spec.objective.metric)
    return FitRequest(ctx.spec.pipeline, dataset, trial.hp, ctx.spec.objective)


def finish(ctx: SweepContext, trial: Opened, fitted: Fitted) -> Outcome:
    """Record what the trial produced; its outcome. Its model is offered to the keeper."""
    spec, tracker, objective, proposal, run_id = ctx.spec, ctx.tracker, ctx.spec.objective, trial.proposal, trial.run_id
    state = TrialState.PRUNED if trial.pruning is not None and trial.pruning.pruned else TrialState.COMPLETE
    measured = {**fit_metrics(fitted, objective), **objective_values(fitted, spec.objectives)}
    tracker.log(run_id, metrics=measured, step=FINAL_STEP)
    facts = {key: value for key, value in measured.items() if key != f"best_{objective.metric}"}  # the outcome's value
    ids = {"mlflow_run_id": run_id, "mlflow_parent_run_id": ctx.parent.run_id}
    outcome = Outcome(state, fitted.value, {**ids, **facts, "epochs_budget": _epoch_budget(spec, trial.hp, proposal)})
    title = f"{spec.name} trial {proposal.number}: " + ", ".join(f"{k}={param_text(v)}" for k, v in proposal.params.items())
    plots.log_learning_curves(tracker, run_id, fitted.history, title)
    tracker.log_text(run_id, model_summary(fitted.model), "model_summary.txt")
    if state == TrialState.COMPLETE:
        ctx.models.offer(run_id, fitted.value, fitted.model)
    return outcome


def _train(ctx: SweepContext, trial: Opened, request: FitRequest) -> Fitted:
    spec, proposal, pruning = ctx.spec, trial.proposal, trial.pruning
    if spec.folds or spec.repeats > 1:
        trial.pruning = FitByFit(ctx.engine, proposal) if spec.pruner.by_fit else None  # else not pruned
        return _several(ctx, trial, request)
    progress = ctx.progress.epoch_callback(f"trial {proposal.number}", request.hp["epochs"])
    callbacks = [EpochLogger(ctx.tracker, trial.run_id), pruning, progress]
    continuation = Continuation(proposal.initial_epoch, proposal.warm_start, proposal.checkpoint)
    return train(request, callbacks, continuation, wants_test=lambda: not pruning.pruned)


def nested_runs(ctx: SweepContext, trial: Opened, parts: int) -> NestedRuns:
    """The runs of ``trial``'s ``parts`` fits, nested under its run."""
    name = trial_run_name(trial.proposal.params, trial.proposal.number)
    return NestedRuns(ctx, trial.run_id, {**ctx.tags, "trial": trial.proposal.number}, name, parts)


def _several(ctx: SweepContext, trial: Opened, request: FitRequest) -> Fitted:
    """A trial of several fits (K folds, N replicates), each a run nested under the trial's with
    its own per-epoch metrics (the trial's gets the averaged curves), ended as its fit ends."""
    parts = several.plan(request, ctx.spec.folds, ctx.spec.repeats)
    runs = nested_runs(ctx, trial, len(parts))
    judge = trial.pruning.judge if isinstance(trial.pruning, FitByFit) else None  # fused, skipped fits would train too
    try:
        fuse = ctx.spec.fuses and why_not_fused(request.pipeline) is None and judge is None
        done = lambda part, fitted: runs.done(part, fit_metrics(fitted, request.objective, whole_trial=False))
        fitted = several.run(request, parts, runs.callbacks, done, fuse, judge)
    except BaseException as error:
        runs.broken(error)
        raise
    ctx.tracker.log_history(trial.run_id, fitted.history)
    return fitted


def _epoch_budget(spec: SweepSpec, hp: dict[str, Any], proposal: Proposal) -> int:
    """Epochs a trial trains when nothing stops it early (K-fold: every fold, then the final fit;
    replicates: every seed)."""
    epochs = hp["epochs"] - proposal.initial_epoch
    return (spec.folds + 1) * epochs if spec.folds else spec.repeats * epochs
