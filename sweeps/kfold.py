"""K-fold cross-validation as one trial (the Boston housing tutorial's procedure).

The training and validation rows together are cut into K consecutive folds with scikit-learn's
``KFold``; each fold trains a fresh model validated on the held-out fold. The folds combine as
``trial.combine`` says: the mean of their best values (``<metric>_mean``, with ``<metric>_std``),
the per-epoch averages as learning curves (the tutorial's ``average_mae_history``).
Then, as the tutorial does, a final model is trained on all those rows for the epoch count
where the averaged validation curve was best, and only that model sees the test set.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import ModuleType
from typing import Any

import keras
import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import KFold

from pipelines._data import Dataset
from sweeps import batches, trial
from sweeps.trial import TrialResult


def run(
    pipeline: ModuleType,
    dataset: Dataset,
    hp: Mapping[str, Any],
    metric: str,
    direction: str,
    folds: int,
    fold_callbacks: Callable[[int], Sequence[keras.callbacks.Callback]],
    fold_done: Callable[[int, TrialResult], None],
) -> TrialResult:
    """Fit ``folds`` models and a final one; return the cross-validated trial result.

    Args:
        fold_callbacks: callbacks for fold ``k`` (e.g. logging to that fold's run).
        fold_done: told each fold's result as soon as it is known.

    Raises:
        TrialFailed: as ``trial.fit``; the fold that failed is the one last started.
    """
    dataset = trial.for_trial(pipeline, dataset, hp)
    x, y = _stack(dataset.x_train, dataset.x_val), np.concatenate([dataset.y_train, dataset.y_val])
    results = []
    for k, (train_rows, val_rows) in enumerate(KFold(n_splits=folds).split(np.arange(len(y)))):
        fold = replace(dataset, x_train=x[train_rows], y_train=y[train_rows], x_val=x[val_rows], y_val=y[val_rows])
        results.append(trial.fit(pipeline, fold, hp, metric, direction, fold_callbacks(k)))
        fold_done(k, results[-1])
    combined = trial.combine(results, metric, direction)
    final = _fit_on_all(pipeline, dataset, x, y, hp, combined.best_epoch)
    return replace(combined, epochs_trained=combined.epochs_trained + combined.best_epoch,
                   test=trial.evaluate(final, dataset, hp), model=final)


def _fit_on_all(pipeline: ModuleType, dataset: Dataset, x: Any, y: np.ndarray, hp: Mapping[str, Any], epochs: int) -> keras.Model:
    model = trial.fresh_model(pipeline, dataset, hp)
    model.fit(**batches.feed(x, y, hp["batch_size"], shuffle_seed=hp["seed"]), epochs=epochs, verbose=0)
    return model


def _stack(first: Any, second: Any) -> Any:
    return sp.vstack([first, second], format="csr") if sp.issparse(first) else np.concatenate([first, second])
