"""``touchpoint identity split``: an operator undoes a merge, confirmed by the worker."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
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
def identity() -> None:
    """Identity resolution: undo a merge (published to identity.actions)."""


@identity.command("split")
@click.argument("from_key", metavar="FROM")
@click.argument("into", metavar="CUSTOMER")
@click.option("--by", default=None, help="Who acts (default: $USER).")
@click.option("--reason", default=None, help="Why, for the record on identity.merges.")
@click.option(
    "--wait",
    type=click.FloatRange(min=1),
    default=15.0,
    show_default=True,
    help="Seconds to wait for the worker to confirm or refuse the split.",
)
@click.option("--broker", default=None, help=BROKER_HELP)
@kafka_options
def identity_split(
    from_key: str,
    into: str,
    by: str | None,
    reason: str | None,
    wait: float,
    broker: str | None,
    kafka: dict[str, Any],
) -> None:
    """Split the anonymous profile FROM (an id:<kind>:<hash> key, as identity.merges names it) from CUSTOMER.

    The profile comes back as it was at the merge, the customer gives back what the merge brought
    (counts, purchases, open inquiries and cases, alerts), and the identifier is never linked to that
    customer again automatically. Exits non-zero when the worker refuses it (FROM was not merged into
    CUSTOMER) or does not answer.
    """
    import schemas

    record: dict[str, Any] = {
        "schema_version": 1,
        "action": "split",
        "from": from_key,
        "into": into,
        "by": by or operator_name(),
        "at": datetime.now(UTC).isoformat(),
    }
    if reason:
        record["reason"] = reason
    try:
        schemas.validator("identity_action")(record)
    except schemas.ValidationError as exc:
        raise click.UsageError(safe(f"invalid split: {exc.message}")) from None
    bootstrap = require_broker(broker, kafka)
    outcome = run_async(lambda stop: _split_and_confirm(bootstrap, record, wait, stop))
    if outcome is None:
        raise click.ClickException(
            f"no worker answered within {wait:g} s: the split of {safe(from_key)} is on {topics.IDENTITY_ACTIONS} "
            "and will be applied once a worker reads it (is one running?)"
        )
    if outcome.get("reason") is not None and outcome.get("action") is None:  # a dead letter: refused
        raise click.ClickException(f"split refused: {safe(str(outcome.get('message')))}")
    moved = len(outcome.get("alerts") or [])
    click.echo(
        f"{safe(from_key)} is split from {safe(into)}: its profile is back as it was at the merge"
        + (f", with {moved} alert{'s' if moved != 1 else ''}" if moved else "")
    )


async def _split_and_confirm(
    bootstrap: Connection, record: dict[str, Any], wait: float, stop: asyncio.Event
) -> dict[str, Any] | None:
    """Send *record* to identity.actions; return the split the worker published, or its dead letter."""
    return await request_and_await_answer(
        bootstrap,
        topics.IDENTITY_ACTIONS,
        record,
        record["from"].encode(),
        (topics.IDENTITY_MERGES,),
        lambda merge: (
            merge.get("action") == "split"
            and merge.get("from") == record["from"]
            and merge.get("by") == record["by"]
        ),
        wait,
        stop,
    )
