"""What a fit hands to MLflow while it trains: per-epoch metrics, and the model's summary."""

from __future__ import annotations

import time
from collections.abc import Mapping

import keras

from sweeps.defaults import METRICS_FLUSH_SECONDS
from sweeps.tracking.tracker import Tracker


class EpochLogger(keras.callbacks.Callback):
    """Logs every metric Keras reports at the end of each epoch, at ``step=epoch`` (1-based).

    Epochs are sent together at most every ``METRICS_FLUSH_SECONDS`` and when training ends:
    a request per epoch (a database commit each) cost small models more than the epoch itself.
    Each keeps the time its epoch ended, so MLflow's wall-time axes show when it trained.
    """

    def __init__(self, tracker: Tracker, run_id: str, held: bool = False) -> None:
        super().__init__()
        self.tracker, self.run_id, self.held = tracker, run_id, held  # held: every epoch kept until ``flush``
        self._pending: list[tuple[int, dict[str, float], int]] = []  # (step, metrics, epoch end in ms)
        self._sent = time.monotonic()

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        if logs:
            self._pending.append((epoch + 1, dict(logs), int(time.time() * 1000)))
        if not self.held and time.monotonic() - self._sent >= METRICS_FLUSH_SECONDS:
            self.flush()

    def on_train_end(self, logs: Mapping[str, float] | None = None) -> None:
        if not self.held:
            self.flush()

    def flush(self, until: int | None = None) -> None:
        """Send the epochs not sent yet (up to epoch ``until``; any later are dropped)."""
        if until is not None:
            self._pending = [pending for pending in self._pending if pending[0] <= until]
        if self._pending:
            self.tracker.log_steps(self.run_id, self._pending)
            self._pending = []
        self._sent = time.monotonic()


def model_summary(model: keras.Model) -> str:
    """Keras's ``model.summary()`` as plain text."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, line_break=True: lines.append(line))
    return "\n".join(lines)
