"""Workers popping queued trials from one sqlite study at once each get a trial of their own.

Python's sqlite driver begins a transaction only at its first write, so Optuna's "still
WAITING? then RUNNING" ran its read outside it and two processes could both take one queued
trial (measured: 223 pops of 200 trials by four processes). ``open_storage`` makes each
transaction take the write lock as it begins.
"""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import optuna

from sweeps.engines.optuna_study import open_storage

TRIALS, WORKERS = 200, 4


def _pop_all(url: str, start: multiprocessing.synchronize.Event, popped: multiprocessing.Queue) -> None:
    study = optuna.load_study(study_name="queue", storage=open_storage(url))
    start.wait()
    mine = []
    while (trial_id := study._pop_waiting_trial_id()) is not None:
        mine.append(trial_id)
    popped.put(mine)


def test_each_queued_trial_is_taken_by_one_worker(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'optuna.db'}"
    study = optuna.create_study(study_name="queue", storage=open_storage(url))
    for index in range(TRIALS):
        study.enqueue_trial({"x": index})
    context = multiprocessing.get_context("spawn")
    start, popped = context.Event(), context.Queue()
    workers = [context.Process(target=_pop_all, args=(url, start, popped)) for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    start.set()  # (each waits for it after opening the study, so they pop at the same time)
    taken = [trial_id for _ in workers for trial_id in popped.get(timeout=120)]
    for worker in workers:
        worker.join(timeout=60)
    assert len(taken) == TRIALS and len(set(taken)) == TRIALS
