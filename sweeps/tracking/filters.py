"""``--where``: an MLflow filter, checked clause by clause so a malformed one names the part that
is wrong, and split into what MLflow answers and what is tested here (MLflow keeps params as
text, so ``params.layers > 1`` compares numbers here)."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable

from sweeps.errors import ConfigError

_CLAUSE = re.compile(r"\s+and\s+(?=(?:[^'\"]*['\"][^'\"]*['\"])*[^'\"]*$)", re.IGNORECASE)  # AND outside quotes
_NUMERIC = re.compile(r"^params\.(\w+)\s*(<=|>=|!=|=|<|>)\s*(-?[\d.]+(?:e-?\d+)?)$", re.IGNORECASE)
_COMPARE = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "=": operator.eq,
    "!=": operator.ne,
}


def split_filter(where: str | None) -> tuple[str, list[Callable[[dict[str, str]], bool]]]:
    """``where`` as the part MLflow can answer and tests for the rest: MLflow keeps params as
    text, so ``params.layers > 1`` (a param compared with an unquoted number) is done here.

    Raises:
        ConfigError: a number in a comparison is not one.
    """
    kept, tests = [], []
    for clause in _CLAUSE.split(where.strip()) if where and where.strip() else []:
        _check_clause(clause.strip(), where)
        match = _NUMERIC.match(clause.strip())
        if match is None:
            kept.append(clause)
            continue
        name, op, number = match.groups()
        try:
            bound = float(number)
        except ValueError:
            raise ConfigError(f"--where {where!r}: {number!r} is not a number") from None
        tests.append(_param_test(name, _COMPARE[op], bound))
    return " and ".join(kept), tests


_KEY = re.compile(r"^(?:params|metrics|tags|attributes)\.(?:`[^`]+`|\"[^\"]+\"|[\w.\-]+)\s*", re.IGNORECASE)
_OPERATOR = re.compile(r"^(<=|>=|!=|=|<|>|(?:not\s+)?i?like\b|(?:not\s+)?in\b)\s*", re.IGNORECASE)
_OPERATORS = "=, !=, <, <=, >, >=, LIKE, ILIKE, IN, NOT IN"


def _check_clause(clause: str, where: str) -> None:
    """A clause of ``where`` is KEY OPERATOR VALUE; one that is not says which part is wrong.

    Raises:
        ConfigError: the key, the operator or the value is missing or malformed.
    """
    key = _KEY.match(clause)
    if key is None:
        raise ConfigError(
            f"--where {where!r}: {clause!r} must start with params.NAME, metrics.NAME, tags.NAME or attributes.NAME, "
            'e.g. "params.layers > 1"'
        )
    rest = clause[key.end() :]
    operator_ = _OPERATOR.match(rest)
    if operator_ is None or rest[operator_.end() :].startswith(("<", ">", "=", "!")):  # `>>`, `=>`, `==`
        got = rest.split()[0] if rest.split() else "nothing"
        raise ConfigError(
            f"--where {where!r}: {got!r} after {clause[: key.end()].strip()} is not a comparison; use one of {_OPERATORS}"
        )
    if not rest[operator_.end() :].strip():
        raise ConfigError(f"--where {where!r}: {clause!r} has no value to compare with, e.g. \"params.activation = 'tanh'\"")


def _param_test(name: str, compare: Callable[[float, float], bool], bound: float) -> Callable[[dict[str, str]], bool]:
    """Whether a run's params hold ``name`` as a number that compares true with ``bound``."""

    def test(params: dict[str, str]) -> bool:
        try:
            return compare(float(params[name]), bound)
        except (KeyError, ValueError):  # absent, or not a number: not a match
            return False

    return test
