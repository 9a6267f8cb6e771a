"""Web views on each worker's port: /metrics for Prometheus, /ready for orchestrators and tests, and
/customers/{id}[?as_of=YYYY-MM-DD] for one customer's state and the models' reading of it on that day
(default: today, UTC).

Every route but /metrics and /ready needs ``Authorization: Bearer <token>`` once a token is
configured (``TOUCHPOINT_WEB_TOKEN``), and a worker refuses to listen beyond loopback without one
(streams/auth.py, the console's rules). Without a token the worker answers only to loopback host
names, so a web page elsewhere cannot reach it through DNS rebinding. A lookup forwarded to the
partition's owner carries the caller's header along: every worker of an app shares the token.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Final, cast

import faust
from aiohttp import web as aiohttp_web
from aiohttp.typedefs import Middleware
from faust.exceptions import ConsumerNotStarted
from faust.types import TableT
from faust.web import Request, Response, View
from faust.web.drivers.aiohttp import Web as AiohttpWeb
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from agents.domain.identity import IdentityRecord
from agents.domain.instants import DAY, day_number
from agents.domain.state import CustomerState
from agents.models.customer import CustomerModel
from agents.ports import StateStore
from streams.auth import Credentials, check_bind, is_loopback
from streams.runtime.faust_private import direct_producer

__all__ = ["OPEN_PATHS", "install"]

#: Answered without a token: Prometheus' scrape and the orchestrators' probes. Neither names a customer.
OPEN_PATHS: Final = frozenset({"/metrics", "/ready"})

_Handler = Callable[[aiohttp_web.Request], Awaitable[aiohttp_web.StreamResponse]]


def install(
    app: faust.App,
    customers: TableT[bytes, CustomerState],
    states: StateStore,
    model: CustomerModel,
    tokens: tuple[str, ...] = (),
) -> None:
    """Register the web views on *app*: *customers* is the customer_to_state table, *states* its writer.

    *tokens* are the bearer tokens the views need (none: loopback only, enforced here).
    """
    credentials = Credentials(tokens=tokens)
    check_bind(
        str(app.conf.web_bind),
        credentials,
        "the worker's web server (customer state)",
        "Set TOUCHPOINT_WEB_TOKEN (or TOUCHPOINT_WEB_TOKEN_FILE) to a secret of 16 characters or more",
    )
    middlewares = cast(AiohttpWeb, app.web).web_app.middlewares
    middlewares.append(_authenticate(credentials))
    middlewares.append(_knowing_partitions(app, customers))

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
        # ?name[]=…&name[]=…: those samples only, as Prometheus's own client libraries answer it; a
        # poll for a few counters then costs a fraction of the whole page (hundreds of series).
        names = cast(aiohttp_web.Request, request).query.getall("name[]", [])
        registry = REGISTRY.restricted_registry(names) if names else REGISTRY
        return web.bytes(generate_latest(registry), content_type=CONTENT_TYPE_LATEST.split(";")[0])

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


def _knowing_partitions(app: faust.App, table: TableT[bytes, CustomerState]) -> Middleware:
    """Look a customer up only once the producer knows the table's partitions.

    ``table_route`` finds the worker that owns a key from the producer's metadata, which holds only
    the topics the producer has used. Before this worker has written a state it does not know the
    table's changelog, and Faust's routing fails with a TypeError: a 500 without a JSON body. So the
    first lookup waits for the metadata, and one that cannot get it answers 503, to be retried.
    """
    topic = table.changelog_topic.get_topic_name()
    known = False

    @aiohttp_web.middleware
    async def knowing_partitions(
        request: aiohttp_web.Request, handler: _Handler
    ) -> aiohttp_web.StreamResponse:
        nonlocal known
        if not known and request.path.startswith("/customers/"):
            try:
                await direct_producer(app).partitions_for(topic)
            except Exception as exc:  # the producer not started yet, or the broker not answering in time
                body = {"error": f"not ready to look customers up yet, retry: {type(exc).__name__}: {exc}"}
                return aiohttp_web.json_response(body, status=503, headers={"Retry-After": "1"})
            known = True
        return await handler(request)

    return knowing_partitions


def _authenticate(credentials: Credentials) -> Middleware:
    @aiohttp_web.middleware
    async def authenticate(request: aiohttp_web.Request, handler: _Handler) -> aiohttp_web.StreamResponse:
        if request.path in OPEN_PATHS:
            return await handler(request)
        if not credentials.required:
            host = (
                request.host.rsplit(":", 1)[0]
                if not request.host.startswith("[")
                else request.host[1:].split("]")[0]
            )
            if not is_loopback(host):
                return aiohttp_web.json_response(
                    {"error": "this worker answers only to localhost names"}, status=421
                )
            return await handler(request)
        if credentials.check_bearer(request.headers.get("Authorization")):
            return await handler(request)
        return aiohttp_web.json_response(
            {"error": "a bearer token is required (Authorization: Bearer <TOUCHPOINT_WEB_TOKEN>)"},
            status=401,
            headers={"WWW-Authenticate": 'Bearer realm="touchpoint"'},
        )

    return authenticate
