"""A trial made of several fits of one configuration: K folds, or N replicate seeds.

K-fold (the Boston housing tutorial's procedure): the training and validation rows together
are cut into K consecutive folds with scikit-learn's ``KFold``; each fold trains a fresh model
validated on the held-out fold. Then, as the tutorial does, a final model is trained on all
those rows for the epoch count where the averaged validation curve was best, and only that
model sees the test set.

Replicates: one configuration trained with seeds ``seed, seed + 1, ...``, each a full fit with
its own test evaluation, so a comparison can say how sure it is.

Either way the fits combine as ``combine`` says: the mean of their best values (also logged as
``<metric>_mean``, with the sample ``<metric>_std``), their per-epoch means as learning curves
(the tutorial's ``average_mae_history``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import keras
import numpy as np
import scipy.sparse as sp

from sweeps.spec.objective import Objective
from sweeps.training import feed, fused
from sweeps.training.fit import FitRequest, Fitted, evaluate, failures_as_trial_failed, fit, fresh_model
from sweeps.training.measured import mean_epoch_seconds

FOLD, REPEAT = "fold", "repeat"


@dataclass(frozen=True)
class Part:
    """One fit of a trial of several: which one, and the request it trains (its rows, its seed)."""

    kind: str  # fold | repeat
    index: int
    request: FitRequest

    @property
    def tags(self) -> dict[str, Any]:
        """What tells this fit from its siblings in the records."""
        return {self.kind: self.index, **({"seed": self.request.hp["seed"]} if self.kind == REPEAT else {})}


def plan(request: FitRequest, folds: int | None, repeats: int) -> list[Part]:
    """The fits of one trial: ``folds`` folds of its rows, or ``repeats`` seeds (on the trial's view)."""
    view = request.trial_view()
    if not folds:
        return [Part(REPEAT, r, view.with_seed(view.hp["seed"] + r)) for r in range(repeats)]
    x, y = _all_rows(view)
    from sklearn.model_selection import KFold  # only K-fold trials need scikit-learn

    return [
        Part(FOLD, k, view.with_data(replace(view.dataset, x_train=x[train], y_train=y[train], x_val=x[val], y_val=y[val])))
        for k, (train, val) in enumerate(KFold(n_splits=folds).split(np.arange(len(y))))
    ]


def run(
    request: FitRequest,
    parts: Sequence[Part],
    callbacks_for: Callable[[Part], Sequence[keras.callbacks.Callback]],
    done: Callable[[Part, Fitted], None],
    fuse: bool = False,
    judge: Callable[[int, float], bool] | None = None,
) -> Fitted:
    """Fit every part, fused (``sweeps.training.fused``: together, with the same results) or
    one after another, and combine them into the trial's result.

    Args:
        callbacks_for: the callbacks of one part (e.g. logging to its own run).
        done: told each part's result as soon as it is known.
        fuse: train the parts together; the caller has checked they can (``why_not_fused``).
        judge: told each part's value in turn (the parts one after another); ``True`` stops
            the trial there, its result combined from the parts trained (no K-fold refit).

    Raises:
        TrialFailed: as ``fit``; one part failing fails the trial.
    """
    with failures_as_trial_failed():
        replicates = parts[0].kind == REPEAT  # each tested; K-fold tests only its final refit
        results = []
        if fuse:
            callbacks = [callbacks_for(part) for part in parts]
            results = fused.fit_together([part.request for part in parts], callbacks, test=replicates)
        stopped = False
        for index, part in enumerate(parts):
            if not fuse:
                results.append(fit(part.request, callbacks_for(part)))
                if replicates:
                    results[index].test = evaluate(results[index].model, part.request)
            done(part, results[index])
            if judge is not None and index < len(parts) - 1 and judge(index, results[index].value):
                stopped = True
                break
        combined = combine(results, request.objective)
        if parts[0].kind == FOLD and not stopped:
            combined = _with_final_fit(request.trial_view(), combined, fuse)
    return combined


def combine(results: Sequence[Fitted], objective: Objective) -> Fitted:
    """Several fits of one configuration as one trial result.

    Its value is the mean of theirs (also ``<metric>_mean``, with the sample ``<metric>_std``),
    its curves their per-epoch means, its best epoch where that mean curve is best, its epochs
    all they trained, its test metrics their means, its model the best fit's.
    """
    values = np.array([r.value for r in results])
    history = average_history([r.history for r in results])
    metric = objective.metric
    curve = history[metric]
    return Fitted(
        value=float(values.mean()),
        best_epoch=objective.best(range(len(curve)), key=curve.__getitem__) + 1,
        epochs_trained=sum(r.epochs_trained for r in results),
        history=history,
        test={key: float(np.mean([r.test[key] for r in results])) for key in results[0].test},
        model=objective.best(results, key=lambda r: r.value).model,
        metrics={f"{metric}_mean": float(values.mean()), f"{metric}_std": float(values.std(ddof=1)) if len(values) > 1 else 0.0},
        epoch_seconds=mean_epoch_seconds(results),
    )


def average_history(histories: Sequence[dict[str, list[float]]]) -> dict[str, list[float]]:
    """Per-epoch means over several fits, up to the last epoch all of them reached (early
    stopping can end some sooner)."""
    epochs = min(len(h["loss"]) for h in histories)
    return {key: np.mean([h[key][:epochs] for h in histories], axis=0).tolist() for key in histories[0]}


def _with_final_fit(view: FitRequest, combined: Fitted, lean: bool) -> Fitted:
    """K-fold's last step: a model on all rows for the best averaged epoch count, tested
    (trained on the fused fits' lean loop when ``lean``: the same model, sooner)."""
    request = final_fit(view, combined)
    if lean:
        model = fused.fit_alone(request, combined.best_epoch)
    else:
        model = fresh_model(request)
        x, y, epochs = request.dataset.x_train, request.dataset.y_train, combined.best_epoch
        model.fit(**feed.feed(x, y, view.hp["batch_size"], shuffle_seed=view.hp["seed"], epochs=epochs), epochs=epochs, verbose=0)
    return with_final_fit(combined, model, evaluate(model, request))


def final_fit(view: FitRequest, combined: Fitted) -> FitRequest:
    """What K-fold's final model trains: every row of the folds, for the best averaged epoch count."""
    x, y = _all_rows(view)
    return replace(view.with_data(replace(view.dataset, x_train=x, y_train=y)), hp={**view.hp, "epochs": combined.best_epoch})


def with_final_fit(combined: Fitted, model: keras.Model, test: dict[str, float]) -> Fitted:
    """The folds' result with K-fold's final model, its epochs and its test metrics."""
    return replace(combined, epochs_trained=combined.epochs_trained + combined.best_epoch, test=test, model=model)


def _all_rows(view: FitRequest) -> tuple[Any, np.ndarray]:
    data = view.dataset
    x = (
        sp.vstack([data.x_train, data.x_val], format="csr")
        if sp.issparse(data.x_train)
        else np.concatenate([data.x_train, data.x_val])
    )
    return x, np.concatenate([data.y_train, data.y_val])
