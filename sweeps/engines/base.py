"""The engine contract: what every engine does for the runner, and the records they share.

An engine proposes hyperparameters and hears results; the runner runs the trials. The shared
tests in ``tests/engines/test_engines.py`` hold each implementation to all of this.

Searching (``Engine``):

- ``ask()`` returns the next ``Proposal``, or ``None`` when the study's budget is spent or
  its grid is exhausted. Finished trials of earlier invocations count: a study resumes.
  ``ask_now()`` returns another while this process's run, where the engine allows several.
- ``should_prune(proposal, epoch, value)`` hears the objective after each epoch and says
  whether to stop this trial early (always ``False`` without a pruner).
- ``tell(proposal, outcome)`` records the result; every proposal is told exactly once,
  including failed and interrupted ones.
- ``records()`` lists every trial of the study (all invocations) for tables and resumes.
- ``remaining()`` is how many more trials this study would run.
- ``optuna_study`` is the engine's Optuna study, for Optuna's own plots (``None`` for an
  engine that is not Optuna).

Coordinating workers (``Coordination``): several workers (processes or machines) may share one
study. An engine never hands the same grid point to two of them, and fails the trials of a
worker that died. ``note(proposal, attrs)`` keeps facts with a running trial (its MLflow run
id) at once, so a crash cannot separate the two records; ``running()`` counts trials running
anywhere; ``shared``/``share`` read and write study-wide facts (the parent run all workers join).
"""

from __future__ import annotations

import math
import os
import socket
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sweeps.errors import ConfigError
from sweeps.spec.objective import Objective

WORKER = f"{socket.gethostname()}:{os.getpid()}"  # this process, as trials and runs record it


class TrialState(StrEnum):
    """Where a trial stands in its study, stored as these words (``"COMPLETE"``).

    Not MLflow's run status (``sweeps.tracking.tracker``): a trial's run is FINISHED whether
    the trial was COMPLETE or PRUNED.
    """

    WAITING = "WAITING"  # queued, not started yet (a retry, a grid point)
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"
    PRUNED = "PRUNED"
    FAIL = "FAIL"


Curve = Mapping[int, float]  # an objective's values by epoch (from 1)


@dataclass
class Proposal:
    """One trial to run: its number in the study and the sampled values.

    Engines that schedule training themselves (Hyperband) also set ``overrides`` (e.g. the
    epochs this trial trains), ``tags`` (bracket, round) and, to continue an earlier trial,
    ``initial_epoch`` with the weights in ``warm_start``; ``checkpoint`` is where the trained
    weights must be saved for trials that may continue this one.
    """

    number: int
    params: dict[str, Any]
    handle: Any = None  # the engine's own trial object
    overrides: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, Any] = field(default_factory=dict)
    initial_epoch: int = 0
    warm_start: Path | None = None
    checkpoint: Path | None = None


@dataclass
class Outcome:
    """What a trial produced: its state, objective value, and facts worth keeping with it."""

    state: TrialState
    value: float | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrialRecord:
    """A trial as the study remembers it."""

    number: int
    state: TrialState
    params: dict[str, Any]
    value: float | None
    attrs: dict[str, Any]


class Coordination(ABC):
    """What lets several workers share one study: facts kept with running trials and with the
    study, and a count of the trials running anywhere."""

    @abstractmethod
    def note(self, proposal: Proposal, attrs: dict[str, Any]) -> None:
        """Keep ``attrs`` with a running trial now (they are also part of its outcome)."""

    @abstractmethod
    def running(self) -> int:
        """How many trials of the study are running, in this process or any other."""

    @abstractmethod
    def shared(self, key: str) -> Any:
        """A study-wide fact, or ``None``."""

    @abstractmethod
    def share(self, key: str, value: Any) -> None:
        """Record a study-wide fact for every worker of the study."""


class Engine(Coordination):
    """Proposes trials for one study and records their outcomes."""

    name: str

    def ask_now(self) -> Proposal | None:
        """Another trial now, beside those this process runs (``None`` when there is none free
        at once, without waiting for other workers'); an engine that hands out one trial at a
        time never has one."""
        return None

    @abstractmethod
    def ask(self) -> Proposal | None:
        """The next trial to run, or ``None`` when there is nothing left to do."""

    @abstractmethod
    def should_prune(self, proposal: Proposal, epoch: int, value: float) -> bool:
        """Hear the objective after ``epoch``; ``True`` means stop this trial now."""

    def judges_in_order(self) -> bool:
        """Whether trials trained together are judged by ``pruned_in_order`` once they have
        trained (else each hears ``should_prune`` as it trains)."""
        return False

    def pruned_in_order(self, proposal: Proposal, values: Curve, before: Sequence[Curve]) -> int | None:
        """The epoch at which the pruner stops ``proposal``, whose objective by epoch was
        ``values``, had it trained after the trials of its set whose values are ``before``
        (``None``: never); the values up to there are reported as ``should_prune`` reports them."""
        raise NotImplementedError(f"the {self.name} engine judges trials as they train")

    @abstractmethod
    def tell(self, proposal: Proposal, outcome: Outcome) -> None:
        """Record how a proposed trial ended."""

    def untold(self) -> list[Proposal]:
        """The trials this process was handed and has not told of yet."""
        return []

    def fail_untold(self) -> None:
        """Fail every trial this process was handed but never told of (a Ctrl-C came before its
        run opened), so none is left RUNNING."""
        for proposal in self.untold():
            self.tell(proposal, Outcome(TrialState.FAIL, attrs={"error": "interrupted before it started"}))

    @abstractmethod
    def records(self) -> list[TrialRecord]:
        """Every trial of the study, oldest first."""

    @abstractmethod
    def remaining(self) -> int:
        """How many more trials this study would run (0 when its budget or grid is spent)."""

    @property
    def optuna_study(self) -> Any:
        """The Optuna study behind this engine, for Optuna's own plots; ``None`` unless Optuna."""
        return None


def check_identity(stored: dict[str, Any], identity: dict[str, str], study: str) -> None:
    """Refuse to resume a study started with another search space or on other data.

    ``identity`` holds the facts a study must keep (``sweeps.fingerprint`` of the search space,
    ``data.fingerprint`` of the data); ``data.location`` only names the data in the message.
    Facts a study did not record (an older version's) are not held against it.

    Raises:
        ConfigError: naming what changed, and ``--study`` as the way to start anew.
    """
    changed = [k for k, v in identity.items() if k != "data.location" and stored.get(k) not in (None, v)]
    if not changed:
        return
    if any(key.startswith("data.") for key in changed):
        before = f"{stored.get('data.location', stored.get('data.source'))} (fingerprint {stored.get('data.fingerprint')})"
        now = f"{identity.get('data.location', identity.get('data.source'))} (fingerprint {identity.get('data.fingerprint')})"
        raise ConfigError(
            f"study '{study}' was started on other data: {before}, now {now}; continue it on the same "
            "data, or start a new study with --study NAME"
        )
    details = ", ".join(f"{key} {stored[key]} -> {identity[key]}" for key in changed)
    raise ConfigError(
        f"study '{study}' was started with a different setup ({details}); "
        "continue it unchanged, or start a new study with --study NAME"
    )


def best_record(records: Sequence[TrialRecord], objective: Objective) -> TrialRecord | None:
    """The COMPLETE trial with the best objective value, or ``None``."""
    complete = [r for r in records if r.state == TrialState.COMPLETE and r.value is not None and math.isfinite(r.value)]
    return objective.best(complete, key=lambda r: r.value)


def worker_alive(worker: str) -> bool:
    """Whether ``host:pid`` names a live sweeps process; ``True`` for other hosts (their
    heartbeats decide) and for trials recorded without a worker."""
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a reused pid belongs to some other program
        return b"sweeps" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
