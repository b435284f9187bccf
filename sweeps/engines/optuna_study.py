"""Opening an Optuna study for a sweep: its storage with heartbeats, its identity, its sampler,
pruner and distributions."""

from __future__ import annotations

import logging
import warnings
from typing import Any
from urllib.parse import urlsplit

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from sweeps.defaults import PROXY_READY_TIMEOUT
from sweeps.engines.base import check_identity
from sweeps.errors import StoreError, first_line
from sweeps.spec.search import Pruner
from sweeps.spec.sweep import SweepSpec
from sweeps.tracking.stores import create_sqlite_store, disk_full, mask, retrying, sqlite_path
from sweeps.tracking.templates import copied


def quiet() -> None:
    """Optuna's notices that would only alarm users: its experimental features (the gRPC proxy,
    metric names, matplotlib plots) are used deliberately."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    logging.getLogger("optuna").setLevel(logging.WARNING)


quiet()


def open_storage(url: str, timeout: float = PROXY_READY_TIMEOUT) -> optuna.storages.BaseStorage:
    """The Optuna storage at ``url``: a database URL, or ``grpc://HOST:PORT`` for Optuna's storage
    proxy (``sweeps server --optuna-proxy``), which answers within ``timeout`` seconds or fails."""
    if url.startswith("grpc://"):
        address = urlsplit(url)
        if not address.hostname or not address.port:
            raise ValueError("a gRPC storage is grpc://HOST:PORT")
        proxy = optuna.storages.GrpcStorageProxy(host=address.hostname, port=address.port)
        proxy.wait_server_ready(timeout=timeout)
        return proxy
    path = sqlite_path(url)
    if path is None:
        return optuna.storages.RDBStorage(url)
    if not path.exists():
        create_sqlite_store(path, new_store)
    storage = optuna.storages.RDBStorage(url)
    serialized(storage.engine)
    return storage


def new_store(url: str) -> None:
    """Optuna's tables in a new sqlite store at ``url`` (a copy of its template, ``sweeps.tracking.templates``)."""
    copied("optuna", optuna.__version__, lambda building: optuna.storages.RDBStorage(building).engine.dispose())(url)


def serialized(engine: Any) -> None:
    """Make every transaction on a sqlite ``engine`` take the database's write lock as it begins.

    Python's sqlite driver begins a transaction only at its first write, so the read of a
    read-then-write (Optuna's popping of a queued trial: is it still WAITING? then RUNNING) runs
    outside it, and two workers both read WAITING and both take the trial: a grid point trained
    twice, or a worker stopped by "Trial#N has already finished". ``BEGIN IMMEDIATE`` makes them
    take turns (the driver's busy timeout waits for the lock)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_implicit_begin(connection: Any, record: Any) -> None:
        connection.isolation_level = None  # (the driver emits no BEGIN of its own; "begin" below does)

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    engine.dispose()  # (connections opened before the listeners are let go)


def open_study(spec: SweepSpec, storage: str, study_name: str, identity: dict[str, str]) -> optuna.Study:
    """The study ``study_name`` in ``storage``, created or resumed.

    Raises:
        StoreError: the storage cannot be reached or opened (its password masked).
        ConfigError: the study was started with a different ``identity``.
    """
    try:
        backend = retrying(lambda: open_storage(storage))
        study = retrying(
            lambda: optuna.create_study(
                study_name=study_name,
                storage=backend,
                load_if_exists=True,
                directions=[objective.direction for objective in spec.objectives],
                sampler=optuna.samplers.RandomSampler(),
                pruner=_pruner(spec.pruner),
            )
        )
    except StoreError:
        raise
    except Exception as error:  # SQLAlchemy raises many kinds for a bad or unreachable URL
        problem = "the disk is full" if disk_full(error) else first_line(error, with_type=False)
        raise StoreError(f"--storage {mask(storage)}: cannot open the Optuna study: {mask(problem)}") from None
    _check_identity(study, identity, study_name)
    if study.metric_names is None:  # optuna-dashboard then names the objective instead of "Objective 0"
        study.set_metric_names([objective.metric for objective in spec.objectives])
    # A fixed seed would replay the same proposals on every resume; offsetting it by the
    # trials already made keeps runs reproducible without repeating them.
    study.sampler = _sampler(spec, len(study.trials))
    return study


def suggest(trial: optuna.Trial, name: str, values: BaseDistribution) -> Any:
    """``trial``'s value of ``name`` from ``values`` (or the value queued for it)."""
    if isinstance(values, CategoricalDistribution):
        return trial.suggest_categorical(name, values.choices)
    if isinstance(values, IntDistribution):
        return trial.suggest_int(name, values.low, values.high, step=values.step, log=values.log)
    return trial.suggest_float(name, values.low, values.high, step=values.step, log=values.log)


def distribution(param: Any) -> BaseDistribution:
    """A swept param as an Optuna distribution (a variants param samples its labels)."""
    if param.type in ("categorical", "variants"):
        return CategoricalDistribution(list(param.choices))
    if param.type == "int":
        return IntDistribution(int(param.low), int(param.high), step=int(param.step or 1), log=param.log)
    return FloatDistribution(param.low, param.high, step=param.step, log=param.log)


def _check_identity(study: optuna.Study, identity: dict[str, str], study_name: str) -> None:
    check_identity(study.user_attrs, identity, study_name)
    for key, value in identity.items():
        if key not in study.user_attrs:  # a new study, or a fact an older version did not record
            study.set_user_attr(key, value)


def _sampler(spec: SweepSpec, offset: int) -> optuna.samplers.BaseSampler:
    seed = None if spec.sampler.seed is None else spec.sampler.seed + offset
    if spec.sampler.type in ("grid", "random"):  # grid points are enqueued, so a grid's sampler is never consulted
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(pruner: Pruner) -> optuna.pruners.BasePruner:
    if pruner.type == "median":
        return optuna.pruners.MedianPruner(**pruner.options())
    if pruner.type == "hyperband":
        return optuna.pruners.HyperbandPruner(**pruner.options())
    if pruner.type == "wilcoxon":  # the steps it compares are fits: fold k (or seed k) of every trial is paired
        return optuna.pruners.WilcoxonPruner(**pruner.options())
    return optuna.pruners.NopPruner()


def fresh_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Every trial of ``study`` as the database has it now.

    Optuna's caches (in front of a database, and in the gRPC proxy's client) read only
    trials newer than the last finished one they saw, so a trial whose insert committed
    after a newer one finished is never seen: on PostgreSQL with many workers that made a
    grid point run twice. Whoever decides which point runs next reads past them.
    """
    storage, study_id = study._storage, study._study_id
    backend = getattr(storage, "_backend", None)
    if isinstance(backend, optuna.storages.RDBStorage):
        return backend.get_all_trials(study_id, deepcopy=False)
    cache = getattr(storage, "_cache", None)
    if cache is not None:  # the gRPC proxy's client: forget the study, read it whole
        cache.delete_study_cache(study_id)
    return storage.get_all_trials(study_id, deepcopy=False)
