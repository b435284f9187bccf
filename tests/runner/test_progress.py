"""Progress without a terminal: plain lines, one per trial, and epoch lines at most every 30 s."""

from __future__ import annotations

import pytest

from sweeps.defaults import PROGRESS_LINE_SECONDS
from sweeps.runner import progress as module
from sweeps.runner.progress import Progress


def test_without_a_terminal_a_long_trial_says_how_far_it_got_at_most_every_30_seconds(
    monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    progress = Progress("s", 2, "val_mae", None)  # pytest's stderr is not a terminal
    callback = progress.epoch_callback("trial 0 fold 1/4", 80)
    for epoch in range(80):  # one epoch a second
        clock[0] += 1
        callback.on_epoch_end(epoch, {"val_mae": 2.5})
    progress.trial_done(2.5, "trial 0 units=64: COMPLETE val_mae=2.5000")
    progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "[0/2] trial 0 fold 1/4 epoch 30/80 val_mae=2.5000  no result yet",
        "[0/2] trial 0 fold 1/4 epoch 60/80 val_mae=2.5000  no result yet",
        "[1/2] trial 0 units=64: COMPLETE val_mae=2.5000",
    ]
    assert PROGRESS_LINE_SECONDS == 30


def test_on_a_terminal_the_bar_writes_no_line_per_trial(capsys) -> None:
    progress = Progress("s", 1, "val_mae", None, bar=True)
    progress.trial_done(2.5, "trial 0 units=64: COMPLETE val_mae=2.5000")
    progress.close()
    assert "trial 0 units=64" not in capsys.readouterr().err
