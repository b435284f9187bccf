"""Closing records without being interrupted half-way."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def shielded() -> Iterator[None]:
    """Hold Ctrl-C back while records are being written, so none is left half-written or RUNNING.

    A Ctrl-C that arrives meanwhile is not lost: once the block is done, ``KeyboardInterrupt``
    is raised as if it had arrived then (unless one is already on its way out).
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        yield  # (a process that ignores Ctrl-C, such as a background job, goes on ignoring it)
        return
    held: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if held and not isinstance(sys.exc_info()[1], KeyboardInterrupt):  # (in a finally, the one on its way out)
        raise KeyboardInterrupt


def interruptible() -> None:
    """``preexec_fn`` for a child that will be sent Ctrl-C (a ``--jobs`` worker): SIGINT's default
    action in it, even when this process was started where SIGINT is ignored (a background job,
    nohup, some CI runners), an ignoring every child would otherwise inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
