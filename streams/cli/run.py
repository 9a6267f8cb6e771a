"""``touchpoint run``: the main job, on an embedded broker with simulated traffic, shown live."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import click

from streams import topics
from streams.cli.common import (
    BROKER_HELP,
    CONFIG_OPTION,
    MODEL_OPTION,
    kafka_options,
    load_rules,
    load_settings,
    port_free,
    run_async,
)
from streams.cli.worker import start_worker
from streams.kafka import produce
from streams.local.broker import BrokerError, EmbeddedBroker, free_port
from streams.settings import Settings


@click.command()
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
@kafka_options
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
    kafka: dict[str, Any],
) -> None:
    """The main job. Without a broker: embedded broker + worker + ops console + simulated traffic, shown live.

    With --broker (or TOUCHPOINT_BROKER): only the worker, against that cluster (the Kafka options
    apply to it). The embedded run makes an identity key in its data directory and keeps it.
    """
    settings = load_settings(
        broker=broker, web_port=web_port, data_dir=data_dir, config=config, model=model, **kafka
    )
    load_rules(settings.config, settings.model)
    if not settings.embedded:
        start_worker(settings)
        return
    from streams.cli.live_view import next_steps
    from streams.local.services import ServiceFailed
    from streams.local.supervisor import WorkerFailed, WorkerProcess

    workdir = data_dir or Path(tempfile.mkdtemp(prefix="touchpoint-run-"))
    # 0 means any free port; so does a busy default, since the demo should start anywhere.
    port = free_port() if web_port == 0 or not port_free(settings.web_port) else settings.web_port
    out = sys.stdout
    try:
        broker_process = EmbeddedBroker(log_path=workdir / "broker.log").start()
    except BrokerError as exc:
        raise click.ClickException(str(exc)) from None
    identity_key = _identity_key_file(settings, workdir)
    worker_process = WorkerProcess(
        broker_process.url,
        port,
        workdir / "worker",
        extra_args=[
            *(["--config", str(settings.config.resolve())] if settings.config else []),
            *(["--model", str(settings.model.resolve())] if settings.model else []),
        ],
        extra_env={
            # The embedded run makes its own secret for the worker's timer ticks; it never leaves the process env.
            "TOUCHPOINT_CONTROL_SECRET": settings.control_secret.reveal() or secrets.token_hex(32),
            # A key of this data directory, kept for the next run with the same --data-dir.
            "TOUCHPOINT_IDENTITY_SALT": "",
            "TOUCHPOINT_IDENTITY_SALT_FILE": str(identity_key),
        },
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
        key = identity_key.read_bytes().strip()
        sent = run_async(
            lambda stop: _simulate_and_watch(
                broker_process.bootstrap,
                customers,
                rate,
                seed,
                malformed_share,
                duration,
                stop,
                out,
                hints,
                key,
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
    identity_key: bytes | None = None,
) -> int:
    from streams.cli.live_view import watch
    from streams.sim import SimulationSpec, generate

    # Start the simulated clock now, so event times and the wall clock agree at first (a time-lapse from there).
    start = datetime.now(UTC).replace(second=0, microsecond=0)
    spec = SimulationSpec(customers=customers, seed=seed, start=start, malformed_share=malformed_share)
    if duration is not None:
        asyncio.get_running_loop().call_later(duration, stop.set)
    viewer = asyncio.create_task(watch(bootstrap, out, stop, hints=hints))
    try:
        # Simulated producers stamp records with their simulated clock, which runs ahead of the wall clock.
        sent = await produce(
            bootstrap,
            topics.RAW,
            generate(spec),
            rate=rate,
            stop=stop,
            event_time_stamps=True,
            identity_key=identity_key,
        )
        await stop.wait()
    finally:
        stop.set()
        await viewer
    return sent


#: The embedded run's identity key, in its data directory (readable by its owner only).
IDENTITY_KEY_FILE = "identity.key"


def _identity_key_file(settings: Settings, workdir: Path) -> Path:
    """A file with the identity key of this run: the configured one, or one made once for *workdir* and kept.

    Kept, so a second run with the same --data-dir hashes identifiers as the first did.
    """
    path = workdir / IDENTITY_KEY_FILE
    configured = settings.identity_salt.reveal()
    if configured:
        path.unlink(missing_ok=True)
        _write_private(path, configured)
    elif not path.exists():
        _write_private(path, secrets.token_hex(32))
    return path


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text + "\n")


def _console_process(broker_url: str, worker_url: str, port: int | None, workdir: Path) -> Any:
    """The ops console for `touchpoint run`, on loopback (see docs/console.md)."""
    from streams.local.services import ServiceProcess
    from streams.ops_settings import DEFAULT_CONSOLE_PORT

    if port is None:
        port = DEFAULT_CONSOLE_PORT if port_free(DEFAULT_CONSOLE_PORT) else 0
    port = port or free_port()
    args = ["console", "--broker", broker_url, "--port", str(port), "--worker-url", worker_url]
    # On loopback whatever TOUCHPOINT_CONSOLE_HOST says: the demo is for this machine. Sign-in as configured.
    return ServiceProcess(
        args,
        f"http://127.0.0.1:{port}/healthz",
        workdir / "console.log",
        env={"TOUCHPOINT_CONSOLE_HOST": "127.0.0.1"},
    )
