"""The ``touchpoint`` command line: run the engine, feed it, watch it, replay it offline.

One module per command group; the commands parse, call the product and print. What they do
lives in agents/ (the rules file, the models' fitting, the journey) and in streams/ (the worker,
replay, the simulator, the embedded broker).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType
from typing import Any

import click

from streams.cli.alerts import alerts
from streams.cli.common import os_error
from streams.cli.console import console, hash_password
from streams.cli.erase import erase
from streams.cli.fit import fit_models
from streams.cli.identity import identity
from streams.cli.notify import notify
from streams.cli.records import produce_file, tail
from streams.cli.replay import replay_file
from streams.cli.rules import check_config, list_detectors
from streams.cli.run import run
from streams.cli.simulate import simulate
from streams.cli.worker import worker

__all__ = ["Terminated", "main"]


class Terminated(BaseException):
    """SIGTERM, raised where the command is, as Ctrl-C raises KeyboardInterrupt: every ``with`` and ``finally``
    between there and here runs (a replay stops its processes and removes its working folder, a fit its
    temporary files), and then the command ends as SIGTERM ends a process. Not an Exception, so that no
    ``except Exception`` takes it for a failure to tell."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    # A second SIGTERM while the first is cleaned up after would cut the clean-up short; SIGKILL still ends it.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


class _Commands(click.Group):
    """The commands, each with an error of the file system (a full disk, a file it may not write or read)
    told in one line as every other error is, where the command itself did not tell it better; and SIGTERM
    (a service manager's stop, ``kill``, ``timeout``) handled as Ctrl-C is. Commands that run an event loop
    (the worker, ``run``'s live view, ``tail``) replace this handler with their own while it runs."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        try:
            previous = signal.signal(signal.SIGTERM, _terminate)
        except ValueError:  # not the main thread: signals are not this command's to handle
            return super().main(*args, **kwargs)
        try:
            return super().main(*args, **kwargs)
        except Terminated:
            # Whoever started the command (a shell, a service manager) learns it ended because it was asked to.
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            raise  # only where the signal does not end the process
        finally:
            signal.signal(signal.SIGTERM, previous)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            raise  # a reader that went away (`| head`): nothing to tell it
        except OSError as exc:
            raise click.ClickException(os_error(exc)) from None


@click.group(
    cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.version_option(package_name="touchpoint")
def main() -> None:
    """Touchpoint: real-time customer journeys from omnichannel touchpoints.

    Start with `touchpoint run`: an embedded broker, a worker and simulated
    traffic, shown live. Every command has --help.
    """


for command in (
    worker,
    run,
    simulate,
    produce_file,
    tail,
    replay_file,
    alerts,
    erase,
    identity,
    fit_models,
    check_config,
    list_detectors,
    notify,
    console,
    hash_password,
):
    main.add_command(command)
