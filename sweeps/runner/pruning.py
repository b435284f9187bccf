"""The engine's pruner, heard by a fit: a Keras callback between ``training`` and the engine."""

from __future__ import annotations

import keras

from sweeps.engines.base import Engine, Proposal


class Pruning(keras.callbacks.Callback):
    """Reports the objective to the engine each epoch and stops the fit when it says prune.

    Args:
        engine: the study's engine (``should_prune``).
        proposal: the trial being fitted.
        metric: the objective's metric, as the fit's logs name it.
    """

    def __init__(self, engine: Engine, proposal: Proposal, metric: str) -> None:
        super().__init__()
        self.engine, self.proposal, self.metric, self.pruned = engine, proposal, metric, False

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        value = (logs or {}).get(self.metric)
        if value is not None and self.engine.should_prune(self.proposal, epoch + 1, float(value)):
            self.pruned = True
            self.model.stop_training = True
