"""The objectives every pipeline has, measured on a trial rather than reported by its model:
``params``, its model's trainable parameters, and ``epoch_seconds``, its mean training seconds
per epoch. An epoch is timed where a fit trains alone (Keras's own fit): fused fits share their
epochs' time, so a sweep with ``epoch_seconds`` as an objective trains every fit alone, and
only such a sweep records it."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from sweeps.spec.objective import Objective


class EpochClock(keras.callbacks.Callback):
    """Times each epoch of one fit."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: list[float] = []
        self._started = 0.0

    def on_epoch_begin(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        self.seconds.append(time.perf_counter() - self._started)

    @property
    def mean(self) -> float | None:
        """Seconds per epoch; the first epoch also compiles the model, so it is left out where
        there are others."""
        steady = self.seconds[1:] or self.seconds
        return float(np.mean(steady)) if steady else None


def trainable_parameters(model: keras.Model) -> int:
    """What ``params`` measures: the model's trainable parameters."""
    return int(sum(np.prod(variable.shape) for variable in model.trainable_variables))


def mean_epoch_seconds(fits: Sequence[Any]) -> float | None:
    """Several fits' seconds per epoch (weighted by their epochs), where every one was timed."""
    timed = [(fit.epoch_seconds, fit.epochs_trained) for fit in fits]
    if not timed or any(seconds is None for seconds, _ in timed):
        return None
    return float(np.average([s for s, _ in timed], weights=[max(1, e) for _, e in timed]))


def objective_values(fitted: Any, objectives: Sequence[Objective]) -> dict[str, float]:
    """What the trial run records for the objectives after the first (``Objective.recorded_as``),
    besides ``params`` always (a fused trial records what the same trial unfused would): one the
    model reports at the best epoch of the first objective (of the averaged curves, for a trial
    of several fits), ``epoch_seconds`` as timed."""
    values: dict[str, float] = {"params": float(trainable_parameters(fitted.model))}
    for objective in objectives[1:]:
        if objective.metric == "epoch_seconds" and fitted.epoch_seconds is not None:  # each fit trained alone, timed
            values["epoch_seconds"] = fitted.epoch_seconds
        elif not objective.measured:
            values[objective.recorded_as] = float(fitted.history[objective.metric][fitted.best_epoch - 1])
    return values
