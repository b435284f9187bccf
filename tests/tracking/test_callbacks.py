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
        self.requests.append((run_id, [step for step, _ in steps]))


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
