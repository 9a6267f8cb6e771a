"""Processes tied to the process that started them: a child that outlives its parent works for no one."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["end_with_parent"]

#: prctl(2)'s option for the signal a process gets when its parent ends.
_PR_SET_PDEATHSIG = 1


def end_with_parent(sig: signal.Signals, parent: int | None = None) -> None:
    """Have the kernel send *sig* to this process when its parent ends, ``kill -9`` included (Linux; elsewhere
    nothing). *parent*: the pid this process was started by, when it is known. A parent that ended before
    this call went unnoticed by the kernel; this process then ends at once, with the signal its parent's
    end would have sent."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, int(sig))
    if parent is not None and os.getppid() != parent:
        os.kill(os.getpid(), sig)
