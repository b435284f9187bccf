"""What a fit hands to MLflow while it trains: per-epoch metrics, and the model's summary."""

from __future__ import annotations

from collections.abc import Mapping

import keras

from sweeps.tracking.tracker import Tracker


class EpochLogger(keras.callbacks.Callback):
    """Logs every metric Keras reports at the end of each epoch, at ``step=epoch`` (1-based)."""

    def __init__(self, tracker: Tracker, run_id: str) -> None:
        super().__init__()
        self.tracker, self.run_id = tracker, run_id

    def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
        if logs:
            self.tracker.log(self.run_id, metrics=dict(logs), step=epoch + 1)


def model_summary(model: keras.Model) -> str:
    """Keras's ``model.summary()`` as plain text."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, line_break=True: lines.append(line))
    return "\n".join(lines)
