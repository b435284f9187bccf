"""The failure vocabulary shared by the command line, the runner, the engines and pipelines.

A failure policy you can read:

- ``ConfigError``: the sweep cannot start as described (a search space, option or override
  breaks a rule) - one line, exit 2, nothing written.
- ``DataError``: a data file is missing, truncated or not in the task's format - exit 2.
- ``PipelineError``: a pipeline module breaks the pipeline contract, or its own code raised
  while building the first model - exit 2, naming the file (and line).
- ``TrialFailed``: one trial broke (NaN, out of memory, an error inside training) - recorded
  as FAIL, the sweep goes on.
- ``SweepAborted``: too many consecutive failures - the sweep stops with the reasons, exit 1.
- ``StoreError``: a tracking or study store cannot be reached or opened - exit 1.
- ``ServiceError``: a server (the MLflow UI, the team server) could not start or stopped - exit 1.
"""

from __future__ import annotations

# Exit codes of the command line: success, other failures, bad usage / config / data,
# a nightly regression (so cron or CI can tell it from a crash), interrupted.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REGRESSION, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class ConfigError(Exception):
    """A search space, option or override breaks a rule. The message names where and which."""


class DataError(Exception):
    """A data file is missing, truncated or not in the format the task needs."""


class PipelineError(Exception):
    """A pipeline module breaks the contract, or its code failed building the first model."""


class TrialFailed(Exception):
    """One trial could not produce a result; the sweep records it and goes on."""


class SweepAborted(Exception):
    """The sweep stopped itself (e.g. ``max_consecutive_failures`` reached)."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM while trials ran; ``what`` says what became of them."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class StoreError(Exception):
    """A tracking or study store cannot be reached or opened (the URL is masked in the message)."""


class ServiceError(Exception):
    """A server could not start (a port in use, a crash) or stopped by itself."""


def first_line(error: BaseException, with_type: bool = True) -> str:
    """The first line of ``error``'s message, after its type name unless ``with_type`` is False
    (our own errors say what happened without one); the type name alone when it has no message."""
    lines = str(error).strip().splitlines()
    if not lines:
        return type(error).__name__
    return f"{type(error).__name__}: {lines[0]}" if with_type else lines[0]


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` for a message, cut to ``limit`` characters: a bad value is named, never
    pasted whole (a value a YAML bomb built would fill the terminal)."""
    text = repr(value) if not isinstance(value, BaseException) else str(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
