"""A search-space file as a frozen, validated ``SweepSpec``.

Every key is checked here, against the file's schema and against the vocabulary the named
pipeline declares, so a mistake is one line naming the file, the key and the rule before
anything is trained or written: ``search_spaces/x.yaml: params.layers.choices: must be a
non-empty list``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sweeps.defaults import MAX_CONSECUTIVE_FAILURES
from sweeps.errors import ConfigError, PipelineError
from sweeps.spec import sections
from sweeps.spec.catalog import project_dir
from sweeps.spec.contract import Pipeline, load_pipeline
from sweeps.spec.objective import Objective
from sweeps.spec.params import Param, checked_value
from sweeps.spec.reader import Reader
from sweeps.spec.search import Pruner, Sampler
from sweeps.spec.yaml_file import read_yaml

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")  # a sweep's name: a file name, an experiment
# A study's name (--study): the sweep's rule, plus the characters of the names sweeps makes
# itself (imdb_depth[epochs=1], imdb_depth@2026-11-22); never a path.
STUDY_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.,=@+\[\]-]{0,199}$")
_TOP_KEYS = (
    "name",
    "description",
    "pipeline",
    "engine",
    "sampler",
    "pruner",
    "trials",
    "objective",
    "fixed",
    "params",
    "max_consecutive_failures",
    "folds",
    "repeats",
    "fuse",
)


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
    objectives: tuple[Objective, ...]  # one today; several will be compared as a Pareto front
    fixed: Mapping[str, Any]
    params: Mapping[str, Param]
    max_consecutive_failures: int
    folds: int | None  # K-fold cross-validation per trial (None: one train/validation split)
    repeats: int  # seeds per configuration (replicates, for mean +- std and significance)
    path: Path
    text: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    fuse: bool = True  # a trial's several fits train fused, where the pipeline allows (same results, faster)

    @property
    def objective(self) -> Objective:
        """The objective trials are ranked by: the first (today the only) one."""
        return self.objectives[0]

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


def load_spec(
    path: Path,
    overrides: Mapping[str, Any] | None = None,
    trials: int | None = None,
    repeats: int | None = None,
    project: Path | None = None,
) -> SweepSpec:
    """Read and validate a search-space file, then apply command-line overrides.

    Args:
        path: the YAML file; its stem must equal its ``name``.
        overrides: ``--set KEY=VALUE`` / ``--epochs`` values, validated like ``fixed``.
        trials: ``--trials`` replacing the file's trial budget.
        repeats: ``--repeats`` replacing the file's seeds per configuration.
        project: the project whose ``pipelines/`` a pipeline name may refer to (default: the
            working directory, or ``SWEEPS_PROJECT``).

    Raises:
        ConfigError: the file or an override breaks a rule; the message says which.
        PipelineError: the pipeline it names cannot be loaded or breaks the contract.
    """
    text, document = read_yaml(path, "the search space")
    spec = _parse(Reader(str(path), document, ""), path, text, project)
    if overrides:
        spec = _with_overrides(spec, overrides)
    if trials is not None:
        if trials < 1:
            raise ConfigError(f"--trials: must be >= 1, got {trials}")
        spec = replace(spec, trials=trials)
    if repeats is not None:
        if repeats < 1:
            raise ConfigError(f"--repeats: must be >= 1, got {repeats}")
        if spec.folds and repeats > 1:
            raise ConfigError(
                f"--repeats: {spec.path} cross-validates with folds: {spec.folds}; repeats cannot be combined with folds yet"
            )
        spec = replace(spec, repeats=repeats, overrides={**spec.overrides, "repeats": repeats})
    return spec


def _parse(doc: Reader, path: Path, text: str, project: Path | None) -> SweepSpec:
    doc.only(_TOP_KEYS)
    name = doc.get("name", str)
    if name != path.stem:
        raise doc.error("name", f"must equal the file name '{path.stem}', got {name!r}")
    if not NAME_PATTERN.match(name):
        raise doc.error("name", "must be up to 100 letters, digits, '_', '-' or '.', starting with a letter or digit")
    pipeline = _pipeline(doc, path, project)
    engine, sampler, pruner = sections.search(doc)
    objective = sections.objective(doc, pipeline)
    fixed, params = sections.values(doc, pipeline)
    folds, repeats = sections.several_fits(doc, pruner)
    sections.check_searchable(doc, engine, sampler, params)
    return SweepSpec(
        name=name,
        description=doc.get("description", str),
        pipeline=pipeline,
        engine=engine,
        sampler=sampler,
        pruner=pruner,
        trials=doc.positive("trials"),
        objectives=(objective,),
        fixed=fixed,
        params=params,
        max_consecutive_failures=doc.positive("max_consecutive_failures", default=MAX_CONSECUTIVE_FAILURES),
        folds=folds,
        repeats=repeats,
        path=path,
        text=text,
        fuse=doc.get("fuse", bool, default=True),
    )


def _pipeline(doc: Reader, path: Path, project: Path | None) -> Pipeline:
    reference = doc.get("pipeline", str)
    try:
        return load_pipeline(reference, path.parent.resolve(), project_dir(project).resolve())
    except PipelineError as error:
        if str(error).startswith("unknown pipeline"):  # a typo in the file, not a broken module
            raise doc.error("pipeline", str(error)) from None
        raise


def _with_overrides(spec: SweepSpec, overrides: Mapping[str, Any]) -> SweepSpec:
    fixed = dict(spec.fixed)
    for key, value in overrides.items():
        where = Reader(f"--set {key}={value}", {key: value}, "")
        if key in spec.params:
            raise ConfigError(f"--set {key}={value}: {key} is swept by {spec.path}; a fixed value would hide the sweep")
        fixed[key] = checked_value(where, key, spec.pipeline.hyperparameters)
    return replace(spec, fixed=fixed, overrides={**spec.overrides, **overrides})
