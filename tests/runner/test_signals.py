"""Ctrl-C while records are written: held back until they are, never lost, never invented."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator

import pytest

from sweeps.runner.progress import Progress
from sweeps.runner.signals import install_interrupt_handlers, interrupt_heard, interruptible_children, shielded


@pytest.fixture
def terminal() -> Iterator[None]:
    """SIGINT as in a terminal (the suite may run in a background job, which ignores it)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_ctrl_c_while_records_are_written_is_held_back_not_lost(terminal: None) -> None:
    written = []
    with pytest.raises(KeyboardInterrupt), shielded():
        os.kill(os.getpid(), signal.SIGINT)
        written.append("records")  # still written: the interrupt waits for the block
    assert written == ["records"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back as it was


def test_a_ctrl_c_while_an_interrupt_is_already_being_handled_adds_nothing(terminal: None) -> None:
    with pytest.raises(KeyboardInterrupt, match="first"):
        try:
            raise KeyboardInterrupt("first")
        finally:
            with shielded():
                os.kill(os.getpid(), signal.SIGINT)


def test_a_process_that_ignores_ctrl_c_goes_on_ignoring_it() -> None:
    """A background job (nohup, cron) ignores SIGINT; being shielded must not make it count."""
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with shielded():
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_children_started_where_ctrl_c_is_ignored_can_still_be_sent_it(tmp_path) -> None:
    """A ``--jobs`` launcher in a background job ignores SIGINT; the workers it starts must not, or the
    SIGINT it passes on to them on SIGTERM would be lost. It goes on ignoring SIGINT itself."""
    takes_ctrl_c = [sys.executable, "-c", "import signal; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"]
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        plain = subprocess.run(takes_ctrl_c, capture_output=True, text=True, check=True).stdout
        with interruptible_children():
            started = subprocess.run(takes_ctrl_c, capture_output=True, text=True, check=True).stdout
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)
    assert plain.strip() == "False"  # a plain child inherits the ignoring: the reason for the block
    assert started.strip() == "True"


class _Finalized:
    """An object whose cleanup is interrupted: Python prints what it raised there and drops it."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGINT)


def test_a_ctrl_c_that_a_finalizer_swallowed_stops_the_trial_at_its_next_epoch(
    terminal: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    dropped: list[type] = []  # what Python prints as "Exception ignored in ..." and goes on
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: dropped.append(unraisable.exc_type))
    before = signal.getsignal(signal.SIGTERM)
    install_interrupt_handlers()
    try:
        _Finalized()  # collected at once: its KeyboardInterrupt goes no further than the cleanup
        assert dropped == [KeyboardInterrupt]  # (as in SQLAlchemy's InstanceState._cleanup, mid-sweep)
        epoch_end = Progress("s", 1, "val_accuracy", None, bar=False).epoch_callback("trial 0", 3)
        with pytest.raises(KeyboardInterrupt):
            epoch_end.on_epoch_end(0, {"val_accuracy": 0.5})
        epoch_end.on_epoch_end(1, {"val_accuracy": 0.5})  # raised once, not at every epoch after it
    finally:
        interrupt_heard()
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, before)
