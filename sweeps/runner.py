"""The trial loop: ask the engine, run the pipeline, record in MLflow, tell the engine.

Failure policy (STYLE.md §6): a trial that raises, hits NaN or runs out of memory is FAIL and
the sweep goes on; ``max_consecutive_failures`` in a row stop the sweep (``SweepAborted``);
Ctrl-C or SIGTERM fail the current trial, end its run as KILLED, and stop. Every run this
invocation opened is closed in ``finally``.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import Any

import keras

import pipelines
from pipelines._data import DataOptions, Dataset
from sweeps import kfold, plots, replicates, trial
from sweeps.console import Progress, best_record, trials_table
from sweeps.engines import COMPLETE, FAIL, PRUNED, Engine, Outcome, Proposal, TrialRecord, open_engine
from sweeps.errors import SweepAborted, TrialFailed
from sweeps.spec import SweepSpec
from sweeps.stores import Stores, mask
from sweeps.tracking import FAILED, FINISHED, KILLED, EpochLogger, Tracker, git_commit, model_summary

_RUN_STATUS = {COMPLETE: FINISHED, PRUNED: FINISHED, FAIL: FAILED}  # Optuna state -> MLflow run status


@dataclass(frozen=True)
class RunOptions:
    """How and where to run a sweep (everything the command line adds to the spec)."""

    stores: Stores
    data: DataOptions = field(default_factory=DataOptions)
    study: str | None = None  # default: the sweep's name, plus any overrides


@dataclass
class SweepResult:
    """What an invocation did, for the closing table."""

    spec: SweepSpec
    study: str
    records: list[TrialRecord]
    ran: int
    parent_run_id: str | None
    dataset: Dataset
    epochs_trained: int = 0  # by the trials this invocation ran (folds included)
    epochs_budget: int = 0   # what they would have trained without early stopping or pruning

    @property
    def best(self) -> TrialRecord | None:
        return best_record(self.records, self.spec.direction)

    def table(self, markdown: bool = False) -> str:
        return trials_table(self.records, list(self.spec.params), self.spec.metric, test_metric(self.spec), self.best, markdown)


def study_name(spec: SweepSpec) -> str:
    """The sweep's name, with command-line overrides appended so a quick ``--epochs 1``
    run never mixes into the real study: ``imdb_depth[epochs=1]``."""
    if not spec.overrides:
        return spec.name
    return f"{spec.name}[{','.join(f'{k}={v}' for k, v in sorted(spec.overrides.items()))}]"


def test_metric(spec: SweepSpec) -> str:
    """The test-set counterpart of the objective (``val_accuracy`` -> ``test_accuracy``)."""
    return "test_" + spec.metric.removeprefix("val_")


def run_sweep(spec: SweepSpec, options: RunOptions) -> SweepResult:
    """Run the study until its budget or grid is spent, tracking every trial.

    Raises:
        DataError: the data file is unreadable (before anything is written).
        ConfigError: the stored study was started from a different setup.
        StoreError: a store cannot be reached.
        SweepAborted: too many consecutive trial failures.
        KeyboardInterrupt: the user stopped it; runs are closed first.
    """
    pipeline = pipelines.load(spec.pipeline)
    datasets = _Datasets(pipeline, options.data)
    dataset = datasets.get(spec.hyperparameters({}))
    sizes = ", ".join(f"{v} {k.replace('_samples', '')}" for k, v in dataset.info.items() if k.endswith("_samples"))
    print(f"  data: {dataset.source.kind} {dataset.source.location} ({sizes})", file=sys.stderr)
    for note in dataset.notes:
        print(f"  note: {note}", file=sys.stderr)
    options.stores.prepare()
    name = options.study or study_name(spec)
    engine = open_engine(spec, options.stores, name, {
        "sweeps.fingerprint": spec.fingerprint(), "data.source": dataset.source.kind})
    result = SweepResult(spec, name, engine.records(), 0, None, dataset)
    if engine.remaining() == 0:
        return result
    tracker = Tracker(options.stores.tracking_uri, spec.name, spec.description)
    common = {"sweep": spec.name, "study": name, "engine": spec.engine, "data.source": dataset.source.kind,
              "data.fingerprint": dataset.source.fingerprint, "git.commit": git_commit(spec.path.parent.absolute()),
              "objective.metric": spec.metric, "objective.direction": spec.direction,
              "worker.host": socket.gethostname(), "worker.pid": os.getpid()}
    parent = tracker.start_run(f"{name} {_now()}", {**common, "sampler": spec.sampler["type"],
                                                   "storage": mask(options.stores.storage)})
    result.parent_run_id = parent
    status = KILLED
    progress = Progress(spec.name, engine.remaining(), spec.metric, _value(result.best))
    try:
        fixed = {k: v for k, v in spec.hyperparameters({}).items() if k not in spec.params}
        tracker.log(parent, params={**fixed, "trials": spec.trials, "data.location": dataset.source.location})
        tracker.log_text(parent, spec.text, "search_space.yaml")
        _loop(spec, engine, tracker, pipeline, datasets, parent, common, progress, result)
        status = FINISHED
    except SweepAborted:
        status = FAILED
        raise
    finally:
        progress.close()
        with _shielded():
            result.records = engine.records()
            _close_parent(tracker, parent, result, status)
    return result


def _loop(spec: SweepSpec, engine: Engine, tracker: Tracker, pipeline: ModuleType, datasets: _Datasets,
          parent: str, common: dict[str, Any], progress: Progress, result: SweepResult) -> None:
    failures: list[str] = []
    while (proposal := engine.ask()) is not None:
        outcome = _run_trial(spec, engine, tracker, pipeline, datasets, parent, common, progress, proposal)
        result.ran += 1
        result.epochs_trained += outcome.attrs.get("epochs_trained", 0)
        result.epochs_budget += outcome.attrs.get("epochs_budget", 0)
        progress.trial_done(_value(best_record(engine.records(), spec.direction)))
        if outcome.state != FAIL:
            failures.clear()
            continue
        failures.append(f"trial {proposal.number}: {outcome.attrs['error']}")
        progress.note(f"trial {proposal.number} failed: {outcome.attrs['error']}")
        if len(failures) >= spec.max_consecutive_failures:
            raise SweepAborted(f"{len(failures)} consecutive trials failed, stopping "
                               f"(max_consecutive_failures={spec.max_consecutive_failures}): {'; '.join(failures)}")


def _run_trial(spec: SweepSpec, engine: Engine, tracker: Tracker, pipeline: ModuleType, datasets: _Datasets,
               parent: str, common: dict[str, Any], progress: Progress, proposal: Proposal) -> Outcome:
    hp = {**spec.hyperparameters(proposal.params), **proposal.overrides}
    run_id = tracker.start_run(f"trial-{proposal.number}", {**common, "trial": proposal.number, **proposal.tags}, parent)
    outcome = Outcome(FAIL, attrs={"mlflow_run_id": run_id, "error": "interrupted"})
    interrupted = True  # stays True only if a KeyboardInterrupt (Ctrl-C, SIGTERM) escapes
    try:
        tracker.log(run_id, params={**hp, **proposal.params})  # variants labels too, for grouping
        dataset = datasets.get(hp)
        pruning = _Pruning(engine, proposal, spec.metric)
        if spec.folds or spec.repeats > 1:
            fitted = _nested(spec, tracker, pipeline, dataset, hp, run_id, {**common, "trial": proposal.number}, progress)
        else:
            callbacks = [EpochLogger(tracker, run_id), pruning, progress.epoch_callback(f"trial {proposal.number}", hp["epochs"])]
            fitted = trial.run(pipeline, dataset, hp, spec.metric, spec.direction, callbacks,
                               trial.Continuation(proposal.initial_epoch, proposal.warm_start, proposal.checkpoint))
        outcome = Outcome(PRUNED if pruning.pruned else COMPLETE, fitted.value, {
            "mlflow_run_id": run_id, **fitted.test, **fitted.metrics, "best_epoch": fitted.best_epoch,
            "epochs_trained": fitted.epochs_trained, "epochs_budget": _epoch_budget(spec, hp, proposal)})
        _log_fitted(tracker, run_id, spec, proposal, fitted)
        interrupted = False
    except Exception as error:
        interrupted = False
        outcome = Outcome(FAIL, attrs={"mlflow_run_id": run_id, "error": _one_line(error)})
        tracker.log_text(run_id, "".join(traceback.format_exception(error)), "traceback.txt")
    finally:
        with _shielded():
            error_tag = {"error": outcome.attrs["error"]} if outcome.state == FAIL else {}
            tracker.log(run_id, tags={"state": outcome.state, **error_tag})
            engine.tell(proposal, outcome)
            tracker.end_run(run_id, KILLED if interrupted else _RUN_STATUS[outcome.state])
    return outcome


def _nested(spec: SweepSpec, tracker: Tracker, pipeline: ModuleType, dataset: Dataset, hp: dict[str, Any],
            run_id: str, tags: dict[str, Any], progress: Progress) -> trial.TrialResult:
    """A trial made of several fits - K folds or N replicates - each a run nested under the
    trial's run with its own per-epoch metrics; the trial's run gets the averaged curves.
    A fit interrupted or failed ends its nested run as such."""
    kind, count = ("fold", spec.folds) if spec.folds else ("repeat", spec.repeats)
    nested_runs: list[str] = []

    def callbacks_for(k: int) -> list[keras.callbacks.Callback]:
        extra = {"seed": hp["seed"] + k} if kind == "repeat" else {}
        nested_runs.append(tracker.start_run(f"trial-{tags['trial']}-{kind}-{k}", {**tags, kind: k, **extra}, run_id))
        label = f"trial {tags['trial']} {kind} {k + 1}/{count}"
        return [EpochLogger(tracker, nested_runs[-1]), progress.epoch_callback(label, hp["epochs"])]

    def done(k: int, result: trial.TrialResult) -> None:
        tracker.log(nested_runs[k], metrics={f"best_{spec.metric}": result.value, "best_epoch": result.best_epoch, **result.test},
                    tags={"state": COMPLETE}, step=result.epochs_trained)
        tracker.end_run(nested_runs[k], FINISHED)

    try:
        if spec.folds:
            fitted = kfold.run(pipeline, dataset, hp, spec.metric, spec.direction, spec.folds, callbacks_for, done)
        else:
            fitted = replicates.run(pipeline, dataset, hp, spec.metric, spec.direction, spec.repeats, callbacks_for, done)
    except BaseException as error:
        if nested_runs:  # the fit that was running when it broke
            with _shielded():
                tracker.log(nested_runs[-1], tags={"state": FAIL})
                tracker.end_run(nested_runs[-1], KILLED if isinstance(error, KeyboardInterrupt) else FAILED)
        raise
    tracker.log_history(run_id, fitted.history)
    return fitted


def _log_fitted(tracker: Tracker, run_id: str, spec: SweepSpec, proposal: Proposal, fitted: trial.TrialResult) -> None:
    tracker.log(run_id, metrics={**fitted.test, **fitted.metrics, f"best_{spec.metric}": fitted.value,
                                 "best_epoch": fitted.best_epoch, "epochs_trained": fitted.epochs_trained},
                step=fitted.epochs_trained)
    title = f"{spec.name} trial {proposal.number}: " + ", ".join(f"{k}={v}" for k, v in proposal.params.items())
    figure = plots.learning_curves(fitted.history, title)
    try:
        tracker.log_figure(run_id, figure, "learning_curves.png")
    finally:
        plots.close(figure)
    tracker.log_text(run_id, model_summary(fitted.model), "model_summary.txt")


def _epoch_budget(spec: SweepSpec, hp: dict[str, Any], proposal: Proposal) -> int:
    """Epochs a trial trains when nothing stops it early (K-fold: every fold, then the final fit;
    replicates: every seed)."""
    epochs = hp["epochs"] - proposal.initial_epoch
    return (spec.folds + 1) * epochs if spec.folds else spec.repeats * epochs


def _close_parent(tracker: Tracker, parent: str, result: SweepResult, status: str) -> None:
    best = result.best
    counts = {state: sum(r.state == state for r in result.records) for state in (COMPLETE, PRUNED, FAIL)}
    try:
        metrics = {f"trials_{state.lower()}": count for state, count in counts.items()}
        metrics.update(epochs_trained_total=result.epochs_trained, epochs_budget_total=result.epochs_budget,
                       epochs_saved=result.epochs_budget - result.epochs_trained)
        tags: dict[str, Any] = {}
        if best is not None:
            metrics[f"best_{result.spec.metric}"] = best.value
            tags = {"best.trial": best.number, **{f"best.{k}": v for k, v in best.params.items()}}
        tracker.log(parent, metrics=metrics, tags=tags)
        tracker.log_text(parent, result.table(markdown=True) + "\n", "trials.md")
    finally:
        tracker.end_run(parent, status)


class _Pruning(keras.callbacks.Callback):
    """Reports the objective to the engine each epoch and stops the fit when it says prune."""

    def __init__(self, engine: Engine, proposal: Proposal, metric: str) -> None:
        super().__init__()
        self.engine, self.proposal, self.metric, self.pruned = engine, proposal, metric, False

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        value = (logs or {}).get(self.metric)
        if value is not None and self.engine.should_prune(self.proposal, epoch + 1, float(value)):
            self.pruned = True
            self.model.stop_training = True


class _Datasets:
    """Datasets loaded once per process, keyed by the hyperparameters that shape them."""

    def __init__(self, pipeline: ModuleType, options: DataOptions) -> None:
        self.pipeline, self.options, self._loaded = pipeline, options, {}
        self._keys = sorted(k for k, decl in pipeline.HYPERPARAMETERS.items() if decl.affects_data)

    def get(self, hp: dict[str, Any]) -> Dataset:
        key = tuple(hp[k] for k in self._keys)
        if key not in self._loaded:
            self._loaded[key] = self.pipeline.load_data(hp, self.options)
        return self._loaded[key]


def _value(record: TrialRecord | None) -> float | None:
    return None if record is None else record.value


def _one_line(error: BaseException) -> str:
    """The first line of an error; our own TrialFailed messages need no type name in front."""
    text = str(error).strip().splitlines()
    if not text:
        return type(error).__name__
    return text[0] if isinstance(error, TrialFailed) else f"{type(error).__name__}: {text[0]}"


def _now() -> str:
    return datetime.now().strftime("%Y-%m-%d %H:%M:%S")


@contextmanager
def _shielded() -> Iterator[None]:
    """Ignore Ctrl-C while runs are being closed, so a second Ctrl-C cannot leave one RUNNING."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
