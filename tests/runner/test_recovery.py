"""Workers that start together elect one parent run for their study."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sweeps.runner.recovery import join_or_start_parent
from sweeps.tracking.tracker import Tracker


class Study:
    """The study-wide facts two workers share (the coordination part of an engine)."""

    def __init__(self) -> None:
        self.facts: dict[str, Any] = {}

    def shared(self, key: str) -> Any:
        return self.facts.get(key)

    def share(self, key: str, value: Any) -> None:
        self.facts[key] = value

    def running(self) -> int:
        return 0


def test_workers_that_both_found_no_parent_end_up_in_one(tmp_path: Path) -> None:
    tracker, study = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}", "s"), Study()
    elected: dict[str, tuple[str, bool]] = {}

    def first_worker_start() -> str:  # while it makes its run, the second worker elects its own
        elected["second"] = join_or_start_parent(tracker, study, lambda: tracker.start_run("second", {}))
        return tracker.start_run("first", {})

    elected["first"] = join_or_start_parent(tracker, study, first_worker_start)
    (second_run, second_joined), (first_run, first_joined) = elected["second"], elected["first"]
    assert first_run == second_run and (first_joined, second_joined) == (True, False)
    kept = [r.info.run_name for r in tracker.runs(tracker.experiment_id)]
    assert kept == ["second"]  # the first worker's own parent was deleted, empty
