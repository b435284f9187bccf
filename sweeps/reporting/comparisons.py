"""A sweep's comparison plots, small PNGs that need nothing to render.

Per swept parameter: the objective per value (every trial, replicate or fold as a point, with
the mean and its spread), or, for a parameter with more values than a table shows, a slice
plot (each trial's objective at its value, on a log axis where it is searched on one); and the
validation curves grouped by value or range (legend in the parameter's natural order). With
several parameters: their importances, and parallel coordinates, categorical axes for
categorical parameters. Optuna's history (not for a grid) comes from ``optuna_plots``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sweeps.formatting import param_text
from sweeps.reporting.importance import Importance
from sweeps.reporting.pareto import front_plot
from sweeps.reporting.plots import close, plt
from sweeps.reporting.ranges import LINEAR, LOG, Ranges, ranges_for
from sweeps.reporting.study import StudyRecords
from sweeps.tracking.query import ordered

COLOURS = plt.get_cmap("tab10")
DPI = 90  # small files: a sweep's plots stay in the tens of kilobytes


def objective_by_value(samples: pd.DataFrame, param: str, metric: str) -> Any:
    """Each measured objective (trial, replicate or fold) at its value of ``param``, with the
    values' means and standard deviations."""
    figure, axis = plt.subplots(figsize=(6, 4))
    values = ordered(samples[f"params.{param}"])
    jitter = np.random.default_rng(0)
    for position, value in enumerate(values):
        measured = samples[samples[f"params.{param}"] == value]["sample"].astype(float).dropna()
        spots = position + jitter.uniform(-0.08, 0.08, len(measured))
        axis.scatter(spots, measured, color=COLOURS(position % 10), alpha=0.6, s=18)
        if len(measured):
            spread = measured.std(ddof=1) if len(measured) > 1 else 0.0
            axis.errorbar(position + 0.22, measured.mean(), yerr=spread, fmt="D", color="black", capsize=4, markersize=5)
    axis.set_xticks(range(len(values)), [param_text(v) for v in values])
    axis.set_xlim(-0.5, len(values) - 0.5)
    axis.set_xlabel(param)
    axis.set_ylabel(metric)
    axis.set_title(f"{metric} by {param} (points: every fit; diamond: mean +- std)", fontsize=9)
    figure.tight_layout()
    return figure


def slice_plot(trials: pd.DataFrame, param: str, metric: str, log: bool) -> Any:
    """Each trial's objective at its value of ``param`` (a number with many values)."""
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.scatter(trials[f"params.{param}"].astype(float), trials["value"].astype(float), color=COLOURS(0), alpha=0.7, s=22)
    if log:
        axis.set_xscale("log")
    axis.set_xlabel(f"{param}{' (log scale)' if log else ''}")
    axis.set_ylabel(metric)
    axis.set_title(f"{metric} of every trial by {param}", fontsize=9)
    figure.tight_layout()
    return figure


def importance_bars(importance: Importance) -> Any:
    """Each parameter's share of the objective's variation, largest on top."""
    names, shares = list(importance.shares), list(importance.shares.values())
    figure, axis = plt.subplots(figsize=(6, 1.2 + 0.45 * len(names)))
    axis.barh(names[::-1], shares[::-1], color=COLOURS(0))
    for y, share in enumerate(shares[::-1]):
        axis.text(share, y, f" {share:.0%}", va="center", fontsize=8)
    axis.set_xlim(0, 1.1)
    axis.set_xlabel(f"share of {importance.metric}'s variation (fANOVA)")
    rough = "" if importance.reliable else ", rough"
    axis.set_title(f"which parameter matters ({importance.trials} trials{rough})", fontsize=9)
    figure.tight_layout()
    return figure


def curves_by_value(curves: pd.DataFrame, param: str, metric: str, ranges: Ranges | None = None) -> Any:
    """Every trial's ``metric`` curve, coloured by its value (or range) of ``param``, one legend
    entry per value."""
    figure, axis = plt.subplots(figsize=(7, 4.5))
    mine = curves[curves["metric"] == metric]
    keys = mine[f"params.{param}"] if ranges is None else ranges.label(mine[f"params.{param}"])
    values = ordered(keys.dropna()) if ranges is None else [label for label in ranges.labels if (keys == label).any()]
    joiner = "=" if ranges is None else " in "
    for _, run in mine.groupby("run_id", sort=False):
        if keys[run.index[0]] not in values:  # a run without the parameter (another study's)
            continue
        position = values.index(keys[run.index[0]])
        label = f"{param}{joiner}{param_text(values[position])}"
        axis.plot(run["step"], run["value"], color=COLOURS(position % 10), alpha=0.8, label=label)
    handles = dict(zip(*reversed(axis.get_legend_handles_labels()), strict=True))
    labels = [label for label in (f"{param}{joiner}{param_text(value)}" for value in values) if label in handles]
    axis.legend([handles[label] for label in labels], labels)
    axis.set_xlabel("Epochs")
    axis.set_ylabel(metric)
    axis.set_title(f"{metric} of every trial by {param}")
    axis.xaxis.get_major_locator().set_params(integer=True)
    figure.tight_layout()
    return figure


def parallel_coordinates(trials: pd.DataFrame, params: Sequence[str], metric: str) -> Any:
    """One line per trial through its parameter values to its objective, coloured by the objective.
    Numbers sit on a scale from their lowest to highest value; categories at evenly spaced ticks."""
    axes = [*params, metric]
    columns = [*(trials[f"params.{p}"] for p in params), trials["value"]]
    figure, axis = plt.subplots(figsize=(2 + 1.6 * len(axes), 4.5))
    scaled, ticks = [], []
    for column in columns:
        if pd.api.types.is_numeric_dtype(column) and column.nunique() > 3:
            low, high = float(column.min()), float(column.max())
            scaled.append((column.astype(float) - low) / ((high - low) or 1.0))
            ticks.append([(0.0, f"{low:.4g}"), (1.0, f"{high:.4g}")])
        else:  # categories, and numbers with few values, as evenly spaced labelled positions
            names = ordered(column)
            step = 1.0 / max(1, len(names) - 1)
            scaled.append(column.map(lambda v, names=names, step=step: names.index(v) * step))
            ticks.append([(i * step, str(name)) for i, name in enumerate(names)])
    colour, palette = plt.Normalize(float(trials["value"].min()), float(trials["value"].max())), plt.get_cmap("viridis")
    for row in range(len(trials)):
        axis.plot(range(len(axes)), [s.iloc[row] for s in scaled], color=palette(colour(trials["value"].iloc[row])))
    for x, marks in enumerate(ticks):
        axis.axvline(x, color="grey", linewidth=0.8)
        for y, label in marks:
            axis.text(x + 0.03, y, label, fontsize=8, va="center")
    axis.set_xticks(range(len(axes)), axes)
    axis.set_yticks([])
    axis.set_title(f"every trial's parameters and {metric}")
    figure.colorbar(plt.cm.ScalarMappable(norm=colour, cmap="viridis"), ax=axis, label=metric)
    return figure


def write_sweep_plots(records: StudyRecords, directory: Path) -> list[Path]:
    """Write the comparison plots of a study's COMPLETE trials (with its parameters' importance
    and its Pareto front, where its report has them) into ``directory``; return the files."""
    directory.mkdir(parents=True, exist_ok=True)
    complete = records.trials[records.trials["state"] == "COMPLETE"]
    ids = set(complete["run_id"])
    samples, curves, metric = records.samples, records.curves, records.metric
    samples = samples[samples["run_id"].isin(ids)] if len(samples) else samples
    curves = curves[curves["run_id"].isin(ids)] if len(curves) else curves
    figures = {}
    comparison = records.comparison()
    if comparison is not None and comparison.importance is not None:
        figures["importance.png"] = importance_bars(comparison.importance)
    if comparison is not None and comparison.front is not None:
        figures["pareto_front.png"] = front_plot(comparison.front)
    for param in records.params:
        on = records.scales.get(param, LINEAR)
        ranges = ranges_for(complete[f"params.{param}"], on) if f"params.{param}" in complete else None
        if ranges is not None:
            figures[f"slice_{param}.png"] = slice_plot(complete, param, metric, on == LOG)
        elif len(samples) and f"params.{param}" in samples:
            figures[f"objective_{param}.png"] = objective_by_value(samples, param, metric)
        if len(curves) and f"params.{param}" in curves:
            figures[f"curves_{param}.png"] = curves_by_value(curves, param, metric, ranges)
    if len(records.params) > 1 and len(complete):
        figures["parallel_coordinates.png"] = parallel_coordinates(complete, records.params, metric)
    written = []
    for name, figure in figures.items():
        written.append(directory / name)
        figure.savefig(written[-1], dpi=DPI)
        close(figure)
    return written
