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
import numpy as np

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
    values = np.array([r.value for r in results])
    history = trial.average_history([r.history for r in results])
    pick = np.nanargmax if direction == "maximize" else np.nanargmin
    return TrialResult(
        value=float(values.mean()), best_epoch=int(pick(history[metric])) + 1,
        epochs_trained=sum(r.epochs_trained for r in results), history=history,
        test={key: float(np.mean([r.test[key] for r in results])) for key in results[0].test}, model=results[-1].model,
        metrics={f"{metric}_mean": float(values.mean()), f"{metric}_std": float(values.std(ddof=1)) if repeats > 1 else 0.0},
    )
