"""The trial loop: ask the engine, run the pipeline, record in MLflow, tell the engine.

Failure policy: a trial that raises, hits NaN or runs out of memory is FAIL and the sweep goes
on; ``max_consecutive_failures`` in a row stop the sweep (``SweepAborted``); a pipeline whose
code fails building the first model stops it at once (``PipelineError``); Ctrl-C or SIGTERM
fail the current trial, end its run as KILLED, and stop. Every run this invocation opened is
closed in ``finally``.
"""

from __future__ import annotations

import os
import shlex
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sweeps.data.dataset import Dataset
from sweeps.data.sources import DataOptions
from sweeps.defaults import HEARTBEAT_SECONDS, KEEP_MODELS
from sweeps.engines import open_engine
from sweeps.engines.base import TrialRecord, TrialState, best_record
from sweeps.errors import ConfigError
from sweeps.logs import say
from sweeps.reporting import pareto
from sweeps.reporting.report import Report
from sweeps.reporting.tables import trials_table
from sweeps.runner.cluster_worker import cluster_tags
from sweeps.runner.context import SweepContext
from sweeps.runner.loop import work
from sweeps.runner.parent import ModelKeeper, ParentRun
from sweeps.runner.progress import Progress
from sweeps.runner.recovery import answer_of_finished_study, close_dead_parent, close_orphaned_runs, join_or_start_parent
from sweeps.runner.signals import shielded
from sweeps.spec.sweep import SweepSpec
from sweeps.tracking.records import ROLE, STUDY, runs_view, source_tags, study_run_name
from sweeps.tracking.stores import Stores, local_artifacts_warning, mask
from sweeps.tracking.tracker import FAILED, FINISHED, KILLED, Tracker
from sweeps.training.datasets import DatasetCache
from sweeps.training.devices import running_backend
from sweeps.training.fused import why_not_fused


@dataclass(frozen=True)
class RunOptions:
    """How and where to run a sweep (everything the command line adds to the spec)."""

    stores: Stores
    data: DataOptions = field(default_factory=DataOptions)
    study: str | None = None  # default: the sweep's name, plus any overrides
    heartbeat: int = HEARTBEAT_SECONDS
    launch_workers: Callable[[Callable[[], None]], None] | None = None  # --jobs: run trials elsewhere
    worker: bool = False  # a --jobs worker: joins the parent run, leaves closing it to the launcher
    tags: dict[str, str] = field(default_factory=dict)  # on every run (nightly: the date)
    keep_models: str = KEEP_MODELS  # which trials keep their Keras model in MLflow: the best, or all
    artifact_location: str | None = None  # where a new experiment's artifacts go (default: the store decides)


@dataclass
class SweepResult:
    """What an invocation did, for the closing table."""

    spec: SweepSpec
    study: str
    records: list[TrialRecord]
    ran: int
    parent_run_id: str | None
    dataset: Dataset
    optuna_study: Any = None  # for Optuna's own plots, when the engine is Optuna
    comparison: Report | None = None  # the parent run's comparison by swept parameter, with its significance

    @property
    def best(self) -> TrialRecord | None:
        return best_record(self.records, self.spec.objective)

    def table(self, markdown: bool = False) -> str:
        return trials_table(
            self.records, list(self.spec.params), self.spec.objective.metric, self.spec.test_metric, self.best, markdown
        )


def run_sweep(spec: SweepSpec, options: RunOptions) -> SweepResult:
    """Run the study until its budget or grid is spent, tracking every trial.

    Raises:
        DataError: the data file is unreadable (before anything is written).
        ConfigError: the stored study was started from a different setup.
        PipelineError: the pipeline's code failed building the first model.
        StoreError: a store cannot be reached.
        SweepAborted: too many consecutive trial failures.
        KeyboardInterrupt: the user stopped it; runs are closed first.
    """
    datasets = DatasetCache(spec.pipeline, options.data)
    dataset = datasets.get(spec.hyperparameters({}))
    _describe(spec, dataset)
    options.stores.prepare()
    name = options.study or spec.study_name
    engine = open_engine(
        spec,
        options.stores,
        name,
        {
            "sweeps.fingerprint": spec.fingerprint(),
            "data.source": dataset.source.kind,
            "data.fingerprint": dataset.source.fingerprint,
            "data.location": dataset.source.describe(),
        },
        options.heartbeat,
    )
    result = SweepResult(spec, name, engine.records(), 0, None, dataset, optuna_study=engine.optuna_study)
    view = runs_view(list(spec.params), spec.objective, spec.test_metric)
    tracker = Tracker(options.stores.tracking_uri, spec.name, spec.description, view, options.artifact_location)
    closed = close_orphaned_runs(tracker, engine.records())
    if close_dead_parent(tracker, engine):
        closed += 1
    if closed:
        say(f"  note: closed {closed} run(s) left RUNNING by a process that died")
    if engine.remaining() == 0:  # nothing to run: the answer again (and a parent a crash left half-written, whole)
        result.comparison = answer_of_finished_study(tracker, engine, spec, name, result.records, result.table(markdown=True))
        return result
    warning = local_artifacts_warning(tracker.tracking_uri, tracker.artifact_location())
    if warning and not options.worker:
        say(f"  {warning}")
    tags = _run_tags(spec, name, dataset, options)
    parent_run, joined = join_or_start_parent(
        tracker,
        engine,
        lambda: tracker.start_run(
            study_run_name(name, datetime.now()),
            {**tags, ROLE: STUDY, "sampler": spec.sampler.type, "storage": mask(options.stores.storage)},
        ),
    )
    result.parent_run_id = parent_run
    progress = Progress(
        spec.name, engine.remaining(), spec.objective.metric, _value(result.best), bar=False if options.worker else None
    )
    models = ModelKeeper(tracker, spec.objective, options.keep_models)
    ctx = SweepContext(spec, engine, tracker, datasets, ParentRun(tracker, parent_run, spec), tags, progress, models)
    _run_trials(ctx, result, options, joined)
    return result


def _describe(spec: SweepSpec, dataset: Dataset) -> None:
    """Say which data and how it trains; a data set too small for the folds is said now, not as
    a failed trial once the stores are written.

    Raises:
        ConfigError: fewer rows than folds.
    """
    say(f"  data: {dataset.source.describe()} ({dataset.sizes()})")
    for note in dataset.notes:
        say(f"  note: {note}")
    unfused = why_not_fused(spec.pipeline) if spec.fuses and (spec.folds or spec.repeats > 1) else None
    if unfused:
        say(f"  note: {unfused}, so each trial's {'folds' if spec.folds else 'replicates'} train one after another")
    rows = len(dataset.y_train) + len(dataset.y_val)
    if spec.folds and spec.folds > rows:
        raise ConfigError(f"{spec.path}: folds: {spec.folds} folds need at least {spec.folds} rows; the data has {rows}")


def _run_tags(spec: SweepSpec, study: str, dataset: Dataset, options: RunOptions) -> dict[str, Any]:
    """Tags on every run of this invocation: what, which data, which code, which worker."""
    return {
        "sweep": spec.name,
        "study": study,
        "engine": spec.engine,
        "backend": running_backend(),
        "data.source": dataset.source.kind,
        "data.fingerprint": dataset.source.fingerprint,
        **source_tags(spec.path),
        "objective.metric": spec.objective.metric,
        "objective.direction": spec.objective.direction,
        **pareto.tag(spec.objectives),
        "worker.host": socket.gethostname(),
        "worker.pid": os.getpid(),
        "worker.command": mask(shlex.join(["sweeps", *sys.argv[1:]])),
        **cluster_tags(),  # worker.cluster, worker.name: the Dask scheduler and worker it runs under
        **options.tags,
    }


def _run_trials(ctx: SweepContext, result: SweepResult, options: RunOptions, joined: bool) -> None:
    """Run trials here or in ``--jobs`` workers; the last process out closes the parent run."""
    status = KILLED
    try:
        if not joined:
            fixed = {k: v for k, v in ctx.spec.hyperparameters({}).items() if k not in ctx.spec.params}
            ctx.parent.describe(fixed, result.dataset)
        if options.launch_workers:
            before = {r.number for r in ctx.engine.records() if r.state != TrialState.RUNNING}
            options.launch_workers(lambda: ctx.progress.show_study(ctx.engine.records(), ctx.spec.objective))
            result.ran = len({r.number for r in ctx.engine.records() if r.state != TrialState.RUNNING} - before)
        else:
            result.ran += work(ctx)
        status = FINISHED
    except Exception:  # a sweep that stopped itself (Ctrl-C leaves the parent KILLED)
        status = FAILED
        raise
    finally:
        ctx.progress.close()
        with shielded():
            result.records = ctx.engine.records()
            if status != KILLED:
                ctx.models.keep(result.records)
            if not options.worker and ctx.engine.running() == 0:  # the last one out closes the shared parent
                result.comparison = ctx.parent.close(
                    result.study, result.records, result.table(markdown=True), status, ctx.engine.optuna_study
                )


def _value(record: TrialRecord | None) -> float | None:
    return None if record is None else record.value
