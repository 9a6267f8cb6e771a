"""Run one Faust worker in this process until it is told to stop (SIGINT/SIGTERM)."""

from __future__ import annotations

import logging

import faust

from streams import redaction
from streams.app import create_app
from streams.runtime.heap import set_thresholds
from streams.settings import Settings


class Worker(faust.Worker):
    """Faust's worker without its terminal spinner.

    The spinner's handler sets the root logger to DEBUG so that it turns on every record;
    then every debug call in Faust, mode and aiokafka builds a LogRecord that the handlers
    drop. Profiled under load that was about 9 % of the worker's CPU (bench/PROFILE.md).
    """

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        logger.setLevel(level)
        # Whatever Faust, mode or aiokafka log, at any level: no secret, no record contents.
        redaction.install(logger)


def run_worker(settings: Settings) -> None:
    """Start the worker for *settings* and block until shutdown."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    set_thresholds(settings.collector_thresholds)
    app = create_app(settings)
    worker = Worker(
        app,
        loglevel=settings.log_level,
        quiet=True,
        workdir=str(settings.data_dir),
    )
    worker.execute_from_commandline()
