"""Answer a sweep's question from MLflow: per value of a parameter, how good, how sure.

First, with several swept parameters, which of them matters most (``importance``). Then, for
each ``--by`` parameter and each of its values (or ranges, ``groups``): the number of trials and
of measured values, the best trial's objective, the mean +- std over the measured values, the
best trial's test metric, and the epoch where the group's mean validation curve peaked. Welch's
t-tests between the groups, in sentences saying whether a difference is significant at 0.05, and
whether the comparison is marginal (the groups differ in other parameters too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sweeps.errors import ConfigError
from sweeps.formatting import param_text
from sweeps.reporting.groups import Groups, groups
from sweeps.reporting.importance import Importance, importance
from sweeps.reporting.pareto import Front, front, objectives_of
from sweeps.reporting.ranges import LINEAR, LOG
from sweeps.reporting.tables import cell, render_table
from sweeps.spec.objective import Objective
from sweeps.spec.sweep import test_metric

ALPHA = 0.05


@dataclass(frozen=True)
class Report:
    """Comparison tables (one per ``by`` parameter) and the significance sentences."""

    metric: str
    direction: str
    table: pd.DataFrame
    sentences: list[str]
    importance: Importance | None = None
    front: Front | None = None  # with several objectives

    def render(self, fmt: str = "table") -> str:
        """The report as aligned text, markdown or CSV (values as people read them: 6 significant
        digits in CSV, 4 decimals in tables; the store keeps them whole)."""
        if fmt == "csv":
            return self.table.to_csv(index=False, float_format="%.6g")
        markdown = fmt == "markdown"
        sentences = [f"- {sentence}" if markdown else sentence for sentence in self.sentences]
        first = [self.importance.render(), ""] if self.importance is not None else []
        first += [self.front.render(markdown), ""] if self.front is not None else []
        return "\n".join([*first, self.tables(markdown), *([""] + sentences if sentences else [])])

    def tables(self, markdown: bool = False) -> str:
        """The objective and the comparison table, as aligned text or markdown."""
        shown = self.table.copy()
        for column in ("best", "test of best"):
            shown[column] = shown[column].map(cell)
        means, spreads, counts = shown.pop("mean"), shown.pop("std"), shown["n"]
        # One measurement has no spread: say nothing rather than "± 0.0000".
        shown["mean ± std"] = [
            f"{cell(m)} ± {cell(s)}" if n > 1 else cell(m) for m, s, n in zip(means, spreads, counts, strict=True)
        ]
        shown["value"] = shown["value"].map(param_text)
        shown["peak epoch"] = shown["peak epoch"].map(lambda v: "-" if pd.isna(v) else str(int(v)))
        shown = shown[["sweep", "param", "value", "trials", "n", "best", "mean ± std", "test of best", "peak epoch"]]
        if shown["sweep"].nunique() == 1:
            shown = shown.drop(columns="sweep")
        body = render_table(list(shown.columns), shown.astype(str).values.tolist(), markdown=markdown)
        return f"objective: {self.metric} ({self.direction})\n\n{body}"


def build(
    trials: pd.DataFrame, samples: pd.DataFrame, curves: pd.DataFrame, by: Sequence[str], scales: Mapping[str, str] | None = None
) -> Report:
    """Compare ``trials`` (``query.runs``) grouped by each parameter in ``by``, per sweep;
    ``scales`` says how each parameter's values came (``sweeps.reporting.ranges``: searched on a
    log or linear scale, or chosen; a numeric one not named is taken as searched linearly).

    Raises:
        ConfigError: no trials, a ``by`` parameter the runs do not have, or sweeps whose
            objectives differ.
    """
    scales = scales or {}
    complete = trials[trials["state"] == "COMPLETE"]
    if complete.empty:
        raise ConfigError("no COMPLETE trials to report on")
    objectives = complete[["objective", "direction"]].drop_duplicates()
    if len(objectives) > 1:
        raise ConfigError(
            f"the sweeps optimise different objectives ({', '.join(objectives['objective'])}); report them separately"
        )
    metric, direction = objectives.iloc[0]
    known = sorted(c.removeprefix("params.") for c in complete if c.startswith("params."))
    if not by:
        raise ConfigError(
            f"no parameter differs between the {len(complete)} COMPLETE trial(s), so there is nothing to compare; "
            f"run more trials, or name one with --by PARAM ({', '.join(known)})"
        )
    for param in by:
        if f"params.{param}" not in complete:
            raise ConfigError(f"--by {param}: the runs have no parameter {param!r}; they have {', '.join(known)}")
    evidence = _Evidence(samples[samples["run_id"].isin(complete["run_id"])], curves, metric, direction)
    rows, sentences = [], []
    for param in by:
        for sweep, group in complete.groupby("sweep", sort=True):
            found = groups(group, param, scales.get(param, LINEAR))
            measured = [evidence.measured(chosen, found.marginal) for chosen in found.members]
            rows += [
                evidence.row(sweep, param, value, chosen, values)
                for value, chosen, values in zip(found.values, found.members, measured, strict=True)
            ]
            sentences += sentences_for(found, measured, metric, direction)
    pruned = int((trials["state"] == "PRUNED").sum())
    if pruned:  # else a value whose every trial was pruned would vanish from the table unexplained
        sentences.append(f"left out: {pruned} pruned trial(s), stopped early by the sweep's pruner, so not comparable")
    single = complete["sweep"].nunique() == 1
    swept = varied(complete)  # whichever --by names: the share of each is of the whole
    ranking = importance(complete, swept, metric, [p for p in swept if scales.get(p) == LOG]) if single else None
    pareto = front(complete, objectives_of(complete), by) if single else None
    return Report(metric, direction, pd.DataFrame(rows), sentences, ranking, pareto)


def sentences_for(found: Groups, measured: list[pd.Series], metric: str, direction: str) -> list[str]:
    """The significance sentences of one parameter: with two groups, one t-test between them;
    with more, the group with the best mean against each other one."""
    values = found.values
    if len(values) < 2:
        return []
    if len(values) == 2:
        pairs = [(0, 1)]
    else:
        means = [m.mean() if len(m) else float("nan") for m in measured]
        best = Objective(metric, direction).best(range(len(means)), key=means.__getitem__)
        pairs = [(other, best) for other in range(len(values)) if other != best]
    joiner = "in" if found.ranged else "="
    return [
        significance(found.param, (values[a], values[b]), (measured[a], measured[b]), metric, joiner, found.marginal)
        for a, b in pairs
    ]


def varied(trials: pd.DataFrame) -> list[str]:
    """Parameters whose value differs between trials of a sweep (the default ``--by``)."""
    names = []
    for _, group in trials.groupby("sweep"):
        names += [c.removeprefix("params.") for c in group if c.startswith("params.") and group[c].nunique() > 1]
    return list(dict.fromkeys(names))


def significance(
    param: str, values: Sequence, measured: Sequence[pd.Series], metric: str, joiner: str = "=", marginal: bool = False
) -> str:
    """Welch's t-test between the two values' measurements, as one plain sentence (``param in
    [a, b) vs ...`` with ``joiner`` "in", for ranges); a ``marginal`` one measures trials and
    says so."""
    (a, b), (first, second) = (param_text(v) for v in values), (np.asarray(m, dtype=float) for m in measured)
    param = f"{param} {joiner} " if joiner != "=" else f"{param}="
    unit = " trials" if marginal else ""
    counts = f"n={len(first)}{unit} each" if len(first) == len(second) else f"n={len(second)} and {len(first)}{unit}"
    aside = "; marginal: the groups differ in other parameters too" if marginal else ""
    if min(len(first), len(second)) < 2:
        more = (
            "more trials (--trials N) put more in each group"
            if marginal
            else ("run with repeats (--repeats N) to measure each configuration several times")
        )
        return f"{param}{b} vs {a}: cannot test significance with {counts}; {more}{aside}"
    difference = second.mean() - first.mean()
    shown = f"{difference * 100:+.1f} pt" if "accuracy" in metric else f"{difference:+.4g}"
    p = welch_p_value(second, first)
    if math.isnan(p):
        return f"{param}{b} vs {a}: {shown} {metric}, no variation within either group to test ({counts}){aside}"
    verdict = "significant" if p < ALPHA else "not significant"
    return f"{param}{b} vs {a}: {shown} {metric}, p={p:.2f}, {verdict} at {ALPHA} ({counts}){aside}"


def welch_p_value(first: np.ndarray, second: np.ndarray) -> float:
    """The two-sided p-value of Welch's t-test (unequal variances); NaN when both groups are constant."""
    from scipy.special import stdtr  # scipy.stats would cost the report command half a second more

    first_var, second_var = first.var(ddof=1) / len(first), second.var(ddof=1) / len(second)
    spread = first_var + second_var
    if spread == 0:
        return math.nan
    t = (first.mean() - second.mean()) / math.sqrt(spread)
    dof = spread**2 / (first_var**2 / (len(first) - 1) + second_var**2 / (len(second) - 1))
    return float(2 * stdtr(dof, -abs(t)))


@dataclass(frozen=True)
class _Evidence:
    """What a report row is computed from: the samples and curves of the COMPLETE trials."""

    samples: pd.DataFrame
    curves: pd.DataFrame
    metric: str
    direction: str

    def measured(self, members: pd.DataFrame, per_trial: bool = False) -> pd.Series:
        """Every measured value (replicate, fold, or the trial itself) of the trials ``members``;
        with ``per_trial``, each trial's value (its fits averaged)."""
        if per_trial:
            return members["value"].astype(float)
        return self.samples[self.samples["run_id"].isin(members["run_id"])]["sample"].astype(float)

    def row(self, sweep: str, param: str, value: object, members: pd.DataFrame, measured: pd.Series) -> dict:
        """One line of the table: the trials of ``sweep`` with ``param`` = ``value``, ``measured``."""
        best = members.loc[Objective(self.metric, self.direction).best(members.index, key=members["value"].get)]
        return {
            "sweep": sweep,
            "param": param,
            "value": value,
            "trials": len(members),
            "n": len(measured),
            "best": best["value"],
            "mean": measured.mean(),
            "std": measured.std(ddof=1) if len(measured) > 1 else float("nan"),  # not measured
            "test of best": best.get(f"metrics.{test_metric(self.metric)}", float("nan")),
            "peak epoch": self.peak_epoch(members),
        }

    def peak_epoch(self, members: pd.DataFrame) -> float:
        """The epoch where the mean validation curve of ``members`` is best."""
        if self.curves.empty:
            return float("nan")
        mine = self.curves[self.curves["run_id"].isin(members["run_id"]) & (self.curves["metric"] == self.metric)]
        if mine.empty:
            return float("nan")
        mean_curve = mine.groupby("step")["value"].mean()
        return float(Objective(self.metric, self.direction).best(mean_curve.index, key=mean_curve.get))
