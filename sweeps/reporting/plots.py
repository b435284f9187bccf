"""A trial's learning curves, drawn as the tutorials draw them, and the matplotlib set-up every
figure shares (a sweep's comparison plots are in ``comparisons``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")  # runs on servers and in workers: never open a window
import matplotlib.pyplot as plt
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

if TYPE_CHECKING:  # a type only: drawing needs no MLflow
    from sweeps.tracking.tracker import Tracker


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


def log_learning_curves(tracker: Tracker, run_id: str, history: Mapping[str, Sequence[float]], title: str) -> None:
    """Draw a trial's learning curves and log them on its run as ``learning_curves.png``."""
    figure = learning_curves(history, title)
    try:
        tracker.log_figure(run_id, figure, "learning_curves.png")
    finally:
        close(figure)


def close(figure: Figure) -> None:
    """Free a figure once it has been saved (workers draw hundreds)."""
    plt.close(figure)
