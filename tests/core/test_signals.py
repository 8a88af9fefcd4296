"""core.signals: SIGTERM as KeyboardInterrupt, and what an outer block still knows after an inner one."""

from __future__ import annotations

import os
import signal
import time

import pytest

from sentilite.core.signals import sigterm_as_interrupt, terminated


def test_a_nested_block_does_not_make_the_outer_one_forget_the_sigterm():
    """The CLI's block holds train's: after train's block ends, the CLI must still say "terminated
    (SIGTERM)" and exit 143. Planted defect: clear the flag on leaving every block."""
    before = signal.getsignal(signal.SIGTERM)
    with sigterm_as_interrupt():
        with pytest.raises(KeyboardInterrupt):
            with sigterm_as_interrupt():
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)  # the handler raises in here
        assert terminated()
    assert not terminated() and signal.getsignal(signal.SIGTERM) == before
