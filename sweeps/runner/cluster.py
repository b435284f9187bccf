"""``--cluster ADDRESS``: a sweep's workers as long-running tasks on a Dask cluster.

The launching command connects to the scheduler, checks that its workers see what the sweep
needs, and submits ``--jobs`` tasks (``cluster_worker.sweep_worker``), each one sweep worker on
one Dask worker (``--worker-resources`` places them). Then it shows the study's progress, as
``--jobs`` does, until every task is done. A Dask worker lost mid-trial takes its sweep worker
with it: the trial is failed (by the sweep worker as it ends, else by the study's heartbeat) and
Dask runs the task again on another worker (up to ``distributed.scheduler.allowed-failures``
times). Ctrl-C sets the sweep's stop event: every task ends its sweep worker as Ctrl-C ends a
``--jobs`` worker, and tasks still waiting for a worker are cancelled.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from sweeps.errors import ConfigError, Interrupted, ServiceError, SweepAborted
from sweeps.logs import say
from sweeps.runner.cluster_worker import Assignment, Outcome, sweep_worker, unseen

_STOP_GRACE_SECONDS = 120  # for stopped sweep workers to close their runs after Ctrl-C


@contextmanager
def connected(address: str, timeout: float) -> Iterator[Any]:
    """A Dask client of the scheduler at ``address``, closed on leaving.

    Raises:
        ConfigError: Dask's ``distributed`` is not installed.
        ServiceError: no scheduler answers there within ``timeout`` seconds.
    """
    try:
        from distributed import Client
    except ImportError:
        raise ConfigError("--cluster needs Dask's distributed package: pip install 'keras-sweeps[cluster]'") from None
    try:
        client = Client(address, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as error:
        raise ServiceError(
            f"--cluster {address}: no Dask scheduler answered within {timeout:g} s ({str(error).splitlines()[0][:120]}); "
            "is it running? (--connect-timeout SECONDS waits longer)"
        ) from None
    try:
        yield client
    finally:
        client.close()


def check_workers(client: Any, needed: Sequence[tuple[str, str]], resources: dict[str, float]) -> None:
    """Refuse a sweep the cluster's workers could not run, before anything is recorded: a path
    one of them cannot see. Say what will make its tasks wait (no worker yet, none with the
    resources asked for).

    Raises:
        ConfigError: a worker cannot see a path the sweep needs (the first one found).
    """
    workers = client.scheduler_info(n_workers=-1)["workers"]
    if not workers:
        say("  note: the cluster has no worker yet; the sweep workers wait for one")
        return
    try:
        seen = client.run(unseen, list(needed))
    except Exception as error:  # (a worker without sweeps cannot even read the question)
        raise ConfigError(
            f"the cluster's workers could not run sweeps ({type(error).__name__}: {str(error)[:200]}); "
            "install keras-sweeps[cluster] in every worker's environment, the same version as here"
        ) from None
    for address, problem in seen.items():
        if problem:
            name = str(workers.get(address, {}).get("name", address))
            who = address if name == address else f"{name} ({address})"
            raise ConfigError(f"dask worker {who}: {problem}; every worker must see it at the same path")
    for resource, amount in resources.items():
        if not any(info.get("resources", {}).get(resource, 0) >= amount for info in workers.values()):
            say(
                f"  note: no worker of the cluster offers {resource}={amount:g} yet (`dask worker ... --resources "
                f"{resource}={amount:g}`); the sweep workers wait for one"
            )


def slots_per_host(workers: dict[str, dict[str, Any]], resources: dict[str, float]) -> dict[str, int]:
    """How many sweep workers each host's Dask workers can run at once: each worker's threads,
    fewer where its resources hold fewer tasks of ``resources``. A host's cores are divided by it."""
    slots: dict[str, int] = {}
    for info in workers.values():
        held = [int(info.get("resources", {}).get(name, 0) // amount) for name, amount in resources.items() if amount > 0]
        slots[info["host"]] = slots.get(info["host"], 0) + min([int(info.get("nthreads", 1)), *held])
    return {host: count for host, count in slots.items() if count > 0}


def launch_on_cluster(
    client: Any, assignment: Assignment, jobs: int, resources: dict[str, float], poll: Callable[[], None], every: float = 2.0
) -> None:
    """Run ``jobs`` sweep workers as tasks on ``client``'s cluster and wait for all of them.

    ``assignment`` is completed here with the scheduler's address, a stop event of this sweep's
    own and the slots of each host.

    Raises:
        SweepAborted: a sweep worker stopped with an error, could not start, or Dask gave it up.
        Interrupted: Ctrl-C, after every running sweep worker closed its runs.
    """
    from distributed import Event, wait

    workers, token = client.scheduler_info(n_workers=-1)["workers"], uuid.uuid4().hex
    stop = Event(f"sweeps-stop-{token}", client=client)
    assignment = replace(assignment, cluster=client.scheduler.address, stop=stop.name, slots=slots_per_host(workers, resources))
    futures = [
        client.submit(sweep_worker, assignment, key=f"sweeps-worker-{index}-{token}", resources=resources or None, pure=False)
        for index in range(jobs)
    ]
    try:
        while not all(future.done() for future in futures):
            poll()
            with contextlib.suppress(TimeoutError), client.as_current():  # (back at once when the last one is done)
                wait(futures, timeout=every)
        poll()
    except KeyboardInterrupt:
        _stop(client, stop, futures)
        raise Interrupted("the sweep workers' running trials were marked FAIL and their runs KILLED") from None
    _report([_outcome(index, future) for index, future in enumerate(futures)])


def _stop(client: Any, stop: Any, futures: list[Any]) -> None:
    """Have every running sweep worker end as on Ctrl-C, wait for them, cancel the waiting tasks."""
    stop.set()
    deadline = time.monotonic() + _STOP_GRACE_SECONDS
    while time.monotonic() < deadline and not all(future.done() for future in futures):
        processing = {key for keys in client.processing().values() for key in keys}
        if not any(future.key in processing for future in futures if not future.done()):
            break  # the rest never started: nothing of theirs to close
        time.sleep(0.5)
    client.cancel([future for future in futures if not future.done()])


def _outcome(index: int, future: Any) -> tuple[int, Outcome | str]:
    """A task's outcome, or why Dask has none (it gave the task up, or the task raised)."""
    try:
        return index, future.result()
    except Exception as error:  # (KilledWorker: its Dask workers kept dying under it)
        return index, f"{type(error).__name__}: {str(error).splitlines()[0][:300] if str(error) else ''}"


def _report(outcomes: list[tuple[int, Outcome | str]]) -> None:
    """Say where each sweep worker ran; raise for those that failed."""
    ran = [f"{index} on {o.worker} ({o.host})" for index, o in outcomes if isinstance(o, Outcome) and o.returncode is not None]
    if ran:
        say(f"  sweep workers ran on the cluster: {', '.join(ran)}")
    failed = []
    for index, outcome in outcomes:
        if isinstance(outcome, str):
            failed.append(f"sweep worker {index}: {outcome}")
        elif outcome.returncode is None:
            failed.append(f"sweep worker {index} on dask worker {outcome.worker} ({outcome.host}): {outcome.problem}")
        elif outcome.returncode != 0:
            failed.append(
                f"sweep worker {index} on {outcome.worker} ({outcome.host}) exited {outcome.returncode}, "
                f"see {outcome.host}:{outcome.log}: {outcome.problem}"
            )
    if failed:
        raise SweepAborted(f"{len(failed)} of {len(outcomes)} sweep workers stopped with an error: {'; '.join(failed)}")
