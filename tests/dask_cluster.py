"""A throwaway Dask cluster on 127.0.0.1 for the ``--cluster`` tests: a ``dask scheduler`` and
single-threaded ``dask worker`` processes, stopped (with everything they started) on leaving."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.processes import descendants, free_port, still_alive_after, stop_tree
from tests.support import REPO

DASK = [sys.executable, "-m", "dask"]

# Dask's bookkeeping timers, slowed as the README advises for Dask workers that run sweep
# workers: at Dask's defaults (an event-loop tick every 20 ms, a profiler sampling every 10 ms,
# system and memory monitors every 0.5 s and 0.1 s) an idle scheduler and two workers used
# 3.5 CPU seconds in 30 s here; with these, 0.44.
QUIET = {
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "5s",
    "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False",
    "DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL": "1s",
}


@dataclass
class Cluster:
    """The scheduler's address, and its worker processes by name (to start more, or kill one)."""

    address: str
    directory: Path
    workers: dict[str, subprocess.Popen] = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)
    logs: list = field(default_factory=list)
    environment: dict[str, str] = field(default_factory=dict)  # every worker's, besides its own

    def start_worker(self, name: str, *options: str, **env: str) -> subprocess.Popen:
        """A ``dask worker`` called ``name`` with one thread; it can import sweeps (``PYTHONPATH``).
        Its local directory, where its sweep workers' logs are, is kept in the cluster's directory."""
        self.logs.append(log := open(self.directory / f"{name}.log", "w"))  # noqa: SIM115 (open while it runs)
        local = ["--local-directory", str(self.directory / f"{name}-local"), "--no-dashboard"]
        worker = subprocess.Popen(
            [*DASK, "worker", self.address, "--name", name, "--nthreads", "1", "--host", "127.0.0.1", *local, *options],
            cwd=self.directory,
            env={**os.environ, "PYTHONPATH": str(REPO), **self.environment, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.workers[name] = worker
        self.processes.append(worker)
        return worker

    def wait_for_workers(self, count: int) -> None:
        """Until ``count`` workers are registered with the scheduler (the event, not a time)."""
        from distributed import Client

        with Client(self.address, timeout="30s") as client:
            client.wait_for_workers(count, timeout=120)


@contextmanager
def dask_cluster(directory: Path, quiet: bool = True) -> Iterator[Cluster]:
    """A scheduler on a free port of 127.0.0.1; start workers with ``Cluster.start_worker``;
    ``quiet``: the scheduler and workers with Dask's timers slowed (``QUIET``), else Dask's
    defaults. Every process it and they started is gone on leaving (checked)."""
    quieted = QUIET if quiet else {}
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = open(directory / "scheduler.log", "w")  # noqa: SIM115
    scheduler = subprocess.Popen(
        [*DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        cwd=directory,
        env={**os.environ, **quieted},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    cluster = Cluster(f"tcp://127.0.0.1:{port}", directory, processes=[scheduler], logs=[log], environment=quieted)
    try:
        yield cluster
    finally:
        trees = {pid for process in cluster.processes for pid in (process.pid, *descendants(process.pid))}
        for process in reversed(cluster.processes):
            stop_tree(process)
        for log in cluster.logs:
            log.close()
        assert not still_alive_after(trees), "a Dask process outlived the cluster"
