"""``--jobs N``: N worker processes on one study, the cores (and any GPUs) divided between them.

Processes, not threads: each worker has its own TensorFlow runtime and Python interpreter, so
trials really run side by side. Workers are the same command with ``--worker``; they share the
study (its storage hands out trials) and the parent run (recorded in the study). Each worker's
output goes to a log file, named in any error.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sweeps.errors import Interrupted, SweepAborted
from sweeps.runner.signals import interruptible_children
from sweeps.training.devices import visible_gpus, worker_environments


def threads_per_worker(jobs: int) -> int:
    """Cores divided evenly between ``jobs`` workers (at least one each)."""
    return max(1, (os.cpu_count() or 1) // jobs)


def launch(argv: Sequence[str], jobs: int, log_dir: Path, poll: Callable[[], None], every: float = 2.0) -> None:
    """Start ``jobs`` workers running ``sweeps run ARGV --worker`` and wait for all of them.

    Args:
        argv: the ``run`` command's own arguments (without ``--jobs``).
        poll: called every ``every`` seconds while workers run (progress display).

    Raises:
        SweepAborted: a worker exited with an error (its log file is named).
        Interrupted: after passing it on to every worker and waiting for them to close
            their runs.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    threads = threads_per_worker(jobs)
    environments = worker_environments(jobs, visible_gpus())
    workers, logs = [], []
    command = [sys.executable, "-m", "sweeps", "run", *argv, "--worker", "--threads", str(threads)]
    # No preexec_fn, nor anything else that makes subprocess fork() rather than vfork(): this
    # process holds the engine's gRPC channel when the storage is Optuna's proxy, and a fork runs
    # gRPC's fork handlers, whose poller restarted in the child can abort it before it execs.
    with interruptible_children():
        for index in range(jobs):
            logs.append(log_dir / f"worker-{index}.log")
            with open(logs[-1], "w") as log:
                environment = {**os.environ, **environments[index]}
                workers.append(
                    subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=environment)
                )
    try:
        while any(worker.poll() is None for worker in workers):
            poll()
            time.sleep(every)
        poll()
    except KeyboardInterrupt:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGINT)
        for worker in workers:
            worker.wait()
        raise Interrupted("the workers' running trials were marked FAIL and their runs KILLED") from None
    failed = [f"worker {i} (exit {w.returncode}, see {logs[i]})" for i, w in enumerate(workers) if w.returncode != 0]
    if failed:
        raise SweepAborted(f"{len(failed)} of {jobs} workers stopped with an error: {'; '.join(failed)}")
