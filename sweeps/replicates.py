"""Replicates: one configuration trained with N seeds, so a comparison can say how sure it is.

Each replicate is a full trial (fit, best epoch, test evaluation) with ``seed + r``; the trial's
value is the replicates' mean (``<metric>_mean`` / ``_std``), its curves their per-epoch mean,
its test metrics their mean. Reports use the replicates themselves as samples (Welch's t-test).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import ModuleType
from typing import Any

import keras

from pipelines._data import Dataset
from sweeps import trial
from sweeps.trial import TrialResult


def run(
    pipeline: ModuleType,
    dataset: Dataset,
    hp: Mapping[str, Any],
    metric: str,
    direction: str,
    repeats: int,
    callbacks_for: Callable[[int], Sequence[keras.callbacks.Callback]],
    done: Callable[[int, TrialResult], None],
) -> TrialResult:
    """Train ``repeats`` seeds of one configuration and summarise them as one trial result.

    Raises:
        TrialFailed: as ``trial.run``; the replicate that failed is the one last started.
    """
    results = []
    for r in range(repeats):
        results.append(trial.run(pipeline, dataset, {**hp, "seed": hp["seed"] + r}, metric, direction, callbacks_for(r)))
        done(r, results[-1])
    return trial.combine(results, metric, direction)
