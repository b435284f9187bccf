"""Keeping MLflow consistent with the study when workers crash or run side by side.

A worker killed with SIGKILL leaves its MLflow runs RUNNING; the engine fails its trial (at
once on this machine, by heartbeat elsewhere), and ``close_orphaned_runs`` then ends those runs
as KILLED. Workers that run at the same time share one parent run, recorded in the study.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sweeps.engines import FAIL, Engine, TrialRecord, worker_alive
from sweeps.tracking.tracker import KILLED, RUNNING, Tracker

PARENT_KEY = "sweeps.mlflow_parent_run_id"


def close_orphaned_runs(tracker: Tracker, records: Sequence[TrialRecord], checked: set[str] | None = None) -> int:
    """End as KILLED the MLflow runs (and nested runs) of trials the study says have failed
    but whose runs are still RUNNING; return how many were closed.

    ``checked`` remembers the failed trials' runs already looked at, so a sweep calling this
    after every trial asks MLflow only about new failures.
    """
    closed, checked = 0, set() if checked is None else checked
    for record in records:
        run_id = record.attrs.get("mlflow_run_id")
        if record.state != FAIL or not run_id or run_id in checked:
            continue
        checked.add(run_id)
        run = tracker.run(run_id)
        if run.info.status != RUNNING:
            continue
        nested = [n.info.run_id for n in tracker.children(run) if n.info.status == RUNNING]
        for run_to_close in [*nested, run_id]:
            tracker.log(run_to_close, tags={"state": FAIL, "error": record.attrs.get("error") or "worker died"})
            tracker.end_run(run_to_close, KILLED)
            closed += 1
    return closed


def join_or_start_parent(tracker: Tracker, engine: Engine, start: Callable[[], str]) -> tuple[str, bool]:
    """The study's parent run if workers are still using it, else a new one from ``start()``.

    Returns the run id and whether it was joined. A parent left RUNNING by a dead worker with
    no trial still running is ended as KILLED first.
    """
    run_id: Any = engine.shared(PARENT_KEY)
    if run_id:
        run = tracker.run(run_id)
        if run.info.status == RUNNING:
            if engine.running() or worker_alive(f"{run.data.tags.get('worker.host')}:{run.data.tags.get('worker.pid')}"):
                return run_id, True
            tracker.end_run(run_id, KILLED)
    run_id = start()
    engine.share(PARENT_KEY, run_id)
    return run_id, False
