"""Ctrl-C: records closed without being interrupted half-way, and children that can be sent it."""

from __future__ import annotations

import ctypes
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NoReturn, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies
_shielding = False  # a shielded block is running (in the main thread)
# A Ctrl-C (or SIGTERM) that has not reached the sweep's own handling yet. A plain list, not a
# threading.Event: the handler runs again when a second signal lands inside it, and Event.set's
# lock, held by the first, then deadlocked the process (seen: a Dask worker's death, SIGTERM twice).
_asked: list[int] = []


def install_interrupt_handlers() -> None:
    """Ctrl-C and SIGTERM raise ``KeyboardInterrupt`` (SIGTERM closes runs exactly as Ctrl-C
    does), and are remembered until the sweep has heard them (``raise_if_interrupted``). A
    Ctrl-C that this process ignores (a background job) stays ignored."""
    _asked.clear()
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)


def _interrupt(signum: int, frame: object) -> NoReturn:
    _asked.append(signum)
    raise KeyboardInterrupt


def raise_if_interrupted() -> None:
    """Raise ``KeyboardInterrupt`` again for an interrupt that was asked for but never arrived:
    one raised while Python ran a finalizer (a garbage-collected object's cleanup, such as
    SQLAlchemy's) is printed as "Exception ignored" and dropped, and the sweep would go on.
    Called at safe points (each epoch's end); ``interrupt_heard`` says it arrived."""
    if _asked:
        _asked.clear()
        raise KeyboardInterrupt


def interrupt_heard() -> None:
    """The interrupt reached the sweep's handling: nothing is left to raise again."""
    _asked.clear()


@contextmanager
def shielded() -> Iterator[None]:
    """Hold Ctrl-C (and SIGTERM) back while records are being written, so none is left half-written or RUNNING.

    A Ctrl-C that arrives meanwhile is not lost: once the block is done, ``KeyboardInterrupt``
    is raised as if it had arrived then (unless one is already on its way out).
    """
    global _shielding
    if threading.current_thread() is not threading.main_thread() or _shielding:
        yield  # (within a shielded block, its own holding goes on, and it raises at its end)
        return
    # SIGTERM is held as Ctrl-C is where it stops the sweep; an ignored Ctrl-C (a background job) stays ignored.
    signums = [s for s in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(s) not in (signal.SIG_IGN, signal.SIG_DFL)]
    held: list[int] = []
    previous = {signum: signal.signal(signum, lambda signum, frame: held.append(signum)) for signum in signums}
    _shielding = True
    try:
        yield
    finally:
        _shielding = False
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if held and not isinstance(sys.exc_info()[1], KeyboardInterrupt):  # (in a finally, the one on its way out)
        raise KeyboardInterrupt


def whole(write: Callable[P, T]) -> Callable[P, T]:
    """``write`` (one store write) run under ``shielded``: an interrupt in the middle of a
    database transaction would leave its connection holding the store's lock (sqlite's), and the
    records that close the trial could then not be written."""

    @functools.wraps(write)
    def shielded_write(*args: P.args, **kwargs: P.kwargs) -> T:
        with shielded():
            return write(*args, **kwargs)

    return shielded_write


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


def end_with_parent(parent: int) -> None:
    """Be sent SIGTERM (a trial failed and its runs closed, as on Ctrl-C) when ``parent``, the
    process that started this one, dies: a sweep worker started by a Dask task must not go on
    training for a Dask worker that is gone (its slot, its GPU, are the cluster's again).
    Linux's ``PR_SET_PDEATHSIG``; elsewhere nothing (the study's heartbeat still fails the trial
    of a worker that stops)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
            return
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before this process asked to be told
        os.kill(os.getpid(), signal.SIGTERM)
