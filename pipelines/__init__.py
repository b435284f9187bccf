"""Tasks from the Keras tutorials, one module each: data plus model, nothing about tracking.

The contract every ``pipelines/<task>.py`` fulfils (DESIGN.md §3):

- ``HYPERPARAMETERS: dict[str, Hyperparameter]`` — every accepted key with its default (the
  tutorial's recipe) and rule; keys marked ``affects_data`` change the encoded dataset.
- ``OBJECTIVES: dict[str, str]`` — metrics a sweep may optimise, with their better direction.
- ``load_data(hp, options) -> Dataset`` — train / validation / test arrays, split as the
  tutorial does, from a data dir, Keras, or a generated sample (see ``_data``).
- ``build_model(hp, dataset) -> keras.Model`` — compiled, from one dict of hyperparameters.
- optionally ``for_trial(dataset, hp) -> Dataset``: a cheap per-trial view of the loaded data
  (one-hot labels when the loss wants them), so the loaded arrays are shared by all trials.
- optionally ``fit(model, dataset, hp, callbacks) -> keras.callbacks.History`` for tasks that
  need their own training loop; it must honour ``hp.get("initial_epoch", 0)``, which is set
  when an engine (Hyperband) continues an earlier trial's training.

Pipelines never import mlflow or optuna.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from pathlib import Path
from types import ModuleType


def available() -> list[str]:
    """Names of the task modules in this package (private helpers excluded)."""
    return sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if not m.name.startswith("_"))


def load(name: str) -> ModuleType:
    """Import the pipeline module ``name``.

    Raises:
        KeyError: no such pipeline.
    """
    if name not in available():
        raise KeyError(name)
    return importlib.import_module(f"pipelines.{name}")
