"""Where library chatter goes while a sweep runs: to a log file, not between the progress lines.

TensorFlow's retracing warnings, Keras's and MLflow's log records (a full disk's traceback
included), Optuna's notices and Python ``UserWarning``s all reach the root logger, whose one
handler appends them to the invocation's log file. The notes and trial lines the person sees
are written there too, so the file alone tells what happened.
"""

from __future__ import annotations

import contextlib
import logging
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
