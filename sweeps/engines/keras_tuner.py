"""The keras-tuner engine: its oracles (random, grid, Hyperband, Bayesian) driven trial by trial.

keras-tuner normally owns the training loop (``Tuner.search``); here only its ``Oracle`` is used,
through ``create_trial`` / ``update_trial`` / ``end_trial``, so the runner trains and tracks
exactly as for Optuna. The oracle's state lives in ``mlruns/optuna.db-keras_tuner/<study>/`` (keras-tuner's
own files) next to ``sweeps.json`` (what this engine adds: the study's identity and each trial's
facts). Hyperband continues promising trials from the weights saved in each trial's folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import keras_tuner as kt
from keras_tuner.engine.trial import TrialStatus

from sweeps.defaults import HYPERBAND_FACTOR, HYPERBAND_ITERATIONS
from sweeps.engines.base import Engine, Outcome, Proposal, TrialRecord, TrialState, check_identity
from sweeps.errors import ConfigError, first_line
from sweeps.spec.sweep import SweepSpec, point_key

# keras-tuner's trial statuses, as the study's trial states.
_STATES = {
    TrialStatus.COMPLETED: TrialState.COMPLETE,
    TrialStatus.FAILED: TrialState.FAIL,
    TrialStatus.INVALID: TrialState.FAIL,
    TrialStatus.RUNNING: TrialState.RUNNING,
    TrialStatus.IDLE: TrialState.RUNNING,
}
_TUNER_KEYS = ("tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round", "tuner/trial_id")
_TUNER_ID = "sweeps"  # one worker per study: keras-tuner's own chief/worker protocol is not used
CHECKPOINT = "checkpoint.weights.h5"


class KerasTunerEngine(Engine):
    """Runs one keras-tuner oracle whose state is kept in ``directory`` (created or resumed).

    Args:
        spec: the validated sweep (``engine: keras_tuner``).
        directory: the study's folder; its name is the study's name.
        identity: facts the study must keep; resuming with different ones is a ``ConfigError``.
    """

    name = "keras_tuner"

    def __init__(self, spec: SweepSpec, directory: Path, identity: dict[str, str]) -> None:
        self.spec, self.directory = spec, directory
        self._facts_file = directory / "sweeps.json"
        facts = json.loads(self._facts_file.read_text()) if self._facts_file.exists() else {}
        if facts:
            check_identity(facts["identity"], identity, directory.name)
        self._facts = facts or {"identity": identity, "trials": {}}
        self.oracle = _oracle(spec)
        self.oracle.verbose = 0
        self.oracle._set_project_dir(str(directory.parent), directory.name)
        if (directory / "oracle.json").exists():
            try:
                self.oracle.reload()
            except Exception as error:  # keras-tuner says "Error reloading Oracle" for many causes
                raise ConfigError(
                    f"keras-tuner's state of study '{directory.name}' in {directory} cannot be reloaded ({first_line(error)}); "
                    "remove that folder to start the study anew, or use --study NAME"
                ) from None
            self._queue_unfinished()
        else:
            directory.mkdir(parents=True, exist_ok=True)
            self._save_facts()

    def ask(self) -> Proposal | None:
        if self.remaining() == 0:
            return None
        trial = self.oracle.create_trial(_TUNER_ID)
        if trial.status != TrialStatus.RUNNING:
            return None
        values = trial.hyperparameters.values
        tuner = {key: values[key] for key in _TUNER_KEYS if key in values}
        proposal = Proposal(
            number=int(trial.trial_id),
            params={k: v for k, v in values.items() if k in self.spec.params},
            handle=trial,
            tags=tuner,
            checkpoint=self.directory / f"trial_{trial.trial_id}" / CHECKPOINT,
        )
        if "tuner/epochs" in tuner:
            proposal.overrides["epochs"] = tuner["tuner/epochs"]
            earlier = self.directory / f"trial_{tuner.get('tuner/trial_id')}" / CHECKPOINT
            if tuner.get("tuner/trial_id") and earlier.exists():  # otherwise train from scratch
                proposal.initial_epoch, proposal.warm_start = tuner["tuner/initial_epoch"], earlier
        return proposal

    def should_prune(self, proposal: Proposal, epoch: int, value: float) -> bool:
        trial = self.oracle.update_trial(proposal.handle.trial_id, {self.spec.objective.metric: value}, step=epoch)
        return trial.status == TrialStatus.STOPPED

    def tell(self, proposal: Proposal, outcome: Outcome) -> None:
        trial = proposal.handle
        if outcome.value is not None:  # K-fold trials report only their mean, at the end
            self.oracle.update_trial(
                trial.trial_id, {self.spec.objective.metric: outcome.value}, step=outcome.attrs.get("best_epoch", 0)
            )
        trial.status = TrialStatus.COMPLETED if outcome.state == TrialState.COMPLETE else TrialStatus.FAILED
        trial.message = outcome.attrs.get("error")
        self.oracle.end_trial(trial)
        if outcome.state != TrialState.COMPLETE and isinstance(self.oracle, GridOracle):
            self.oracle.failed_here.add(point_key(proposal.params))
        self.note(proposal, outcome.attrs)

    def records(self) -> list[TrialRecord]:
        return [
            TrialRecord(
                int(trial_id),
                _STATES.get(trial.status, TrialState.FAIL),
                {k: v for k, v in trial.hyperparameters.values.items() if k in self.spec.params},
                trial.score if trial.status == TrialStatus.COMPLETED else None,
                self._facts["trials"].get(trial_id, {}),
            )
            for trial_id, trial in sorted(self.oracle.trials.items())
        ]

    def remaining(self) -> int:
        trials = self.oracle.trials.values()
        completed = sum(t.status == TrialStatus.COMPLETED for t in trials)
        budget = self.spec.trials - completed
        if isinstance(self.oracle, GridOracle):
            budget = min(budget, len(self.oracle.missing()))
        elif self.spec.sampler.type == "hyperband":  # trials still to create, plus failed ones to re-run
            budget = min(budget, hyperband_trials(self.oracle) - len(self.oracle.trials) + len(self.oracle._retry_queue))
        return max(0, budget)

    def note(self, proposal: Proposal, attrs: dict[str, Any]) -> None:
        self._facts["trials"][proposal.handle.trial_id] = {**self._facts["trials"].get(proposal.handle.trial_id, {}), **attrs}
        self._save_facts()

    def running(self) -> int:
        return sum(t.status == TrialStatus.RUNNING for t in self.oracle.trials.values())

    def shared(self, key: str) -> Any:
        return self._facts.get("shared", {}).get(key)

    def share(self, key: str, value: Any) -> None:
        self._facts.setdefault("shared", {})[key] = value
        self._save_facts()

    def _queue_unfinished(self) -> None:
        """After a reload, run again exactly the trials that failed or were cut off by a crash.

        keras-tuner saves its state before it forgets the trial just ended, so its reload would
        re-run that trial even when it completed: the queue is rebuilt from the trials' states.
        A grid instead proposes the points of failed trials anew, as new trials.
        """
        cut_off = (TrialStatus.FAILED, TrialStatus.INVALID, TrialStatus.RUNNING, TrialStatus.IDLE)
        unfinished = [t for t in self.oracle.trials.values() if t.status in cut_off]
        if isinstance(self.oracle, GridOracle):
            for trial in unfinished:
                trial.status = TrialStatus.FAILED
            self.oracle._retry_queue = []
        else:
            self.oracle._retry_queue = [t.trial_id for t in sorted(unfinished, key=lambda t: t.trial_id)]

    def _save_facts(self) -> None:
        temporary = self._facts_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(self._facts, indent=1, default=str))
        os.replace(temporary, self._facts_file)


class GridOracle(kt.Oracle):
    """Grid search that survives a restart (keras-tuner's own keeps its order in memory only):
    the next point is the first, in the file's order, without a completed or running trial.

    Args:
        points: every grid point (``SweepSpec.grid_points``).
    """

    def __init__(self, points: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(max_trials=None, **kwargs)
        self.points = points
        self.failed_here: set[str] = set()  # retried only by a later invocation, as with Optuna

    def missing(self) -> list[dict[str, Any]]:
        done = (TrialStatus.COMPLETED, TrialStatus.RUNNING)
        taken = {point_key(t.hyperparameters.values) for t in self.trials.values() if t.status in done}
        return [p for p in self.points if point_key(p) not in taken | self.failed_here]

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        missing = self.missing()
        if not missing:
            return {"status": TrialStatus.STOPPED, "values": None}
        return {"status": TrialStatus.RUNNING, "values": dict(missing[0])}


def hyperband_trials(oracle: kt.oracles.HyperbandOracle) -> int:
    """How many trials a full Hyperband schedule creates (every round of every bracket)."""
    brackets = oracle._get_num_brackets()
    per_iteration = sum(oracle._get_size(b, r) for b in range(brackets) for r in range(oracle._get_num_rounds(b)))
    return per_iteration * oracle.hyperband_iterations


def _oracle(spec: SweepSpec) -> kt.Oracle:
    space = kt.HyperParameters()
    for name, param in spec.params.items():
        if param.type in ("categorical", "variants"):
            space.Choice(name, list(param.choices), ordered=False)
        elif param.type == "int":
            space.Int(name, int(param.low), int(param.high), step=int(param.step or 1), sampling="log" if param.log else "linear")
        else:
            space.Float(name, param.low, param.high, step=param.step, sampling="log" if param.log else "linear")
    common = {
        "objective": kt.Objective(spec.objective.metric, spec.objective.mode),
        "hyperparameters": space,
        "seed": spec.sampler.seed,
        "allow_new_entries": False,
        "tune_new_entries": False,
        # The runner applies the sweep's own failure policy; keras-tuner's would raise mid-sweep.
        "max_retries_per_trial": 0,
        "max_consecutive_failed_trials": 1_000_000,
    }
    sampler = spec.sampler
    if sampler.type == "hyperband":
        epochs = spec.hyperparameters({})["epochs"]  # `--epochs 2` caps the schedule: no trial trains more
        return kt.oracles.HyperbandOracle(
            max_epochs=min(sampler.max_epochs or epochs, epochs),
            factor=sampler.factor or HYPERBAND_FACTOR,
            hyperband_iterations=sampler.hyperband_iterations or HYPERBAND_ITERATIONS,
            **common,
        )
    if sampler.type == "bayesian":
        return kt.oracles.BayesianOptimizationOracle(max_trials=None, num_initial_points=sampler.num_initial_points, **common)
    if sampler.grid:
        return GridOracle(spec.grid_points(), **common)
    return kt.oracles.RandomSearchOracle(max_trials=None, **common)


def adopt_earlier_state(directory: Path, earlier: Path, stores: str) -> None:
    """Move a study's state from where an earlier version kept it (``earlier``) to ``directory``,
    if ``directory`` has none yet and that state records these ``stores``: a study resumes
    across the upgrade, and another store's study left in the shared folder stays there."""
    facts = earlier / "sweeps.json"
    if directory.exists() or not facts.is_file():
        return
    if json.loads(facts.read_text())["identity"].get("stores") == stores:
        directory.parent.mkdir(parents=True, exist_ok=True)
        earlier.rename(directory)
