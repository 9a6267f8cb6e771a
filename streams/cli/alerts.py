"""``touchpoint alerts ack|resolve|snooze``: operators' actions, confirmed by the worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from streams import topics
from streams.cli.common import (
    BROKER_HELP,
    kafka_options,
    operator_name,
    request_and_await_answer,
    require_broker,
    run_async,
)
from streams.cli.terminal import safe
from streams.kafka import Connection


@click.group()
def alerts() -> None:
    """Act on alerts: acknowledge, resolve or snooze one (published to alerts.actions)."""


def _send_action(
    alert_id: str,
    action: str,
    by: str,
    broker: str | None,
    kafka: dict[str, Any],
    wait: float,
    **extra: str,
) -> None:
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
    bootstrap = require_broker(broker, kafka)
    outcome = run_async(lambda stop: _act_and_confirm(bootstrap, record, alert_type, customer_id, wait, stop))
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
    bootstrap: Connection,
    record: dict[str, Any],
    alert_type: str,
    customer_id: str,
    wait: float,
    stop: asyncio.Event,
) -> dict[str, Any] | None:
    """Send *record* to alerts.actions; return the alert the worker republished, or its dead letter."""
    return await request_and_await_answer(
        bootstrap,
        topics.ACTIONS,
        record,
        customer_id.encode(),
        (topics.alert_topic(alert_type),),
        lambda alert: (
            alert.get("alert_id") == record["alert_id"]
            and alert.get("status_changed_by") == record["by"]
            and alert.get("status") in ("acknowledged", "resolved")
        ),
        wait,
        stop,
    )


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
@kafka_options
def alerts_ack(alert_id: str, by: str | None, wait: float, broker: str | None, kafka: dict[str, Any]) -> None:
    """Acknowledge ALERT_ID: someone owns it; nothing more is raised for its case.

    Exits non-zero when the worker refuses it (no such open alert) or does not answer.
    """
    _send_action(alert_id, "acknowledge", by or operator_name(), broker, kafka, wait)


@alerts.command("resolve")
@click.argument("alert_id")
@_BY
@click.option("--note", default=None, help="What was done.")
@_WAIT
@click.option("--broker", default=None, help=BROKER_HELP)
@kafka_options
def alerts_resolve(
    alert_id: str, by: str | None, note: str | None, wait: float, broker: str | None, kafka: dict[str, Any]
) -> None:
    """Resolve ALERT_ID. Exits non-zero when the worker refuses it or does not answer."""
    _send_action(
        alert_id, "resolve", by or operator_name(), broker, kafka, wait, **({"note": note} if note else {})
    )


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
@kafka_options
def alerts_snooze(
    alert_id: str, minutes: int, by: str | None, wait: float, broker: str | None, kafka: dict[str, Any]
) -> None:
    """Snooze ALERT_ID: acknowledge it and hold alerts of its type for the customer for --minutes."""
    until = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()
    _send_action(alert_id, "snooze", by or operator_name(), broker, kafka, wait, until=until)
