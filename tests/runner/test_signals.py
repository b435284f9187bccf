"""Ctrl-C while records are written: held back until they are, never lost."""

from __future__ import annotations

import pytest


def test_a_ctrl_c_while_records_are_written_is_held_back_not_lost() -> None:
    import os
    import signal

    from sweeps.runner.signals import shielded

    written = []
    with pytest.raises(KeyboardInterrupt), shielded():
        os.kill(os.getpid(), signal.SIGINT)
        written.append("records")  # still written: the interrupt waits for the block
    assert written == ["records"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_ctrl_c_while_an_interrupt_is_already_being_handled_adds_nothing() -> None:
    import os
    import signal

    from sweeps.runner.signals import shielded

    with pytest.raises(KeyboardInterrupt, match="first"):
        try:
            raise KeyboardInterrupt("first")
        finally:
            with shielded():
                os.kill(os.getpid(), signal.SIGINT)
