"""Web views on each worker's port: /metrics for Prometheus, /ready for orchestrators and tests, and
/customers/{id}[?as_of=YYYY-MM-DD] for one customer's state and the models' reading of it on that day
(default: today, UTC)."""

from __future__ import annotations

import time
from datetime import date

import faust
from faust.exceptions import ConsumerNotStarted
from faust.types import TableT
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from agents.domain.identity import IdentityRecord
from agents.domain.instants import DAY, day_number
from agents.domain.state import CustomerState
from agents.models.customer import CustomerModel
from agents.ports import StateStore


def install(
    app: faust.App, customers: TableT[bytes, CustomerState], states: StateStore, model: CustomerModel
) -> None:
    """Register the web views on *app*: *customers* is the customer_to_state table, *states* its writer."""

    @app.page("/customers/{customer_id}")
    @app.table_route(table=customers, match_info="customer_id")
    async def customer(web: View, request: Request, customer_id: str) -> Response:
        # table_route forwards the request to the worker that owns the key's partition.
        raw_day = request.query.get("as_of")
        try:
            day = day_number(date.fromisoformat(raw_day)) if raw_day else int(time.time()) // DAY
        except ValueError:
            return web.json({"error": "as_of must be a date, YYYY-MM-DD", "as_of": raw_day}, status=400)
        state = states.get(customer_id.encode())
        if state is not None and not state.is_profile and state.identity is not None:
            # An identifier's record: its profile, if it had one, lives on in the customer it merged into.
            into = IdentityRecord.from_list(state.identity).first_claimant
            if into is not None:
                body = {"error": "merged", "customer_id": customer_id, "merged_into": into}
                return web.json(body, status=404)
        if state is None or not state.is_profile:
            return web.json({"error": "unknown customer", "customer_id": customer_id}, status=404)
        return web.json({"customer_id": customer_id, **state.to_json(), "model": model.view(state, day)})

    @app.page("/metrics")
    async def metrics(web: View, request: Request) -> Response:
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/ready")
    async def ready(web: View, request: Request) -> Response:
        try:
            assignment = app.consumer.assignment()
        except ConsumerNotStarted:  # asked before the consumer thread is up: not ready yet
            assignment = set()
        recovered = app.tables.recovery.completed.is_set()  # type: ignore[attr-defined]
        is_ready = bool(assignment) and not app.rebalancing and recovered
        body = {
            "ready": is_ready,
            "rebalancing": bool(app.rebalancing),
            "recovered": recovered,
            "partitions": sorted(f"{tp.topic}:{tp.partition}" for tp in assignment),
        }
        return web.json(body, status=200 if is_ready else 503)
