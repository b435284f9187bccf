"""sweeps: declarative, tracked hyperparameter sweeps for Keras.

A sweep is a YAML file (what to try), a pipeline module (how to train), an engine (how to
search) and MLflow (what happened). The package's rooms:

- ``spec``: sweep files read and checked; the pipeline contract; the nightly schedule.
- ``data``: where a pipeline's data comes from, cached encodings, safe file readers.
- ``training``: one fit, K folds or N replicates (never imports mlflow or optuna).
- ``engines``: what to try next (Optuna, keras-tuner).
- ``tracking``: the only door to MLflow, the stores, and ``query`` for notebooks.
- ``runner``: the trial loop, progress, ``--jobs`` workers, crash recovery.
- ``reporting``: comparison tables, significance, plots, nightly verdicts.
- ``commands``: one module per group of command-line commands (``cli`` dispatches).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # `from sweeps import query` without importing MLflow for every other use of the package.
    if name == "query":
        from sweeps.tracking import query

        return query
    raise AttributeError(f"module 'sweeps' has no attribute {name!r}")
