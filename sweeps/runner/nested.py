"""The runs of a trial's several fits (K folds, N replicates), each nested under the trial's run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import keras

from sweeps.engines.base import TrialState
from sweeps.runner.context import SweepContext
from sweeps.runner.signals import shielded
from sweeps.tracking.callbacks import EpochLogger
from sweeps.tracking.records import FINAL_STEP, ROLE, part_run_name
from sweeps.tracking.tracker import FAILED, FINISHED, KILLED
from sweeps.training import several


class NestedRuns:
    """Opens a run per fit of one trial as the fit starts, ends each as its fit ends, and ends
    what is still open as FAILED (or KILLED, on Ctrl-C) when the trial breaks.

    Args:
        tags: the trial's tags (``trial`` its number), recorded on each fit's run too.
        trial_name: the trial run's name, which each fit's run name extends.
    """

    def __init__(self, ctx: SweepContext, run_id: str, tags: Mapping[str, Any], trial_name: str, parts: int) -> None:
        self.ctx, self.run_id, self.tags, self.trial_name, self.parts = ctx, run_id, dict(tags), trial_name, parts
        self.open: dict[int, str] = {}

    def callbacks(self, part: several.Part) -> list[keras.callbacks.Callback]:
        """Open ``part``'s run; the callbacks that log its epochs there and show its progress."""
        tracker = self.ctx.tracker
        name = part_run_name(self.trial_name, part.kind, part.index, self.parts)
        self.open[part.index] = tracker.start_run(name, {**self.tags, ROLE: part.kind, **part.tags}, self.run_id)
        label = f"trial {self.tags['trial']} {part.kind} {part.index + 1}/{self.parts}"
        return [EpochLogger(tracker, self.open[part.index]), self.ctx.progress.epoch_callback(label, part.request.hp["epochs"])]

    def done(self, part: several.Part, metrics: Mapping[str, float]) -> None:
        """Record ``part``'s final values (``metrics``) and end its run."""
        tracker = self.ctx.tracker
        tracker.log(self.open[part.index], metrics=dict(metrics), tags={"state": TrialState.COMPLETE}, step=FINAL_STEP)
        tracker.end_run(self.open.pop(part.index), FINISHED)

    def broken(self, error: BaseException) -> None:
        """End the runs of the fits that were running when the trial broke."""
        with shielded():
            for nested in self.open.values():
                self.ctx.tracker.log(nested, tags={"state": TrialState.FAIL})
                self.ctx.tracker.end_run(nested, KILLED if isinstance(error, KeyboardInterrupt) else FAILED)
            self.open.clear()
