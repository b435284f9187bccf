"""Fused fits: the several fits of one trial (K folds, N replicate seeds) trained together.

Small models on small data are bound by Keras's per-step and per-epoch overhead, not by
arithmetic. Here each copy is the pipeline's own compiled model, built exactly as it would be
alone (the same Keras session reset and seed: the same initial weights and dropout seeds), with
its own optimizer state, metrics, callbacks and data stream (its rows, shuffled by its seed, the
same batch size). What the copies share is the stepping: one compiled TensorFlow function runs a
step of every copy still training, and the epoch loop around it is a lean one instead of
``model.fit``'s. Each copy's step is Keras's own ``train_step``/``test_step``, so its numbers
are those of training it alone; early stopping ends one copy while the others go on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import keras

from sweeps.errors import TrialFailed
from sweeps.spec.contract import Pipeline
from sweeps.training import feed
from sweeps.training.fit import BestEpoch, FitRequest, Fitted, check_finite, checked_test_metrics, fresh_model, stopping


def why_not_fused(pipeline: Pipeline) -> str | None:
    """Why the fits of ``pipeline``'s trials do not train together (``None`` when they do)."""
    if keras.backend.backend() != "tensorflow":
        return f"fused fits need Keras's TensorFlow backend, not {keras.backend.backend()}"
    if pipeline.custom_fit is not None:
        return f"pipeline {pipeline.name} trains with a fit() of its own"
    if not pipeline.fuses:
        return f"pipeline {pipeline.name} sets FUSE = False"
    return None


@dataclass
class _Copy:
    """One fit of the fused set: its model, its data, its callbacks and what it has logged."""

    model: keras.Model
    train: Any  # an iterator over every epoch's (x, y) batches
    steps: int  # batches per epoch
    validation: Any | None  # an iterator over the validation batches, every epoch
    validation_steps: int
    callbacks: keras.callbacks.CallbackList
    history: dict[str, list[float]] = field(default_factory=dict)


def fit_together(
    requests: Sequence[FitRequest], callbacks: Sequence[Sequence[keras.callbacks.Callback]], test: bool = False
) -> list[Fitted]:
    """Fit every request (each on the trial's view of its data) as one fused set.

    Returns what ``fit`` would have returned for each one alone: best value and epoch, the
    best epoch's weights restored, its curves; with ``test``, what ``evaluate`` would have
    measured on its test set, measured on the same fused loop.

    Raises:
        BuildFailed: the pipeline's ``build_model`` raised.
        TrialFailed: a copy's loss or metric became NaN/inf, or it reported nothing finite.
    """
    bests = [BestEpoch(request.objective) for request in requests]
    copies = [
        _copy(request, [*extra, best, *stopping(request)], validate=True)
        for request, extra, best in zip(requests, callbacks, bests, strict=True)
    ]
    test_step = _Stepper("test_step")
    _train_copies(copies, requests[0].hp["epochs"], test_step)
    results = []
    for request, copy, best in zip(requests, copies, bests, strict=True):
        check_finite(copy.history)
        if math.isnan(best.value):
            raise TrialFailed(f"no finite {request.objective.metric} was reported in {len(copy.history['loss'])} epoch(s)")
        epochs = len(copy.history["loss"])
        results.append(Fitted(best.value, best.epoch, epochs, copy.history, {}, copy.model))
    for result, measured in zip(results, _tested(copies, requests, test_step) if test else [], strict=False):
        result.test = checked_test_metrics(measured)
    return results


def _tested(copies: Sequence[_Copy], requests: Sequence[FitRequest], test_step: _Stepper) -> list[dict[str, float]]:
    """Every copy's metrics on its test set (its best epoch's weights are back), on the loop
    already compiled for validation."""
    work = []
    for copy, request in zip(copies, requests, strict=True):
        data, batch_size = request.dataset, request.hp["batch_size"]
        work.append((copy.model, iter(feed.dataset(data.x_test, data.y_test, batch_size)), feed.steps(data.x_test, batch_size)))
    return test_step.run(work)


def fit_alone(request: FitRequest, epochs: int) -> keras.Model:
    """A fresh model trained ``epochs`` epochs on all of ``request``'s training rows, without
    validation (K-fold's final refit), on the same lean loop as the fused copies."""
    copy = _copy(replace(request, hp={**request.hp, "epochs": epochs}), [], validate=False)
    _train_copies([copy], epochs, _Stepper("test_step"))
    return copy.model


def _train_copies(copies: Sequence[_Copy], epochs: int, test_step: _Stepper) -> None:
    """The epoch loop of ``model.fit``, for several models stepped together (validating with
    ``test_step``)."""
    train_step = _Stepper("train_step")
    for copy in copies:
        copy.model.stop_training = False
        copy.callbacks.on_train_begin()
    for epoch in range(epochs):
        active = [copy for copy in copies if not copy.model.stop_training]
        if not active:
            break
        for copy in active:
            copy.callbacks.on_epoch_begin(epoch)
        trained = train_step.run([(copy.model, copy.train, copy.steps) for copy in active])
        validating = [copy for copy in active if copy.validation is not None]
        validated = test_step.run([(copy.model, copy.validation, copy.validation_steps) for copy in validating])
        checked = {id(copy): values for copy, values in zip(validating, validated, strict=True)}
        for copy, logs in zip(active, trained, strict=True):
            logs.update({f"val_{key}": value for key, value in checked.get(id(copy), {}).items()})
            _end_epoch(copy, epoch, logs)
    for copy in copies:
        copy.callbacks.on_train_end()


def _end_epoch(copy: _Copy, epoch: int, logs: dict[str, float]) -> None:
    """Record the copy's epoch and tell its callbacks (which may stop it)."""
    for key, value in logs.items():
        copy.history.setdefault(key, []).append(value)
    if not math.isfinite(logs["loss"]):  # what TerminateOnNaN does
        copy.model.stop_training = True
    copy.callbacks.on_epoch_end(epoch, logs)


class _Stepper:
    """Runs Keras's own step (``train_step`` or ``test_step``) of several models, many steps per
    call: one compiled TensorFlow loop per set of models stepping together, which also resets
    their metrics first and reads them at the end (no eager work per epoch)."""

    def __init__(self, step: str) -> None:
        self.step = step
        self._loops: dict[tuple[tuple[int, ...], bool], Callable[..., Any]] = {}

    def run(self, work: Sequence[tuple[keras.Model, Any, int]]) -> list[dict[str, float]]:
        """Step each model through the next ``steps`` batches of its iterator, its metrics reset
        first, and return its metrics; where the counts differ, the models with more go on alone."""
        import tensorflow as tf

        if not work:
            return []
        common = min(steps for _, _, steps in work)
        models = [model for model, _, _ in work]
        measured = self._loop(models, True)(tuple(it for _, it, _ in work), tf.constant(common))
        found = dict(zip(map(id, models), measured, strict=True))
        for model, it, steps in work:
            if steps > common:
                (found[id(model)],) = self._loop([model], False)((it,), tf.constant(steps - common))
        return [{key: float(value) for key, value in found[id(model)].items()} for model in models]

    def _loop(self, models: Sequence[keras.Model], fresh: bool) -> Callable[..., Any]:
        key = (tuple(id(model) for model in models), fresh)
        if key not in self._loops:
            import tensorflow as tf

            steps = [getattr(model, self.step) for model in models]

            def loop(iterators: tuple[Any, ...], count: Any) -> list[Any]:
                if fresh:
                    for model in models:
                        model.reset_metrics()

                def body(step: Any) -> Any:
                    for one_step, iterator in zip(steps, iterators, strict=True):
                        one_step(next(iterator))
                    return (step + 1,)

                tf.while_loop(lambda step: step < count, body, (tf.constant(0),))
                return [model.get_metrics_result() for model in models]

            # Keras's steps are graph-ready already: converting its code with AutoGraph only costs time
            self._loops[key] = tf.function(loop, autograph=False)
        return self._loops[key]


def _copy(request: FitRequest, callbacks: list[keras.callbacks.Callback], validate: bool) -> _Copy:
    """Build one copy as ``fit`` would, and its data streams (made under the copy's seed, as
    ``model.fit`` makes them, so each is shuffled as it would be alone)."""
    model = fresh_model(request)
    data, batch_size = request.dataset, request.hp["batch_size"]
    # Metric, loss and optimizer state made now, eagerly: a compiled loop may not create them.
    # An inference step on one batch changes no weight and draws no random number; the batch is
    # the first rows alone (a dataset of all of them would copy the whole training set for it).
    model.test_step(next(iter(feed.dataset(data.x_train[:batch_size], data.y_train[:batch_size], batch_size))))
    model.optimizer.build(model.trainable_variables)
    train = feed.dataset(data.x_train, data.y_train, batch_size, request.hp["seed"], request.hp["epochs"])
    validation = iter(feed.dataset(data.x_val, data.y_val, batch_size).repeat()) if validate else None
    listed = keras.callbacks.CallbackList(callbacks, model=model)
    return _Copy(model, iter(train), feed.steps(data.x_train, batch_size), validation, feed.steps(data.x_val, batch_size), listed)
