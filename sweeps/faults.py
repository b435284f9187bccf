"""Named moments at which a crash test can kill this process (``SWEEPS_CRASH_AT=<name>``).

Crash safety is tested by killing a real process at a chosen moment, not by timing luck: the
code calls ``crash_point(name)`` where a crash would be worst, and a test sets the variable to
make that call a SIGKILL (``<name>:<n>``: the n-th time this process reaches it). With
``SWEEPS_CRASH_WHOM=parent`` the SIGKILL goes to the process that started this one instead (a
Dask worker lost while its sweep worker trains). Unset, it does nothing.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter

CRASH_AT = "SWEEPS_CRASH_AT"
CRASH_WHOM = "SWEEPS_CRASH_WHOM"
_reached: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL here if ``SWEEPS_CRASH_AT`` names this moment (and, with
    ``:<n>``, this is the n-th time it is reached)."""
    moment, _, nth = os.environ.get(CRASH_AT, "").partition(":")
    if moment != name:
        return
    _reached[name] += 1
    if _reached[name] != int(nth or 1):
        return
    if os.environ.get(CRASH_WHOM) != "parent":
        os.kill(os.getpid(), signal.SIGKILL)
    elif (parent := os.getppid()) != 1:  # (never init, should the parent be gone already)
        os.kill(parent, signal.SIGKILL)
        while os.getppid() == parent:  # until it is gone: what its death signals us is then pending,
            time.sleep(0.01)  # and handled here, at this moment, not some lines further on
