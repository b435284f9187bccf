"""Answer a sweep's question from MLflow: per value of a parameter, how good, how sure.

For each ``--by`` parameter and each of its values: the number of trials and of measured values
(replicates or folds count separately), the best trial's objective, the mean +- std over all
measured values, the best trial's test metric, and the epoch where the group's mean validation
curve peaked. A parameter with two values also gets Welch's t-test and a sentence saying whether
the difference is significant at 0.05.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from sweeps.console import render_table
from sweeps.errors import ConfigError
from sweeps.query import ordered

ALPHA = 0.05


@dataclass(frozen=True)
class Report:
    """Comparison tables (one per ``by`` parameter) and the significance sentences."""

    metric: str
    direction: str
    table: pd.DataFrame
    sentences: list[str]

    def render(self, fmt: str = "table") -> str:
        """The report as aligned text, markdown or CSV."""
        if fmt == "csv":
            return self.table.to_csv(index=False)
        shown = self.table.copy()
        for column in ("best", "test of best"):
            shown[column] = shown[column].map(_number)
        shown["mean ± std"] = [f"{_number(m)} ± {_number(s)}" for m, s in zip(shown.pop("mean"), shown.pop("std"))]
        shown["peak epoch"] = shown["peak epoch"].map(lambda v: "-" if pd.isna(v) else str(int(v)))
        shown = shown[["sweep", "param", "value", "trials", "n", "best", "mean ± std", "test of best", "peak epoch"]]
        if shown["sweep"].nunique() == 1:
            shown = shown.drop(columns="sweep")
        header = f"objective: {self.metric} ({self.direction})"
        body = render_table(list(shown.columns), shown.astype(str).values.tolist(), markdown=fmt == "markdown")
        return "\n".join([header, "", body, *([""] + self.sentences if self.sentences else [])])


def build(trials: pd.DataFrame, samples: pd.DataFrame, curves: pd.DataFrame, by: Sequence[str]) -> Report:
    """Compare ``trials`` (``query.runs``) grouped by each parameter in ``by``, per sweep.

    Raises:
        ConfigError: no trials, a ``by`` parameter the runs do not have, or sweeps whose
            objectives differ.
    """
    complete = trials[trials["state"] == "COMPLETE"]
    if complete.empty:
        raise ConfigError("no COMPLETE trials to report on")
    objectives = complete[["objective", "direction"]].drop_duplicates()
    if len(objectives) > 1:
        raise ConfigError(f"the sweeps optimise different objectives ({', '.join(objectives['objective'])}); report them separately")
    metric, direction = objectives.iloc[0]
    for param in by:
        if f"params.{param}" not in complete:
            known = sorted(c.removeprefix("params.") for c in complete if c.startswith("params."))
            raise ConfigError(f"--by {param}: the runs have no parameter {param!r}; they have {', '.join(known)}")
    samples = samples[samples["run_id"].isin(complete["run_id"])]
    rows, sentences = [], []
    for param in by:
        for sweep, group in complete.groupby("sweep", sort=True):
            values = ordered(group[f"params.{param}"])
            for value in values:
                members = group[group[f"params.{param}"] == value]
                rows.append(_row(sweep, param, value, members, samples, curves, metric, direction))
            if len(values) == 2:
                measured = [samples[samples["run_id"].isin(group[group[f"params.{param}"] == v]["run_id"])]["sample"] for v in values]
                sentences.append(significance(param, values, measured, metric))
    pruned = int((trials["state"] == "PRUNED").sum())
    if pruned:  # else a value whose every trial was pruned would vanish from the table unexplained
        sentences.append(f"left out: {pruned} pruned trial(s), stopped early by the sweep's pruner, so not comparable")
    return Report(metric, direction, pd.DataFrame(rows), sentences)


def varied(trials: pd.DataFrame) -> list[str]:
    """Parameters whose value differs between trials of a sweep (the default ``--by``)."""
    names = []
    for _, group in trials.groupby("sweep"):
        names += [c.removeprefix("params.") for c in group if c.startswith("params.") and group[c].nunique() > 1]
    return list(dict.fromkeys(names))


def significance(param: str, values: Sequence, measured: Sequence[pd.Series], metric: str) -> str:
    """Welch's t-test between the two values' measurements, as one plain sentence."""
    (a, b), (first, second) = values, (np.asarray(m, dtype=float) for m in measured)
    counts = f"n={len(first)} each" if len(first) == len(second) else f"n={len(second)} and {len(first)}"
    if min(len(first), len(second)) < 2:
        return (f"{param}={b} vs {a}: cannot test significance with {counts}; "
                "run with repeats (--repeats N) to measure each configuration several times")
    difference = second.mean() - first.mean()
    shown = f"{difference * 100:+.1f} pt" if "accuracy" in metric else f"{difference:+.4g}"
    p = stats.ttest_ind(second, first, equal_var=False).pvalue
    if math.isnan(p):
        return f"{param}={b} vs {a}: {shown} {metric}, no variation within either group to test ({counts})"
    verdict = "significant" if p < ALPHA else "not significant"
    return f"{param}={b} vs {a}: {shown} {metric}, p={p:.2f}, {verdict} at {ALPHA} ({counts})"


def _row(sweep: str, param: str, value: object, members: pd.DataFrame, samples: pd.DataFrame,
         curves: pd.DataFrame, metric: str, direction: str) -> dict:
    best = members.loc[members["value"].idxmax() if direction == "maximize" else members["value"].idxmin()]
    measured = samples[samples["run_id"].isin(members["run_id"])]["sample"].astype(float)
    test_metric = "metrics.test_" + metric.removeprefix("val_").removesuffix("_mean")
    return {
        "sweep": sweep, "param": param, "value": value, "trials": len(members), "n": len(measured),
        "best": best["value"], "mean": measured.mean(), "std": measured.std(ddof=1) if len(measured) > 1 else 0.0,
        "test of best": best.get(test_metric, float("nan")), "peak epoch": _peak_epoch(curves, members, metric, direction),
    }


def _peak_epoch(curves: pd.DataFrame, members: pd.DataFrame, metric: str, direction: str) -> float:
    if curves.empty:
        return float("nan")
    mine = curves[curves["run_id"].isin(members["run_id"]) & (curves["metric"] == metric)]
    if mine.empty:
        return float("nan")
    mean_curve = mine.groupby("step")["value"].mean()
    return float(mean_curve.idxmax() if direction == "maximize" else mean_curve.idxmin())


def _number(value: float) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4f}"
