"""Writes that fail as on a full disk, without a filesystem of their own."""

from __future__ import annotations

import resource
import signal
from collections.abc import Callable


def capped_file_size(limit: int) -> Callable[[], None]:
    """For ``subprocess``'s ``preexec_fn``: no file the child (or a process it forks) writes grows past *limit*
    bytes. ``SIGXFSZ`` is ignored, so a write past it fails with ``EFBIG`` instead of ending the process."""

    def cap() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return cap
