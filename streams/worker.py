"""Run one Faust worker in this process until it is told to stop (SIGINT/SIGTERM)."""

from __future__ import annotations

import faust

from streams.app import create_app
from streams.settings import Settings


def run_worker(settings: Settings) -> None:
    """Start the worker for *settings* and block until shutdown."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    worker = faust.Worker(
        app,
        loglevel=settings.log_level,
        quiet=True,
        workdir=str(settings.data_dir),
    )
    worker.execute_from_commandline()
