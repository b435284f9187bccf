"""Several trials trained as one fused set, on JAX: a worker takes up to ``fuse_trials``
proposals at once from its engine (Optuna allows several asks before the tells) and trains
every fit of every trial together (``sweeps.training.fused.fit_across``).

Each trial is still recorded as alone: its own run, its folds' or replicates' nested runs, its
per-epoch metrics, its early stopping and pruning, its outcome told to the engine. A fit that
fails fails its trial alone. K-fold's final refits train together after the folds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import keras

from sweeps.engines.base import Curve, Outcome
from sweeps.errors import TrialFailed
from sweeps.runner.context import SweepContext
from sweeps.runner.nested import NestedRuns
from sweeps.runner.pruning import Pruning
from sweeps.runner.trial import Opened, begin, finish, fit_metrics, nested_runs
from sweeps.spec.objective import Objective
from sweeps.tracking.callbacks import EpochLogger
from sweeps.training import fused, several
from sweeps.training.fit import FitRequest, Fitted, failures_as_trial_failed


def why_not_together(ctx: SweepContext) -> str | None:
    """Why this sweep's trials train one at a time (``None`` when a worker takes several)."""
    if keras.backend.backend() != "jax":
        return f"trials fuse together on Keras's JAX backend, not {keras.backend.backend()}"
    if ctx.spec.engine != "optuna":
        return "the keras_tuner engine hands out one trial at a time"
    if not ctx.spec.fuses:
        return "the sweep sets fuse: false" if not ctx.spec.fuse else "epoch_seconds is an objective: each fit trains alone"
    if ctx.spec.fuse_trials == 1:
        return "the sweep sets fuse_trials: 1"
    if ctx.spec.pruner.by_fit:
        return f"the {ctx.spec.pruner.type} pruner judges each trial fit by fit, so its fits train one after another"
    return fused.why_not_fused(ctx.spec.pipeline)


@dataclass
class _Planned:
    """One trial's fits in the fused set: their requests and callbacks, and their nested runs."""

    trial: Opened
    request: FitRequest
    parts: list[several.Part] = field(default_factory=list)  # empty: a single fit
    runs: NestedRuns | None = None
    fits: list[tuple[FitRequest, list[keras.callbacks.Callback]]] = field(default_factory=list)
    logger: EpochLogger | None = None  # a single fit's, holding its epochs while its pruning is judged in order


def train_together(ctx: SweepContext, trials: Sequence[Opened]) -> list[Outcome | Exception]:
    """Train ``trials`` as one fused set; each trial's outcome, or the exception that failed it."""
    results: list[Outcome | Exception | None] = [None] * len(trials)
    planned: dict[int, _Planned] = {}
    try:
        for index, trial in enumerate(trials):
            try:
                planned[index] = _plan(ctx, trial)
            except Exception as error:
                results[index] = error
        with failures_as_trial_failed():
            fitted = _fit(ctx, list(planned.values()))
        for index, one in planned.items():
            results[index] = _finished(ctx, one, fitted[id(one)])
    except BaseException as error:  # Ctrl-C, or a failure of the whole set: every open fit's run ends
        for one in planned.values():
            if one.runs is not None:
                one.runs.broken(error)
        raise
    return results


def _plan(ctx: SweepContext, trial: Opened) -> _Planned:
    request = begin(ctx, trial)
    one = _Planned(trial, request)
    progress = ctx.progress.epoch_callback
    if not (ctx.spec.folds or ctx.spec.repeats > 1):
        in_order = ctx.engine.judges_in_order()  # (else each trial hears the pruner as it trains)
        trial.pruning = Pruning(ctx.engine, trial.proposal, ctx.spec.objective.metric, in_order=in_order)
        one.logger = EpochLogger(ctx.tracker, trial.run_id, held=in_order)
        callbacks = [one.logger, trial.pruning, progress(f"trial {trial.proposal.number}", trial.hp["epochs"])]
        one.fits = [(request.trial_view(), callbacks)]
        return one
    trial.pruning = None  # a trial of several fits is not pruned
    one.parts = several.plan(request, ctx.spec.folds, ctx.spec.repeats)
    one.runs = nested_runs(ctx, trial, len(one.parts))
    one.fits = [(part.request, one.runs.callbacks(part)) for part in one.parts]
    return one


def _fit(ctx: SweepContext, planned: Sequence[_Planned]) -> dict[int, list[Fitted | TrialFailed]]:
    """Every fit of every planned trial, then K-fold's final refits; by trial, its fits' results
    (a K-fold trial's refit last)."""
    flat = [(one, request, callbacks) for one in planned for request, callbacks in one.fits]
    tests: list[Callable[[], bool]] = [_tested(one) for one, _, _ in flat]
    outcomes = fused.fit_across([r for _, r, _ in flat], [c for _, _, c in flat], lambda index: tests[index]())
    by_trial: dict[int, list[Fitted | TrialFailed]] = {id(one): [] for one in planned}
    for (one, _, _), outcome in zip(flat, outcomes, strict=True):
        by_trial[id(one)].append(outcome)
    _judged_in_order(planned, by_trial, ctx.spec.objective)
    refitting = [one for one in planned if ctx.spec.folds and not _failure(by_trial[id(one)])]
    combined = {id(one): several.combine(by_trial[id(one)], ctx.spec.objective) for one in refitting}
    requests = [several.final_fit(one.request.trial_view(), combined[id(one)]) for one in refitting]
    for one, refit in zip(
        refitting, fused.fit_across(requests, [[] for _ in requests], lambda index: True, keep_best=False), strict=True
    ):
        by_trial[id(one)].append(refit)
    return by_trial


def _judged_in_order(planned: Sequence[_Planned], by_trial: dict[int, list[Fitted | TrialFailed]], objective: Objective) -> None:
    """Prune the set's single fits as trials trained one after another would have been: in
    number order, each against the trials before it that were not pruned (``Pruning.judge``).
    A pruned trial keeps its epochs up to there, in its records too."""
    before: list[Curve] = []
    for one in sorted(planned, key=lambda one: one.trial.proposal.number):
        if one.logger is None or not one.trial.pruning.in_order:
            continue
        outcomes, cut = by_trial[id(one)], None
        if isinstance(outcomes[0], Fitted) and (cut := one.trial.pruning.judge(before)) is not None:
            outcomes[0] = _cut(outcomes[0], cut, objective)
        one.logger.flush(until=cut)


def _cut(fitted: Fitted, epochs: int, objective: Objective) -> Fitted:
    """``fitted`` as it stood when pruned after ``epochs`` epochs: its curves and its best epoch
    up to there, no test (a pruned trial is not measured on it)."""
    history = {key: values[:epochs] for key, values in fitted.history.items()}
    value, best_epoch = math.nan, 0
    for epoch, seen in enumerate(history.get(objective.metric, []), start=1):
        if math.isfinite(seen) and objective.better(seen, value):
            value, best_epoch = seen, epoch
    return replace(fitted, value=value, best_epoch=best_epoch, epochs_trained=epochs, history=history, test={})


def _tested(one: _Planned) -> Callable[[], bool]:
    """Whether a fit of ``one`` is measured on its test set: a single fit unless pruned, each
    replicate; a fold never (K-fold's final refit is)."""
    if not one.parts:
        return lambda: not one.trial.pruning.pruned
    return lambda: one.parts[0].kind == several.REPEAT


def _finished(ctx: SweepContext, one: _Planned, outcomes: list[Fitted | TrialFailed]) -> Outcome | Exception:
    """Record one trial's fits and the trial; its outcome, or what failed it."""
    failure = _failure(outcomes)
    if failure is not None:
        if one.runs is not None:
            one.runs.broken(failure)
        return failure
    try:
        if not one.parts:
            return finish(ctx, one.trial, outcomes[0])
        for part, fitted in zip(one.parts, outcomes, strict=False):
            one.runs.done(part, fit_metrics(fitted, one.request.objective, whole_trial=False))
        trial = several.combine(outcomes[: len(one.parts)], ctx.spec.objective)
        if ctx.spec.folds:
            trial = several.with_final_fit(trial, outcomes[-1].model, outcomes[-1].test)
        ctx.tracker.log_history(one.trial.run_id, trial.history)
        return finish(ctx, one.trial, trial)
    except Exception as error:
        return error


def _failure(outcomes: Sequence[Any]) -> TrialFailed | None:
    return next((outcome for outcome in outcomes if isinstance(outcome, TrialFailed)), None)
