"""One fit: build the pipeline's model from one dict of hyperparameters, train, evaluate.

Nothing here knows about Optuna or MLflow; the runner passes in the callbacks that report.
The objective is the best epoch's value, and the test set is evaluated with that epoch's
weights restored: the tutorial's "it starts overfitting after epoch 4, so retrain for 4
epochs and evaluate" without the retraining.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import keras

from sweeps.data.dataset import Dataset
from sweeps.errors import TrialFailed, first_line
from sweeps.spec.backend import tensorflow_unstarted
from sweeps.spec.contract import Pipeline
from sweeps.spec.objective import Objective
from sweeps.training import feed
from sweeps.training.measured import EpochClock


@dataclass(frozen=True)
class FitRequest:
    """What one fit needs: the pipeline, the data it trains on, the hyperparameters, the objective."""

    pipeline: Pipeline
    dataset: Dataset
    hp: Mapping[str, Any]
    objective: Objective

    def with_seed(self, seed: int) -> FitRequest:
        return replace(self, hp={**self.hp, "seed": seed})

    def with_data(self, dataset: Dataset) -> FitRequest:
        return replace(self, dataset=dataset)

    def trial_view(self) -> FitRequest:
        """This request on the pipeline's per-trial view of the data (e.g. one-hot labels)."""
        return self.with_data(self.pipeline.for_trial(self.dataset, self.hp))


@dataclass
class Fitted:
    """What a fit (or a trial of several fits) produced: the objective, curves, test metrics, model.

    ``metrics`` holds any further final values worth logging (``<metric>_mean``/``_std``);
    ``epoch_seconds`` its seconds per epoch, where it trained alone (``sweeps.training.measured``).
    """

    value: float
    best_epoch: int
    epochs_trained: int
    history: dict[str, list[float]]
    test: dict[str, float]
    model: keras.Model
    metrics: dict[str, float] = field(default_factory=dict)
    epoch_seconds: float | None = None


@dataclass(frozen=True)
class Continuation:
    """Where a trial starts and where its weights go (Hyperband continues earlier trials)."""

    initial_epoch: int = 0
    warm_start: Path | None = None  # weights to load before training
    checkpoint: Path | None = None  # where to save the trained (best-epoch) weights


class BuildFailed(TrialFailed):
    """The pipeline's ``build_model`` raised; the message says where in the pipeline's file."""


class BestEpoch(keras.callbacks.Callback):
    """Tracks the best epoch of the objective and restores its weights when training ends."""

    def __init__(self, objective: Objective) -> None:
        super().__init__()
        self.objective = objective
        self.value, self.epoch, self._weights = math.nan, 0, None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        value = (logs or {}).get(self.objective.metric)
        if value is not None and math.isfinite(value) and self.objective.better(value, self.value):
            self.value, self.epoch = float(value), epoch + 1
            self.keep()

    def keep(self) -> None:
        """Keep the weights of the epoch that just improved."""
        self._weights = self.model.get_weights()

    def on_train_end(self, logs: Mapping[str, float] | None = None) -> None:
        if self._weights is not None:
            self.model.set_weights(self._weights)


def train(
    request: FitRequest,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    continuation: Continuation = Continuation(),
    wants_test: Callable[[], bool] = lambda: True,
) -> Fitted:
    """Train one configuration on the train split, validate each epoch, evaluate on test.

    ``wants_test`` is asked once training ends; a pruned trial's half-trained model is not
    worth the test set's time (on IMDB about an epoch's), so its ``test`` stays empty.

    Raises:
        BuildFailed: the pipeline's ``build_model`` raised.
        TrialFailed: the loss became NaN/inf, memory ran out, or nothing finite was reported.
    """
    with failures_as_trial_failed():
        request = request.trial_view()
        result = fit(request, callbacks, continuation)
        if wants_test():
            result.test = evaluate(result.model, request)
    return result


def fit(
    request: FitRequest, callbacks: Sequence[keras.callbacks.Callback] = (), continuation: Continuation = Continuation()
) -> Fitted:
    """A fresh, seeded model fitted with the best epoch's weights restored (``test`` left empty).

    ``request`` is on the trial's view of the data already. With a ``continuation``, training
    resumes at ``initial_epoch`` from saved weights, and the result is saved for later trials;
    ``hp["initial_epoch"]`` tells the pipeline's fit.
    """
    best, clock = BestEpoch(request.objective), EpochClock()
    model = fresh_model(request)
    hp = request.hp
    if continuation.warm_start is not None:
        model.optimizer.build(model.trainable_variables)  # so the optimizer's state continues too
        model.load_weights(continuation.warm_start)
        hp = {**hp, "initial_epoch": continuation.initial_epoch}
    train_loop = request.pipeline.custom_fit or fit_default
    history = train_loop(model, request.dataset, hp, [*callbacks, best, clock, *stopping(request)]).history
    check_finite(history)
    if continuation.checkpoint is not None:
        continuation.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        model.save_weights(continuation.checkpoint)
    if math.isnan(best.value):
        raise TrialFailed(f"no finite {request.objective.metric} was reported in {len(history.get('loss', []))} epoch(s)")
    return Fitted(
        value=best.value,
        best_epoch=best.epoch,
        epochs_trained=len(history.get("loss", [])),
        history={key: [float(v) for v in values] for key, values in history.items()},
        test={},
        model=model,
        epoch_seconds=clock.mean,
    )


def stopping(request: FitRequest) -> list[keras.callbacks.Callback]:
    """What ends a fit early: a NaN loss, and early stopping when the hyperparameters ask for it."""
    callbacks: list[keras.callbacks.Callback] = [keras.callbacks.TerminateOnNaN()]
    if patience := request.hp["early_stopping_patience"]:
        objective = request.objective
        callbacks.append(keras.callbacks.EarlyStopping(monitor=objective.metric, mode=objective.mode, patience=patience))
    return callbacks


def end_epoch(
    model: keras.Model, callbacks: keras.callbacks.CallbackList, history: dict[str, list[float]], epoch: int, logs: dict
) -> None:
    """Record an epoch of a fit stepped outside ``model.fit`` (a fused copy) and tell its
    callbacks, which may stop it."""
    for key, value in logs.items():
        history.setdefault(key, []).append(value)
    if not math.isfinite(logs["loss"]):  # what TerminateOnNaN does
        model.stop_training = True
    callbacks.on_epoch_end(epoch, logs)


def fresh_model(request: FitRequest) -> keras.Model:
    """The pipeline's model, built from a blank Keras state with the trial's seed.

    Python's garbage collection is left to run when it will: Keras's default full collection
    here took 0.38 s of every trial, more than an IMDB epoch.

    Raises:
        BuildFailed: the pipeline's own code raised; the message names its file and line.
    """
    keras.backend.clear_session(free_memory=False)
    with tensorflow_unstarted():  # Keras seeds TensorFlow too wherever it is installed, starting it
        keras.utils.set_random_seed(request.hp["seed"])
    try:
        return request.pipeline.build_model(request.hp, request.dataset)
    except Exception as error:
        raise BuildFailed(f"{first_line(error)} (in build_model, {request.pipeline.where(error)})") from error


def evaluate(model: keras.Model, request: FitRequest) -> dict[str, float]:
    """Test-set metrics, named ``test_<metric>``."""
    dataset = request.dataset
    test = model.evaluate(**feed.feed(dataset.x_test, dataset.y_test, request.hp["batch_size"]), verbose=0, return_dict=True)
    return checked_test_metrics(test)


def checked_test_metrics(values: Mapping[str, float]) -> dict[str, float]:
    """Metrics measured on the test set, named ``test_<metric>`` (``TrialFailed`` if one is not finite)."""
    bad = [f"test_{key}={value}" for key, value in values.items() if not math.isfinite(value)]
    if bad:
        raise TrialFailed(f"{', '.join(bad)} on the test set; the trial has no result")
    return {f"test_{key}": float(value) for key, value in values.items()}


def fit_default(
    model: keras.Model, dataset: Dataset, hp: Mapping[str, Any], callbacks: Sequence[keras.callbacks.Callback]
) -> keras.callbacks.History:
    """``model.fit`` on the train split, validating on the validation split each epoch."""
    return model.fit(
        **feed.feed(dataset.x_train, dataset.y_train, hp["batch_size"], shuffle_seed=hp["seed"], epochs=hp["epochs"]),
        epochs=hp["epochs"],
        validation_data=feed.validation(dataset.x_val, dataset.y_val, hp["batch_size"]),
        callbacks=list(callbacks),
        verbose=0,
        initial_epoch=hp.get("initial_epoch", 0),
    )


@contextmanager
def failures_as_trial_failed() -> Iterator[None]:
    """Turn Python's and TensorFlow's out-of-memory errors into a failed trial."""
    try:
        yield
    except MemoryError as error:
        raise TrialFailed(f"out of memory: {error}") from error
    except Exception as error:
        if type(error).__name__ == "ResourceExhaustedError":  # TensorFlow's, without importing it here
            raise TrialFailed(f"out of memory: {first_line(error, with_type=False)}") from error
        raise


def check_finite(history: Mapping[str, Sequence[float]]) -> None:
    """Raise ``TrialFailed`` at the first epoch whose training or validation loss or metric is
    NaN or infinite: a trial whose numbers are not numbers is no result."""
    watched = ["loss", *(key for key in history if key.startswith("val_"))]
    for epoch in range(1, len(history.get("loss", [])) + 1):
        for key in watched:
            values = history.get(key, [])
            if epoch <= len(values) and not math.isfinite(values[epoch - 1]):
                raise TrialFailed(f"{key} became {values[epoch - 1]} at epoch {epoch}; the trial was stopped there")
