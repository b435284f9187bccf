"""Figures logged with the runs: a trial's learning curves drawn as the tutorials draw them, and
a sweep's comparisons (overlaid curves, parallel coordinates); Optuna's own plots are in
``optuna_plots``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
import pandas as pd
import plotly.graph_objects as go

from sweeps.tracking.query import ordered

matplotlib.use("Agg")  # runs on servers and in workers: never open a window
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator


def learning_curves(history: Mapping[str, Sequence[float]], title: str) -> Figure:
    """Training vs validation for the loss and each metric: dots for training, a line for
    validation, epochs from 1, one panel per quantity (the seeds' ``plt.plot(epochs, loss, 'bo')``)."""
    quantities = sorted(
        (key for key in history if not key.startswith("val_") and f"val_{key}" in history), key=lambda key: (key != "loss", key)
    )  # loss first, as the seeds plot it
    figure, axes = plt.subplots(1, max(1, len(quantities)), figsize=(5 * max(1, len(quantities)), 4), squeeze=False)
    for axis, key in zip(axes[0], quantities, strict=False):
        epochs = range(1, len(history[key]) + 1)
        axis.plot(epochs, history[key], "bo", label=f"Training {key}")
        axis.plot(epochs, history[f"val_{key}"], "b", label=f"Validation {key}")
        axis.set_title(f"Training and validation {key}")
        axis.set_xlabel("Epochs")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_ylabel(key)
        axis.legend()
    figure.suptitle(title)
    # Fixed margins (in inches) rather than tight_layout, which cost 0.07 s of every trial.
    width = figure.get_figwidth()
    figure.subplots_adjust(left=0.7 / width, right=1 - 0.2 / width, bottom=0.13, top=0.83, wspace=0.3)
    return figure


def close(figure: Figure) -> None:
    """Free a figure once it has been saved (workers draw hundreds)."""
    plt.close(figure)


def overlaid_curves(curves: pd.DataFrame, param: str, metric: str, title: str) -> Figure:
    """Every trial's ``metric`` curve in one figure, coloured by its value of ``param``."""
    figure, axis = plt.subplots(figsize=(8, 5))
    mine = curves[curves["metric"] == metric]
    values = ordered(mine[f"params.{param}"])
    colours = plt.get_cmap("tab10")
    for _run_id, run in mine.groupby("run_id", sort=False):
        value = run[f"params.{param}"].iloc[0]
        axis.plot(run["step"], run["value"], color=colours(values.index(value) % 10), alpha=0.8, label=f"{param}={value}")
    handles, labels = axis.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=False))  # one legend entry per value, not per trial
    order = [f"{param}={value}" for value in values if f"{param}={value}" in unique]
    axis.legend([unique[label] for label in order], order)
    axis.set_xlabel("Epochs")
    axis.set_ylabel(metric)
    axis.set_title(title)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    return figure


def parallel_coordinates(trials: pd.DataFrame, params: Sequence[str], metric: str) -> go.Figure:
    """One line per trial through its parameter values to its objective (plotly, interactive)."""
    dimensions = []
    for param in params:
        column = trials[f"params.{param}"]
        if pd.api.types.is_numeric_dtype(column):
            dimensions.append({"label": param, "values": column})
        else:  # categories as positions with their names as tick labels
            names = ordered(column)
            dimensions.append(
                {
                    "label": param,
                    "values": column.map(names.index),
                    "tickvals": list(range(len(names))),
                    "ticktext": [str(n) for n in names],
                }
            )
    dimensions.append({"label": metric, "values": trials["value"]})
    return go.Figure(
        go.Parcoords(line={"color": trials["value"], "colorscale": "Viridis", "showscale": True}, dimensions=dimensions)
    )


def write_sweep_plots(
    trials: pd.DataFrame, curves: pd.DataFrame, params: Sequence[str], metric: str, directory: Path, study: Any = None
) -> list[Path]:
    """Write a sweep's comparison plots into ``directory``; return the files written.

    ``curves_<param>.png`` per varied parameter, ``parallel_coordinates.html``, and for an
    Optuna study with enough trials ``optimization_history.html`` and ``param_importances.html``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    complete = trials[trials["state"] == "COMPLETE"]
    for param in params:
        if not curves.empty and f"params.{param}" in curves:
            figure = overlaid_curves(curves, param, metric, f"{metric} of every trial by {param}")
            written.append(directory / f"curves_{param}.png")
            figure.savefig(written[-1], dpi=100)
            close(figure)
    if len(complete) and params:
        written.append(directory / "parallel_coordinates.html")
        parallel_coordinates(complete, params, metric).write_html(written[-1], include_plotlyjs=True)
    if study is not None and len(complete) >= 2:
        from sweeps.reporting.optuna_plots import write_optuna_plots  # imports Optuna: only for its studies

        written += write_optuna_plots(study, directory)
    return written
