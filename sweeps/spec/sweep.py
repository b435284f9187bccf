"""A sweep as a frozen, validated ``SweepSpec``: which pipeline, what is fixed, what varies and how
it is searched (read and checked from its file by ``sweeps.spec.loading``), and the names its
studies may take.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sweeps.defaults import FUSE_TRIALS
from sweeps.errors import ConfigError
from sweeps.spec.contract import Pipeline
from sweeps.spec.objective import Objective
from sweeps.spec.params import Param
from sweeps.spec.search import Pruner, Sampler

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")  # a sweep's name: a file name, an experiment
# A study's name (--study): the sweep's rule, plus the characters of the names sweeps makes
# itself (imdb_depth[epochs=1], imdb_depth@2026-11-22); never a path.
STUDY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.,=@+\[\]-]{0,199}$")


@dataclass(frozen=True)
class SweepSpec:
    """A named sweep: which pipeline, what is fixed, what varies, and how to search it."""

    name: str
    description: str
    pipeline: Pipeline
    engine: str
    sampler: Sampler
    pruner: Pruner
    trials: int
    objectives: tuple[Objective, ...]  # one, or several compared as a Pareto front
    fixed: Mapping[str, Any]
    params: Mapping[str, Param]
    max_consecutive_failures: int
    folds: int | None  # K-fold cross-validation per trial (None: one train/validation split)
    repeats: int  # seeds per configuration (replicates, for mean +- std and significance)
    path: Path
    text: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    fuse: bool = True  # a trial's several fits train fused, where the pipeline allows (same results, faster)
    fuse_trials: int = FUSE_TRIALS  # trials a worker trains as one fused set, on JAX (1: one at a time)
    backend: str | None = None  # the Keras backend the file asks for (sweeps.spec.backend chooses)

    @property
    def objective(self) -> Objective:
        """The first objective: each fit's best epoch and early stopping go by it, and a single
        "best" (the nightly comparison, the model kept) where there are several."""
        return self.objectives[0]

    @property
    def fuses(self) -> bool:
        """Whether fits may train fused: the file allows it (``fuse``), and no objective is
        ``epoch_seconds`` (a fused epoch's time is the whole set's, not one configuration's)."""
        return self.fuse and all(one.metric != "epoch_seconds" for one in self.objectives)

    @property
    def test_metric(self) -> str:
        """The test-set counterpart of the objective (``val_accuracy`` -> ``test_accuracy``)."""
        return test_metric(self.objective.metric)

    @property
    def study_name(self) -> str:
        """The sweep's name, with command-line overrides appended so a quick ``--epochs 1``
        run never mixes into the real study: ``imdb_depth[epochs=1]``."""
        if not self.overrides:
            return self.name
        return f"{self.name}[{','.join(f'{k}={v}' for k, v in sorted(self.overrides.items()))}]"

    def hyperparameters(self, sampled: Mapping[str, Any]) -> dict[str, Any]:
        """One trial's complete hyperparameters: pipeline defaults < fixed < sampled.

        A sampled ``variants`` label is expanded into the values it stands for.
        """
        declared = self.pipeline.hyperparameters
        values = {key: decl.default for key, decl in declared.items()}
        values.update(self.fixed)
        for key, value in sampled.items():
            if self.params[key].type == "variants":
                values.update(self.params[key].variants[value])
            else:
                values[key] = declared[key].coerce(value)
        return values

    def grid_points(self) -> list[dict[str, Any]]:
        """Every combination a grid visits, in the order the file lists values (first param slowest)."""
        names = list(self.params)
        return [dict(zip(names, combo, strict=False)) for combo in itertools.product(*(self.params[n].grid() for n in names))]

    def fingerprint(self) -> str:
        """A digest of everything that changes what a trial means (not the trial budget)."""
        identity = {
            "pipeline": self.pipeline.name,
            "engine": self.engine,
            "sampler": self.sampler.settings(),
            "pruner": self.pruner.settings(),
            "metric": self.objective.metric,
            **({"objectives": [vars(one) for one in self.objectives]} if len(self.objectives) > 1 else {}),
            "fixed": dict(self.fixed),
            "folds": self.folds,
            "repeats": self.repeats,
            "params": {name: vars(param) for name, param in self.params.items()},
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def check_study_name(name: str) -> str:
    """``name`` if it may name a study (``--study``).

    Raises:
        ConfigError: it could be a path, or is not a name.
    """
    if not STUDY_PATTERN.match(name) or ".." in name:
        raise ConfigError(
            f"--study {name[:60]!r}: a study is named with up to 200 letters, digits and _ . , = @ + [ ] -, "
            "starting with a letter or digit (not a path)"
        )
    return name


def test_metric(metric: str) -> str:
    """The test-set counterpart of an objective or its summary (``val_mae_mean`` -> ``test_mae``)."""
    return "test_" + metric.removeprefix("val_").removesuffix("_mean")


def point_key(values: Mapping[str, Any]) -> str:
    """A canonical text for a set of param values, to compare grid points across engines and runs."""
    return json.dumps(dict(values), sort_keys=True, default=str)
