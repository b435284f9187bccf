"""Fused fits on Keras's TensorFlow backend: one compiled TensorFlow loop steps every copy.

Each copy is the pipeline's own compiled model, built exactly as it would be alone (the same
Keras session reset and seed: the same initial weights and dropout seeds), with its own
optimizer state, metrics, callbacks and data stream (its rows, shuffled by its seed, the same
batch size). What the copies share is the stepping: one compiled TensorFlow function runs a
step of every copy still training, and the epoch loop around it is a lean one instead of
``model.fit``'s. Each copy's step is Keras's own ``train_step``/``test_step``, so its numbers
are those of training it alone; early stopping ends one copy while the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import keras

from sweeps.training import feed
from sweeps.training.fit import BestEpoch, FitRequest, end_epoch, fresh_model, stopping


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
    requests: Sequence[FitRequest], callbacks: Sequence[Sequence[keras.callbacks.Callback]], test: bool
) -> list[tuple[keras.Model, dict[str, list[float]], BestEpoch, dict[str, float]]]:
    """Each request's model (best epoch's weights restored), curves, best epoch and, with
    ``test``, its test-set metrics (measured on the same fused loop)."""
    bests = [BestEpoch(request.objective) for request in requests]
    copies = [
        _copy(request, [*extra, best, *stopping(request)], validate=True)
        for request, extra, best in zip(requests, callbacks, bests, strict=True)
    ]
    test_step = _Stepper("test_step")
    _train_copies(copies, requests[0].hp["epochs"], test_step)
    tested = _tested(copies, requests, test_step) if test else [{} for _ in copies]
    return [(copy.model, copy.history, best, measured) for copy, best, measured in zip(copies, bests, tested, strict=True)]


def _tested(copies: Sequence[_Copy], requests: Sequence[FitRequest], test_step: _Stepper) -> list[dict[str, float]]:
    """Every copy's metrics on its test set (its best epoch's weights are back), on the loop
    already compiled for validation."""
    work = []
    for copy, request in zip(copies, requests, strict=True):
        data, batch_size = request.dataset, request.hp["batch_size"]
        work.append((copy.model, iter(feed.dataset(data.x_test, data.y_test, batch_size)), feed.steps(data.x_test, batch_size)))
    return test_step.run(work)


def fit_alone(request: FitRequest, epochs: int) -> keras.Model:
    """A fresh model trained ``epochs`` epochs on ``request``'s training rows, without validation."""
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
            end_epoch(copy.model, copy.callbacks, copy.history, epoch, logs)
    for copy in copies:
        copy.callbacks.on_train_end()


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
