"""Optuna's own plot of a study, where it means something: the optimisation history (not for a
grid, whose order is fixed). The parameters' importances are the report's (``importance``),
computed from MLflow's records for every engine."""

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
    """Write ``optimization_history.png`` (unless ``grid``) into ``directory``; return the files
    written."""
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if grid or len(complete) < 2:
        return []
    with warnings.catch_warnings():  # Optuna calls its matplotlib plots experimental
        warnings.simplefilter("ignore")
        several = len(study.directions) > 1  # the history of the first objective, the one a fit's best epoch goes by
        first = {"target": lambda trial: trial.values[0], "target_name": study.metric_names[0]} if several else {}
        axis = optuna.visualization.matplotlib.plot_optimization_history(study, **first)
    written = directory / "optimization_history.png"
    axis.figure.savefig(written, dpi=90, bbox_inches="tight")
    close(axis.figure)
    return [written]
