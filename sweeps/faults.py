"""Named moments at which a crash test can kill this process (``SWEEPS_CRASH_AT=<name>``).

Crash safety is tested by killing a real process at a chosen moment, not by timing luck: the
code calls ``crash_point(name)`` where a crash would be worst, and a test sets the variable to
make that call a SIGKILL. Unset, it does nothing.
"""

from __future__ import annotations

import os
import signal

CRASH_AT = "SWEEPS_CRASH_AT"


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL here if ``SWEEPS_CRASH_AT`` names this moment."""
    if os.environ.get(CRASH_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)
