"""Reading a search-space file into a ``SweepSpec``: every section checked against the file's
schema and against the vocabulary the named pipeline declares, before anything is trained or
written. ``load_spec`` stops at the first problem; ``file_problems`` lists them all."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from sweeps.defaults import FUSE_TRIALS, MAX_CONSECUTIVE_FAILURES
from sweeps.errors import ConfigError, PipelineError
from sweeps.spec import sections
from sweeps.spec.backend import BACKENDS
from sweeps.spec.catalog import project_dir
from sweeps.spec.contract import Pipeline, load_pipeline
from sweeps.spec.params import checked_value
from sweeps.spec.problems import Problems
from sweeps.spec.reader import Reader
from sweeps.spec.search import Sampler
from sweeps.spec.sweep import NAME_PATTERN, SweepSpec
from sweeps.spec.yaml_file import read_yaml

TOP_KEYS = (
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
    "fuse_trials",
    "backend",
)


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
    if trials is not None and trials < 1:
        raise ConfigError(f"--trials: must be >= 1, got {trials}")
    problems = Problems()
    spec = _parse(path, project, problems, trials)
    problems.raise_first()
    assert spec is not None  # every section read: no problem was met
    if overrides:
        spec = _with_overrides(spec, overrides)
    if repeats is not None:
        if repeats < 1:
            raise ConfigError(f"--repeats: must be >= 1, got {repeats}")
        if spec.folds and repeats > 1:
            raise ConfigError(
                f"--repeats: {spec.path} cross-validates with folds: {spec.folds}; repeats cannot be combined with folds yet"
            )
        spec = replace(spec, repeats=repeats, overrides={**spec.overrides, "repeats": repeats})
    return spec


def file_problems(path: Path, project: Path | None = None) -> list[str]:
    """Every problem of a search-space file and of its pipeline's contract, each one line (an
    empty list: the file is valid). Imports the pipeline's module, never TensorFlow."""
    problems = Problems()
    _parse(path, project, problems, None)
    return [str(error) for error in problems.errors]


def _parse(path: Path, project: Path | None, problems: Problems, trials_given: int | None) -> SweepSpec | None:
    """The spec of the file at ``path``, or ``None`` when ``problems`` met any (every section
    whose inputs could be read is checked, so each problem is met)."""
    read = problems.attempt(lambda: read_yaml(path, "the search space"))
    doc = problems.attempt(lambda: Reader(str(path), read[1], "")) if read else None
    if doc is None:
        return None
    problems.attempt(lambda: doc.only(TOP_KEYS))
    name = problems.attempt(lambda: _name(doc, path))
    description = problems.attempt(lambda: doc.get("description", str))
    pipeline = problems.attempt(lambda: _pipeline(doc, path, project))
    searched = problems.attempt(lambda: sections.search(doc))
    objectives = problems.attempt(lambda: sections.objectives(doc, pipeline)) if pipeline else None
    values = sections.values(doc, pipeline, problems) if pipeline else None
    folds_repeats = problems.attempt(lambda: sections.several_fits(doc, searched[2])) if searched else None
    trials = problems.attempt(lambda: _budget(doc, searched[1], trials_given)) if searched else None
    failures = problems.attempt(lambda: doc.positive("max_consecutive_failures", default=MAX_CONSECUTIVE_FAILURES))
    fuse = problems.attempt(lambda: doc.get("fuse", bool, default=True))
    fuse_trials = problems.attempt(lambda: doc.positive("fuse_trials", default=FUSE_TRIALS))
    backend = problems.attempt(lambda: doc.choice("backend", BACKENDS) if "backend" in doc.data else None)
    if searched and values:
        problems.attempt(lambda: sections.check_searchable(doc, searched[0], searched[1], values[1]))
    if searched and objectives:
        problems.attempt(lambda: sections.check_objectives(doc, objectives, searched[0], searched[2]))
    if problems.errors:
        return None
    spec = SweepSpec(
        name=name,
        description=description,
        pipeline=pipeline,
        engine=searched[0],
        sampler=searched[1],
        pruner=searched[2],
        trials=trials or 1,  # a grid without `trials` runs every point: counted below
        objectives=objectives,
        fixed=values[0],
        params=values[1],
        max_consecutive_failures=failures,
        folds=folds_repeats[0],
        repeats=folds_repeats[1],
        path=path,
        text=read[0],
        fuse=fuse,
        fuse_trials=fuse_trials,
        backend=backend,
    )
    return spec if trials else replace(spec, trials=len(spec.grid_points()))


def _name(doc: Reader, path: Path) -> str:
    name = doc.get("name", str)
    if name != path.stem:
        raise doc.error("name", f"must equal the file name '{path.stem}', got {name!r}")
    if not NAME_PATTERN.match(name):
        raise doc.error("name", "must be up to 100 letters, digits, '_', '-' or '.', starting with a letter or digit")
    return name


def _budget(doc: Reader, sampler: Sampler, given: int | None) -> int | None:
    """The study's trial budget: ``--trials``, else the file's ``trials``, else (``None``) a
    grid's every point."""
    written = doc.positive("trials") if "trials" in doc.data else None
    if given is not None or written is not None:
        return given if given is not None else written
    if sampler.grid:
        return None
    raise doc.error("trials", f"is required for sampler {sampler.type}: the study's trial budget (or give --trials N)")


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
