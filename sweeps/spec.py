"""A search-space file (``search_spaces/<name>.yaml``) as a frozen, validated ``SweepSpec``.

Every key is checked here, against the schema in DESIGN.md §2 and against the vocabulary the
named pipeline declares, so a mistake is one line naming the file, the key and the rule before
anything is trained or written: ``search_spaces/x.yaml: params.layers.choices: must be a
non-empty list``.
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

import yaml

import pipelines
from pipelines._hparams import Hyperparameter
from sweeps.errors import ConfigError
from sweeps.spec_params import Param, check_keras_tuner_can_express, checked_value, parse_param
from sweeps.spec_reader import Reader as _Reader

ENGINES = {"optuna": ("grid", "random", "tpe"), "keras_tuner": ("random", "grid", "hyperband", "bayesian")}
# Settings each sampler accepts besides type and seed (keras-tuner's names).
SAMPLER_OPTIONS = {"hyperband": ("max_epochs", "factor", "hyperband_iterations"), "bayesian": ("num_initial_points",)}
PRUNERS = {"none": (), "median": ("n_startup_trials", "n_warmup_steps"),
           "hyperband": ("min_resource", "max_resource", "reduction_factor")}
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_TOP_KEYS = ("name", "description", "pipeline", "engine", "sampler", "pruner", "trials",
             "objective", "fixed", "params", "max_consecutive_failures", "folds", "repeats")


@dataclass(frozen=True)
class SweepSpec:
    """A named sweep: which pipeline, what is fixed, what varies, and how to search it."""

    name: str
    description: str
    pipeline: str
    engine: str
    sampler: Mapping[str, Any]
    pruner: Mapping[str, Any]
    trials: int
    metric: str
    direction: str
    fixed: Mapping[str, Any]
    params: Mapping[str, Param]
    max_consecutive_failures: int
    folds: int | None  # K-fold cross-validation per trial (None: one train/validation split)
    repeats: int       # seeds per configuration (replicates, for mean +- std and significance)
    path: Path
    text: str
    overrides: Mapping[str, Any] = field(default_factory=dict)

    def hyperparameters(self, sampled: Mapping[str, Any]) -> dict[str, Any]:
        """One trial's complete hyperparameters: pipeline defaults < fixed < sampled.

        A sampled ``variants`` label is expanded into the values it stands for.
        """
        declared = pipelines.load(self.pipeline).HYPERPARAMETERS
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
        return [dict(zip(names, combo)) for combo in itertools.product(*(self.params[n].grid() for n in names))]

    def fingerprint(self) -> str:
        """A digest of everything that changes what a trial means (not the trial budget)."""
        identity = {"pipeline": self.pipeline, "engine": self.engine, "sampler": dict(self.sampler),
                    "pruner": dict(self.pruner), "metric": self.metric, "fixed": dict(self.fixed),
                    "folds": self.folds, "repeats": self.repeats, "params": {name: vars(param) for name, param in self.params.items()}}
        return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def point_key(values: Mapping[str, Any]) -> str:
    """A canonical text for a set of param values, to compare grid points across engines and runs."""
    return json.dumps(dict(values), sort_keys=True, default=str)


def load_spec(path: Path, overrides: Mapping[str, Any] | None = None, trials: int | None = None,
              repeats: int | None = None) -> SweepSpec:
    """Read and validate a search-space file, then apply command-line overrides.

    Args:
        path: the YAML file; its stem must equal its ``name``.
        overrides: ``--set KEY=VALUE`` / ``--epochs`` values, validated like ``fixed``.
        trials: ``--trials`` replacing the file's trial budget.
        repeats: ``--repeats`` replacing the file's seeds per configuration.

    Raises:
        ConfigError: the file or an override breaks a rule; the message says which.
    """
    try:
        text = path.read_text()
        document = yaml.safe_load(text)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(error, 'problem', error)}") from None
    spec = _parse(_Reader(str(path), document, ""), path, text)
    if overrides:
        spec = _with_overrides(spec, overrides)
    if trials is not None:
        if trials < 1:
            raise ConfigError(f"--trials: must be >= 1, got {trials}")
        spec = _replace(spec, trials=trials)
    if repeats is not None:
        if repeats < 1:
            raise ConfigError(f"--repeats: must be >= 1, got {repeats}")
        if spec.folds and repeats > 1:
            raise ConfigError(f"--repeats: {spec.path} cross-validates with folds: {spec.folds}; repeats cannot be combined with folds yet")
        spec = _replace(spec, repeats=repeats, overrides={**spec.overrides, "repeats": repeats})
    return spec


def _parse(doc: _Reader, path: Path, text: str) -> SweepSpec:
    doc.only(_TOP_KEYS)
    name = doc.get("name", str)
    if name != path.stem:
        raise doc.error("name", f"must equal the file name '{path.stem}', got {name!r}")
    if not NAME_PATTERN.match(name):
        raise doc.error("name", "must be letters, digits, '_', '-' or '.', starting with a letter or digit")
    pipeline_name = doc.get("pipeline", str)
    if pipeline_name not in pipelines.available():
        raise doc.error("pipeline", f"unknown pipeline {pipeline_name!r}; available: {', '.join(pipelines.available())}")
    pipeline = pipelines.load(pipeline_name)
    declared: dict[str, Hyperparameter] = pipeline.HYPERPARAMETERS

    engine = doc.get("engine", str, default="optuna")
    if engine not in ENGINES:
        raise doc.error("engine", f"must be one of {', '.join(ENGINES)}, got {engine!r}")
    sampler = doc.section("sampler", default={"type": "tpe" if engine == "optuna" else "random"})
    sampler_type = sampler.get("type", str)
    if sampler_type not in ENGINES[engine]:
        raise sampler.error("type", f"must be one of {', '.join(ENGINES[engine])} for engine {engine}, got {sampler_type!r}")
    options = SAMPLER_OPTIONS.get(sampler_type, ())
    sampler.only(("type", "seed", *options))
    seed = sampler.get("seed", int, default=None, nullable=True)
    sampler_options = {key: _positive(sampler, key) for key in options if key in sampler.data}
    pruner = doc.section("pruner", default={"type": "none"})
    pruner_type = pruner.get("type", str)
    if pruner_type not in PRUNERS:
        raise pruner.error("type", f"must be one of {', '.join(PRUNERS)}, got {pruner_type!r}")
    pruner.only(("type", *PRUNERS[pruner_type]))
    if engine == "keras_tuner" and pruner_type != "none":
        raise pruner.error("type", "keras_tuner stops trials itself (use sampler type hyperband); pruner must be none")
    pruner_options = {key: pruner.get(key, int) for key in PRUNERS[pruner_type] if key in pruner.data}

    objective = doc.section("objective")
    objective.only(("metric", "direction"))
    metric = objective.get("metric", str)
    if metric not in pipeline.OBJECTIVES:
        raise objective.error("metric", f"{pipeline_name} reports {', '.join(pipeline.OBJECTIVES)}; got {metric!r}")
    better = pipeline.OBJECTIVES[metric]
    direction = objective.get("direction", str, default=better)
    if direction != better:
        higher_or_lower = "higher" if better == "maximize" else "lower"
        raise objective.error("direction", f"{metric} is better when {higher_or_lower}: use {better}, got {direction!r}")

    fixed_section = doc.section("fixed", default={})
    fixed = {key: checked_value(fixed_section, key, declared) for key in fixed_section.data}
    params_section = doc.section("params")
    if not params_section.data:
        raise doc.error("params", "must name at least one hyperparameter to vary")
    params = {key: parse_param(params_section, key, declared) for key in params_section.data}
    # Each param sweeps its own name, or (variants) every key its bundles set.
    swept = [{name} if not p.variants else {key for variant in p.variants.values() for key in variant}
             for name, p in params.items()]
    both = sorted(set(fixed) & set().union(*swept))
    if both:
        raise doc.error("fixed", f"{', '.join(both)} is both fixed and swept; remove it from one of fixed or params")
    every = [key for keys in swept for key in keys]
    twice = sorted({key for key in every if every.count(key) > 1})
    if twice:
        raise doc.error("params", f"{', '.join(twice)} is set by more than one param; each value may vary in one place")
    folds = doc.get("folds", int, default=None, nullable=True)
    if folds is not None and folds < 2:
        raise doc.error("folds", f"K-fold cross-validation needs K >= 2, got {folds}")
    repeats = _positive(doc, "repeats", default=1)
    if folds is not None and repeats > 1:
        raise doc.error("repeats", "cannot be combined with folds yet: cross-validation already gives K values per trial")
    if (folds is not None or repeats > 1) and pruner_type != "none":
        raise doc.error("pruner", "a trial of several fits (folds, repeats) is judged on all of them, so it cannot be "
                                  "pruned by epoch; use type none")
    if engine == "keras_tuner":
        check_keras_tuner_can_express(params_section, params)
    if sampler_type == "grid":
        for param in params.values():
            if param.grid() is None:
                raise params_section.error(f"{param.name}.step", "a grid needs choices or a step for a float range")

    return SweepSpec(
        name=name, description=doc.get("description", str), pipeline=pipeline_name, engine=engine,
        sampler={"type": sampler_type, "seed": seed, **sampler_options}, pruner={"type": pruner_type, **pruner_options},
        trials=_positive(doc, "trials"), metric=metric, direction=direction, fixed=fixed, params=params,
        max_consecutive_failures=_positive(doc, "max_consecutive_failures", default=3), folds=folds, repeats=repeats, path=path, text=text,
    )


def _positive(doc: _Reader, key: str, default: int | None = None) -> int:
    value = doc.get(key, int, default=default)
    if value < 1:
        raise doc.error(key, f"must be >= 1, got {value}")
    return value


def _with_overrides(spec: SweepSpec, overrides: Mapping[str, Any]) -> SweepSpec:
    declared = pipelines.load(spec.pipeline).HYPERPARAMETERS
    fixed = dict(spec.fixed)
    for key, value in overrides.items():
        where = _Reader(f"--set {key}={value}", {key: value}, "")
        if key in spec.params:
            raise ConfigError(f"--set {key}={value}: {key} is swept by {spec.path}; a fixed value would hide the sweep")
        fixed[key] = checked_value(where, key, declared)
    return _replace(spec, fixed=fixed, overrides={**spec.overrides, **overrides})


def _replace(spec: SweepSpec, **changes: Any) -> SweepSpec:
    return SweepSpec(**{**vars(spec), **changes})
