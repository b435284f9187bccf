"""A fused set's pruning, decided as if its trials had trained one after another.

Trials trained together finish together, so none of them could be judged against another: a
sweep fused twelve at a time pruned other trials, and reached other verdicts, than the same
sweep trained one trial at a time. Instead, once the set has trained, each trial in number
order is judged epoch by epoch as Optuna's pruner would have judged it then: against the
trials finished before the set and the trials of the set before it that were not pruned.

Only pruners whose judgement is a function of those trials' intermediate values can be asked
so (Optuna's median and percentile pruners); Hyperband's keeps rungs in the store as it goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import optuna
from optuna.trial import TrialState

from sweeps.engines.base import Curve


def judged_in_order(study: optuna.Study) -> bool:
    """Whether ``study``'s pruner can judge a fused set's trials in order once they have trained."""
    return isinstance(study.pruner, optuna.pruners.PercentilePruner) and len(study.directions) == 1


def pruned_at(study: optuna.Study, trial: optuna.Trial, values: Curve, before: Sequence[Curve]) -> int | None:
    """The first step at which the pruner prunes ``trial``, whose objective was ``values`` (by
    step), had it trained after the trials finished in the store and the trials of its set
    whose values are ``before`` (``None``: never). Each value up to there is reported to the
    trial, as it would have been epoch by epoch."""
    finished = [
        *study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)),
        *(_finished(earlier, study.direction) for earlier in before if earlier),
    ]
    as_if = _AsIf(study, finished)
    for step in sorted(values):
        trial.report(values[step], step)
        seen = {s: value for s, value in values.items() if s <= step}
        if study.pruner.prune(as_if, optuna.trial.create_trial(state=TrialState.RUNNING, intermediate_values=seen)):
            return step
    return None


def _finished(values: Curve, direction: optuna.study.StudyDirection) -> optuna.trial.FrozenTrial:
    best = max if direction == optuna.study.StudyDirection.MAXIMIZE else min
    return optuna.trial.create_trial(state=TrialState.COMPLETE, value=best(values.values()), intermediate_values=dict(values))


class _AsIf:
    """``study`` whose COMPLETE trials are ``finished`` (what its pruner reads of it)."""

    def __init__(self, study: optuna.Study, finished: list[optuna.trial.FrozenTrial]) -> None:
        self._study, self._finished = study, finished

    def get_trials(self, deepcopy: bool = True, states: Sequence[TrialState] | None = None) -> list[optuna.trial.FrozenTrial]:
        if states is not None and tuple(states) != (TrialState.COMPLETE,):
            raise ValueError("a pruner judged in order reads only the COMPLETE trials")
        return list(self._finished)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)
