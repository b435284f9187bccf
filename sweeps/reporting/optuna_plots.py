"""Optuna's own plots of a study: the optimisation history and the parameters' importances."""

from __future__ import annotations

from pathlib import Path

import optuna


def load_study(name: str, storage: str) -> optuna.Study | None:
    """The study ``name`` in ``storage``, or ``None`` when it cannot be loaded: its plots are a
    bonus, the comparison plots from MLflow are drawn regardless."""
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except Exception:
        return None


def write_optuna_plots(study: optuna.Study, directory: Path) -> list[Path]:
    """Write ``optimization_history.html`` and, when the trials tried more than one
    configuration, ``param_importances.html`` into ``directory``; return the files written."""
    written = [directory / "optimization_history.html"]
    optuna.visualization.plot_optimization_history(study).write_html(written[-1], include_plotlyjs=True)
    if len({tuple(sorted(t.params.items())) for t in study.trials}) > 1:
        written.append(directory / "param_importances.html")
        optuna.visualization.plot_param_importances(study).write_html(written[-1], include_plotlyjs=True)
    return written
