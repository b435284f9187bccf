"""What a person sees while a sweep runs: one progress bar over trials, with notes above it.

Progress goes to stderr (so ``> results.txt`` keeps only the table of results). When stderr is
not a terminal (cron's log, CI, ``2> log.txt``, a ``--jobs`` worker's log) there is no bar: one
line per finished trial, and for long trials a line of epoch progress at most every
``PROGRESS_LINE_SECONDS``.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Mapping, Sequence

import keras
from tqdm import tqdm

from sweeps.defaults import PROGRESS_LINE_SECONDS
from sweeps.engines.base import TrialRecord, TrialState, best_record
from sweeps.runner.signals import raise_if_interrupted
from sweeps.spec.objective import Objective

log = logging.getLogger("sweeps.progress")  # the invocation's log file, when there is one


class Progress:
    """A bar (or plain lines) over the trials this invocation will run, with the best value so far."""

    def __init__(self, sweep: str, total: int, metric: str, best: float | None, bar: bool | None = None) -> None:
        self.metric, self.best, self.total = metric, best, total
        shown = sys.stderr.isatty() if bar is None else bar
        self.bar = tqdm(total=total, desc=sweep, unit="trial", file=sys.stderr, dynamic_ncols=True, leave=True, disable=not shown)
        self.done = 0  # finished trials (a disabled tqdm does not count)
        self._start: set[int] | None = None
        self._last_line = time.monotonic()
        self._show()

    def note(self, text: str) -> None:
        """Print a line above the bar (or just the line, without a bar), and log it."""
        self.bar.write(text, file=sys.stderr)
        log.info(text)

    def epoch_callback(self, label: str, epochs: int) -> keras.callbacks.Callback:
        """A Keras callback showing ``<label> epoch e/E`` with the current metric."""
        progress = self

        class _EpochProgress(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: Mapping[str, float] | None = None) -> None:
                raise_if_interrupted()  # a Ctrl-C a finalizer swallowed stops the trial here
                value = (logs or {}).get(progress.metric)
                shown = f" {progress.metric}={value:.4f}" if value is not None else ""
                progress._show(f"{label} epoch {epoch + 1}/{epochs}{shown}")

        return _EpochProgress()

    def trial_done(self, best: float | None, summary: str = "") -> None:
        self.best, self.done = best, self.done + 1
        self.bar.update(1)
        if summary and self.bar.disable:
            self._line(f"[{self.done}/{self.total}] {summary}")
        elif summary:
            log.info(f"[{self.done}/{self.total}] {summary}")
        self._show()

    def show_study(self, records: Sequence[TrialRecord], objective: Objective) -> None:
        """Catch up with trials other processes finished (``--jobs``)."""
        finished = {r.number for r in records if r.state != TrialState.RUNNING}
        if self._start is None:
            self._start = finished
        done = len(finished - self._start)
        changed, self.done, self.bar.n = done != self.done, done, done
        best = best_record(records, objective)
        self.best = None if best is None else best.value
        running = f"{sum(r.state == TrialState.RUNNING for r in records)} running"
        if self.bar.disable and changed:
            self._line(f"[{done}/{self.total}] trials finished, {running}, {self._best()}")
        self._show(running)

    def close(self) -> None:
        self.bar.close()

    def _show(self, current: str = "") -> None:
        if not self.bar.disable:
            self.bar.set_postfix_str(f"{current}  {self._best()}".strip(), refresh=True)
        elif current and time.monotonic() - self._last_line >= PROGRESS_LINE_SECONDS:
            self._line(f"[{self.done}/{self.total}] {current}  {self._best()}")

    def _best(self) -> str:
        return f"best {self.metric}={self.best:.4f}" if self.best is not None else "no result yet"

    def _line(self, text: str) -> None:
        self.note(text)
        self._last_line = time.monotonic()
