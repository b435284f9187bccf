"""The sections of a search-space file, each read and checked on its own.

Every function takes the file's top-level ``Reader`` and returns plain values or the spec's
typed settings, or raises a ``ConfigError`` naming the file, the key and the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sweeps.spec.contract import Pipeline
from sweeps.spec.objective import MEASURED, Objective
from sweeps.spec.params import Param, check_keras_tuner_can_express, checked_value, parse_param
from sweeps.spec.problems import Problems
from sweeps.spec.reader import Reader
from sweeps.spec.search import ENGINES, FLOAT_OPTIONS, PRUNERS, SAMPLER_OPTIONS, Pruner, Sampler, SettingError

MAX_GRID_VALUES, MAX_GRID_POINTS = 10_000, 100_000


def search(doc: Reader) -> tuple[str, Sampler, Pruner]:
    """``engine``, ``sampler`` and ``pruner``: how the space is searched."""
    engine = doc.choice("engine", tuple(ENGINES), default="optuna")
    sampler = doc.section("sampler", default={"type": "tpe" if engine == "optuna" else "random"})
    other = [name for name, kinds in ENGINES.items() if sampler.data.get("type") in kinds and name != engine]
    if sampler.data.get("type") not in ENGINES[engine] and other:  # a sampler of the other engine
        raise sampler.error(
            "type",
            f"{sampler.data['type']} is a sampler of engine {other[0]}; set engine: {other[0]}, "
            f"or use one of {', '.join(ENGINES[engine])}",
        )
    kind = sampler.choice("type", ENGINES[engine], context=f" for engine {engine}")
    options = SAMPLER_OPTIONS.get(kind, ())
    sampler.only(("type", "seed", *options))
    seed = sampler.get("seed", int, default=None, nullable=True)
    settings = {key: sampler.get(key, int) for key in options if key in sampler.data}
    chosen = _checked(sampler, Sampler, type=kind, seed=seed, **settings)
    pruner = doc.section("pruner", default={"type": "none"})
    pruner_type = pruner.get("type", str)
    if pruner_type in PRUNERS:
        pruner.only(("type", *PRUNERS[pruner_type]))
    given = {
        key: pruner.get(key, float if key in FLOAT_OPTIONS else int) for key in PRUNERS.get(pruner_type, ()) if key in pruner.data
    }
    stopping = _checked(pruner, Pruner, type=pruner_type, **given)
    if engine == "keras_tuner" and stopping.prunes:
        raise pruner.error("type", "keras_tuner stops trials itself (use sampler type hyperband); pruner must be none")
    return engine, chosen, stopping


def _checked(section: Reader, kind: type[Sampler] | type[Pruner], **settings: Any) -> Any:
    """``kind`` made from a section's values; a broken rule names the file and the key."""
    try:
        return kind(**settings)
    except SettingError as error:
        raise section.error(error.key, str(error)) from None


def objectives(doc: Reader, pipeline: Pipeline) -> tuple[Objective, ...]:
    """What to optimise: one ``{metric, direction}``, or a list of them (a Pareto front), the
    first a metric the pipeline's model reports, each direction the one its metric is better in."""
    given = doc.data.get("objective")
    if not isinstance(given, list):
        return (_objective(doc.section("objective"), pipeline, first=True),)
    if not given:
        raise doc.error("objective", "must name at least one {metric, direction}")
    readers = [Reader(doc.where, item, f"objective[{index}].") for index, item in enumerate(given)]
    found = tuple(_objective(reader, pipeline, first=index == 0) for index, reader in enumerate(readers))
    metrics = [one.metric for one in found]
    twice = sorted({metric for metric in metrics if metrics.count(metric) > 1})
    if twice:
        raise doc.error("objective", f"names {', '.join(twice)} more than once")
    return found


def _objective(section: Reader, pipeline: Pipeline, first: bool) -> Objective:
    section.only(("metric", "direction"))
    metric = section.get("metric", str)
    known = {**pipeline.objectives, **({} if first else dict.fromkeys(MEASURED, "minimize"))}
    if metric not in known:
        if first and metric in MEASURED:
            reported = ", ".join(pipeline.objectives)
            rule = f"the first objective is one the model reports each epoch ({reported}); {metric} may follow it"
        else:
            also = "" if first else f", and every pipeline has {', '.join(MEASURED)}"
            rule = f"{pipeline.name} reports {', '.join(pipeline.objectives)}{also}; got {metric!r}"
        raise section.error("metric", rule)
    better = known[metric]
    direction = section.get("direction", str, default=better)
    if direction != better:
        higher_or_lower = "higher" if Objective(metric, better).maximize else "lower"
        raise section.error("direction", f"{metric} is better when {higher_or_lower}: use {better}, got {direction!r}")
    return Objective(metric, direction)


def check_objectives(doc: Reader, objectives: tuple[Objective, ...], engine: str, pruner: Pruner) -> None:
    """Several objectives are searched by Optuna, and never pruned."""
    if len(objectives) < 2:
        return
    if engine == "keras_tuner":
        raise doc.error("objective", "keras_tuner optimises one objective; use engine optuna for several")
    if pruner.prunes:
        raise doc.error("pruner", "Optuna cannot prune a study of several objectives; use type none")


def values(doc: Reader, pipeline: Pipeline, problems: Problems) -> tuple[dict[str, Any], dict[str, Param]] | None:
    """``fixed`` and ``params``: each key declared by the pipeline, and set in one place only
    (``None`` when a problem was met; each key's own is kept in ``problems``)."""
    declared = pipeline.hyperparameters
    fixed = _each_key(problems, doc, "fixed", lambda section, key: checked_value(section, key, declared), optional=True)
    params = _each_key(problems, doc, "params", lambda section, key: parse_param(section, key, declared))
    if fixed is None or params is None:
        return None
    return problems.attempt(lambda: _set_once(doc, fixed, params))


def _each_key(problems: Problems, doc: Reader, name: str, read: Any, optional: bool = False) -> dict[str, Any] | None:
    """Every key of the section ``name`` read with ``read(section, key)``; ``None`` when the
    section or any key has a problem (each one kept in ``problems``)."""
    section = problems.attempt(lambda: doc.section(name, **({"default": {}} if optional else {})))
    if section is None:
        return None
    found: dict[str, Any] = {}
    for key in section.data:
        found.update(problems.attempt(lambda key=key: {key: read(section, key)}) or {})
    return found if len(found) == len(section.data) else None


def _set_once(doc: Reader, fixed: dict[str, Any], params: dict[str, Param]) -> tuple[dict[str, Any], dict[str, Param]]:
    """``fixed`` and ``params``, if something varies and no value is both fixed and swept, or swept twice."""
    if not params:
        raise doc.error("params", "must name at least one hyperparameter to vary")
    # Each param sweeps its own name, or (variants) every key its bundles set.
    swept = [
        {name} if not p.variants else {key for variant in p.variants.values() for key in variant} for name, p in params.items()
    ]
    both = sorted(set(fixed) & set().union(*swept))
    if both:
        raise doc.error("fixed", f"{', '.join(both)} is both fixed and swept; remove it from one of fixed or params")
    every = [key for keys in swept for key in keys]
    twice = sorted({key for key in every if every.count(key) > 1})
    if twice:
        raise doc.error("params", f"{', '.join(twice)} is set by more than one param; each value may vary in one place")
    return fixed, params


def several_fits(doc: Reader, pruner: Pruner) -> tuple[int | None, int]:
    """``folds`` (K-fold cross-validation) and ``repeats`` (seeds per configuration)."""
    folds = doc.get("folds", int, default=None, nullable=True)
    if folds is not None and folds < 2:
        raise doc.error("folds", f"K-fold cross-validation needs K >= 2, got {folds}")
    repeats = doc.positive("repeats", default=1)
    if folds is not None and repeats > 1:
        raise doc.error("repeats", "cannot be combined with folds yet: cross-validation already gives K values per trial")
    several = folds is not None or repeats > 1
    if several and pruner.prunes and not pruner.by_fit:
        raise doc.error(
            "pruner",
            f"a trial of several fits (folds, repeats) cannot be pruned by epoch ({pruner.type}); "
            "use type wilcoxon, which judges it fit by fit, or none",
        )
    never = pruner.why_never_prunes(folds or repeats) if pruner.by_fit and several else None
    if never:
        raise doc.error("pruner", f"{pruner.type} can never prune this sweep's trials: {never}, or run more fits")
    if pruner.by_fit and not several:
        raise doc.error(
            "pruner",
            "wilcoxon judges a trial fit by fit, so it needs folds or repeats; "
            "a single fit is pruned by epoch (median, hyperband)",
        )
    return folds, repeats


def check_searchable(doc: Reader, engine: str, sampler: Sampler, params: Mapping[str, Param]) -> None:
    """What the engine and sampler cannot express is refused here, not mid-sweep."""
    section = doc.section("params")
    if engine == "keras_tuner":
        check_keras_tuner_can_express(section, params)
    if sampler.grid:
        points = 1
        for param in params.values():
            size = param.grid_size()
            if size is None:
                raise section.error(f"{param.name}.step", "a grid needs choices or a step for a float range")
            if size > MAX_GRID_VALUES:
                raise section.error(
                    f"{param.name}.step",
                    f"makes a grid of {size} values; at most {MAX_GRID_VALUES}: use a larger step, or a random or tpe sampler",
                )
            points *= size
        if points > MAX_GRID_POINTS:
            raise section.error("", f"the grid has {points} points; at most {MAX_GRID_POINTS}: use a random or tpe sampler")
