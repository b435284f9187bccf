"""What every trial of one invocation shares, fixed when the sweep starts (``run_sweep``).

What changes as trials run is owned elsewhere: the best model by ``ModelKeeper`` (with the
parent run), whether a model was built yet by ``TrialRunner``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sweeps.engines.base import Engine
from sweeps.runner.parent import ModelKeeper, ParentRun
from sweeps.runner.progress import Progress
from sweeps.spec.sweep import SweepSpec
from sweeps.tracking.tracker import Tracker
from sweeps.training.datasets import DatasetCache


@dataclass(frozen=True)
class SweepContext:
    """The sweep, its engine and stores, its data, its parent run, and how trials report."""

    spec: SweepSpec
    engine: Engine
    tracker: Tracker
    datasets: DatasetCache
    parent: ParentRun
    tags: Mapping[str, Any]  # recorded on every run of the sweep
    progress: Progress
    models: ModelKeeper
