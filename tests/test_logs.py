"""Library chatter goes to the invocation's log file, never between the lines a person reads."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import mlflow  # noqa: F401  (configures its loggers with a terminal handler, as in a real run)
import optuna

from sweeps.logs import library_logs_to, say


def test_library_warnings_and_tracebacks_go_to_the_log_and_notes_to_both(tmp_path: Path, capsys) -> None:
    path = tmp_path / "mlruns" / "logs" / "s.log"
    optuna_handlers = logging.getLogger("optuna").handlers[:]
    with library_logs_to(path):
        warnings.warn("The number of trials is too small to compute quantiles", UserWarning, stacklevel=1)
        logging.getLogger("tensorflow").warning("5 out of the last 5 calls to <function> triggered tf.function retracing")
        optuna.logging.get_logger("optuna.study").warning("Trial 3 failed because of the following error")
        try:
            raise OSError(28, "No space left on device")
        except OSError:
            logging.getLogger("mlflow.store.tracking").exception("Failed to log metrics")
        say("  data: data-dir imdb.npz")
    assert capsys.readouterr().err == "  data: data-dir imdb.npz\n"
    text = path.read_text()
    for expected in (
        "py.warnings WARNING: ",
        "too small to compute quantiles",
        "tensorflow WARNING: 5 out of the last 5 calls",
        "optuna.study WARNING: Trial 3 failed",
        "mlflow.store.tracking ERROR: Failed to log metrics",
        "OSError: [Errno 28] No space left on device",  # the traceback, in the file only
        "sweeps INFO:   data: data-dir imdb.npz",
    ):
        assert expected in text, text
    assert logging.getLogger("optuna").handlers == optuna_handlers  # put back as they were
