"""The failure vocabulary shared by the CLI, the runner and the engines (STYLE.md §6).

``ConfigError``: the sweep cannot start as described — exit 2 at once, nothing written.
``TrialFailed``: one trial broke (exception, NaN, out of memory) — recorded as FAIL, sweep goes on.
``SweepAborted``: too many consecutive failures — the sweep stops with the reasons.
A ``DataError`` from ``pipelines._data`` (a bad data file) is reported like a config error.
"""

from __future__ import annotations

# Exit codes of the command line: success, other failures, bad usage / config / data,
# a nightly regression (so cron or CI can tell it from a crash), interrupted.
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_REGRESSION, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class ConfigError(Exception):
    """A search space, option or override breaks a rule. The message names where and which."""


class TrialFailed(Exception):
    """One trial could not produce a result; the sweep records it and goes on."""


class SweepAborted(Exception):
    """The sweep stopped itself (e.g. ``max_consecutive_failures`` reached)."""


class StoreError(Exception):
    """A tracking or study store cannot be reached or opened (the URL is masked in the message)."""
