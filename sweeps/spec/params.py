"""The ``params`` and ``fixed`` blocks of a search space: what varies, and values checked
against the vocabulary the pipeline declares (``sweeps.spec.hyperparameters``)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sweeps.formatting import near_miss
from sweeps.spec.hyperparameters import Hyperparameter
from sweeps.spec.reader import Reader


@dataclass(frozen=True)
class Param:
    """One swept hyperparameter, in Optuna's distribution vocabulary."""

    name: str
    type: str  # categorical | int | float | variants
    choices: tuple[Any, ...] = ()
    variants: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # label -> values it sets
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False

    def grid_size(self) -> int | None:
        """How many values a grid visits, or ``None`` when the range is continuous."""
        if self.type in ("categorical", "variants"):
            return len(self.choices)
        if self.step is None and self.type == "float":
            return None
        return int(math.floor((self.high - self.low) / (self.step or 1) + 1e-9)) + 1

    def grid(self) -> list[Any] | None:
        """Every value a grid visits, or ``None`` when the range is continuous."""
        if self.type in ("categorical", "variants"):
            return list(self.choices)
        count = self.grid_size()
        if count is None:
            return None
        values = [self.low + i * (self.step or 1) for i in range(count)]
        return [int(v) for v in values] if self.type == "int" else [round(v, 12) for v in values]


def checked_value(section: Reader, key: str, declared: Mapping[str, Hyperparameter]) -> Any:
    decl = declaration(section, key, declared)
    value = section.data[key]
    problem = decl.check(value)
    if problem:
        raise section.error(key, problem)
    return decl.coerce(value)


def declaration(section: Reader, key: str, declared: Mapping[str, Hyperparameter]) -> Hyperparameter:
    if key not in declared:
        close = near_miss(key, declared)
        hint = f" (did you mean {close!r}?)" if close else f"; known: {', '.join(sorted(declared))}"
        raise section.error(key, f"unknown hyperparameter for this pipeline{hint}")
    return declared[key]


def parse_param(section: Reader, key: str, declared: Mapping[str, Hyperparameter]) -> Param:
    body = section.section(key)
    kind = body.get("type", str)
    if kind == "variants":
        return _variants(body, key, declared)
    decl = declaration(section, key, declared)
    if kind == "categorical":
        body.only(("type", "choices"))
        choices = body.data.get("choices")
        if not isinstance(choices, list) or not choices:
            raise body.error("choices", "must be a non-empty list")
        if len({json.dumps(c, default=str) for c in choices}) != len(choices):
            raise body.error("choices", f"must not repeat a value, got {choices}")
        for index, choice in enumerate(choices):
            problem = decl.check(choice)
            if problem:
                raise body.error(f"choices[{index}]", problem)
        return Param(key, kind, choices=tuple(decl.coerce(c) for c in choices))
    if kind not in ("int", "float"):
        raise body.error("type", f"must be categorical, int, float or variants, got {kind!r}")
    if decl.kind != kind and not (decl.kind == "float" and kind == "int"):
        raise body.error("type", f"{key} is a {decl.kind} hyperparameter; use type {decl.kind} or categorical")
    body.only(("type", "low", "high", "step", "log"))
    number = int if kind == "int" else float
    low, high = body.get("low", number), body.get("high", number)
    step = body.get("step", number, default=None, nullable=True)
    log = body.get("log", bool, default=False)
    if low > high:
        raise body.error("low", f"low <= high must hold, got low={low}, high={high}")
    for bound, value in (("low", low), ("high", high)):
        problem = decl.check(value)
        if problem:
            raise body.error(bound, problem)
    if step is not None and not (math.isfinite(step) and step > 0):
        raise body.error("step", f"must be a finite number > 0, got {step}")
    if log and (low <= 0 or step not in (None, 1)):
        raise body.error("log", f"a log range needs low > 0 and no step, got low={low}, step={step}")
    return Param(key, kind, low=low, high=high, step=step, log=log)


def _variants(body: Reader, key: str, declared: Mapping[str, Hyperparameter]) -> Param:
    """Named bundles of values, e.g. ``{none: {}, dropout: {dropout: 0.5}, l1: {l1: 0.001}}``."""
    if key in declared:
        raise body.error("type", f"variants need a name of their own; {key} is a hyperparameter of this pipeline")
    body.only(("type", "choices"))
    choices = body.section("choices")
    if not choices.data:
        raise body.error("choices", "must name at least one variant")
    variants = {}
    for label in choices.data:
        values = choices.section(str(label))
        variants[str(label)] = {name: checked_value(values, name, declared) for name in values.data}
    return Param(key, "variants", choices=tuple(variants), variants=variants)


def check_keras_tuner_can_express(section: Reader, params: Mapping[str, Param]) -> None:
    """keras-tuner's Choice holds values of one type, and its log sampling takes no step."""
    for name, param in params.items():
        kinds = {type(choice) for choice in param.choices}
        if len(kinds) > 1:
            raise section.error(
                f"{name}.choices", f"keras_tuner needs choices of one type, got {sorted(k.__name__ for k in kinds)}"
            )
        if param.log and param.step is not None:
            raise section.error(f"{name}.step", "keras_tuner cannot combine a log range with a step")
