"""Per-epoch metrics reach MLflow in batches: at most every few seconds, and all of them at the end."""

from __future__ import annotations

import pytest

from sweeps.defaults import METRICS_FLUSH_SECONDS
from sweeps.tracking import callbacks as module
from sweeps.tracking.callbacks import EpochLogger


class Recorder:
    def __init__(self) -> None:
        self.requests: list[tuple[str, list[int]]] = []

    def log_steps(self, run_id: str, steps) -> None:
        self.requests.append((run_id, [step for step, *_ in steps]))


def test_epochs_are_sent_together_every_few_seconds_and_when_training_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    tracker = Recorder()
    logger = EpochLogger(tracker, "run")
    for epoch in range(12):  # one epoch a second
        clock[0] += 1
        logger.on_epoch_end(epoch, {"loss": 1.0, "val_loss": 2.0})
    assert tracker.requests == [("run", [1, 2, 3, 4, 5]), ("run", [6, 7, 8, 9, 10])]
    logger.on_train_end()
    assert tracker.requests[-1] == ("run", [11, 12]) and METRICS_FLUSH_SECONDS == 5
    logger.on_train_end()
    assert len(tracker.requests) == 3  # nothing left to send


def test_each_epoch_reaches_mlflow_with_the_time_it_ended_not_the_time_it_was_sent(
    monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    from mlflow import MlflowClient

    from sweeps.tracking.tracker import Tracker

    clock = [1_700_000_000.0]
    monkeypatch.setattr(module.time, "time", lambda: clock[0])
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracker = Tracker(store, "s")
    run_id = tracker.start_run("trial", {})
    logger = EpochLogger(tracker, run_id)
    for epoch in range(3):  # an epoch every 2 s, all sent at the end
        clock[0] += 2
        logger.on_epoch_end(epoch, {"loss": 1.0 / (epoch + 1)})
    logger.on_train_end()
    history = MlflowClient(store).get_metric_history(run_id, "loss")
    assert [(m.step, m.timestamp) for m in history] == [(1, 1_700_000_002_000), (2, 1_700_000_004_000), (3, 1_700_000_006_000)]
