"""``touchpoint worker``: one worker against a Kafka cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from streams.auth import AuthError, Credentials, check_bind
from streams.cli.common import (
    BROKER_HELP,
    CONFIG_OPTION,
    MODEL_OPTION,
    connection_of,
    kafka_options,
    load_rules,
    load_settings,
)
from streams.local.broker import free_port
from streams.settings import Settings, SettingsError


@click.command()
@click.option("--broker", default=None, help=BROKER_HELP)
@click.option("--app-id", default=None, help="Consumer group / state namespace (env TOUCHPOINT_APP_ID).")
@click.option(
    "--web-port",
    type=int,
    default=None,
    help="Port for /metrics, /ready and lookups (env TOUCHPOINT_WEB_PORT; 0: any free port).",
)
@click.option("--web-host", default=None, help="Interface for the web server (env TOUCHPOINT_WEB_HOST).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Worker state directory.")
@click.option("--partitions", type=int, default=None, help="Partitions of topics the worker creates.")
@click.option("--log-level", default=None, help="debug, info, warning (default) or error.")
@click.option(
    "--development",
    is_flag=True,
    default=None,
    help="A development run: accept the public development identity key (env TOUCHPOINT_DEVELOPMENT).",
)
@CONFIG_OPTION
@MODEL_OPTION
@kafka_options
def worker(kafka: dict[str, Any], **options: Any) -> None:
    """Run one worker against a Kafka cluster until SIGINT/SIGTERM.

    Start several with the same --app-id to share the partitions. The identity key
    (TOUCHPOINT_IDENTITY_SALT or _FILE) must be set unless --development; listening beyond
    loopback needs a token (TOUCHPOINT_WEB_TOKEN or _FILE).
    """
    settings = load_settings(**options, **kafka)
    if settings.embedded:
        raise click.UsageError(
            "no broker given: pass --broker or set TOUCHPOINT_BROKER (`touchpoint run` starts an embedded one)"
        )
    load_rules(settings.config, settings.model)
    start_worker(settings)


def start_worker(settings: Settings) -> None:
    """Run the worker against the configured broker; web port 0 becomes a free port, said on stderr.

    Refuses, with one line, the public identity key outside a development run and a web server
    beyond loopback without a token.
    """
    try:
        settings.check_identity_key()
        check_bind(
            settings.web_host,
            Credentials(tokens=settings.web_tokens()),
            "the worker's web server (customer state)",
            "Set TOUCHPOINT_WEB_TOKEN (or TOUCHPOINT_WEB_TOKEN_FILE)",
        )
    except (SettingsError, AuthError) as exc:
        raise click.UsageError(str(exc)) from None
    connection_of(settings)
    if settings.web_port == 0:
        # Chosen here, not by the web server: the port is also the address other workers forward lookups to.
        settings = settings.replace(web_port=free_port(settings.web_host))
        click.echo(
            f"web server on http://{settings.web_host}:{settings.web_port} (/metrics, /ready)", err=True
        )
    from streams.worker import run_worker  # imports faust: keep the other commands fast to start

    run_worker(settings)
