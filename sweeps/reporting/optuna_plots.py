"""Optuna's own plots of a study, where they mean something: the optimisation history (not for
a grid, whose order is fixed) and the parameters' importances (only with several parameters)."""

from __future__ import annotations

import warnings
from pathlib import Path

import optuna

from sweeps.reporting.plots import close


def load_study(name: str, storage: str) -> optuna.Study | None:
    """The study ``name`` in ``storage``, or ``None`` when it cannot be loaded: its plots are a
    bonus, the comparison plots from MLflow are drawn regardless."""
    from sweeps.engines.optuna_study import open_storage

    try:
        return optuna.load_study(study_name=name, storage=open_storage(storage))
    except Exception:
        return None


def write_optuna_plots(study: optuna.Study, grid: bool, directory: Path) -> list[Path]:
    """Write ``optimization_history.png`` (unless ``grid``) and ``param_importances.png`` (with
    several parameters) into ``directory``; return the files written."""
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if len(complete) < 2:
        return []
    plots = {}
    with warnings.catch_warnings():  # Optuna calls its matplotlib plots experimental
        warnings.simplefilter("ignore")
        if not grid:
            plots["optimization_history.png"] = optuna.visualization.matplotlib.plot_optimization_history
        if len({name for t in complete for name in t.params}) > 1:
            plots["param_importances.png"] = optuna.visualization.matplotlib.plot_param_importances
        written = []
        for name, plot in plots.items():
            axis = plot(study)
            written.append(directory / name)
            axis.figure.savefig(written[-1], dpi=90, bbox_inches="tight")
            close(axis.figure)
    return written
