"""What a person sees while a sweep runs: one progress bar over trials, with notes above it.

Progress goes to stderr (so ``> results.txt`` keeps only the table of results).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence

import keras
from tqdm import tqdm

from sweeps.engines import TrialRecord, best_record


class Progress:
    """A bar over the trials this invocation will run, showing the best value so far."""

    def __init__(self, sweep: str, total: int, metric: str, best: float | None, shown: bool = True) -> None:
        self.metric, self.best = metric, best
        self.bar = tqdm(total=total, desc=sweep, unit="trial", file=sys.stderr, dynamic_ncols=True, leave=True, disable=not shown)
        self._start: set[int] | None = None
        self._show()

    def note(self, text: str) -> None:
        """Print a line above the bar (or just the line, without a bar)."""
        self.bar.write(text, file=sys.stderr)

    def epoch_callback(self, label: str, epochs: int) -> keras.callbacks.Callback:
        """A Keras callback showing ``<label> epoch e/E`` with the current metric."""
        progress = self

        class _EpochProgress(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
                value = (logs or {}).get(progress.metric)
                shown = f" {progress.metric}={value:.4f}" if value is not None else ""
                progress._show(f"{label} epoch {epoch + 1}/{epochs}{shown}")

        return _EpochProgress()

    def trial_done(self, best: float | None, summary: str = "") -> None:
        self.best = best
        self.bar.update(1)
        if self.bar.disable and summary:  # no bar (a --jobs worker's log): one line per trial
            self.note(summary)
        self._show()

    def show_study(self, records: Sequence[TrialRecord], direction: str) -> None:
        """Catch up with trials other processes finished (``--jobs``)."""
        finished = {r.number for r in records if r.state != "RUNNING"}
        if self._start is None:
            self._start = finished
        self.bar.n = len(finished - self._start)
        best = best_record(records, direction)
        self.best = None if best is None else best.value
        self._show(f"{sum(r.state == 'RUNNING' for r in records)} running")

    def close(self) -> None:
        self.bar.close()

    def _show(self, current: str = "") -> None:
        best = f"best {self.metric}={self.best:.4f}" if self.best is not None else "no result yet"
        self.bar.set_postfix_str(f"{current}  {best}".strip(), refresh=True)
