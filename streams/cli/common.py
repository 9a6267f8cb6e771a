"""What the commands share: the broker, rules and model options, settings, and running async work."""

from __future__ import annotations

import asyncio
import functools
import signal
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from agents.config import Config, ConfigError, load_config
from streams.kafka import BrokerUnreachable, Connection, TopicsUnlisted, bootstrap_servers
from streams.kafka_security import MECHANISMS, KafkaSecurityError
from streams.local.broker import kafka_api_versions_ok
from streams.settings import Settings, SettingsError

__all__ = [
    "BROKER_HELP",
    "CONFIG_OPTION",
    "KAFKA_OPTION_NAMES",
    "MODEL_OPTION",
    "client_identity_key",
    "connection_of",
    "kafka_options",
    "load_rules",
    "load_settings",
    "os_error",
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


_PEM = click.Path(exists=True, dir_okay=False, path_type=Path)
#: How every command that talks to Kafka connects: TLS and SASL (secrets from the environment only).
_KAFKA_OPTIONS = (
    click.option(
        "--kafka-tls/--no-kafka-tls",
        "kafka_tls",
        default=None,
        help="Kafka over TLS (env TOUCHPOINT_KAFKA_TLS; implied by a CA or client certificate).",
    ),
    click.option(
        "--kafka-ca-file",
        type=_PEM,
        default=None,
        help="CA of the brokers' certificates, PEM (env …_CA_FILE).",
    ),
    click.option(
        "--kafka-cert-file", type=_PEM, default=None, help="Client certificate for mutual TLS, PEM."
    ),
    click.option(
        "--kafka-key-file",
        type=_PEM,
        default=None,
        help="Its private key, PEM; a password in TOUCHPOINT_KAFKA_KEY_PASSWORD(_FILE).",
    ),
    click.option(
        "--kafka-check-hostname/--kafka-no-check-hostname",
        "kafka_check_hostname",
        default=None,
        help="Check that broker certificates name the host [on].",
    ),
    click.option(
        "--kafka-sasl-mechanism",
        type=click.Choice(MECHANISMS, case_sensitive=False),
        default=None,
        help="SASL sign-in (env TOUCHPOINT_KAFKA_SASL_MECHANISM).",
    ),
    click.option(
        "--kafka-sasl-username",
        default=None,
        help="SASL user; the password only from TOUCHPOINT_KAFKA_SASL_PASSWORD(_FILE).",
    ),
)
#: The settings those options set, passed on as the ``kafka`` argument.
KAFKA_OPTION_NAMES = (
    "kafka_tls",
    "kafka_ca_file",
    "kafka_cert_file",
    "kafka_key_file",
    "kafka_check_hostname",
    "kafka_sasl_mechanism",
    "kafka_sasl_username",
)

_F = TypeVar("_F", bound=Callable[..., Any])


def kafka_options(command: _F) -> _F:
    """Add the Kafka TLS and SASL options to *command*; it receives them as one ``kafka`` mapping."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        kafka = {name: kwargs.pop(name, None) for name in KAFKA_OPTION_NAMES}
        return command(*args, kafka=kafka, **kwargs)

    decorated: Any = wrapper
    for option in reversed(_KAFKA_OPTIONS):
        decorated = option(decorated)
    return decorated  # type: ignore[no-any-return]


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def client_identity_key(settings: Settings) -> bytes | None:
    """The identity key for keying raw records, when this machine has the workers' (else None)."""
    if not settings.identity_salt:
        return None
    try:
        return settings.identity_key
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


def require_broker(broker: str | None, kafka: Mapping[str, Any] | None = None) -> Connection:
    """The configured brokers and their TLS and SASL settings, checked to answer, or a one-line error.

    *kafka* holds the Kafka options of the command (``kafka_options``); the environment fills the rest.
    """
    settings = load_settings(broker=broker, **(kafka or {}))
    return connection_of(settings)


def connection_of(settings: Settings) -> Connection:
    """The Connection of *settings*' broker, checked to answer (over TLS when configured)."""
    if not settings.broker:
        raise click.UsageError("no broker given: pass --broker kafka://HOST:PORT or set TOUCHPOINT_BROKER")
    bootstrap = bootstrap_servers(settings.broker)
    security = settings.kafka_security
    try:
        context = security.ssl_context()
    except KafkaSecurityError as exc:
        raise click.UsageError(str(exc)) from None
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not port.isdigit() or not kafka_api_versions_ok(
        host or "127.0.0.1", int(port), timeout=3.0, ssl_context=context
    ):
        over = "" if security.protocol == "PLAINTEXT" else f" over {security.protocol}"
        raise click.ClickException(f"no Kafka broker answers at {bootstrap}{over}")
    return Connection(bootstrap, security, settings.partitions, settings.replication_factor)


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
    except (BrokerUnreachable, TopicsUnlisted) as exc:
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


def operator_name() -> str:
    """Who acts when ``--by`` is not given: the signed-in user, else "operator"."""
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "operator"


async def request_and_await_answer(
    target: Connection,
    topic: str,
    record: dict[str, Any],
    key: bytes,
    answers: tuple[str, ...],
    is_answer: Callable[[dict[str, Any]], bool],
    wait: float,
    stop: asyncio.Event,
) -> dict[str, Any] | None:
    """Send *record* to *topic* once the reader is positioned; return the first record on *answers* that
    *is_answer* accepts, or the dead letter of the record sent, or None after *wait* seconds.

    A topic to watch that this client cannot read (missing, or its principal may not see it, as the
    privacy office may not see the dead letters) is left out, with a line on stderr: the record is sent
    all the same. With none of *answers* readable it is sent without waiting, and None is returned."""
    import orjson

    from streams import topics
    from streams.kafka import consume, producer, readable_topics

    sent: dict[str, str] = {}
    watched: tuple[str, ...] = (*answers, topics.DEAD_LETTER)
    # The request's topic is created with the others where missing, in the same round trip.
    readable = [name for name in await readable_topics(target, (topic, *watched)) if name in watched]
    unseen = [name for name in watched if name not in readable]
    if unseen:
        click.echo(
            f"cannot read {', '.join(unseen)} (missing, or not allowed to this client): "
            "an answer there will not be seen",
            err=True,
        )
    async with producer(target) as client:

        async def publish() -> None:
            metadata = await client.send_and_wait(topic, orjson.dumps(record), key=key)
            sent["source"] = f"{topic}:{metadata.partition}:{metadata.offset}"

        if not any(name in readable for name in answers):
            await publish()
            return None
        try:
            async with asyncio.timeout(wait):
                async for answer in consume(
                    target,
                    readable,
                    from_beginning=False,
                    stop=stop,
                    on_positioned=publish,
                ):
                    if answer.value is None:
                        continue
                    if answer.topic == topics.DEAD_LETTER:
                        # A dead letter's key is the source of the record it refused.
                        if answer.key is not None and answer.key.decode(errors="replace") == sent.get(
                            "source"
                        ):
                            refused: dict[str, Any] = orjson.loads(answer.value)
                            return refused
                        continue
                    document: dict[str, Any] = orjson.loads(answer.value)
                    if is_answer(document):
                        return document
        except TimeoutError:
            return None
    return None


def os_error(error: OSError) -> str:
    """*error* in a line: the file it names, if any, and what the system said."""
    reason = error.strerror or str(error) or type(error).__name__
    if error.filename is None:
        return reason
    if error.filename2 is not None:
        return f"{error.filename} → {error.filename2}: {reason}"
    return f"{error.filename}: {reason}"
