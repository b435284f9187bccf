"""Keeping MLflow consistent with the study when workers crash or run side by side.

A worker killed with SIGKILL leaves its MLflow runs RUNNING; the engine fails its trial (at
once on this machine, by heartbeat elsewhere), and ``close_orphaned_runs`` then ends those runs
as KILLED. Workers that run at the same time share one parent run, recorded in the study. A
process killed while writing that parent's dashboard leaves it to ``finish_partial_parent``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sweeps.engines.base import Coordination, Engine, TrialRecord, TrialState, worker_alive
from sweeps.logs import say
from sweeps.reporting.report import Report
from sweeps.runner.parent import CLOSED_WHOLE, ParentRun, study_records
from sweeps.spec.sweep import SweepSpec
from sweeps.tracking.tracker import FINISHED, KILLED, RUNNING, Tracker

PARENT_KEY = "sweeps.mlflow_parent_run_id"


def close_orphaned_runs(tracker: Tracker, records: Sequence[TrialRecord], checked: set[str] | None = None) -> int:
    """End the MLflow runs (and nested runs) still RUNNING of trials the study says are over,
    as the study says they ended (a process killed between the two records leaves them so);
    return how many were closed.

    ``checked`` remembers the finished trials' runs already looked at, so a sweep calling this
    after every trial asks MLflow only about new ones.
    """
    closed, checked = 0, set() if checked is None else checked
    for record in records:
        run_id = record.attrs.get("mlflow_run_id")
        if record.state == TrialState.RUNNING or not run_id or run_id in checked:
            continue
        checked.add(run_id)
        run = tracker.run(run_id)
        if run.info.status != RUNNING:
            continue
        status = KILLED if record.state == TrialState.FAIL else FINISHED
        tags = {
            "state": record.state,
            **({"error": record.attrs.get("error") or "worker died"} if record.state == TrialState.FAIL else {}),
        }
        nested = [n.info.run_id for n in tracker.children(run) if n.info.status == RUNNING]
        for run_to_close in [*nested, run_id]:
            tracker.log(run_to_close, tags=tags)
            tracker.end_run(run_to_close, status)
            closed += 1
    return closed


def close_dead_parent(tracker: Tracker, engine: Coordination) -> bool:
    """End as KILLED the study's parent run if it is RUNNING with no trial running and its
    process gone (killed while closing it); return whether it was."""
    run_id: Any = engine.shared(PARENT_KEY)
    if not run_id:
        return False
    run = tracker.run(run_id)
    if run.info.status != RUNNING or engine.running() or worker_alive(_worker(run)):
        return False
    tracker.end_run(run_id, KILLED)
    return True


def finish_partial_parent(
    tracker: Tracker, engine: Engine, spec: SweepSpec, study: str, records: list[TrialRecord], table: str
) -> bool:
    """Write the dashboard of a finished study whose parent run was killed while writing it
    (ended KILLED, without ``CLOSED_WHOLE``), and end that parent FINISHED as it would have
    been; return whether there was one. A parent closed whole is left as it is."""
    run_id: Any = engine.shared(PARENT_KEY)
    if not run_id or engine.running():
        return False
    run = tracker.run(run_id)
    if run.info.status != KILLED or CLOSED_WHOLE in run.data.tags:
        return False
    ParentRun(tracker, run_id, spec).close(study, records, table, FINISHED, engine.optuna_study)
    return True


def answer_of_finished_study(
    tracker: Tracker, engine: Engine, spec: SweepSpec, study: str, records: list[TrialRecord], table: str
) -> Report | None:
    """A study with nothing left to run: its parent run written whole if a crash stopped that
    half-way (said so), and its comparison read back from MLflow, to be printed again."""
    if finish_partial_parent(tracker, engine, spec, study, records, table):
        say("  note: the study's parent run was stopped while its dashboard was written; it is written whole now")
    return study_records(tracker, spec, study).comparison()


def join_or_start_parent(tracker: Tracker, engine: Coordination, start: Callable[[], str]) -> tuple[str, bool]:
    """The study's parent run if workers are still using it, else a new one from ``start()``.

    Returns the run id and whether it was joined. A parent left RUNNING by a dead worker with
    no trial still running is ended as KILLED first.
    """
    if (running := _running_parent(tracker, engine)) is not None:
        return running, True
    # Workers started together all find no parent: each makes one, then only the last one shared
    # is kept (the others are deleted, empty). Looking again just before sharing keeps the window
    # in which two could both be kept to one database round trip.
    mine = start()
    if (running := _running_parent(tracker, engine)) is None:
        engine.share(PARENT_KEY, mine)
        running = engine.shared(PARENT_KEY)
    if running != mine:
        tracker.delete_run(mine)
        return running, True
    return mine, False


def _running_parent(tracker: Tracker, engine: Coordination) -> str | None:
    """The study's shared parent run if it is RUNNING (one left so by a dead worker is ended first)."""
    run_id: Any = engine.shared(PARENT_KEY)
    if run_id and not close_dead_parent(tracker, engine) and tracker.run(run_id).info.status == RUNNING:
        return run_id
    return None


def _worker(run: Any) -> str:
    return f"{run.data.tags.get('worker.host')}:{run.data.tags.get('worker.pid')}"
