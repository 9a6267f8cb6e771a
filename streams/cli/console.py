"""``touchpoint console`` and ``touchpoint hash-password``: the commands; the console is streams/webconsole/app.py."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

import click

from streams.cli.common import kafka_options


@click.command("console")
@click.option(
    "--broker", default=None, help="Kafka broker, e.g. kafka://localhost:9092 (env TOUCHPOINT_BROKER)."
)
@click.option(
    "--host",
    "console_host",
    default=None,
    help="Interface to listen on [127.0.0.1] (env TOUCHPOINT_CONSOLE_HOST).",
)
@click.option(
    "--port", "console_port", type=int, default=None, help="Port [6070] (env TOUCHPOINT_CONSOLE_PORT)."
)
@click.option(
    "--worker-url",
    "console_worker_url",
    default=None,
    help="A worker's web address, for customer state [http://127.0.0.1:6066] (env TOUCHPOINT_CONSOLE_WORKER_URL).",
)
@click.option(
    "--url",
    "console_url",
    default=None,
    help="Public base URL, if behind a proxy (env TOUCHPOINT_CONSOLE_URL).",
)
@click.option("--log-level", default=None, help="debug, info, warning (default) or error.")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Rules file (env TOUCHPOINT_CONSOLE_HISTORY_DAYS defaults to its alerts.retain_days).",
)
@kafka_options
def console(
    broker: str | None, log_level: str | None, config: Path | None, kafka: dict[str, Any], **options: Any
) -> None:
    """The ops console: a live inbox of alerts in the browser, with actions and customer views.

    Sign-in: operators' bcrypt/argon2 hashes in TOUCHPOINT_CONSOLE_USERS (name:hash entries separated by spaces,
    or a file in TOUCHPOINT_CONSOLE_USERS_FILE; make hashes with `touchpoint hash-password`) and/or
    shared tokens in TOUCHPOINT_CONSOLE_TOKEN(_FILE). Without any, it listens on loopback only.
    """
    from streams import redaction
    from streams.auth import AuthError, Credentials, SessionSigner, check_bind, read_secret
    from streams.cli.common import connection_of, load_rules, load_settings, run_async
    from streams.ops_settings import ConsoleSettings, load
    from streams.settings import ENV_PREFIX, SettingsError

    settings = load_settings(broker=broker, log_level=log_level, config=config, **kafka)
    rules = load_rules(settings.config)
    if "TOUCHPOINT_CONSOLE_HISTORY_DAYS" not in os.environ:
        options["console_history_days"] = rules.alerts.retain_days
    try:
        console_settings = load(ConsoleSettings, **options)
        credentials = Credentials.from_env(os.environ, f"{ENV_PREFIX}CONSOLE_")
        check_bind(
            console_settings.console_host,
            credentials,
            "the console",
            "Set TOUCHPOINT_CONSOLE_USERS (name:hash, see `touchpoint hash-password`) or TOUCHPOINT_CONSOLE_TOKEN",
        )
        secret = read_secret(os.environ, f"{ENV_PREFIX}CONSOLE_SESSION_SECRET")
        worker_tokens = settings.web_tokens()
    except (SettingsError, AuthError) as exc:
        raise click.UsageError(str(exc)) from None
    bootstrap = connection_of(settings)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
    )
    redaction.install()
    signer = SessionSigner(secret.encode() if secret else None)
    from streams.webconsole.app import run_console

    def ready(url: str) -> None:
        how = "sign-in required" if credentials.required else "no sign-in (loopback only)"
        click.echo(f"console on {url} ({how}) · Ctrl-C to stop", err=True)

    worker_token = worker_tokens[0] if worker_tokens else ""
    run_async(
        lambda stop: run_console(
            console_settings, credentials, signer, bootstrap, stop, ready, worker_token=worker_token
        )
    )


@click.command("hash-password")
@click.option(
    "--scheme",
    type=click.Choice(["bcrypt", "argon2"]),
    default="bcrypt",
    show_default=True,
    help="Hash function: bcrypt, or argon2 (argon2id).",
)
@click.option("--name", default=None, help="Print name:hash, ready for TOUCHPOINT_CONSOLE_USERS.")
def hash_password(scheme: str, name: str | None) -> None:
    """Hash a password read from the terminal (or one line of stdin) for TOUCHPOINT_CONSOLE_USERS."""
    from streams.auth import AuthError
    from streams.auth import hash_password as make_hash

    if sys.stdin.isatty():
        password = click.prompt("password", hide_input=True, confirmation_prompt=True, err=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    try:
        hashed = make_hash(password, scheme)
    except AuthError as exc:
        raise click.UsageError(str(exc)) from None
    click.echo(f"{name}:{hashed}" if name else hashed)
