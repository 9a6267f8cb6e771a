"""What the commands share: the broker, rules and model options, settings, and running async work."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from agents.config import Config, ConfigError, load_config
from streams.kafka import BrokerUnreachable, bootstrap_servers
from streams.local.broker import kafka_api_versions_ok
from streams.settings import Settings, SettingsError

__all__ = [
    "BROKER_HELP",
    "CONFIG_OPTION",
    "MODEL_OPTION",
    "load_rules",
    "load_settings",
    "port_free",
    "require_broker",
    "run_async",
]

BROKER_HELP = "Kafka broker, e.g. kafka://localhost:9092 (env TOUCHPOINT_BROKER)."
CONFIG_OPTION = click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Rules file (TOML; env TOUCHPOINT_CONFIG).",
)
MODEL_OPTION = click.option(
    "--model",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Model parameters from `touchpoint fit` (env TOUCHPOINT_MODEL; default: model.params, else built-in).",
)


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def load_rules(path: Path | None, model: Path | None = None) -> Config:
    """The rules file, validated, or an error with one line per problem naming the file, the key and what."""
    try:
        return load_config(path, model)
    except ConfigError as exc:
        raise click.ClickException(_problems(exc)) from None


def _problems(exc: ConfigError) -> str:
    if len(exc.problems) <= 1:
        return str(exc)
    return f"{len(exc.problems)} problems:\n" + "\n".join(f"  {problem}" for problem in exc.problems)


def require_broker(broker: str | None) -> str:
    """The bootstrap servers of the configured broker, checked to answer, or a one-line error."""
    url = broker or load_settings().broker
    if not url:
        raise click.UsageError("no broker given: pass --broker kafka://HOST:PORT or set TOUCHPOINT_BROKER")
    bootstrap = bootstrap_servers(url)
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not port.isdigit() or not kafka_api_versions_ok(host or "127.0.0.1", int(port), timeout=3.0):
        raise click.ClickException(f"no Kafka broker answers at {bootstrap}")
    return bootstrap


def run_async(coroutine_factory: Callable[[asyncio.Event], Any]) -> Any:
    """Run a coroutine that stops cleanly when SIGINT/SIGTERM sets the event it is given."""

    async def main() -> Any:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await coroutine_factory(stop)

    try:
        return asyncio.run(main())
    except BrokerUnreachable as exc:
        raise click.ClickException(str(exc)) from None
    except LookupError as exc:
        raise click.ClickException(str(exc.args[0] if exc.args else exc)) from None


def port_free(port: int) -> bool:
    """Whether *port* can be bound on loopback now."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
