"""Progress on a terminal for long jobs (replay, simulate, fit, produce); nothing when piped."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import click

__all__ = ["StageProgress", "bar", "interactive"]


@contextlib.contextmanager
def bar(length: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr while it is a terminal; nothing at all when piped or redirected.

    Yields ``advance(n)``: n more units done. A *length* of 0 (unknown) shows nothing either.
    """
    if not interactive() or length <= 0:
        yield lambda _n: None
        return
    # Redrawn every 0.2 % at most: a bar updated per record must not cost more than the record.
    steps = max(1, length // 500)
    with click.progressbar(
        length=length, label=label, file=sys.stderr, show_eta=True, update_min_steps=steps
    ) as bar:
        yield bar.update


def interactive() -> bool:
    return sys.stderr.isatty()


class StageProgress:
    """One progress bar per stage of a long job (``progress(stage, done, total)``), on a terminal only."""

    def __init__(self, labels: dict[str, str]) -> None:
        self._labels = labels
        self._stage: str | None = None
        self._bar: Any = None
        self._done = 0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self._stage:
            self.close()
            self._stage, self._done = stage, 0
            self._bar = click.progressbar(length=total, label=self._labels.get(stage, stage), file=sys.stderr)
            self._bar.__enter__()
        self._bar.update(done - self._done)
        self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.update(self._bar.length - self._done)
            self._bar.__exit__(None, None, None)
            self._bar = None
