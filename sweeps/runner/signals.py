"""Ctrl-C: records closed without being interrupted half-way, and children that can be sent it."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

_asked = threading.Event()  # a Ctrl-C (or SIGTERM) that has not reached the sweep's own handling yet


def install_interrupt_handlers() -> None:
    """Ctrl-C and SIGTERM raise ``KeyboardInterrupt`` (SIGTERM closes runs exactly as Ctrl-C
    does), and are remembered until the sweep has heard them (``raise_if_interrupted``). A
    Ctrl-C that this process ignores (a background job) stays ignored."""
    _asked.clear()
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> NoReturn:
    _asked.set()
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` again for an interrupt that was asked for but never arrived:
    one raised while Python ran a finalizer (a garbage-collected object's cleanup, such as
    SQLAlchemy's) is printed as "Exception ignored" and dropped, and the sweep would go on.
    Called at safe points (each epoch's end); ``interrupt_heard`` says it arrived."""
    if _asked.is_set():
        _asked.clear()
        raise KeyboardInterrupt


def interrupt_heard() -> None:
    """The interrupt reached the sweep's handling: nothing is left to raise again."""
    _asked.clear()


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


@contextmanager
def interruptible_children() -> Iterator[None]:
    """Children started in the block (``--jobs`` workers, which are sent Ctrl-C) start with
    SIGINT's default action, even where this process ignores it (a background job, nohup, some
    CI runners), an ignoring that every child would otherwise inherit through ``exec``.

    ``exec`` keeps a signal ignored but resets a caught one to its default, so while the block
    runs an ignored SIGINT is caught by a handler that does nothing: this process goes on
    ignoring it. (Not a ``preexec_fn``: that makes ``subprocess`` fork instead of vfork, and a
    fork runs gRPC's fork handlers, which can abort the child before it execs when this process
    holds a channel to Optuna's storage proxy.)
    """
    if signal.getsignal(signal.SIGINT) != signal.SIG_IGN or threading.current_thread() is not threading.main_thread():
        yield  # (caught or default, children start at the default already; only the main thread sets handlers)
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
