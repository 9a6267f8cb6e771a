"""``touchpoint notify``: the command; the bridge itself is streams/notify/bridge.py."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from streams.cli.common import kafka_options


@click.command("notify")
@click.option(
    "--broker", default=None, help="Kafka broker, e.g. kafka://localhost:9092 (env TOUCHPOINT_BROKER)."
)
@click.option(
    "--alertmanager",
    "alertmanager_url",
    default=None,
    help="Alertmanager URL(s), comma-separated, e.g. http://localhost:9093 (env TOUCHPOINT_ALERTMANAGER_URL).",
)
@click.option(
    "--console-url",
    default=None,
    help="Console base URL for the link in each alert (env TOUCHPOINT_CONSOLE_URL).",
)
@click.option(
    "--resend-seconds",
    "notify_resend_seconds",
    type=float,
    default=None,
    help="Re-post active alerts this often [60] (env TOUCHPOINT_NOTIFY_RESEND_SECONDS).",
)
@click.option("--web-host", "notify_web_host", default=None, help="Interface for /metrics and /ready.")
@click.option(
    "--web-port", "notify_web_port", type=int, default=None, help="Port for /metrics and /ready [6068]."
)
@click.option(
    "--app-id", default=None, help="Consumer group prefix, as the workers' (env TOUCHPOINT_APP_ID)."
)
@click.option("--log-level", default=None, help="debug, info, warning (default) or error.")
@click.option(
    "--config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Rules file (env TOUCHPOINT_CONFIG): alerts.retain_days bounds how long an alert stays active.",
)
@kafka_options
def notify(
    broker: str | None,
    app_id: str | None,
    log_level: str | None,
    config: Path | None,
    kafka: dict[str, Any],
    **options: Any,
) -> None:
    """Post alerts to Prometheus Alertmanager (API v2): open ones firing, resolved ones ended.

    A consumer group over the alert topics: run several to share the partitions. Offsets
    are committed only once Alertmanager accepted; while it is down, the bridge retries
    and loses nothing.
    """
    from streams import redaction
    from streams.cli.common import connection_of, load_rules, load_settings, run_async
    from streams.ops_settings import NotifySettings, load
    from streams.settings import SettingsError

    settings = load_settings(broker=broker, app_id=app_id, log_level=log_level, config=config, **kafka)
    try:
        notify_settings = load(NotifySettings, **options)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    rules = load_rules(settings.config)
    connection_of(settings)
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
    )
    redaction.install()
    from streams.notify.bridge import redact, run_notify

    targets = ", ".join(redact(url) for url in notify_settings.alertmanagers)
    click.echo(
        f"notify: alerts → {targets} · metrics on http://{notify_settings.notify_web_host}:"
        f"{notify_settings.notify_web_port}/metrics",
        err=True,
    )
    run_async(lambda stop: run_notify(settings, notify_settings, rules.alerts.retain_days, stop))
