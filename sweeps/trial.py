"""One trial: build the pipeline's model from one dict of hyperparameters, fit, evaluate.

Nothing here knows about Optuna or MLflow; the runner passes in the callbacks that report.
The objective is the best epoch's value, and the test set is evaluated with that epoch's
weights restored: the tutorial's "it starts overfitting after epoch 4, so retrain for 4
epochs and evaluate" without the retraining.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import keras
import numpy as np

from pipelines._data import Dataset
from sweeps import batches
from sweeps.errors import TrialFailed


@dataclass
class TrialResult:
    """What one trial produced: the objective, its learning curves, test metrics, the model.

    ``metrics`` holds any further final values worth logging (K-fold: ``<metric>_mean``/``_std``).
    """

    value: float
    best_epoch: int
    epochs_trained: int
    history: dict[str, list[float]]
    test: dict[str, float]
    model: keras.Model
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Continuation:
    """Where a trial starts and where its weights go (Hyperband continues earlier trials)."""

    initial_epoch: int = 0
    warm_start: Path | None = None  # weights to load before training
    checkpoint: Path | None = None  # where to save the trained (best-epoch) weights


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
    continuation: Continuation = Continuation(),
    wants_test: Callable[[], bool] = lambda: True,
) -> TrialResult:
    """Train one configuration on the train split, validate each epoch, evaluate on test.

    ``wants_test`` is asked once training ends; a pruned trial's half-trained model is not
    worth the test set's time (on IMDB about an epoch's), so its ``test`` stays empty.

    Raises:
        TrialFailed: the loss became NaN/inf, memory ran out, or nothing finite was reported.
    """
    with _out_of_memory_fails():
        dataset = for_trial(pipeline, dataset, hp)
        result = fit(pipeline, dataset, hp, metric, direction, callbacks, continuation)
        if wants_test():
            result.test = evaluate(result.model, dataset, hp)
    return result


def for_trial(pipeline: ModuleType, dataset: Dataset, hp: Mapping[str, Any]) -> Dataset:
    """The pipeline's per-trial view of the data (e.g. one-hot labels), if it has one."""
    return pipeline.for_trial(dataset, hp) if hasattr(pipeline, "for_trial") else dataset


def fit(
    pipeline: ModuleType,
    dataset: Dataset,
    hp: Mapping[str, Any],
    metric: str,
    direction: str,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    continuation: Continuation = Continuation(),
) -> TrialResult:
    """A fresh, seeded model fitted with the best epoch's weights restored (``test`` left empty).

    With a ``continuation``, training resumes at ``initial_epoch`` from saved weights, and the
    result is saved for later trials; ``hp["initial_epoch"]`` tells the pipeline's fit.
    """
    best = BestEpoch(metric, direction)
    all_callbacks = [*callbacks, best, keras.callbacks.TerminateOnNaN()]
    if hp["early_stopping_patience"]:
        all_callbacks.append(keras.callbacks.EarlyStopping(
            monitor=metric, mode="max" if direction == "maximize" else "min", patience=hp["early_stopping_patience"]))
    model = fresh_model(pipeline, dataset, hp)
    if continuation.warm_start is not None:
        model.optimizer.build(model.trainable_variables)  # so the optimizer's state continues too
        model.load_weights(continuation.warm_start)
        hp = {**hp, "initial_epoch": continuation.initial_epoch}
    history = getattr(pipeline, "fit", fit_default)(model, dataset, hp, all_callbacks).history
    _check_finite(history)
    if continuation.checkpoint is not None:
        continuation.checkpoint.parent.mkdir(parents=True, exist_ok=True)
        model.save_weights(continuation.checkpoint)
    if math.isnan(best.value):
        raise TrialFailed(f"no finite {metric} was reported in {len(history.get('loss', []))} epoch(s)")
    return TrialResult(value=best.value, best_epoch=best.epoch, epochs_trained=len(history.get("loss", [])),
                       history={key: [float(v) for v in values] for key, values in history.items()}, test={}, model=model)


def fresh_model(pipeline: ModuleType, dataset: Dataset, hp: Mapping[str, Any]) -> keras.Model:
    """The pipeline's model, built from a blank Keras state with the trial's seed.

    Python's garbage collection is left to run when it will: Keras's default full collection
    here took 0.38 s of every trial, more than an IMDB epoch.
    """
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(hp["seed"])
    return pipeline.build_model(hp, dataset)


def evaluate(model: keras.Model, dataset: Dataset, hp: Mapping[str, Any]) -> dict[str, float]:
    """Test-set metrics, named ``test_<metric>``."""
    test = model.evaluate(**batches.feed(dataset.x_test, dataset.y_test, hp["batch_size"]), verbose=0, return_dict=True)
    return {f"test_{key}": float(value) for key, value in test.items()}


@contextmanager
def _out_of_memory_fails() -> Iterator[None]:
    """Turn Python's and TensorFlow's out-of-memory errors into a failed trial."""
    try:
        yield
    except MemoryError as error:
        raise TrialFailed(f"out of memory: {error}") from error
    except Exception as error:
        if type(error).__name__ == "ResourceExhaustedError":  # TensorFlow's, without importing it here
            raise TrialFailed(f"out of memory: {str(error).splitlines()[0]}") from error
        raise


def fit_default(model: keras.Model, dataset: Dataset, hp: Mapping[str, Any],
                callbacks: Sequence[keras.callbacks.Callback]) -> keras.callbacks.History:
    """``model.fit`` on the train split, validating on the validation split each epoch."""
    return model.fit(
        **batches.feed(dataset.x_train, dataset.y_train, hp["batch_size"], shuffle_seed=hp["seed"]), epochs=hp["epochs"],
        validation_data=batches.validation(dataset.x_val, dataset.y_val, hp["batch_size"]), callbacks=list(callbacks),
        verbose=0, initial_epoch=hp.get("initial_epoch", 0),
    )


def average_history(histories: Sequence[Mapping[str, Sequence[float]]]) -> dict[str, list[float]]:
    """Per-epoch means over several fits (folds, replicates), up to the last epoch all of them
    reached (early stopping can end some sooner)."""
    epochs = min(len(h["loss"]) for h in histories)
    return {key: np.mean([h[key][:epochs] for h in histories], axis=0).tolist() for key in histories[0]}


def combine(results: Sequence[TrialResult], metric: str, direction: str) -> TrialResult:
    """Several fits of one configuration (K folds, N replicates) as one trial result.

    Its value is the mean of theirs (also logged as ``<metric>_mean``, with the sample
    ``<metric>_std``), its curves their per-epoch means, its best epoch where that mean curve is
    best, its epochs all they trained, its test metrics their means, its model the last one.
    """
    values = np.array([r.value for r in results])
    history = average_history([r.history for r in results])
    pick = np.nanargmax if direction == "maximize" else np.nanargmin
    return TrialResult(
        value=float(values.mean()), best_epoch=int(pick(history[metric])) + 1,
        epochs_trained=sum(r.epochs_trained for r in results), history=history,
        test={key: float(np.mean([r.test[key] for r in results])) for key in results[0].test}, model=results[-1].model,
        metrics={f"{metric}_mean": float(values.mean()), f"{metric}_std": float(values.std(ddof=1)) if len(values) > 1 else 0.0},
    )


def _check_finite(history: Mapping[str, Sequence[float]]) -> None:
    for epoch, value in enumerate(history.get("loss", []), start=1):
        if not math.isfinite(value):
            raise TrialFailed(f"loss became {value} at epoch {epoch}; the trial was stopped there")
