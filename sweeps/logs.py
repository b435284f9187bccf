"""Where library chatter goes while a sweep runs: to a log file, not between the progress lines.

TensorFlow's retracing warnings, Keras's and MLflow's log records (a full disk's traceback
included), Optuna's notices and Python ``UserWarning``s all reach the root logger, whose one
handler appends them to the invocation's log file. The notes and trial lines the person sees
are written there too, so the file alone tells what happened. Calls of the notebook API
(``sweeps.query``) are ``quiet()``: they print nothing of their libraries' own.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

LIBRARIES = ("tensorflow", "absl", "keras", "mlflow", "alembic", "optuna", "py.warnings")
NOTES = "sweeps"  # the logger of the notes and trial lines, written to the file as they are printed


def say(text: str) -> None:
    """A note for the person running the command: on stderr, and in the log file if there is one."""
    print(text, file=sys.stderr, flush=True)
    logging.getLogger(NOTES).info(text)


def _to_terminal(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)


@contextlib.contextmanager
def library_logs_to(path: Path) -> Iterator[Path]:
    """While the block runs, append every library's log records and Python's warnings to ``path``
    and to no terminal; afterwards, put the handlers back as they were."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(name)s %(levelname)s: %(message)s"))
    root, notes = logging.getLogger(), logging.getLogger(NOTES)
    saved = [(name, logging.getLogger(name).handlers[:], logging.getLogger(name).propagate) for name in LIBRARIES]
    saved_level = notes.level
    for name in LIBRARIES:  # their own terminal handlers (Optuna's, MLflow's, TensorFlow's) go
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not _to_terminal(h)]
        logger.propagate = True
    root.addHandler(handler)  # a root handler also stops TensorFlow from adding a terminal one later
    notes.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        yield path
    finally:
        logging.captureWarnings(False)
        root.removeHandler(handler)
        handler.close()
        notes.setLevel(saved_level)
        for name, handlers, propagate in saved:
            logging.getLogger(name).handlers, logging.getLogger(name).propagate = handlers, propagate


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """While the block runs, file descriptor 2 goes nowhere: TensorFlow's native start-up lines
    (oneDNN, CPU features, absl's) are written straight to it, past Python's ``sys.stderr`` and
    before ``TF_CPP_MIN_LOG_LEVEL`` is read. An exception still propagates, to be shown after."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """While the block runs, neither TensorFlow's native lines nor MLflow's artifact progress
    bars ("Downloading artifacts", which a notebook draws as a widget) are shown; the
    environment is put back afterwards."""
    switch = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"  # read by MLflow each time it would draw a bar
    saved = os.environ.get(switch)
    os.environ[switch] = "false"
    try:
        with native_stderr_silenced():
            yield
    finally:
        if saved is None:
            os.environ.pop(switch, None)
        else:
            os.environ[switch] = saved
