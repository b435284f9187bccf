"""What a sweep optimises: a metric and which way is better, the one place that knows "better".

A sweep's objectives are a tuple of these (``SweepSpec.objectives``): one, or several compared
as a Pareto front. The first, ``SweepSpec.objective``, is a metric the model reports each epoch;
it picks each fit's best epoch and stops fits early. Every pipeline also has the ``MEASURED``
objectives, measured on each trial rather than reported by its model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

DIRECTIONS = ("maximize", "minimize")
# Objectives every pipeline has, measured on a trial's model and training; both better lower.
MEASURED = {"params": "trainable parameters of the model", "epoch_seconds": "mean training seconds per epoch"}
Item = TypeVar("Item")


@dataclass(frozen=True)
class Objective:
    """A metric (``val_accuracy``) and its direction (``maximize`` or ``minimize``).

    Raises:
        ValueError: the direction is neither.
    """

    metric: str
    direction: str

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"objective {self.metric}: direction must be maximize or minimize, got {self.direction!r}")

    @property
    def measured(self) -> bool:
        """Whether the sweep measures it (``MEASURED``) rather than the model reporting it."""
        return self.metric in MEASURED

    @property
    def recorded_as(self) -> str:
        """The trial run's metric that holds it: ``best_<metric>`` for the model's, else its name."""
        return self.metric if self.measured else f"best_{self.metric}"

    @property
    def maximize(self) -> bool:
        """Whether higher values are better."""
        return self.direction == "maximize"

    @property
    def mode(self) -> str:
        """Keras's and keras-tuner's name for the direction (``EarlyStopping(mode=...)``): max or min."""
        return "max" if self.maximize else "min"

    def better(self, value: float, than: float) -> bool:
        """Whether ``value`` is strictly better than ``than`` (anything beats NaN)."""
        return math.isnan(than) or (value > than if self.maximize else value < than)

    def best(self, items: Iterable[Item], key: Callable[[Item], float] = float) -> Item | None:
        """The item whose ``key`` is best (the first of equals), NaN never; ``None`` if none is left.

        ``objective.best(range(len(values)), key=values.__getitem__)`` is the best value's index.
        """
        measured = [item for item in items if not math.isnan(key(item))]
        if not measured:
            return None
        return (max if self.maximize else min)(measured, key=key)

    def gain(self, change: float) -> float:
        """A change of the metric as an improvement: positive when it is for the better."""
        return change if self.maximize else -change
