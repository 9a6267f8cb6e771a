"""``touchpoint erase``: forget one customer on request, confirmed by the worker that owns them."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import click

from streams import topics
from streams.cli.common import (
    BROKER_HELP,
    client_identity_key,
    connection_of,
    kafka_options,
    load_settings,
    operator_name,
    request_and_await_answer,
    run_async,
)
from streams.cli.terminal import safe
from streams.kafka import Connection
from streams.settings import Settings


@click.command("erase")
@click.argument("customer_id", required=False)
@click.option(
    "--identifier",
    default=None,
    metavar="KIND=VALUE",
    help="Name the customer by an identifier instead (email=…, phone=…): the customer key is derived "
    "with TOUCHPOINT_IDENTITY_SALT, as the workers derive it. With identity resolution on, that is the "
    "identifier's own key: its anonymous profile and its links go; a customer it is linked to is erased "
    "by their id.",
)
@click.option(
    "--by", default=None, help="Who asks for the erasure (default: $USER); kept in the audit trail."
)
@click.option("--reason", required=True, help="Why: a ticket number, gdpr-art-17, account closed …")
@click.option("--request-id", default=None, help="Id of the request (default: a new UUID).")
@click.option(
    "--wait",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for the worker's confirmation on privacy.erasures.",
)
@click.option("--broker", default=None, help=BROKER_HELP)
@kafka_options
def erase(
    customer_id: str | None,
    identifier: str | None,
    by: str | None,
    reason: str,
    request_id: str | None,
    wait: float,
    broker: str | None,
    kafka: dict[str, Any],
) -> None:
    """Forget CUSTOMER_ID: the worker deletes their state, resolves their open alerts and confirms.

    The request goes to privacy.erasure-requests; the confirmation the worker publishes on
    privacy.erasures tells downstream services to erase too. Exits non-zero when the request
    is refused or no worker confirms within --wait (it stays on the topic and is applied later).
    """
    import schemas

    settings = load_settings(broker=broker, **kafka)
    key = _customer_key(customer_id, identifier, settings)
    request = {
        "schema_version": 1,
        "request_id": request_id or str(uuid.uuid4()),
        "customer_id": key,
        "requested_at": datetime.now(UTC).isoformat(),
        "by": by or operator_name(),
        "reason": reason,
    }
    try:
        schemas.validator("erasure_request")(request)
    except schemas.ValidationError as exc:
        raise click.UsageError(safe(f"invalid request: {exc.message}")) from None
    target = connection_of(settings)
    answer = run_async(lambda stop: _request_and_confirm(target, request, wait, stop))
    if answer is None:
        raise click.ClickException(
            f"no worker confirmed within {wait:g} s: request {safe(str(request['request_id']))} is on "
            f"{topics.ERASURE_REQUESTS} and will be applied once a worker reads it (is one running?)"
        )
    if answer.get("reason") is not None and "found" not in answer:  # a dead letter: refused
        raise click.ClickException(f"erasure refused: {safe(str(answer.get('message')))}")
    held = "their state was deleted" if answer.get("found") else "no state was held"
    click.echo(
        f"erased {safe(key)} (request {safe(str(request['request_id']))}): {held}, "
        f"{answer.get('alerts_resolved', 0)} open alert(s) resolved; confirmation on {topics.ERASURES}"
    )


def _customer_key(customer_id: str | None, identifier: str | None, settings: Settings) -> str:
    if (customer_id is None) == (identifier is None):
        raise click.UsageError("give either CUSTOMER_ID or --identifier KIND=VALUE")
    if customer_id is not None:
        return customer_id.strip()
    from agents.ingest.identity import IDENTIFIER_STRENGTH, derived_customer_id, normalise_identifier

    kind, sep, value = (identifier or "").partition("=")
    kind = kind.strip()
    if not sep or kind not in IDENTIFIER_STRENGTH or not value.strip():
        raise click.UsageError(
            f"--identifier must be KIND=VALUE with KIND one of {', '.join(IDENTIFIER_STRENGTH)}"
        )
    identity_key = client_identity_key(settings)
    if identity_key is None:
        raise click.UsageError(
            "--identifier needs the workers' identity key: set TOUCHPOINT_IDENTITY_SALT or _FILE"
        )
    return derived_customer_id({kind: normalise_identifier(kind, value)}, identity_key)


async def _request_and_confirm(
    target: Connection, request: dict[str, Any], wait: float, stop: asyncio.Event
) -> dict[str, Any] | None:
    """Send *request*; return the worker's confirmation, its dead letter, or None after *wait* seconds."""
    return await request_and_await_answer(
        target,
        topics.ERASURE_REQUESTS,
        request,
        str(request["customer_id"]).encode(),
        (topics.ERASURES,),
        lambda confirmation: confirmation.get("request_id") == request["request_id"],
        wait,
        stop,
    )
