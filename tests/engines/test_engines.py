"""The engine contract (sweeps/engines/base.py), one suite for every engine.

Each engine is a fixture entry in ``ENGINES``; a new engine is one more entry.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from sweeps.engines import open_engine
from sweeps.engines.base import Outcome, TrialState
from sweeps.engines.optuna import HEARTBEAT
from sweeps.engines.optuna_study import fresh_trials
from sweeps.errors import ConfigError, StoreError
from sweeps.spec.loading import load_spec
from sweeps.tracking.stores import Stores
from tests.support import BASE, write_space

ENGINES = ["optuna", "keras_tuner"]
IDENTITY = {"sweeps.fingerprint": "abc", "data.source": "data-dir"}


def factory(tmp_path: Path, engine: str):
    """Build ``engine`` for a spec written with ``changes``, attached to one store per test."""
    stores = Stores.resolve(root=tmp_path / "mlruns")
    stores.prepare()

    def build(identity: dict[str, str] = IDENTITY, **changes):
        return open_engine(load_spec(write_space(tmp_path, {**BASE, "engine": engine, **changes})), stores, "s", identity)

    return build


@pytest.fixture(params=ENGINES)
def make(request: pytest.FixtureRequest, tmp_path: Path):
    """Every engine in turn: the contract tests run once per engine."""
    return factory(tmp_path, request.param)


def test_grid_runs_every_point_once_then_stops(make) -> None:
    engine = make()
    seen = []
    while (proposal := engine.ask()) is not None:
        seen.append(proposal.params["layers"])
        engine.tell(proposal, Outcome(TrialState.COMPLETE, float(proposal.params["layers"])))
    assert sorted(seen) == [1, 2, 3] and engine.remaining() == 0
    assert [r.state for r in engine.records()] == [TrialState.COMPLETE] * 3


def test_resume_reruns_exactly_the_failed_grid_points(make) -> None:
    engine = make()
    for state in (TrialState.COMPLETE, TrialState.FAIL):
        proposal = engine.ask()
        engine.tell(proposal, Outcome(state, 0.5 if state == TrialState.COMPLETE else None, {"error": "boom"}))
    failed = engine.records()[1].params
    resumed = make()  # a new process attaching to the same study
    assert resumed.remaining() == 2
    retried = resumed.ask()
    assert retried.params == failed
    resumed.tell(retried, Outcome(TrialState.COMPLETE, 0.7))
    last = resumed.ask()
    resumed.tell(last, Outcome(TrialState.COMPLETE, 0.6))
    assert resumed.ask() is None
    done = sorted(r.params["layers"] for r in resumed.records() if r.state == TrialState.COMPLETE)
    assert done == [1, 2, 3]
    assert resumed.records()[1].attrs["error"] == "boom"


def test_budget_counts_trials_of_earlier_invocations(make) -> None:
    space = {
        "sampler": {"type": "random", "seed": 7},
        "trials": 3,
        "params": {"dropout": {"type": "float", "low": 0.0, "high": 0.5}},
    }
    engine = make(**space)
    first = []
    for _ in range(2):
        proposal = engine.ask()
        first.append(proposal.params["dropout"])
        engine.tell(proposal, Outcome(TrialState.COMPLETE, 0.5))
    resumed = make(**space)
    assert resumed.remaining() == 1
    proposal = resumed.ask()
    assert proposal.params["dropout"] not in first  # a resumed seed does not replay old proposals
    resumed.tell(proposal, Outcome(TrialState.COMPLETE, 0.5))
    assert resumed.ask() is None and make(**space).remaining() == 0


def test_a_study_started_differently_is_not_mixed_into(make) -> None:
    make()
    with pytest.raises(ConfigError, match=r"study 's' was started with a different setup \(sweeps\.fingerprint abc -> xyz\)"):
        make(identity={**IDENTITY, "sweeps.fingerprint": "xyz"})


def test_a_note_is_kept_with_the_running_trial_at_once(make) -> None:
    engine = make()
    proposal = engine.ask()
    engine.note(proposal, {"mlflow_run_id": "r1"})
    (record,) = engine.records()  # in the study's store already, before the trial ends
    assert record.state == TrialState.RUNNING and record.attrs["mlflow_run_id"] == "r1"
    engine.tell(proposal, Outcome(TrialState.COMPLETE, 0.5, {"best_epoch": 2}))
    (record,) = engine.records()
    assert record.state == TrialState.COMPLETE and record.attrs["mlflow_run_id"] == "r1" and record.attrs["best_epoch"] == 2


def test_running_counts_the_trials_asked_for_and_not_yet_told(make) -> None:
    engine = make()
    assert engine.running() == 0
    for state in (TrialState.COMPLETE, TrialState.FAIL):
        proposal = engine.ask()
        assert engine.running() == 1
        engine.tell(proposal, Outcome(state, 0.5 if state == TrialState.COMPLETE else None, {"error": "boom"}))
        assert engine.running() == 0


def test_a_shared_fact_is_seen_by_every_worker_of_the_study(make) -> None:
    engine = make()
    assert engine.shared("sweeps.mlflow_parent_run_id") is None
    engine.share("sweeps.mlflow_parent_run_id", "p1")
    assert engine.shared("sweeps.mlflow_parent_run_id") == "p1"
    assert make().shared("sweeps.mlflow_parent_run_id") == "p1"


def test_only_the_optuna_engine_has_an_optuna_study(make) -> None:
    engine = make()
    engine.tell(engine.ask(), Outcome(TrialState.COMPLETE, 0.5))
    if engine.name == "optuna":
        assert [t.value for t in engine.optuna_study.trials] == [0.5]
    else:
        assert engine.optuna_study is None


def test_pruning_is_off_without_a_pruner(make) -> None:
    engine = make()
    proposal = engine.ask()
    assert not any(engine.should_prune(proposal, epoch, 0.1) for epoch in range(1, 5))


def test_optuna_median_pruner_stops_a_trial_worse_than_the_median(tmp_path: Path) -> None:
    engine = factory(tmp_path, "optuna")(
        sampler={"type": "random", "seed": 1},
        trials=5,
        pruner={"type": "median", "n_startup_trials": 2},
        params={"dropout": {"type": "float", "low": 0.0, "high": 0.5}},
    )
    for _ in range(2):
        proposal = engine.ask()
        for epoch in range(1, 4):
            engine.should_prune(proposal, epoch, 0.9)
        engine.tell(proposal, Outcome(TrialState.COMPLETE, 0.9))
    worse = engine.ask()
    assert engine.should_prune(worse, 1, 0.1)


@pytest.mark.parametrize("sampler", ["grid", "random"])
def test_optuna_workers_asking_at_once_never_exceed_the_budget(tmp_path: Path, sampler: str) -> None:
    """Two workers that both saw one trial left both get one; the later stands aside."""
    build = factory(tmp_path, "optuna")
    space = {"sampler": {"type": sampler, "seed": 3}, "trials": 2}
    first, second = build(**space), build(**space)
    running = first.ask()
    assert first.remaining() == second.remaining() == 1
    # Both past their remaining() check, on what each saw then: ask as each one's ask() would next.
    seen = [fresh_trials(second.study), fresh_trials(first.study)]
    tickets = [second._next(seen[0]), first._next(seen[1])]
    assert tickets[0] is not None and tickets[1] is None
    for proposal in (running, tickets[0]):
        first.tell(proposal, Outcome(TrialState.COMPLETE, 0.5))
    assert first.ask() is None and second.ask() is None
    assert [r.state for r in first.records()] == [TrialState.COMPLETE, TrialState.COMPLETE]
    assert running.params != tickets[0].params or sampler == "random"


def test_unreachable_storage_is_one_line_with_the_password_masked(tmp_path: Path) -> None:
    spec = load_spec(write_space(tmp_path, BASE))
    with pytest.raises(StoreError, match=r"--storage postgresql://bob:\*\*\*@127\.0\.0\.1:1/x: cannot open") as raised:
        open_engine(spec, Stores.resolve(storage="postgresql://bob:hunter2@127.0.0.1:1/x"), "s", IDENTITY)
    assert "hunter2" not in str(raised.value)


def test_a_grid_point_another_worker_is_still_receiving_is_not_run_twice(tmp_path: Path) -> None:
    """Two workers that looked at once both queued the same point; the first popped its ticket
    and is giving the trial its values one by one. The second, popping the other ticket in
    between, sees only some of them on the first trial, and must still see the point taken."""
    build = factory(tmp_path, "optuna")
    choices = {"layers": {"type": "categorical", "choices": [1, 2]}, "units": {"type": "categorical", "choices": [4, 8]}}
    space = {"fixed": {"epochs": 2}, "params": choices}
    first, second = build(**space), build(**space)
    for _ in range(2):
        first.study.enqueue_trial({"layers": 1, "units": 4})
    half_done = first.study.ask()  # popped the first ticket...
    half_done.suggest_categorical("layers", [1, 2])  # ...and gave it one of its two values so far
    assert second._next(fresh_trials(second.study)) is None  # pops the second ticket, and stands aside
    (aside,) = [t for t in fresh_trials(second.study) if t.user_attrs.get("sweeps.stepped_aside")]
    assert aside.number == 1 and aside.params == {"layers": 1, "units": 4}


def test_trial_states_are_stored_as_the_words_they_always_were() -> None:
    assert json.dumps([TrialState.COMPLETE, TrialState.RUNNING]) == '["COMPLETE", "RUNNING"]'
    assert f"{TrialState.PRUNED}" == str(TrialState.PRUNED) == "PRUNED" and TrialState("FAIL") is TrialState.FAIL


def test_a_heartbeat_being_written_as_the_trial_is_told_is_waited_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A beat written after ``tell`` would find the trial finished and fail in its thread."""
    engine = factory(tmp_path, "optuna")(trials=1, params={"layers": {"type": "categorical", "choices": [1]}})
    storage, told, failures = engine.study._storage, threading.Event(), []
    write, tell = storage.set_trial_user_attr, engine.study.tell

    def slow_beat(trial_id, key, value):  # the first beat is still being written when the trial is told
        if key == HEARTBEAT:
            told.wait(timeout=2)  # a bound, not a pause: the fixed engine tells only once the beat is written
        write(trial_id, key, value)

    monkeypatch.setattr(storage, "set_trial_user_attr", slow_beat)
    monkeypatch.setattr(engine.study, "tell", lambda *args, **kwargs: (tell(*args, **kwargs), told.set())[0])
    monkeypatch.setattr(threading, "excepthook", lambda hook: failures.append(hook.exc_value))
    others = set(threading.enumerate())  # other tests' engines may still be beating
    proposal = engine.ask()
    (beating,) = set(threading.enumerate()) - others
    engine.tell(proposal, Outcome(TrialState.COMPLETE, 1.0))
    beating.join()
    assert not failures, failures


def test_a_ctrl_c_while_a_trial_is_taken_leaves_it_failed_not_running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C arriving while the engine writes a new trial is held until the trial is listed as
    taken; the worker then fails what it took and never opened, so nothing is left RUNNING."""
    import os
    import signal

    import sweeps.engines.optuna as engine_module

    engine = factory(tmp_path, "optuna")()
    original = engine_module.suggest

    def interrupted(trial, name, distribution):
        os.kill(os.getpid(), signal.SIGINT)  # as the user presses Ctrl-C
        return original(trial, name, distribution)

    monkeypatch.setattr(engine_module, "suggest", interrupted)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (a test runner's worker may differ)
    try:
        with pytest.raises(KeyboardInterrupt):
            engine.ask()
    finally:
        signal.signal(signal.SIGINT, previous)
    assert [p.number for p in engine.untold()] == [0] and engine.running() == 1
    engine.fail_untold()
    (trial,) = engine.study.get_trials()
    assert trial.state.name == "FAIL" and trial.user_attrs["error"] == "interrupted before it started"
    assert engine.untold() == [] and engine.running() == 0
