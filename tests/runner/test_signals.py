"""Ctrl-C while records are written: held back until they are, never lost, never invented."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator

import pytest

from sweeps.runner.signals import shielded


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
