"""One fit: a trial whose validation or test numbers are not numbers has no result."""

from __future__ import annotations

import numpy as np
import pytest

from sweeps.data.dataset import Dataset, DataSource
from sweeps.errors import TrialFailed
from sweeps.spec.contract import load_pipeline
from sweeps.spec.objective import Objective
from sweeps.training.fit import FitRequest, check_finite, train


def request(val_nan: bool = False, test_nan: bool = False) -> FitRequest:
    """A 1-epoch Boston fit on random rows; a NaN target where asked (training rows stay finite)."""
    pipeline = load_pipeline("boston_housing")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 13)).astype("float32"), rng.normal(size=60).astype("float32")
    y_val, y_test = y[40:50].copy(), y[50:].copy()
    y_val[0] = np.nan if val_nan else y_val[0]
    y_test[0] = np.nan if test_nan else y_test[0]
    dataset = Dataset(x[:40], y[:40], x[40:50], y_val, x[50:], y_test, DataSource("data-dir", "test rows", "0" * 16, "boston"))
    hp = {key: decl.default for key, decl in pipeline.hyperparameters.items()} | {"epochs": 1}
    return FitRequest(pipeline, dataset, hp, Objective("val_mae", "minimize"))


def test_a_finite_fit_has_a_result() -> None:
    fitted = train(request())
    assert np.isfinite(fitted.value) and set(fitted.test) == {"test_loss", "test_mae"}


def test_nan_validation_metrics_fail_the_trial() -> None:
    with pytest.raises(TrialFailed, match=r"val_loss became nan at epoch 1; the trial was stopped there"):
        train(request(val_nan=True))


def test_nan_test_metrics_fail_the_trial() -> None:
    with pytest.raises(TrialFailed, match=r"test_loss=nan, test_mae=nan on the test set; the trial has no result"):
        train(request(test_nan=True))


def test_check_finite_watches_every_validation_metric_not_only_the_loss() -> None:
    check_finite({"loss": [1.0, 0.5], "val_accuracy": [0.5, 0.6]})
    with pytest.raises(TrialFailed, match=r"val_accuracy became inf at epoch 2"):
        check_finite({"loss": [1.0, 0.5], "val_loss": [1.0, 0.9], "val_accuracy": [0.5, float("inf")]})
