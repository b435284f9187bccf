"""One sweep worker as a long-running task on a Dask worker (the task side of ``--cluster``).

The task starts the same command a ``--jobs`` worker runs (``sweeps run ... --worker``) as a
child process, so each sweep worker imports its framework once in a process of its own and
trains many trials, whatever the Dask worker's threads do. The child is told to end when the
Dask worker's process dies (SIGTERM: its running trial is failed and its runs closed, as on
Ctrl-C), and is stopped the same way when the command that launched the sweep sets the
sweep's stop event (its Ctrl-C).

This module is imported by Dask workers: it needs only the standard library and ``distributed``
at import, and ``sweeps`` installed where the task runs.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sweeps.training.devices import visible_gpus, worker_environments

PARENT_PID = "SWEEPS_PARENT_PID"  # the child ends when this process dies (see signals.end_with_parent)
CLUSTER_TAG_ENV = {"worker.cluster": "SWEEPS_WORKER_CLUSTER", "worker.name": "SWEEPS_WORKER_NAME"}
_TAIL_LINES = 5  # of a failed worker's log, brought back to the command that launched it


def cluster_tags() -> dict[str, str]:
    """The trial runs' tags naming the Dask worker and scheduler a sweep worker runs under
    (none outside a cluster)."""
    return {tag: os.environ[variable] for tag, variable in CLUSTER_TAG_ENV.items() if os.environ.get(variable)}


_lock = threading.Lock()
_taken: set[int] = set()  # slots of this Dask worker process that run a sweep worker now


@dataclass(frozen=True)
class Outcome:
    """How a sweep worker ended, as the launching command reports it."""

    worker: str  # the Dask worker's name
    host: str
    returncode: int | None  # None: it never started (``problem`` says why)
    log: str  # the sweep worker's output, on the Dask worker's machine
    problem: str = ""  # one line: what the Dask worker could not see, or the end of a failed log


@dataclass(frozen=True)
class Assignment:
    """What every task of one sweep is given."""

    command: list[str]  # ``sweeps run`` arguments, every path absolute
    needed: list[tuple[str, str]]  # (what, path) each Dask worker must see, checked on arrival
    cluster: str  # the scheduler's address, for the trial runs' tags
    stop: str  # the name of the sweep's stop event
    slots: dict[str, int]  # sweep workers each host (by its address) can run at once, to divide its cores
    environment: dict[str, str]  # the stores' URLs (kept out of the command line: passwords)


def unseen(needed: Sequence[tuple[str, str]]) -> str:
    """The first of ``needed`` this machine cannot see, as one line ("" when it sees them all)."""
    for what, path in needed:
        if not os.path.exists(path):
            return f"{what} {path} does not exist on {socket.gethostname()}"
        if not os.access(path, os.R_OK):
            return f"{what} {path} cannot be read on {socket.gethostname()}"
    return ""


def sweep_worker(assignment: Assignment) -> Outcome:
    """Run one sweep worker here until the study has nothing left for it (a Dask task)."""
    from distributed import Event, get_worker

    worker, host = get_worker(), socket.gethostname()
    problem = unseen(assignment.needed)
    if problem:
        return Outcome(worker.name, host, None, "", f"{problem}: every Dask worker must see it at the same path")
    stop = Event(assignment.stop)
    if stop.is_set():
        return Outcome(worker.name, host, None, "", "stopped before it started")
    here = Path(worker.local_directory) / "sweeps"  # the child's mlruns/ (data cache, logs) stay on this machine
    here.mkdir(parents=True, exist_ok=True)
    stopped = False
    with _slot(worker.state.nthreads) as slot:
        log = here / f"worker-{os.getpid()}-{slot}.log"
        # This machine's cores, divided between the sweep workers its Dask workers can run at once.
        threads = max(1, len(os.sched_getaffinity(0)) // max(1, assignment.slots.get(worker.ip, worker.state.nthreads)))
        environment = _environment(assignment, str(worker.name), slot, worker.state.nthreads, threads)
        command = [sys.executable, "-m", "sweeps", "run", *assignment.command, "--worker", "--threads", str(threads)]
        with open(log, "w") as output:
            child = subprocess.Popen(
                command, cwd=here, env=environment, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        try:
            while child.poll() is None:
                if stop.wait(timeout=1):
                    stopped = True
                    child.send_signal(signal.SIGTERM)  # (SIGINT may be ignored: a background Dask worker)
                    child.wait()
        finally:
            if child.poll() is None:  # (the task itself stopped: the child must not outlive it)
                child.send_signal(signal.SIGTERM)
                child.wait()
    failed = _tail(log) if child.returncode != 0 and not stopped else ""
    return Outcome(worker.name, host, child.returncode, str(log), failed)


def _environment(assignment: Assignment, name: str, slot: int, slots: int, threads: int) -> dict[str, str]:
    """The child's environment: its GPU (as ``--jobs`` divides them), its threads, its tags, and
    the process whose death ends it."""
    environment = {**os.environ, **assignment.environment, **worker_environments(slots, visible_gpus())[slot]}
    # A Dask nanny limits its worker's BLAS pools to one thread, and has malloc give memory back
    # at every free (MALLOC_TRIM_THRESHOLD_): the sweep worker gets its share of threads, and
    # allocates as a --jobs worker does.
    environment.update({variable: str(threads) for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")})
    environment.pop("MALLOC_TRIM_THRESHOLD_", None)
    environment.update({CLUSTER_TAG_ENV["worker.cluster"]: assignment.cluster, CLUSTER_TAG_ENV["worker.name"]: name})
    environment[PARENT_PID] = str(os.getpid())
    return environment


@contextmanager
def _slot(slots: int) -> Iterator[int]:
    """The lowest of this Dask worker's ``slots`` not running a sweep worker, held while one does."""
    with _lock:
        slot = min(set(range(max(slots, len(_taken) + 1))) - _taken)
        _taken.add(slot)
    try:
        yield slot
    finally:
        with _lock:
            _taken.discard(slot)


def _tail(log: Path) -> str:
    """The last lines of a failed worker's log, joined into one."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return ""
    return " | ".join(lines[-_TAIL_LINES:])
