"""Fused fits: the several fits of one trial (K folds, N replicate seeds) trained together.

Small models on small data are bound by Keras's per-step and per-epoch overhead, not by
arithmetic. Fused, each fit is still the pipeline's own compiled model, built as it would be
alone, with its own weights, optimizer state, rows and shuffling, dropout randomness, callbacks
and early stopping; what the fits share is the stepping. On TensorFlow one compiled loop steps
every copy (``sweeps.training.fused_tf``); on JAX copies of one structure are stacked and a
whole epoch of them is one compiled function (``sweeps.training.fused_jax``). Either way each
fit's numbers are those it has trained alone on the same backend (the tests hold them to it).
PyTorch trains a trial's fits one after another.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import keras

from sweeps.errors import TrialFailed
from sweeps.spec.contract import Pipeline
from sweeps.training.fit import BestEpoch, FitRequest, Fitted, check_finite, checked_test_metrics, stopping

FUSING_BACKENDS = ("jax", "tensorflow")


def why_not_fused(pipeline: Pipeline) -> str | None:
    """Why the fits of ``pipeline``'s trials do not train together (``None`` when they do)."""
    if keras.backend.backend() not in FUSING_BACKENDS:
        return f"fused fits need Keras's JAX or TensorFlow backend, not {keras.backend.backend()}"
    if pipeline.custom_fit is not None:
        return f"pipeline {pipeline.name} trains with a fit() of its own"
    if not pipeline.fuses:
        return f"pipeline {pipeline.name} sets FUSE = False"
    return None


def fit_together(
    requests: Sequence[FitRequest], callbacks: Sequence[Sequence[keras.callbacks.Callback]], test: bool = False
) -> list[Fitted]:
    """Fit every request (each on the trial's view of its data) as one fused set.

    Returns what ``fit`` would have returned for each one alone: best value and epoch, the
    best epoch's weights restored, its curves; with ``test``, what ``evaluate`` would have
    measured on its test set.

    Raises:
        BuildFailed: the pipeline's ``build_model`` raised.
        TrialFailed: a copy's loss or metric became NaN/inf, or it reported nothing finite.
    """
    if keras.backend.backend() == "jax":
        return [_raised(outcome) for outcome in fit_across(requests, callbacks, lambda index: test)]
    from sweeps.training import fused_tf

    trained = fused_tf.fit_together(requests, callbacks, test)
    return [
        _result(request, history, best, model, tested if test else None)
        for request, (model, history, best, tested) in zip(requests, trained, strict=True)
    ]


def fit_alone(request: FitRequest, epochs: int) -> keras.Model:
    """A fresh model trained ``epochs`` epochs on all of ``request``'s training rows, without
    validation (K-fold's final refit), on the same lean loop as the fused copies."""
    if keras.backend.backend() == "jax":
        request = replace(request, hp={**request.hp, "epochs": epochs})
        return _raised(fit_across([request], [[]], lambda index: False, keep_best=False)[0]).model
    from sweeps.training import fused_tf

    return fused_tf.fit_alone(request, epochs)


def fit_across(
    requests: Sequence[FitRequest],
    callbacks: Sequence[Sequence[keras.callbacks.Callback]],
    tested: Callable[[int], bool],
    keep_best: bool = True,
) -> list[Fitted | TrialFailed]:
    """On JAX: fits of one or several trials as one fused set, each fit's result or what failed it.

    A fit that cannot be built, or whose numbers stop being numbers, fails alone; the others
    train on. ``tested(i)`` is asked once training ends: whether fit ``i`` is measured on its
    test set (a pruned trial's is not). With ``keep_best`` each fit validates every epoch and
    keeps its best epoch's weights; without, it trains its ``epochs`` without validation and
    keeps its last (K-fold's final refit), its ``value`` NaN.
    """
    from sweeps.training import fused_jax

    outcomes: list[Fitted | TrialFailed | None] = [None] * len(requests)
    members: dict[int, fused_jax.Member] = {}
    for index, (request, extra) in enumerate(zip(requests, callbacks, strict=True)):
        best = fused_jax.DeviceBest(request.objective) if keep_best else None
        try:
            members[index] = fused_jax.member(request, [*extra, *([best] if best else []), *stopping(request)], best)
        except TrialFailed as error:  # its pipeline's build_model raised
            outcomes[index] = error
    index_of = {id(one): index for index, one in members.items()}
    tests: dict[int, dict[str, float]] = {}
    for group in fused_jax.train(list(members.values()), validate=keep_best):
        wanted = [index_of[id(one)] for one in group.members]
        if any(tested(index) for index in wanted):
            found = group.evaluate([(one.request.dataset.x_test, one.request.dataset.y_test) for one in group.members], keep_best)
            tests.update({index: values for index, values in zip(wanted, found, strict=True) if tested(index)})
    for index, one in members.items():
        try:
            outcomes[index] = _result(one.request, one.history, one.best, one.model, tests.get(index))
        except TrialFailed as error:
            outcomes[index] = error
    return outcomes


def _result(
    request: FitRequest, history: dict[str, list[float]], best: BestEpoch | None, model: keras.Model, test: dict | None
) -> Fitted:
    """What ``fit`` returns for one fit of a fused set (``best`` None: its last epoch's)."""
    check_finite(history)
    epochs = len(history.get("loss", []))
    if best is not None and math.isnan(best.value):
        raise TrialFailed(f"no finite {request.objective.metric} was reported in {epochs} epoch(s)")
    value, epoch = (best.value, best.epoch) if best is not None else (math.nan, epochs)
    return Fitted(value, epoch, epochs, history, checked_test_metrics(test) if test is not None else {}, model)


def _raised(outcome: Fitted | TrialFailed) -> Fitted:
    if isinstance(outcome, TrialFailed):
        raise outcome
    return outcome
