"""Which swept parameter matters most: how much of the objective's variation each explains.

Computed from the trials as MLflow recorded them, so a study of any engine (Optuna's or
keras-tuner's) gets the same answer: they are put into an in-memory Optuna study and read by
Optuna's fANOVA evaluator (a random forest fitted to the trials, its variance split between the
parameters; seeded, so a report says the same thing twice). fANOVA says how much of the
variation a parameter explains, which is the question a searched study is run for.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import pandas as pd

# Below this many COMPLETE trials per parameter, the forest has too few points to split well
# and the ranking moves from one seed to the next: said, not hidden.
TRIALS_PER_PARAM = 10


@dataclass(frozen=True)
class Importance:
    """Each parameter's share of the objective's variation, largest first, and how many trials
    it was computed from."""

    metric: str
    shares: dict[str, float]
    trials: int

    @property
    def reliable(self) -> bool:
        return self.trials >= TRIALS_PER_PARAM * len(self.shares)

    def sentences(self) -> list[str]:
        """The ranking in words: the parameter that matters most, then the others."""
        (top, share), *others = self.shares.items()
        amount = "most" if share >= 0.5 else "the largest share"
        then = f"; then {', '.join(f'{name} ({part:.0%})' for name, part in others)}" if others else ""
        said = [f"{top} explains {amount} of {self.metric}'s variation ({share:.0%}){then}"]
        if not self.reliable:
            said.append(
                f"the ranking is rough: {self.trials} COMPLETE trials for {len(self.shares)} parameters; "
                f"about {TRIALS_PER_PARAM * len(self.shares)} would make it dependable"
            )
        return said

    def render(self) -> str:
        """The report's first section: the ranking, then its sentences."""
        ranking = ", ".join(f"{name} {share:.2f}" for name, share in self.shares.items())
        lines = [f"importance (fANOVA, {self.trials} trials): {ranking}", *self.sentences()]
        return "\n".join(lines)


def importance(trials: pd.DataFrame, params: Sequence[str], metric: str, log: Collection[str] = ()) -> Importance | None:
    """The importance of ``params`` for the COMPLETE ``trials`` (``query.runs``), ``log`` those
    searched on a log scale; ``None`` unless at least two of them vary over three trials or more."""
    complete = trials[(trials["state"] == "COMPLETE") & trials["value"].map(_finite)]
    columns = [f"params.{p}" for p in params if f"params.{p}" in complete]
    complete = complete.dropna(subset=columns)  # a trial without one of them (several studies' runs) says nothing of it
    varied = [p for p in params if f"params.{p}" in complete and complete[f"params.{p}"].nunique() > 1]
    if len(varied) < 2 or len(complete) < 3 or complete["value"].nunique() < 2:  # nothing varies to explain
        return None
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # not "a new study created in memory"
    distributions = {p: _distribution(complete[f"params.{p}"], p in log) for p in varied}
    study = optuna.create_study(storage=optuna.storages.InMemoryStorage(), direction=str(trials["direction"].iloc[0]))
    study.add_trials(
        [
            optuna.trial.create_trial(
                params={p: _value(row[f"params.{p}"], distributions[p]) for p in varied},
                distributions=distributions,
                value=float(row["value"]),
            )
            for _, row in complete.iterrows()
        ]
    )
    with warnings.catch_warnings():  # fANOVA warns of few trials; the report says so itself
        warnings.simplefilter("ignore")
        shares = optuna.importance.get_param_importances(study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    return Importance(metric, dict(shares), len(complete))


def _distribution(values: pd.Series, log: bool):
    import optuna

    if pd.api.types.is_numeric_dtype(values):
        low, high = float(values.min()), float(values.max())
        return optuna.distributions.FloatDistribution(low, high, log=log and low > 0)
    return optuna.distributions.CategoricalDistribution(sorted({str(v) for v in values}))


def _value(value: object, distribution) -> object:
    import optuna

    return str(value) if isinstance(distribution, optuna.distributions.CategoricalDistribution) else float(value)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
