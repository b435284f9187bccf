"""The groups a report compares for one parameter, and what kind of comparison it is.

A parameter's groups are its values, or its ranges where it has more values than a table shows
(``sweeps.reporting.ranges``). The comparison is controlled where every group holds the same
combinations of the other swept parameters (a grid): the groups then differ in this parameter
alone, and each fit (fold, replicate) is a measurement. It is marginal otherwise (a random or
TPE study, a grid stopped half-way): the groups differ in the other parameters too, so each
trial is one measurement, its fits averaged, and the sentences say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sweeps.reporting.ranges import LINEAR, ranges_for
from sweeps.tracking.query import ordered


@dataclass(frozen=True)
class Groups:
    """One parameter's groups of trials, in order, and how they compare."""

    param: str
    values: list  # each group's value, or its range's label
    members: list[pd.DataFrame]
    ranged: bool
    marginal: bool


def groups(trials: pd.DataFrame, param: str, scale: str = LINEAR) -> Groups:
    """The trials of one sweep (``query.runs``) grouped by ``param``, whose values came on
    ``scale`` (``sweeps.reporting.ranges``)."""
    column = trials[f"params.{param}"]
    ranges = ranges_for(column, scale)
    if ranges is None:
        keys, values = column, ordered(column.dropna())  # a run without it (another study's) is in no group
    else:
        keys = ranges.label(column)
        values = [label for label in ranges.labels if (keys == label).any()]
    members = [trials[keys == value] for value in values]
    others = [c for c in trials if c.startswith("params.") and c != f"params.{param}" and trials[c].nunique() > 1]
    combinations = [set(map(repr, group[others].itertuples(index=False, name=None))) for group in members]
    marginal = bool(others) and any(found != combinations[0] for found in combinations)
    return Groups(param, values, members, ranges is not None, marginal)
