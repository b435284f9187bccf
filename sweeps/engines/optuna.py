"""The Optuna engine: a persistent study per sweep, grid / random / TPE sampling, pruning.

Grid points are chosen here and enqueued, rather than left to ``GridSampler``, because
Optuna counts a FAILed grid point as visited: after a crash or a failed trial we want exactly
the points without a COMPLETE or PRUNED trial to run again on resume.
"""

from __future__ import annotations

import logging
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from sweeps.engines import COMPLETE, FAIL, PRUNED, Engine, Outcome, Proposal, TrialRecord
from sweeps.errors import ConfigError, StoreError
from sweeps.spec import SweepSpec, point_key
from sweeps.stores import mask

optuna.logging.set_verbosity(optuna.logging.WARNING)
logging.getLogger("optuna").setLevel(logging.WARNING)

_STATES = {COMPLETE: TrialState.COMPLETE, PRUNED: TrialState.PRUNED, FAIL: TrialState.FAIL}
_DONE = (TrialState.COMPLETE, TrialState.PRUNED)


class OptunaEngine(Engine):
    """Runs one Optuna study named ``study_name`` in ``storage`` (created or resumed).

    Args:
        spec: the validated sweep.
        storage: an Optuna storage URL (sqlite, PostgreSQL, ...).
        study_name: the study's name in that storage.
        identity: facts the study must keep (search-space fingerprint, data source);
            resuming a study created with different ones is a ``ConfigError``.
    """

    name = "optuna"

    def __init__(self, spec: SweepSpec, storage: str, study_name: str, identity: dict[str, str]) -> None:
        self.spec = spec
        self._distributions = {name: _distribution(param) for name, param in spec.params.items()}
        self._grid = spec.grid_points() if spec.sampler["type"] == "grid" else None
        self._failed_here: set[str] = set()  # grid points that failed in this invocation: retried only on resume
        try:
            self.study = optuna.create_study(
                study_name=study_name, storage=storage, load_if_exists=True, direction=spec.direction,
                sampler=optuna.samplers.RandomSampler(), pruner=_pruner(spec.pruner),
            )
        except Exception as error:  # SQLAlchemy raises many kinds for a bad or unreachable URL
            raise StoreError(f"--storage {mask(storage)}: cannot open the Optuna study: {_first_line(error)}") from None
        _check_identity(self.study, identity, study_name)
        # A fixed seed would replay the same proposals on every resume; offsetting it by the
        # trials already made keeps runs reproducible without repeating them.
        self.study.sampler = _sampler(spec, len(self.study.trials))

    def ask(self) -> Proposal | None:
        if self.remaining() == 0:
            return None
        if self._grid is not None:
            taken = self._taken(self.study.get_trials(deepcopy=False))
            point = next(p for p in self._grid if point_key(p) not in taken)
            self.study.enqueue_trial(point, skip_if_exists=False)
        trial = self.study.ask(self._distributions)
        return Proposal(number=trial.number, params=dict(trial.params), handle=trial)

    def should_prune(self, proposal: Proposal, epoch: int, value: float) -> bool:
        proposal.handle.report(value, epoch)
        return proposal.handle.should_prune()

    def tell(self, proposal: Proposal, outcome: Outcome) -> None:
        for key, value in outcome.attrs.items():
            proposal.handle.set_user_attr(key, value)
        if outcome.state == COMPLETE:
            self.study.tell(proposal.handle, outcome.value)
        else:
            self.study.tell(proposal.handle, state=_STATES[outcome.state])
        if outcome.state == FAIL:
            self._failed_here.add(point_key(proposal.params))

    def records(self) -> list[TrialRecord]:
        return [
            TrialRecord(t.number, t.state.name, dict(t.params), t.value, dict(t.user_attrs))
            for t in self.study.get_trials(deepcopy=False)
        ]

    def remaining(self) -> int:
        trials = self.study.get_trials(deepcopy=False)
        busy = sum(t.state in (*_DONE, TrialState.RUNNING) for t in trials)
        if self._grid is None:
            return max(0, self.spec.trials - busy)
        taken = self._taken(trials)
        finished = sum(t.state in _DONE for t in trials)
        missing = sum(point_key(p) not in taken for p in self._grid)
        return max(0, min(missing, self.spec.trials - finished))

    def _taken(self, trials: list[optuna.trial.FrozenTrial]) -> set[str]:
        """Grid points not to propose now: done, running elsewhere, or failed in this invocation."""
        return {point_key(t.params) for t in trials if t.state in (*_DONE, TrialState.RUNNING)} | self._failed_here


def _check_identity(study: optuna.Study, identity: dict[str, str], study_name: str) -> None:
    stored = study.user_attrs
    if not stored:
        for key, value in identity.items():
            study.set_user_attr(key, value)
        return
    changed = [key for key, value in identity.items() if stored.get(key) not in (None, value)]
    if changed:
        details = ", ".join(f"{key} {stored[key]} -> {identity[key]}" for key in changed)
        raise ConfigError(
            f"study '{study_name}' was started with a different setup ({details}); "
            f"continue it unchanged, or start a new study with --study NAME"
        )


def _distribution(param: Any) -> BaseDistribution:
    if param.type in ("categorical", "variants"):  # a variants param samples its labels
        return CategoricalDistribution(list(param.choices))
    if param.type == "int":
        return IntDistribution(int(param.low), int(param.high), step=int(param.step or 1), log=param.log)
    return FloatDistribution(param.low, param.high, step=param.step, log=param.log)


def _sampler(spec: SweepSpec, offset: int) -> optuna.samplers.BaseSampler:
    seed = None if spec.sampler["seed"] is None else spec.sampler["seed"] + offset
    kind = spec.sampler["type"]
    if kind in ("grid", "random"):  # grid points are enqueued, so a grid's sampler is never consulted
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(pruner: dict[str, Any]) -> optuna.pruners.BasePruner:
    options = {key: value for key, value in pruner.items() if key != "type"}
    if pruner["type"] == "median":
        return optuna.pruners.MedianPruner(**options)
    if pruner["type"] == "hyperband":
        return optuna.pruners.HyperbandPruner(**options)
    return optuna.pruners.NopPruner()


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
