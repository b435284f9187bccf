"""Several objectives: the Pareto front of a study's COMPLETE trials, the trials no other trial
beats in every objective at once (better in one, no worse in the rest). With several objectives
there is no single best trial; the front is the answer, from the most accurate to the smallest
(or fastest), and each step along it says what one objective costs in another."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from sweeps.formatting import param_text
from sweeps.reporting.tables import cell, render_table
from sweeps.spec.objective import Objective

OBJECTIVES_TAG = "objectives"  # on every run of a study of several: [[metric, direction], ...]


def tag(objectives: Sequence[Objective]) -> dict[str, str]:
    """The runs' tag naming a study's objectives (none for a study of one)."""
    return {OBJECTIVES_TAG: json.dumps([[o.metric, o.direction] for o in objectives])} if len(objectives) > 1 else {}


def objectives_of(trials: pd.DataFrame) -> list[Objective]:
    """A study's objectives, from its runs' tag (empty for a study of one)."""
    if OBJECTIVES_TAG not in trials or trials[OBJECTIVES_TAG].dropna().empty:
        return []
    return [Objective(metric, direction) for metric, direction in json.loads(trials[OBJECTIVES_TAG].dropna().iloc[0])]


@dataclass(frozen=True)
class Front:
    """The trials on the front (with their values of every objective), best first objective first."""

    objectives: list[Objective]
    trials: pd.DataFrame  # every COMPLETE trial, with a column per objective
    on_front: pd.DataFrame
    params: list[str]

    def render(self, markdown: bool = False) -> str:
        """The front as a table: each trial on it, its parameters and its objectives."""
        names = [o.metric for o in self.objectives]
        header = ["trial", *self.params, *names]
        rows = [
            [str(row["trial"]), *(param_text(row[f"params.{p}"]) for p in self.params), *(_shown(row[n], n) for n in names)]
            for _, row in self.on_front.iterrows()
        ]
        first = (
            f"Pareto front of {', '.join(names)}: {len(self.on_front)} of {len(self.trials)} trials, "
            "each beaten by none (no other is as good in every objective and better in one)"
        )
        return f"{first}\n\n{render_table(header, rows, markdown)}"

    def sentence(self) -> str:
        """The front in one line (where a single best trial would be named)."""
        shown = [
            f"trial {row['trial']} ({', '.join(f'{o.metric}={_short(row[o.metric])}' for o in self.objectives)})"
            for _, row in self.on_front.iterrows()
        ]
        return f"Pareto front ({len(shown)} of {len(self.trials)}): " + "; ".join(shown)


def front(trials: pd.DataFrame, objectives: Sequence[Objective], params: Sequence[str]) -> Front | None:
    """The Pareto front of ``trials``' COMPLETE ones (``query.runs``) in ``objectives``; ``None``
    for fewer than two objectives or no trial measured in all of them."""
    if len(objectives) < 2:
        return None
    complete = trials[trials["state"] == "COMPLETE"].copy()
    for index, objective in enumerate(objectives):
        column = "value" if index == 0 else f"metrics.{objective.recorded_as}"
        complete[objective.metric] = complete[column].astype(float) if column in complete else np.nan
    complete = complete.dropna(subset=[o.metric for o in objectives])
    if complete.empty:
        return None
    gains = np.column_stack([complete[o.metric].to_numpy() * (1 if o.maximize else -1) for o in objectives])
    beaten = [bool(((gains >= gains[i]).all(axis=1) & (gains > gains[i]).any(axis=1)).any()) for i in range(len(gains))]
    order = {"by": [o.metric for o in objectives], "ascending": [not o.maximize for o in objectives]}  # best first, ties broken
    on_front = complete[~np.array(beaten)].sort_values(**order)
    return Front(list(objectives), complete, on_front, [p for p in params if f"params.{p}" in complete])


def front_plot(found: Front) -> Any:
    """Every trial in the first two objectives, the front's trials marked and joined."""
    from sweeps.reporting.plots import plt

    x, y = found.objectives[1], found.objectives[0]
    figure, axis = plt.subplots(figsize=(6, 4.2))
    axis.scatter(found.trials[x.metric], found.trials[y.metric], color="0.6", s=20, label="trials")
    ordered = found.on_front.sort_values(x.metric)
    axis.plot(ordered[x.metric], ordered[y.metric], "o-", color="tab:red", label="Pareto front", drawstyle="steps-post")
    for _, row in ordered.iterrows():
        axis.annotate(f" {row['trial']}", (row[x.metric], row[y.metric]), fontsize=8)
    if x.metric == "params":
        axis.set_xscale("log")
    axis.set_xlabel(f"{x.metric} ({x.direction})")
    axis.set_ylabel(f"{y.metric} ({y.direction})")
    axis.set_title(f"{y.metric} against {x.metric}: the front's trials numbered", fontsize=9)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def _short(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.4g}"


def _shown(value: float, metric: str) -> str:
    """A table's cell: a count (``params``) whole, anything else as the report's other tables."""
    return str(int(value)) if metric == "params" else cell(float(value))
