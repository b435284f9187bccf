"""The Optuna engine: a persistent study per sweep, grid / random / TPE sampling, pruning.

Grid points are chosen here and enqueued, rather than left to ``GridSampler``, because
Optuna counts a FAILed grid point as visited: after a crash or a failed trial we want exactly
the points without a COMPLETE or PRUNED trial to run again on resume.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import TrialState

from sweeps.defaults import HEARTBEAT_SECONDS
from sweeps.engines.base import WORKER, Curve, Engine, Outcome, Proposal, TrialRecord, worker_alive
from sweeps.engines.base import TrialState as State  # ours; TrialState below is Optuna's
from sweeps.engines.optuna_in_order import judged_in_order, pruned_at
from sweeps.engines.optuna_study import distribution, fresh_trials, open_study, suggest
from sweeps.runner.signals import shielded, whole
from sweeps.spec.sweep import SweepSpec, point_key

_STATES = {State.COMPLETE: TrialState.COMPLETE, State.PRUNED: TrialState.PRUNED, State.FAIL: TrialState.FAIL}
_STEPPED_ASIDE = "sweeps.stepped_aside"  # a ticket that lost a grid point to an earlier one; not a trial
_DONE = (TrialState.COMPLETE, TrialState.PRUNED)
HEARTBEAT = "sweeps.heartbeat"  # a running trial's last sign of life (seconds since the epoch)


class OptunaEngine(Engine):
    """Runs one Optuna study named ``study_name`` (created or resumed) in ``storage``, an Optuna
    storage URL, for the validated sweep ``spec``; ``identity``: facts the study must keep
    (search-space fingerprint, data source): resuming with others is a ConfigError."""

    name = "optuna"

    def __init__(
        self, spec: SweepSpec, storage: str, study_name: str, identity: dict[str, str], heartbeat: int = HEARTBEAT_SECONDS
    ) -> None:
        self.spec = spec
        self._distributions = {name: distribution(param) for name, param in spec.params.items()}
        self._grid = spec.grid_points() if spec.sampler.grid else None
        self._failed_here: set[str] = set()  # grid points that failed in this invocation: retried only on resume
        self._beats: dict[int, tuple[threading.Event, threading.Thread]] = {}  # this process's running trials
        self._handed: dict[int, Proposal] = {}  # ...as handed out, until told
        self._heartbeat = heartbeat
        self.study = open_study(spec, storage, study_name, identity)
        self._fail_abandoned()

    def ask(self) -> Proposal | None:
        """The next trial; when none is left but other workers' trials still run, wait for
        them, since a worker that dies leaves its trial to be failed and retried here."""
        while True:
            self._fail_abandoned()
            trials = fresh_trials(self.study)
            if self._remaining(trials) > 0:
                proposal = self._next(trials)
                if proposal is not None:
                    return proposal
                continue
            if not any(t.state == TrialState.RUNNING and t.number not in self._beats for t in trials):
                return None
            time.sleep(min(5, self._heartbeat))

    def ask_now(self) -> Proposal | None:
        trials = fresh_trials(self.study)
        return self._next(trials) if self._remaining(trials) > 0 else None

    def _next(self, trials: list[optuna.trial.FrozenTrial]) -> Proposal | None:
        if self._grid is not None:
            self._enqueue_next_point(trials)
        with shielded():  # a Ctrl-C while a trial is taken is raised once it is listed (untold)
            trial = self._ask()
            if self._taken_by_earlier(trial):
                trial.set_user_attr(_STEPPED_ASIDE, True)  # another worker got there first
                self.study.tell(trial, state=TrialState.FAIL)
                return None
            for key, value in {"worker": WORKER, "mlflow_run_id": None, "error": None}.items():
                trial.set_user_attr(key, value)  # a retried trial arrives with its predecessor's
            self._beat(trial)
            self._handed[trial.number] = Proposal(number=trial.number, params=dict(trial.params), handle=trial)
        return self._handed[trial.number]

    def untold(self) -> list[Proposal]:
        return list(self._handed.values())

    @whole
    def _ask(self) -> optuna.Trial:
        """A new trial with its values; if sampling them raises, the trial is failed first, so
        nothing is left RUNNING."""
        trial = self.study.ask()
        try:
            for name, distribution in self._distributions.items():
                suggest(trial, name, distribution)
        except BaseException:
            self.study.tell(trial, state=TrialState.FAIL)
            raise
        return trial

    def judges_in_order(self) -> bool:
        return judged_in_order(self.study)

    @whole
    def pruned_in_order(self, proposal: Proposal, values: Curve, before: Sequence[Curve]) -> int | None:
        return pruned_at(self.study, proposal.handle, values, before)

    def should_prune(self, proposal: Proposal, epoch: int, value: float) -> bool:
        if len(self.spec.objectives) > 1:
            return False  # Optuna keeps no intermediate values of a study of several objectives (and never prunes one)
        proposal.handle.report(value, epoch)
        return proposal.handle.should_prune()

    def note(self, proposal: Proposal, attrs: dict[str, Any]) -> None:
        for key, value in attrs.items():
            proposal.handle.set_user_attr(key, value)

    @whole
    def tell(self, proposal: Proposal, outcome: Outcome) -> None:
        self._stop_beating(proposal.number)
        self._handed.pop(proposal.number, None)
        self.note(proposal, outcome.attrs)
        if outcome.state == State.COMPLETE:
            self.study.tell(proposal.handle, self._values(outcome))
        else:
            self.study.tell(proposal.handle, state=_STATES[outcome.state])
        if outcome.state == State.FAIL:
            self._failed_here.add(point_key(proposal.params))

    def _values(self, outcome: Outcome) -> float | list[float]:
        """What Optuna is told of a COMPLETE trial: its objective, or each of its objectives."""
        if len(self.spec.objectives) == 1:
            return outcome.value
        return [outcome.value, *(outcome.attrs[objective.recorded_as] for objective in self.spec.objectives[1:])]

    def records(self) -> list[TrialRecord]:
        return [
            TrialRecord(t.number, State(t.state.name), dict(t.params), t.values[0] if t.values else None, dict(t.user_attrs))
            for t in self.study.get_trials(deepcopy=False)
            if not t.user_attrs.get(_STEPPED_ASIDE)
        ]

    def remaining(self) -> int:
        return self._remaining(fresh_trials(self.study))

    def _remaining(self, trials: list[optuna.trial.FrozenTrial]) -> int:
        busy = sum(t.state in (*_DONE, TrialState.RUNNING) for t in trials)
        if self._grid is None:
            return max(0, self.spec.trials - busy)
        missing = sum(point_key(p) not in self._taken(trials) for p in self._grid)
        return max(0, min(missing, self.spec.trials - busy))

    @property
    def optuna_study(self) -> optuna.Study:
        return self.study

    def running(self) -> int:
        return len(self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))

    def shared(self, key: str) -> Any:
        return self.study.user_attrs.get(key)

    @whole
    def share(self, key: str, value: Any) -> None:
        self.study.set_user_attr(key, value)

    def _taken(self, trials: list[optuna.trial.FrozenTrial]) -> set[str]:
        """Grid points not to propose now: done, running elsewhere, or failed in this invocation."""
        return {point_key(_point(t)) for t in trials if t.state in (*_DONE, TrialState.RUNNING)} | self._failed_here

    def _enqueue_next_point(self, trials: list[optuna.trial.FrozenTrial]) -> None:
        """Queue the first missing grid point, unless one is already waiting to be run."""
        if any(t.state == TrialState.WAITING for t in trials):
            return  # e.g. a retry of a dead worker's trial: run that first
        taken = self._taken(trials)
        point = next(p for p in self._grid if point_key(p) not in taken)
        self.study.enqueue_trial(point, skip_if_exists=False)

    def _taken_by_earlier(self, trial: optuna.Trial) -> bool:
        """Whether lower-numbered trials got there first while this one was being asked for.

        Workers check the budget, then ask; two that check at once both get a trial. The later
        one stands aside when the earlier ones already spend the budget, or (grid) when one of
        them waits for, runs or finished the same point, or when the queue was emptied by
        another worker so the sampler made up a point instead of taking the grid's next one.
        """
        trials = fresh_trials(self.study)
        earlier = [t for t in trials if t.number < trial.number and not t.user_attrs.get(_STEPPED_ASIDE)]
        if sum(t.state in (*_DONE, TrialState.RUNNING) for t in earlier) >= self.spec.trials:
            return True
        if self._grid is None:
            return False
        mine = next(t for t in trials if t.number == trial.number)
        if not {"fixed_params", "failed_trial"} & mine.system_attrs.keys():  # neither queued nor a retry
            return True
        busy = (*_DONE, TrialState.RUNNING, TrialState.WAITING)
        return any(other.state in busy and point_key(_point(other)) == point_key(_point(mine)) for other in earlier)

    def _beat(self, trial: optuna.Trial) -> None:
        """Record ``trial``'s heartbeats (the time as a trial attribute: any storage carries it) until it is told."""
        storage, stop = self.study._storage, threading.Event()

        def beat() -> None:
            while not stop.is_set():
                try:
                    storage.set_trial_user_attr(trial._trial_id, HEARTBEAT, time.time())
                except optuna.exceptions.UpdateFinishedTrialError:
                    return  # another worker took this one for dead (its beats were late) and failed the trial
                stop.wait(self._heartbeat)

        self._beats[trial.number] = (stop, threading.Thread(target=beat, name=f"heartbeat-{trial.number}", daemon=True))
        self._beats[trial.number][1].start()

    def _stop_beating(self, number: int) -> None:
        """Stop ``number``'s heartbeats, waiting for a beat being written (one after the tell would fail in its thread)."""
        stop, thread = self._beats.pop(number, (None, None))
        if stop is not None:
            stop.set()
            thread.join()

    def _fail_abandoned(self) -> None:
        """Fail the trials of workers that died, and queue the same values again (a grid finds
        its missing points itself): at once when the worker ran on this machine and its process
        is gone, else once its heartbeat is older than twice the interval."""
        for trial in self.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if trial.number in self._beats:
                continue
            last = trial.user_attrs.get(HEARTBEAT) or trial.datetime_start.timestamp()
            if not worker_alive(trial.user_attrs.get("worker", "")) or time.time() - last > 2 * self._heartbeat:
                try:
                    self.study.tell(trial.number, state=TrialState.FAIL)
                except (optuna.exceptions.UpdateFinishedTrialError, ValueError):
                    continue  # another worker got there first, and queued the retry
                if self._grid is None:
                    self.study.enqueue_trial(dict(trial.params), skip_if_exists=False)


def _point(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """The grid point a trial is for: the values it was queued with, else those it has. (A trial
    another worker is still giving its values has only some of them: never compare those.)"""
    return trial.system_attrs.get("fixed_params") or trial.params
