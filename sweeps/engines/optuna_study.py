"""Opening an Optuna study for a sweep: its storage with heartbeats, its identity, its sampler,
pruner and distributions."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from sweeps.errors import ConfigError, StoreError, first_line
from sweeps.spec.sweep import SweepSpec
from sweeps.tracking.stores import mask, retrying

optuna.logging.set_verbosity(optuna.logging.WARNING)
# Heartbeats and the stale-trial retry are used deliberately with ask/tell (Optuna's own loop
# would start the heartbeat thread; the engine does): their notices would only alarm users.
warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
logging.getLogger("optuna").setLevel(logging.WARNING)


def open_study(spec: SweepSpec, storage: str, study_name: str, identity: dict[str, str], heartbeat: int) -> optuna.Study:
    """The study ``study_name`` in ``storage``, created or resumed.

    Raises:
        StoreError: the storage cannot be reached or opened (its password masked).
        ConfigError: the study was started with a different ``identity``.
    """
    try:
        # Heartbeats let any worker fail (and retry) the trials of a worker that died.
        rdb = retrying(
            lambda: optuna.storages.RDBStorage(
                storage,
                heartbeat_interval=heartbeat,
                grace_period=2 * heartbeat,
                heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=3),
            )
        )
        study = retrying(
            lambda: optuna.create_study(
                study_name=study_name,
                storage=rdb,
                load_if_exists=True,
                direction=spec.direction,
                sampler=optuna.samplers.RandomSampler(),
                pruner=_pruner(spec.pruner),
            )
        )
    except Exception as error:  # SQLAlchemy raises many kinds for a bad or unreachable URL
        raise StoreError(
            f"--storage {mask(storage)}: cannot open the Optuna study: {mask(first_line(error, with_type=False))}"
        ) from None
    _check_identity(study, identity, study_name)
    if study.metric_names is None:  # optuna-dashboard then names the objective instead of "Objective 0"
        study.set_metric_names([spec.metric])
    # A fixed seed would replay the same proposals on every resume; offsetting it by the
    # trials already made keeps runs reproducible without repeating them.
    study.sampler = _sampler(spec, len(study.trials))
    return study


def distribution(param: Any) -> BaseDistribution:
    """A swept param as an Optuna distribution (a variants param samples its labels)."""
    if param.type in ("categorical", "variants"):
        return CategoricalDistribution(list(param.choices))
    if param.type == "int":
        return IntDistribution(int(param.low), int(param.high), step=int(param.step or 1), log=param.log)
    return FloatDistribution(param.low, param.high, step=param.step, log=param.log)


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
