"""One trial: build the pipeline's model from one dict of hyperparameters, fit, evaluate.

Nothing here knows about Optuna or MLflow; the runner passes in the callbacks that report.
The objective is the best epoch's value, and the test set is evaluated with that epoch's
weights restored: the tutorial's "it starts overfitting after epoch 4, so retrain for 4
epochs and evaluate" without the retraining.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import keras

from pipelines._data import Dataset
from sweeps.errors import TrialFailed


@dataclass
class TrialResult:
    """What one fit produced."""

    value: float
    best_epoch: int
    epochs_trained: int
    history: dict[str, list[float]]
    test: dict[str, float]
    model: keras.Model


class BestEpoch(keras.callbacks.Callback):
    """Tracks the best epoch of ``metric`` and restores its weights when training ends."""

    def __init__(self, metric: str, direction: str) -> None:
        super().__init__()
        self.metric, self.sign = metric, 1.0 if direction == "maximize" else -1.0
        self.value, self.epoch, self._weights = math.nan, 0, None

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        value = (logs or {}).get(self.metric)
        if value is not None and math.isfinite(value) and (math.isnan(self.value) or self.sign * (value - self.value) > 0):
            self.value, self.epoch = float(value), epoch + 1
            self._weights = self.model.get_weights()

    def on_train_end(self, logs: Mapping[str, float] | None = None) -> None:
        if self._weights is not None:
            self.model.set_weights(self._weights)


def run(
    pipeline: ModuleType,
    dataset: Dataset,
    hp: Mapping[str, Any],
    metric: str,
    direction: str,
    callbacks: Sequence[keras.callbacks.Callback] = (),
) -> TrialResult:
    """Train and evaluate one configuration.

    Raises:
        TrialFailed: the loss became NaN/inf, memory ran out, or the model could not be built
            or trained; the message says which.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(hp["seed"])
    best = BestEpoch(metric, direction)
    all_callbacks = [*callbacks, best, keras.callbacks.TerminateOnNaN()]
    if hp["early_stopping_patience"]:
        all_callbacks.append(keras.callbacks.EarlyStopping(
            monitor=metric, mode="max" if direction == "maximize" else "min", patience=hp["early_stopping_patience"]))
    try:
        model = pipeline.build_model(hp, dataset)
        fit = getattr(pipeline, "fit", fit_default)
        history = fit(model, dataset, hp, all_callbacks).history
        _check_finite(history)
        if math.isnan(best.value):
            raise TrialFailed(f"no finite {metric} was reported in {len(history.get('loss', []))} epoch(s)")
        test = model.evaluate(dataset.x_test, dataset.y_test, batch_size=hp["batch_size"], verbose=0, return_dict=True)
    except MemoryError as error:
        raise TrialFailed(f"out of memory: {error}") from error
    except Exception as error:
        if type(error).__name__ == "ResourceExhaustedError":  # TensorFlow's out-of-memory
            raise TrialFailed(f"out of memory: {str(error).splitlines()[0]}") from error
        raise
    return TrialResult(
        value=best.value, best_epoch=best.epoch, epochs_trained=len(history.get("loss", [])),
        history={key: [float(v) for v in values] for key, values in history.items()},
        test={f"test_{key}": float(value) for key, value in test.items()}, model=model,
    )


def fit_default(model: keras.Model, dataset: Dataset, hp: Mapping[str, Any],
                callbacks: Sequence[keras.callbacks.Callback]) -> keras.callbacks.History:
    """``model.fit`` on the train split, validating on the validation split each epoch."""
    return model.fit(
        dataset.x_train, dataset.y_train, epochs=hp["epochs"], batch_size=hp["batch_size"],
        validation_data=(dataset.x_val, dataset.y_val), callbacks=list(callbacks), verbose=0,
    )


def _check_finite(history: Mapping[str, Sequence[float]]) -> None:
    for epoch, value in enumerate(history.get("loss", []), start=1):
        if not math.isfinite(value):
            raise TrialFailed(f"loss became {value} at epoch {epoch}; the trial was stopped there")
