"""The ``touchpoint`` command line: run the engine, feed it, watch it, replay it offline.

One module per command group; the commands parse, call the product and print. What they do
lives in agents/ (the rules file, the models' fitting, the journey) and in streams/ (the worker,
replay, the simulator, the embedded broker).
"""

from __future__ import annotations

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

__all__ = ["main"]


class _Commands(click.Group):
    """The commands, each with an error of the file system (a full disk, a file it may not write or read)
    told in one line as every other error is, where the command itself did not tell it better."""

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
