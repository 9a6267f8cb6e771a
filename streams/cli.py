"""The ``touchpoint`` command line: run the engine, feed it, watch it, replay it offline."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import click
import orjson

from agents.config import Config, ConfigError, effective_config, load_config
from streams import topics
from streams.kafka import BrokerUnreachable, bootstrap_servers, consume, produce
from streams.local.broker import BrokerError, EmbeddedBroker, free_port, kafka_api_versions_ok
from streams.settings import Settings, SettingsError
from streams.terminal import safe

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


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


def _load_rules(path: Path | None, model: Path | None = None) -> Config:
    """The rules file, validated, or an error with one line per problem naming the file, the key and what."""
    try:
        return load_config(path, model)
    except ConfigError as exc:
        raise click.ClickException(_problems(exc)) from None


def _problems(exc: ConfigError) -> str:
    if len(exc.problems) <= 1:
        return str(exc)
    return f"{len(exc.problems)} problems:\n" + "\n".join(f"  {problem}" for problem in exc.problems)


def _require_broker(broker: str | None) -> str:
    """The bootstrap servers of the configured broker, checked to answer, or a one-line error."""
    url = broker or _settings().broker
    if not url:
        raise click.UsageError("no broker given: pass --broker kafka://HOST:PORT or set TOUCHPOINT_BROKER")
    bootstrap = bootstrap_servers(url)
    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not port.isdigit() or not kafka_api_versions_ok(host or "127.0.0.1", int(port), timeout=3.0):
        raise click.ClickException(f"no Kafka broker answers at {bootstrap}")
    return bootstrap


@contextlib.contextmanager
def _progress(length: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr while it is a terminal; nothing at all when piped or redirected.

    Yields ``advance(n)``: n more units done. A *length* of 0 (unknown) shows nothing either.
    """
    if not _interactive() or length <= 0:
        yield lambda _n: None
        return
    # Redrawn every 0.2 % at most: a bar updated per record must not cost more than the record.
    steps = max(1, length // 500)
    with click.progressbar(
        length=length, label=label, file=sys.stderr, show_eta=True, update_min_steps=steps
    ) as bar:
        yield bar.update


def _interactive() -> bool:
    return sys.stderr.isatty()


class _StageProgress:
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


def _run_async(coroutine_factory: Callable[[asyncio.Event], Any]) -> Any:
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="touchpoint")
def main() -> None:
    """Touchpoint: real-time customer journeys from omnichannel touchpoints.

    Start with `touchpoint run`: an embedded broker, a worker and simulated
    traffic, shown live. Every command has --help.
    """


# ----------------------------------------------------------------------------- worker


@main.command()
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
@CONFIG_OPTION
@MODEL_OPTION
def worker(**options: Any) -> None:
    """Run one worker against a Kafka cluster until SIGINT/SIGTERM.

    Start several with the same --app-id to share the partitions.
    """
    settings = _settings(**options)
    if settings.embedded:
        raise click.UsageError(
            "no broker given: pass --broker or set TOUCHPOINT_BROKER (`touchpoint run` starts an embedded one)"
        )
    _load_rules(settings.config, settings.model)
    _start_worker(settings)


def _start_worker(settings: Settings) -> None:
    """Run the worker against the configured broker; web port 0 becomes a free port, said on stderr."""
    _require_broker(settings.broker)
    if settings.web_port == 0:
        # Chosen here, not by the web server: the port is also the address other workers forward lookups to.
        settings = settings.replace(web_port=free_port(settings.web_host))
        click.echo(
            f"web server on http://{settings.web_host}:{settings.web_port} (/metrics, /ready)", err=True
        )
    from streams.worker import run_worker  # imports faust: keep the other commands fast to start

    run_worker(settings)


# ----------------------------------------------------------------------------- run


@main.command()
@click.option("--broker", default=None, help=BROKER_HELP + " Given: run only the worker against it.")
@click.option(
    "--customers", type=click.IntRange(1), default=2000, show_default=True, help="Simulated customers."
)
@click.option(
    "--rate", type=click.FloatRange(min=0.1), default=200.0, show_default=True, help="Events per second."
)
@click.option("--seed", type=int, default=7, show_default=True, help="Simulation seed.")
@click.option(
    "--malformed-share",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Share of deliberately malformed records, to show the dead-letter path.",
)
@click.option(
    "--web-port", type=int, default=None, help="Worker web port (default 6066 if free; 0: any free port)."
)
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=None, help="Logs and state (default: temp dir)."
)
@click.option(
    "--duration", type=click.FloatRange(min=1), default=None, help="Stop after N seconds (default: Ctrl-C)."
)
@click.option(
    "--console-port",
    type=int,
    default=None,
    help="Ops console port (default 6070 if free; 0: any free port).",
)
@CONFIG_OPTION
@MODEL_OPTION
def run(
    broker: str | None,
    customers: int,
    rate: float,
    seed: int,
    malformed_share: float,
    web_port: int | None,
    data_dir: Path | None,
    duration: float | None,
    console_port: int | None,
    config: Path | None,
    model: Path | None,
) -> None:
    """The main job. Without a broker: embedded broker + worker + ops console + simulated traffic, shown live.

    With --broker (or TOUCHPOINT_BROKER): only the worker, against that cluster.
    """
    settings = _settings(broker=broker, web_port=web_port, data_dir=data_dir, config=config, model=model)
    _load_rules(settings.config, settings.model)
    if not settings.embedded:
        _start_worker(settings)
        return
    from streams.console import next_steps
    from streams.local.services import ServiceFailed
    from streams.local.supervisor import WorkerFailed, WorkerProcess

    workdir = data_dir or Path(tempfile.mkdtemp(prefix="touchpoint-run-"))
    # 0 means any free port; so does a busy default, since the demo should start anywhere.
    port = free_port() if web_port == 0 or not _port_free(settings.web_port) else settings.web_port
    out = sys.stdout
    try:
        broker_process = EmbeddedBroker(log_path=workdir / "broker.log").start()
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from None
    worker_process = WorkerProcess(
        broker_process.url,
        port,
        workdir / "worker",
        extra_args=[
            *(["--config", str(settings.config.resolve())] if settings.config else []),
            *(["--model", str(settings.model.resolve())] if settings.model else []),
        ],
        # The embedded run makes its own secret for the worker's timer ticks; it never leaves the process env.
        extra_env={"TOUCHPOINT_CONTROL_SECRET": settings.control_secret or secrets.token_hex(32)},
    )
    console_process = _console_process(broker_process.url, worker_process.base_url, console_port, workdir)
    try:
        print(f"touchpoint · embedded broker {broker_process.bootstrap} · logs in {workdir}", file=out)
        print(f"starting worker (metrics on {worker_process.base_url}/metrics) …", file=out, flush=True)
        started = time.monotonic()
        worker_process.start().wait_ready()
        console_process.start().wait_ready()
        console_url = console_process.ready_url.removesuffix("/healthz")
        print(f"ops console on {console_url} (alerts live in the browser)", file=out, flush=True)
        print(
            f"worker ready in {time.monotonic() - started:.1f}s · simulating {customers:,} customers at "
            f"{rate:,.0f} events/s · {'Ctrl-C to stop' if duration is None else f'for {duration:.0f}s'}",
            file=out,
            flush=True,
        )
        hints = next_steps(broker_process.url, console_url)
        sent = _run_async(
            lambda stop: _simulate_and_watch(
                broker_process.bootstrap, customers, rate, seed, malformed_share, duration, stop, out, hints
            )
        )
        print(f"stopping … {sent:,} events sent", file=out, flush=True)
    except (WorkerFailed, ServiceFailed) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        console_process.stop()
        worker_process.stop()
        broker_process.stop()
    print("stopped cleanly", file=out)


async def _simulate_and_watch(
    bootstrap: str,
    customers: int,
    rate: float,
    seed: int,
    malformed_share: float,
    duration: float | None,
    stop: asyncio.Event,
    out: TextIO,
    hints: list[str] | None = None,
) -> int:
    from streams.console import watch
    from streams.simulator import SimulationSpec, generate

    # Start the simulated clock now, so event times and the wall clock agree at first (a time-lapse from there).
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    spec = SimulationSpec(customers=customers, seed=seed, start=start, malformed_share=malformed_share)
    if duration is not None:
        asyncio.get_running_loop().call_later(duration, stop.set)
    viewer = asyncio.create_task(watch(bootstrap, out, stop, hints=hints))
    try:
        # Simulated producers stamp records with their simulated clock, which runs ahead of the wall clock.
        sent = await produce(
            bootstrap, topics.RAW, generate(spec), rate=rate, stop=stop, event_time_stamps=True
        )
        await stop.wait()
    finally:
        stop.set()
        await viewer
    return sent


def _console_process(broker_url: str, worker_url: str, port: int | None, workdir: Path) -> Any:
    """The ops console for `touchpoint run`, on loopback (see docs/console.md)."""
    from streams.local.services import ServiceProcess
    from streams.ops_settings import DEFAULT_CONSOLE_PORT

    if port is None:
        port = DEFAULT_CONSOLE_PORT if _port_free(DEFAULT_CONSOLE_PORT) else 0
    port = port or free_port()
    args = ["console", "--broker", broker_url, "--port", str(port), "--worker-url", worker_url]
    # On loopback whatever TOUCHPOINT_CONSOLE_HOST says: the demo is for this machine. Sign-in as configured.
    return ServiceProcess(
        args,
        f"http://127.0.0.1:{port}/healthz",
        workdir / "console.log",
        env={"TOUCHPOINT_CONSOLE_HOST": "127.0.0.1"},
    )


def _port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# ----------------------------------------------------------------------------- simulate


@main.command()
@click.option(
    "--customers", type=click.IntRange(1), default=1000, show_default=True, help="Simulated customers."
)
@click.option(
    "--events",
    type=click.IntRange(1),
    default=None,
    help="How many records (default 10,000; endless with --rate).",
)
@click.option(
    "--rate", type=click.FloatRange(min=0.1), default=None, help="Events/s (default: as fast as possible)."
)
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same records.")
@click.option(
    "--malformed-share",
    type=click.FloatRange(0, 1),
    default=0.01,
    show_default=True,
    help="Share of deliberately malformed records, to show the dead-letter path.",
)
@click.option(
    "--start",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]),
    default=None,
    help="Simulated clock start, UTC (default 2026-01-05, a Monday).",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write JSONL here instead of to a broker.",
)
@click.option("--broker", default=None, help=BROKER_HELP)
@click.option("--topic", default=topics.RAW, show_default=True, help="Topic to send the records to.")
def simulate(
    customers: int,
    events: int | None,
    rate: float | None,
    seed: int,
    malformed_share: float,
    start: datetime | None,
    out_path: Path | None,
    broker: str | None,
    topic: str,
) -> None:
    """Generate realistic omnichannel traffic to a topic or a JSONL file."""
    from streams.simulator import SimulationSpec, generate

    spec = SimulationSpec(customers=customers, seed=seed, malformed_share=malformed_share)
    if start is not None:
        spec = SimulationSpec(
            customers=customers, seed=seed, malformed_share=malformed_share, start=start.replace(tzinfo=UTC)
        )
    if events is None and rate is None:
        events = 10_000
    records: Iterator[bytes] = generate(spec)
    if events is not None:
        records = itertools.islice(records, events)
    if out_path is not None:
        if broker:
            raise click.UsageError("give either --out or --broker, not both")
        written = 0
        with out_path.open("wb") as handle, _progress(events or 0, "simulating") as advance:
            for record in records:
                handle.write(record.replace(b"\n", b" ") + b"\n")  # a record must stay one line
                written += 1
                advance(1)
        click.echo(f"wrote {written:,} records to {out_path}", err=True)
        return
    bootstrap = _require_broker(broker)
    started = time.monotonic()
    with _progress(events or 0, f"sending to {topic}") as advance:
        sent = _run_async(
            lambda stop: produce(
                bootstrap,
                topic,
                records,
                rate=rate,
                stop=stop,
                on_sent=lambda _value: advance(1),
                event_time_stamps=True,
            )
        )
    elapsed = time.monotonic() - started
    click.echo(
        f"sent {sent:,} records to {topic} in {elapsed:.1f}s ({sent / max(elapsed, 1e-9):,.0f}/s)", err=True
    )


# ----------------------------------------------------------------------------- produce


@main.command("produce")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--broker", default=None, help=BROKER_HELP)
@click.option("--topic", default=topics.RAW, show_default=True, help="Topic to send the lines to.")
@click.option(
    "--rate", type=click.FloatRange(min=0.1), default=None, help="Events/s (default: as fast as possible)."
)
def produce_file(file: Path, broker: str | None, topic: str, rate: float | None) -> None:
    """Send each line of FILE (JSONL) as one record to the touchpoints topic."""
    from streams.files import read_records

    bootstrap = _require_broker(broker)
    try:
        size = file.stat().st_size
    except OSError as exc:
        raise click.ClickException(f"cannot read {file}: {exc.strerror}") from None
    with _progress(size, f"producing {file.name}") as bar:

        def advance(value: bytes) -> None:
            bar(len(value) + 1)

        started = time.monotonic()
        sent = _run_async(
            lambda stop: produce(
                bootstrap,
                topic,
                (raw for _, raw in read_records(file)),
                rate=rate,
                on_sent=advance,
                stop=stop,
            )
        )
    elapsed = time.monotonic() - started
    click.echo(
        f"sent {sent:,} records to {topic} in {elapsed:.1f}s ({sent / max(elapsed, 1e-9):,.0f}/s)", err=True
    )


# ----------------------------------------------------------------------------- tail


@main.command()
@click.argument("topic", nargs=-1, required=True)
@click.option("--broker", default=None, help=BROKER_HELP)
@click.option(
    "--from-beginning/--from-end",
    default=True,
    show_default=True,
    help="Start at the oldest record kept, or only show records that arrive from now on.",
)
@click.option("--count", "limit", type=click.IntRange(1), default=None, help="Stop after N records.")
@click.option("--idle-timeout", type=float, default=None, help="Stop after N seconds without records.")
@click.option("--pretty/--compact", default=False, help="Indent JSON values.")
def tail(
    topic: tuple[str, ...],
    broker: str | None,
    from_beginning: bool,
    limit: int | None,
    idle_timeout: float | None,
    pretty: bool,
) -> None:
    """Follow TOPIC(s) and print each record: topic, partition@offset, key, value."""
    bootstrap = _require_broker(broker)

    async def follow(stop: asyncio.Event) -> None:
        shown = 0
        async for record in consume(
            bootstrap, topic, from_beginning=from_beginning, idle_timeout=idle_timeout, stop=stop
        ):
            click.echo(_format_record(record, pretty))
            shown += 1
            if limit is not None and shown >= limit:
                return

    with contextlib.suppress(BrokenPipeError):
        _run_async(follow)


def _format_record(record: Any, pretty: bool) -> str:
    """One record as a line (or an indented block): whatever its bytes, nothing that drives a terminal."""
    key = record.key.decode("utf-8", "replace") if record.key is not None else "-"
    header = safe(f"{record.topic} [{record.partition}]@{record.offset} key={key}")
    if record.value is None:
        return f"{header}  (null)"
    try:
        value = orjson.loads(record.value)
        body = safe(
            orjson.dumps(value, option=orjson.OPT_INDENT_2 if pretty else 0).decode(), keep_newlines=True
        )
    except orjson.JSONDecodeError:
        body = repr(record.value[:500])
    return f"{header}\n{body}" if pretty else f"{header}  {body}"


# ----------------------------------------------------------------------------- replay


@main.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Output directory.",
)
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="State at the end of this day: later touchpoints are not applied; models read on this day.",
)
@CONFIG_OPTION
@MODEL_OPTION
def replay_file(
    file: Path, out_dir: Path, as_of: datetime | None, config: Path | None, model: Path | None
) -> None:
    """Process FILE (JSONL) offline, no broker, in event-time order; one JSONL per output topic in --out.

    Also writes customers.jsonl: each customer's stage, value and model figures (P(alive), CLV …).
    """
    from agents.ingest.decode import TouchpointDecoder
    from agents.journey.track import JourneyTracker
    from streams.replay import replay

    settings = _settings(config=config, model=model)
    rules = _load_rules(settings.config, settings.model)
    salt = settings.identity_salt.encode()
    decoder = TouchpointDecoder(identity_salt=salt, max_bytes=settings.max_event_bytes)
    progress = _StageProgress({"reading": f"reading {file.name}", "applying": "applying touchpoints"})
    try:
        summary = replay(
            file,
            out_dir,
            decoder,
            JourneyTracker(rules, salt),
            as_of.date() if as_of else None,
            progress=progress if _interactive() else None,
        )
    except OSError as exc:
        raise click.ClickException(f"{exc.filename or file}: {exc.strerror}") from None
    finally:
        progress.close()
    click.echo(summary.describe())


# ----------------------------------------------------------------------------- alerts


@main.group()
def alerts() -> None:
    """Act on alerts: acknowledge, resolve or snooze one (published to alerts.actions)."""


def _send_action(alert_id: str, action: str, by: str, broker: str | None, wait: float, **extra: str) -> None:
    """Publish the action, then wait for the worker's answer: the alert republished, or a refusal."""
    from agents.domain.alert import parse_alert_id

    try:
        alert_type, customer_id = parse_alert_id(alert_id)
    except ValueError as exc:
        raise click.UsageError(safe(str(exc))) from None
    at = datetime.now(UTC)
    record = {
        "schema_version": 1,
        "alert_id": alert_id,
        "action": action,
        "by": by,
        "at": at.isoformat(),
        **extra,
    }
    import schemas

    try:
        schemas.validator("alert_action")(record)
    except schemas.ValidationError as exc:
        raise click.UsageError(safe(f"invalid action: {exc.message}")) from None
    bootstrap = _require_broker(broker)
    outcome = _run_async(
        lambda stop: _act_and_confirm(bootstrap, record, alert_type, customer_id, wait, stop)
    )
    if outcome is None:
        raise click.ClickException(
            f"no worker answered within {wait:g} s: the {action} for {safe(alert_id)} is on {topics.ACTIONS} "
            "and will be applied once a worker reads it (is one running?)"
        )
    if outcome.get("reason") is not None:  # a dead letter: the worker refused the action
        raise click.ClickException(f"{action} refused: {safe(str(outcome.get('message')))}")
    click.echo(
        f"{safe(alert_id)} is now {outcome.get('status')} (by {safe(str(outcome.get('status_changed_by')))})"
    )
    snoozed = outcome.get("details", {}).get("snoozed_until")
    if snoozed:
        clamped = outcome.get("details", {}).get("snooze_clamped_from")
        note = f" (clamped from {safe(clamped)}: alerts.max_snooze_minutes)" if clamped else ""
        click.echo(f"alerts of type {alert_type} held for this customer until {safe(snoozed)}{note}")


async def _act_and_confirm(
    bootstrap: str,
    record: dict[str, Any],
    alert_type: str,
    customer_id: str,
    wait: float,
    stop: asyncio.Event,
) -> dict[str, Any] | None:
    """Send *record* to alerts.actions; return the alert the worker republished, or its dead letter."""
    from streams.kafka import producer

    sent: dict[str, str] = {}

    async with producer(bootstrap) as client:

        async def publish() -> None:
            metadata = await client.send_and_wait(
                topics.ACTIONS, orjson.dumps(record), key=customer_id.encode()
            )
            sent["source"] = f"{topics.ACTIONS}:{metadata.partition}:{metadata.offset}"

        watched = (topics.alert_topic(alert_type), topics.DEAD_LETTER)
        try:
            async with asyncio.timeout(wait):
                async for answer in consume(
                    bootstrap, watched, from_beginning=False, stop=stop, on_positioned=publish
                ):
                    if answer.value is None:
                        continue
                    if answer.topic == topics.DEAD_LETTER:
                        if answer.key is not None and answer.key.decode(errors="replace") == sent.get(
                            "source"
                        ):
                            document: dict[str, Any] = orjson.loads(answer.value)
                            return document
                        continue
                    alert = orjson.loads(answer.value)
                    if (
                        alert.get("alert_id") == record["alert_id"]
                        and alert.get("status_changed_by") == record["by"]
                        and alert.get("status") in ("acknowledged", "resolved")
                    ):
                        return alert  # type: ignore[no-any-return]
        except TimeoutError:
            return None
    return None


_BY = click.option("--by", default=None, help="Who acts (default: $USER).")
_WAIT = click.option(
    "--wait",
    type=click.FloatRange(min=1),
    default=15.0,
    show_default=True,
    help="Seconds to wait for the worker to confirm or refuse the action.",
)


@alerts.command("ack")
@click.argument("alert_id")
@_BY
@_WAIT
@click.option("--broker", default=None, help=BROKER_HELP)
def alerts_ack(alert_id: str, by: str | None, wait: float, broker: str | None) -> None:
    """Acknowledge ALERT_ID: someone owns it; nothing more is raised for its case.

    Exits non-zero when the worker refuses it (no such open alert) or does not answer.
    """
    _send_action(alert_id, "acknowledge", by or _who(), broker, wait)


@alerts.command("resolve")
@click.argument("alert_id")
@_BY
@click.option("--note", default=None, help="What was done.")
@_WAIT
@click.option("--broker", default=None, help=BROKER_HELP)
def alerts_resolve(alert_id: str, by: str | None, note: str | None, wait: float, broker: str | None) -> None:
    """Resolve ALERT_ID. Exits non-zero when the worker refuses it or does not answer."""
    _send_action(alert_id, "resolve", by or _who(), broker, wait, **({"note": note} if note else {}))


@alerts.command("snooze")
@click.argument("alert_id")
@click.option(
    "--minutes",
    type=click.IntRange(1),
    default=60,
    show_default=True,
    help="For how long (the worker clamps it to alerts.max_snooze_minutes).",
)
@_BY
@_WAIT
@click.option("--broker", default=None, help=BROKER_HELP)
def alerts_snooze(alert_id: str, minutes: int, by: str | None, wait: float, broker: str | None) -> None:
    """Snooze ALERT_ID: acknowledge it and hold alerts of its type for the customer for --minutes."""
    until = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()
    _send_action(alert_id, "snooze", by or _who(), broker, wait, until=until)


def _who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:
        return "operator"


# ----------------------------------------------------------------------------- fit


@main.command("fit")
@click.argument("history", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Where to write the parameters (JSON).",
)
@click.option(
    "--calibration-end",
    type=click.DateTime(["%Y-%m-%d"]),
    required=True,
    help="Last day of the calibration period.",
)
@click.option(
    "--unit",
    type=click.Choice(["weeks", "days"]),
    default="weeks",
    show_default=True,
    help="Time unit of the models.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["auto", "csv", "jsonl"]),
    default="auto",
    show_default=True,
    help="CSV customer_id,date,amount or touchpoint JSONL.",
)
@click.option("--strict", is_flag=True, help="Stop at the first unparseable row instead of skipping it.")
@CONFIG_OPTION
def fit_models(
    history: Path,
    out_path: Path,
    calibration_end: datetime,
    unit: str,
    fmt: str,
    strict: bool,
    config: Path | None,
) -> None:
    """Fit BG/NBD (churn) and Gamma-Gamma (spend) by maximum likelihood from purchase HISTORY.

    Also records the best-customer threshold: the CLV at model.best_customer_quantile of the
    fitted customers (CLV settings from the rules file). Give the output to the worker with --model.
    """
    from agents.models import bgnbd, gamma_gamma
    from agents.models.history import HistoryError, load_history
    from agents.models.params import ModelParams, best_customer_threshold, fit_problem, params_document

    settings = _settings(config=config)
    model_settings = _load_rules(settings.config).model

    size = history.stat().st_size
    with _progress(size, f"reading {history.name}") as bar:
        seen = [0]

        def advance(progress: Any) -> None:
            bar(progress.bytes_read - seen[0])
            seen[0] = progress.bytes_read

        try:
            loaded = load_history(
                history,
                calibration_end=calibration_end.date(),
                unit=unit,  # type: ignore[arg-type]
                fmt=fmt,  # type: ignore[arg-type]
                strict=strict,
                progress=advance,
            )
        except HistoryError as exc:
            raise click.ClickException(str(exc)) from None
    for bad in loaded.bad_rows[:10]:
        click.echo(f"skipped {bad}", err=True)
    if len(loaded.bad_rows) > 10:
        click.echo(f"… and {len(loaded.bad_rows) - 10:,} more unparseable rows skipped", err=True)
    summary = loaded.summary
    if _interactive():
        click.echo(f"fitting the models to {len(summary):,} customers …", err=True)
    try:
        churn = bgnbd.fit(summary.x, summary.t_x, summary.T)
        spend = gamma_gamma.fit(summary.x, summary.m_x)
    except ValueError as exc:  # a fit that went non-finite cannot even be held as parameters
        raise click.ClickException(f"no parameters written: the fit failed: {exc}") from None
    quantile = model_settings.best_customer_quantile
    threshold = best_customer_threshold(
        churn.params,
        spend.params,
        summary,
        quantile=quantile,
        periods=model_settings.clv_periods,
        period_days=model_settings.clv_period_days,
        discount_rate=model_settings.discount_rate,
    )
    problem = fit_problem(churn, spend, threshold)
    if problem is not None:
        raise click.ClickException(
            f"no parameters written: degenerate fit on {len(summary):,} customers "
            f"({summary.repeat_buyers:,} repeat buyers): {problem}"
        )
    fitted = ModelParams(churn.params, spend.params, summary.unit, threshold)
    result = params_document(
        fitted,
        calibration_end=calibration_end.date().isoformat(),
        customers=len(summary),
        repeat_buyers=summary.repeat_buyers,
        best_customer_quantile=quantile,
        bgnbd={"log_likelihood": churn.log_likelihood, "converged": churn.converged},
        gamma_gamma={
            "log_likelihood": spend.log_likelihood,
            "customers": spend.n_customers,
            "converged": spend.converged,
        },
    )
    _write_params(out_path, result)
    p = churn.params
    g = spend.params
    click.echo(
        f"{len(summary):,} customers, {summary.repeat_buyers:,} repeat buyers, unit {unit}, calibration to {calibration_end.date()}"
    )
    click.echo(
        f"BG/NBD       r={p.r:.4f} alpha={p.alpha:.4f} a={p.a:.4f} b={p.b:.4f}  log-likelihood {churn.log_likelihood:,.2f}{'' if churn.converged else '  (NOT converged: ' + churn.message + ')'}"
    )
    click.echo(
        f"Gamma-Gamma  p={g.p:.4f} q={g.q:.4f} gamma={g.gamma:.4f}  log-likelihood {spend.log_likelihood:,.2f} on {spend.n_customers:,} repeat buyers"
    )
    click.echo(
        f"best customers: CLV >= {threshold:,.2f} (the top {1 - quantile:.0%}; "
        f"{model_settings.clv_periods} periods of {model_settings.clv_period_days:g} days, "
        f"{model_settings.discount_rate:.1%} discount per period)"
    )
    click.echo(f"parameters written to {out_path}; run the worker with --model {out_path}")


def _write_params(path: Path, document: dict[str, Any]) -> None:
    """Write *document* as the worker will read it, or not at all: checked first, then replaced atomically."""
    import os

    import schemas

    try:
        schemas.validator("model_params")(orjson.loads(orjson.dumps(document)))
    except schemas.ValidationError as exc:
        raise click.ClickException(
            f"no parameters written: the worker would refuse them: {exc.message}"
        ) from None
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {path}: {exc.strerror}") from None


# ----------------------------------------------------------------------------- check-config


@main.command("check-config")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=False)
def check_config(file: Path | None) -> None:
    """Validate a rules file and print the effective configuration (defaults filled in) as JSON.

    Without FILE, prints the defaults.
    """
    import tomllib

    _load_rules(file)
    data = tomllib.loads(file.read_text("utf-8")) if file else {}
    effective = effective_config(data, str(file) if file else "<defaults>")
    click.echo(orjson.dumps(effective, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())
    click.echo(f"{file or 'defaults'}: OK", err=True)


# ----------------------------------------------------------------------------- detectors


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0]


@main.command("detectors")
@CONFIG_OPTION
def list_detectors(config: Path | None) -> None:
    """List every detector: the built-ins and the plug-ins installed through the entry point group
    touchpoint.detectors, whether the rules file enables each, and what it raises.

    Exits non-zero, naming the problem, if an installed plug-in cannot be used.
    """
    from agents import catalogue

    problems = catalogue.check_plugins()
    rules = None if problems else _load_rules(_settings(config=config).config)
    rows = []
    for alert_type, target in catalogue.DETECTORS.items():
        enabled = "-" if rules is None else "yes" if rules.detectors[alert_type]["enabled"] else "no"
        rows.append((alert_type, "built-in", enabled, _first_line(catalogue.load_class(target).__doc__)))
    for plugin in catalogue.plugins():
        source = f"plug-in {plugin.distribution or plugin.target}"
        try:
            cls = catalogue.plugin_class(plugin)
        except catalogue.PluginError:
            rows.append((plugin.type, source, "-", "cannot be used (below)"))
            continue
        enabled = "-" if rules is None else "yes" if rules.detectors[plugin.type]["enabled"] else "no"
        rows.append((plugin.type, source, enabled, _first_line(cls.__doc__)))
    widths = [
        max(len(row[column]) for row in [("type", "source", "enabled", ""), *rows]) for column in range(3)
    ]
    click.echo(f"{'type':<{widths[0]}}  {'source':<{widths[1]}}  {'enabled':<{widths[2]}}  what it raises")
    for row in rows:
        click.echo(f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}".rstrip())
    if problems:
        raise click.ClickException("\n".join(problems))


# ----------------------------------------------------------------------------- ops processes
# Defined in their own packages; the modules import nothing heavy until a command runs.
from streams.notify.cli import notify  # noqa: E402
from streams.webconsole.cli import console, hash_password  # noqa: E402

main.add_command(notify)
main.add_command(console)
main.add_command(hash_password)


if __name__ == "__main__":
    main()
