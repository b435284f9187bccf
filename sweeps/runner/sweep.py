"""The trial loop: ask the engine, run the pipeline, record in MLflow, tell the engine.

Failure policy: a trial that raises, hits NaN or runs out of memory is FAIL and the sweep goes
on; ``max_consecutive_failures`` in a row stop the sweep (``SweepAborted``); a pipeline whose
code fails building the first model stops it at once (``PipelineError``); Ctrl-C or SIGTERM
fail the current trial, end its run as KILLED, and stop. Every run this invocation opened is
closed in ``finally``.
"""

from __future__ import annotations

import os
import socket
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sweeps.data.dataset import Dataset
from sweeps.data.sources import DataOptions
from sweeps.defaults import HEARTBEAT_SECONDS
from sweeps.engines import COMPLETE, FAIL, PRUNED, TrialRecord, best_record, open_engine
from sweeps.errors import SweepAborted
from sweeps.reporting import plots
from sweeps.reporting.tables import trials_table
from sweeps.runner.progress import Progress
from sweeps.runner.recovery import close_orphaned_runs, join_or_start_parent
from sweeps.runner.signals import shielded
from sweeps.runner.trial import SweepContext, run_tracked_trial
from sweeps.spec.sweep import SweepSpec
from sweeps.tracking import query
from sweeps.tracking.provenance import git_commit
from sweeps.tracking.stores import Stores, mask
from sweeps.tracking.tracker import FAILED, FINISHED, KILLED, Tracker
from sweeps.training.datasets import DatasetCache


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

    @property
    def best(self) -> TrialRecord | None:
        return best_record(self.records, self.spec.direction)

    def table(self, markdown: bool = False) -> str:
        return trials_table(self.records, list(self.spec.params), self.spec.metric, self.spec.test_metric, self.best, markdown)


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
    print(f"  data: {dataset.source.kind} {dataset.source.location} ({dataset.sizes()})", file=sys.stderr)
    for note in dataset.notes:
        print(f"  note: {note}", file=sys.stderr)
    options.stores.prepare()
    name = options.study or spec.study_name
    engine = open_engine(
        spec,
        options.stores,
        name,
        {"sweeps.fingerprint": spec.fingerprint(), "data.source": dataset.source.kind},
        options.heartbeat,
    )
    result = SweepResult(spec, name, engine.records(), 0, None, dataset, optuna_study=getattr(engine, "study", None))
    if engine.remaining() == 0:
        return result
    tracker = Tracker(options.stores.tracking_uri, spec.name, spec.description)
    tags = _run_tags(spec, name, dataset, options)
    closed = close_orphaned_runs(tracker, engine.records())
    if closed:
        print(f"  note: closed {closed} run(s) left RUNNING by a worker that died", file=sys.stderr)
    parent, joined = join_or_start_parent(
        tracker,
        engine,
        lambda: tracker.start_run(
            f"{name} {datetime.now():%Y-%m-%d %H:%M:%S}",
            {**tags, "sampler": spec.sampler["type"], "storage": mask(options.stores.storage)},
        ),
    )
    result.parent_run_id = parent
    progress = Progress(spec.name, engine.remaining(), spec.metric, _value(result.best), shown=not options.worker)
    _run_trials(SweepContext(spec, engine, tracker, datasets, parent, tags, progress), result, options, joined)
    return result


def _run_tags(spec: SweepSpec, study: str, dataset: Dataset, options: RunOptions) -> dict[str, Any]:
    """Tags on every run of this invocation: what, which data, which code, which worker."""
    return {
        "sweep": spec.name,
        "study": study,
        "engine": spec.engine,
        "data.source": dataset.source.kind,
        "data.fingerprint": dataset.source.fingerprint,
        "git.commit": git_commit(spec.path.parent.absolute()),
        "objective.metric": spec.metric,
        "objective.direction": spec.direction,
        "worker.host": socket.gethostname(),
        "worker.pid": os.getpid(),
        **options.tags,
    }


def _run_trials(ctx: SweepContext, result: SweepResult, options: RunOptions, joined: bool) -> None:
    """Run trials here or in ``--jobs`` workers; the last process out closes the parent run."""
    status = KILLED
    try:
        if not joined:
            _describe_parent(ctx, result.dataset)
        if options.launch_workers:
            before = {r.number for r in ctx.engine.records() if r.state != "RUNNING"}
            options.launch_workers(lambda: ctx.progress.show_study(ctx.engine.records(), ctx.spec.direction))
            result.ran = len({r.number for r in ctx.engine.records() if r.state != "RUNNING"} - before)
        else:
            _loop(ctx, result)
        status = FINISHED
    except Exception:  # a sweep that stopped itself (Ctrl-C leaves the parent KILLED)
        status = FAILED
        raise
    finally:
        ctx.progress.close()
        with shielded():
            result.records = ctx.engine.records()
            if not options.worker and ctx.engine.running() == 0:  # the last one out closes the shared parent
                _close_parent(ctx.tracker, ctx.parent_run_id, result, status)


def _describe_parent(ctx: SweepContext, dataset: Dataset) -> None:
    """What the parent run records once: the fixed values, the budget, the search-space file."""
    spec = ctx.spec
    fixed = {k: v for k, v in spec.hyperparameters({}).items() if k not in spec.params}
    ctx.tracker.log(ctx.parent_run_id, params={**fixed, "trials": spec.trials, "data.location": dataset.source.location})
    ctx.tracker.log_text(ctx.parent_run_id, spec.text, "search_space.yaml")


def _loop(ctx: SweepContext, result: SweepResult) -> None:
    spec, engine, progress = ctx.spec, ctx.engine, ctx.progress
    failures: list[str] = []
    checked: set[str] = set()
    while (proposal := engine.ask()) is not None:  # ask() also fails the trials of dead workers...
        close_orphaned_runs(ctx.tracker, engine.records(), checked)  # ...whose runs are ended here
        outcome = run_tracked_trial(ctx, proposal)
        result.ran += 1
        progress.trial_done(
            _value(best_record(engine.records(), spec.direction)),
            f"trial {proposal.number} {proposal.params}: {outcome.state} {spec.metric}={outcome.value}",
        )
        if outcome.state != FAIL:
            failures.clear()
            continue
        failures.append(f"trial {proposal.number}: {outcome.attrs['error']}")
        progress.note(f"trial {proposal.number} failed: {outcome.attrs['error']}")
        if len(failures) >= spec.max_consecutive_failures:
            raise SweepAborted(
                f"{len(failures)} consecutive trials failed, stopping "
                f"(max_consecutive_failures={spec.max_consecutive_failures}): {'; '.join(failures)}"
            )


def _close_parent(tracker: Tracker, parent: str, result: SweepResult, status: str) -> None:
    best = result.best
    counts = {state: sum(r.state == state for r in result.records) for state in (COMPLETE, PRUNED, FAIL)}
    try:
        metrics = {f"trials_{state.lower()}": count for state, count in counts.items()}
        # Epochs of every trial run under this parent (by any worker), against the epochs they
        # would have trained with no early stopping, pruning or Hyperband.
        mine = [r.attrs for r in result.records if r.attrs.get("mlflow_parent_run_id") == parent]
        trained, budget = sum(a.get("epochs_trained") or 0 for a in mine), sum(a.get("epochs_budget") or 0 for a in mine)
        metrics.update(epochs_trained_total=trained, epochs_budget_total=budget, epochs_saved=budget - trained)
        tags: dict[str, Any] = {}
        if best is not None:
            metrics[f"best_{result.spec.metric}"] = best.value
            tags = {"best.trial": best.number, **{f"best.{k}": v for k, v in best.params.items()}}
        tracker.log(parent, metrics=metrics, tags=tags)
        tracker.log_text(parent, result.table(markdown=True) + "\n", "trials.md")
        _log_comparison_plots(tracker, parent, result)
    finally:
        tracker.end_run(parent, status)


def _log_comparison_plots(tracker: Tracker, parent: str, result: SweepResult) -> None:
    """The study's comparison plots on the parent run; a plot that cannot be drawn is skipped
    with a warning, never a reason to lose the sweep's record."""
    try:
        uri = tracker.tracking_uri
        trials = query.runs(result.spec.name, uri, study=result.study)
        curves = query.curves(result.spec.name, uri, study=result.study)
        with tempfile.TemporaryDirectory(prefix="sweeps-plots-") as directory:
            for path in plots.write_sweep_plots(
                trials, curves, list(result.spec.params), result.spec.metric, Path(directory), result.optuna_study
            ):
                tracker.log_file(parent, path, "plots")
    except Exception as error:
        print(f"  warning: comparison plots skipped: {type(error).__name__}: {error}", file=sys.stderr)


def _value(record: TrialRecord | None) -> float | None:
    return None if record is None else record.value
