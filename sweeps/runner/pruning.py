"""The engine's pruner, heard by a fit after each epoch (a Keras callback between ``training``
and the engine), or by a trial of several fits after each fit."""

from __future__ import annotations

import keras

from sweeps.engines.base import Curve, Engine, Proposal


class Pruning(keras.callbacks.Callback):
    """Reports the objective to the engine each epoch and stops the fit when it says prune.

    ``in_order``: the fit trains in a fused set whose trials the engine judges in number order
    once they have trained (``Engine.pruned_in_order``); each epoch's value is only kept here.

    Args:
        engine: the study's engine (``should_prune``).
        proposal: the trial being fitted.
        metric: the objective's metric, as the fit's logs name it.
    """

    def __init__(self, engine: Engine, proposal: Proposal, metric: str, in_order: bool = False) -> None:
        super().__init__()
        self.engine, self.proposal, self.metric, self.pruned = engine, proposal, metric, False
        self.in_order, self.values = in_order, {}  # (in order) the objective by epoch, from 1

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        value = (logs or {}).get(self.metric)
        if value is None:
            return
        if self.in_order:
            self.values[epoch + 1] = float(value)
        elif self.engine.should_prune(self.proposal, epoch + 1, float(value)):
            self.pruned = True
            self.model.stop_training = True

    def judge(self, before: list[Curve]) -> int | None:
        """(In order) the epoch at which the engine prunes this trial, trained after the trials
        of its set whose values are ``before`` (``None``: never); a trial not pruned joins them."""
        cut = self.engine.pruned_in_order(self.proposal, self.values, before)
        self.pruned = cut is not None
        if not self.pruned:
            before.append(self.values)
        return cut


class FitByFit:
    """Reports each fit's objective of a trial of several fits to the engine (the step is the
    fit's index: fold k, or seed k, of every trial is paired) and says when it prunes the trial.

    Args:
        engine: the study's engine (``should_prune``).
        proposal: the trial being fitted.
    """

    def __init__(self, engine: Engine, proposal: Proposal) -> None:
        self.engine, self.proposal, self.pruned = engine, proposal, False

    def judge(self, index: int, value: float) -> bool:
        """Hear fit ``index``'s value; ``True`` means train no more of this trial's fits."""
        self.pruned = self.pruned or self.engine.should_prune(self.proposal, index, value)
        return self.pruned
