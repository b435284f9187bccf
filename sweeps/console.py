"""What a person sees while a sweep runs: one progress bar over trials, notes, a result table.

Progress goes to stderr (so ``> results.txt`` keeps only the table); the table to stdout.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import keras
from tqdm import tqdm

from sweeps.engines import COMPLETE, TrialRecord


class Progress:
    """A bar over the trials this invocation will run, showing the best value so far."""

    def __init__(self, sweep: str, total: int, metric: str, best: float | None, shown: bool = True) -> None:
        self.metric, self.best = metric, best
        self.bar = tqdm(total=total, desc=sweep, unit="trial", file=sys.stderr, dynamic_ncols=True, leave=True,
                        disable=not shown)
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


def best_record(records: Sequence[TrialRecord], direction: str) -> TrialRecord | None:
    """The COMPLETE trial with the best objective value, or ``None``."""
    complete = [r for r in records if r.state == COMPLETE and r.value is not None and math.isfinite(r.value)]
    if not complete:
        return None
    return (max if direction == "maximize" else min)(complete, key=lambda r: r.value)


def trials_table(records: Sequence[TrialRecord], params: Sequence[str], metric: str, test_metric: str,
                 best: TrialRecord | None, markdown: bool = False) -> str:
    """A fixed-width (or markdown) table: trial, swept params, objective, test metric, epochs, state."""
    header = ["trial", *params, metric, test_metric, "best epoch", "state"]
    rows = [
        [f"{r.number}{' *' if best is not None and r.number == best.number else ''}",
         *[_cell(r.params.get(name)) for name in params],
         _cell(r.value), _cell(r.attrs.get(test_metric)), _cell(r.attrs.get("best_epoch")), r.state]
        for r in sorted(records, key=lambda r: r.number)
    ]
    return render_table(header, rows, markdown)


def render_table(header: Sequence[str], rows: Sequence[Sequence[Any]], markdown: bool = False) -> str:
    """Rows under a header, as left-aligned columns or as a markdown table."""
    lines = [[str(cell) for cell in row] for row in [header, *rows]]
    if markdown:
        lines.insert(1, ["---"] * len(header))
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if math.isfinite(value) else str(value)
    return str(value)
