"""The ops console's web application (aiohttp): server-rendered pages, a live feed, and actions.

Pages are HTML rendered here with Jinja2 (autoescaped: alert texts come from topics any
producer can write); a small script follows ``/events`` (server-sent events) and swaps
in the rows the server renders, so nothing needs a build step and every asset is part of
the package. Actions are written to ``alerts.actions`` with the signed-in operator's name;
the page changes when the worker republishes the alert, as every other reader sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import getpass
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from typing import Any, Final
from urllib.parse import quote, urlencode

import aiohttp
import jinja2
import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import schemas
from agents.domain.alert import parse_alert_id
from streams import topics
from streams.auth import Credentials, SessionSigner, is_loopback
from streams.kafka import Connection
from streams.ops_settings import ConsoleSettings
from streams.webconsole import metrics
from streams.webconsole.customers import CustomerUnavailable, customer_state, recent_touchpoints
from streams.webconsole.feed import Hub, Subscriber
from streams.webconsole.inbox import SEVERITIES, STATUS_FILTERS, Entry, Filters, Inbox

SESSION_COOKIE: Final = "touchpoint_session"
#: Rows rendered into a page at once; the rest is counted, and narrowed by the filters.
PAGE_ROWS: Final = 500
HEARTBEAT_S: Final = 15.0
SNOOZE_CHOICES: Final = (15, 60, 240, 1440)
_PUBLIC: Final = ("/sign-in", "/static/", "/healthz", "/metrics")
_STATIC_TYPES: Final = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Sender = Callable[[bytes, bytes], Awaitable[None]]


@dataclass
class Console:
    """Everything the request handlers share."""

    settings: ConsoleSettings
    credentials: Credentials
    signer: SessionSigner
    inbox: Inbox
    hub: Hub
    bootstrap: Connection
    send_action: Sender
    #: Who acts when no sign-in is configured (a console on loopback): the local user.
    default_operator: str
    http: aiohttp.ClientSession | None = None
    #: The workers' bearer token (TOUCHPOINT_WEB_TOKEN), for customer state; "" when they need none.
    worker_token: str = dataclasses.field(default="", repr=False)
    row: RowCache = dataclasses.field(default_factory=lambda: RowCache())


CONSOLE: Final = web.AppKey("console", Console)


def _local_user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "operator"


def ago(seconds: float) -> str:
    """A short age: ``45 s``, ``12 min``, ``3 h 5 min``, ``2 d 4 h``."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def alert_path(alert_id: str) -> str:
    return "/alerts/" + quote(alert_id, safe="/:@")


def customer_path(customer_id: str) -> str:
    return "/customers/" + quote(customer_id, safe="")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("streams.webconsole", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        alert_path=alert_path,
        customer_path=customer_path,
        ago=ago,
        severities=SEVERITIES,
        statuses=STATUS_FILTERS,
        snooze_choices=SNOOZE_CHOICES,
    )
    env.filters["combine"] = lambda query, severity: urlencode({**query, "severity": severity})
    env.filters["when"] = lambda text: (
        datetime.fromisoformat(text).astimezone(UTC).strftime("%a %d %b %H:%M UTC") if text else "–"
    )
    env.filters["epoch"] = lambda value: (
        datetime.fromtimestamp(value, UTC).strftime("%a %d %b %Y %H:%M UTC")
        if isinstance(value, int | float) and value > 0
        else "–"
    )
    return env


TEMPLATES: Final = _environment()


def render(template: str, request: web.Request, status: int = 200, **context: Any) -> web.Response:
    console = request.app[CONSOLE]
    operator = request.get("operator")
    session = request.cookies.get(SESSION_COOKIE, "")
    html = TEMPLATES.get_template(template).render(
        operator=operator,
        sign_in_required=console.credentials.required,
        csrf=console.signer.token_for(session, "csrf") if operator else "",
        now=time.time(),
        **context,
    )
    return web.Response(text=html, content_type="text/html", status=status, headers=_PAGE_HEADERS)


#: No framing, no sniffing, no referrer to other sites, and only our own scripts and styles.
_PAGE_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def render_row(entry: Entry, now: float) -> str:
    return TEMPLATES.get_template("row.html").render(entry=entry, now=now)


class RowCache:
    """Rendered rows by (alert id, change number): one rendering per change, however many pages follow it."""

    def __init__(self, size: int = 4096) -> None:
        self._rows: dict[tuple[str, int], str] = {}
        self._size = size

    def __call__(self, entry: Entry) -> str:
        key = (entry.alert_id, entry.seq)
        row = self._rows.get(key)
        if row is None:
            if len(self._rows) >= self._size:
                self._rows.clear()
            row = self._rows[key] = render_row(entry, time.time())
        return row


# ----------------------------------------------------------------------------- sign-in


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Sets ``request["operator"]``; sends the unsigned to the sign-in page (pages) or answers 401 (the rest)."""
    console = request.app[CONSOLE]
    if not console.credentials.required:
        # Open only on loopback (the CLI refuses anything else). A page on another site could still make the
        # browser call 127.0.0.1 under a name it controls (DNS rebinding): answer only to loopback names.
        host = (
            request.host.rsplit(":", 1)[0]
            if not request.host.startswith("[")
            else request.host[1:].split("]")[0]
        )
        if not is_loopback(host):
            return web.Response(status=421, text="this console answers only to localhost names\n")
        request["operator"] = console.default_operator
        return await handler(request)
    operator = console.signer.verify(request.cookies.get(SESSION_COOKIE))
    if operator is None and console.credentials.check_bearer(request.headers.get("Authorization")):
        operator = request.headers.get("X-Touchpoint-Operator", "api")[:128] or "api"
    if operator is not None:
        request["operator"] = operator
        return await handler(request)
    if request.path.startswith(_PUBLIC):
        return await handler(request)
    if request.method == "GET" and "text/html" in request.headers.get("Accept", "text/html"):
        target = request.rel_url.path_qs
        raise web.HTTPSeeOther("/sign-in?" + urlencode({"next": target}))
    return web.json_response({"error": "sign in first"}, status=401)


def _safe_next(target: str | None) -> str:
    # Only a path on this site: never //other.example or a scheme.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


async def sign_in_page(request: web.Request) -> web.Response:
    if not request.app[CONSOLE].credentials.required or request.get("operator"):
        raise web.HTTPSeeOther(_safe_next(request.query.get("next")))
    return render("sign_in.html", request, next=_safe_next(request.query.get("next")), error=None, name="")


async def sign_in(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    form = await request.post()
    name = str(form.get("name", "")).strip()[:128]
    secret = str(form.get("password", ""))
    target = _safe_next(str(form.get("next", "/")))
    accepted = False
    if name and secret:
        credentials = console.credentials
        if name in credentials.users:
            accepted = await asyncio.to_thread(credentials.check_password, name, secret)
        elif credentials.check_token(secret):
            accepted = True
        elif credentials.users:
            await asyncio.to_thread(credentials.check_password, name, secret)  # same time as a wrong password
    metrics.SIGN_INS.labels("accepted" if accepted else "refused").inc()
    if not accepted:
        return render(
            "sign_in.html", request, status=401, next=target, name=name, error="Wrong name or password."
        )
    response = web.HTTPSeeOther(target)
    response.set_cookie(
        SESSION_COOKIE,
        console.signer.sign(name),
        max_age=console.signer.max_age_seconds,
        httponly=True,
        samesite="Strict",
        secure=request.secure or request.headers.get("X-Forwarded-Proto") == "https",
        path="/",
    )
    raise response


async def sign_out(request: web.Request) -> web.Response:
    response = web.HTTPSeeOther("/sign-in" if request.app[CONSOLE].credentials.required else "/")
    response.del_cookie(SESSION_COOKIE, path="/")
    raise response


# ----------------------------------------------------------------------------- pages


async def inbox_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    filters = Filters.from_query(request.query)
    entries = console.inbox.select(filters)
    return render(
        "inbox.html",
        request,
        filters=filters,
        entries=entries[:PAGE_ROWS],
        hidden=max(len(entries) - PAGE_ROWS, 0),
        counts=console.inbox.counts(filters),
        facets=console.inbox.facets(),
        seq=console.inbox.seq,
        feed="/events?" + urlencode(filters.query()),
    )


async def alert_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    alert_id = request.match_info["alert_id"]
    entry = console.inbox.get(alert_id)
    if entry is None:
        return render("missing.html", request, status=404, what="alert", ident=alert_id)
    filters = Filters(status="all", alert_id=alert_id)
    return render(
        "alert.html",
        request,
        entry=entry,
        details=orjson.dumps(entry.alert.get("details") or {}, option=orjson.OPT_INDENT_2).decode(),
        seq=console.inbox.seq,
        feed="/events?" + urlencode(filters.query()),
    )


async def customer_page(request: web.Request) -> web.Response:
    console = request.app[CONSOLE]
    customer_id = request.match_info["customer_id"]
    assert console.http is not None
    problem = None
    state: dict[str, Any] | None = None
    try:
        state, recent = await asyncio.gather(
            customer_state(console.http, console.settings.console_worker_url, customer_id),
            recent_touchpoints(console.bootstrap, customer_id, console.settings.console_touchpoint_scan),
        )
    except CustomerUnavailable as exc:
        problem, recent = str(exc), []
    entries = console.inbox.for_customer(customer_id)
    if state is None and not entries and not recent and problem is None:
        return render("missing.html", request, status=404, what="customer", ident=customer_id)
    filters = Filters(status="all", customer_id=customer_id)
    return render(
        "customer.html",
        request,
        customer_id=customer_id,
        state=state,
        model=(state or {}).get("model") or {},
        problem=problem,
        recent=recent,
        entries=entries,
        seq=console.inbox.seq,
        feed="/events?" + urlencode(filters.query()),
    )


# ----------------------------------------------------------------------------- actions


async def act(request: web.Request) -> web.Response:
    """POST /alerts/{id}/actions, JSON ``{"action": "acknowledge"|"resolve"|"snooze", "minutes"?, "note"?}``."""
    console = request.app[CONSOLE]
    operator = request.get("operator")
    session = request.cookies.get(SESSION_COOKIE, "")
    if not operator:
        return web.json_response({"error": "sign in first"}, status=401)
    if request.headers.get("X-CSRF-Token") != console.signer.token_for(session, "csrf"):
        return web.json_response({"error": "stale page: reload it"}, status=403)
    alert_id = request.match_info["alert_id"]
    try:
        _alert_type, customer_id = parse_alert_id(alert_id)
        body = orjson.loads(await request.read())
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        record: dict[str, Any] = {
            "schema_version": 1,
            "alert_id": alert_id,
            "action": body.get("action"),
            "by": operator,
            "at": datetime.now(UTC).isoformat(),
        }
        if record["action"] == "snooze":
            minutes = int(body.get("minutes", 60))
            if not 1 <= minutes <= 7 * 1440:
                raise ValueError("snooze for 1 minute to 7 days")
            record["until"] = (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()
        if body.get("note"):
            record["note"] = str(body["note"])
        schemas.validator("alert_action")(record)
    except (ValueError, TypeError, orjson.JSONDecodeError) as exc:
        return web.json_response({"error": str(exc)}, status=400)
    except schemas.ValidationError as exc:
        return web.json_response({"error": exc.message}, status=400)
    await console.send_action(customer_id.encode(), orjson.dumps(record))
    metrics.ACTIONS_SENT.labels(record["action"]).inc()
    return web.json_response({"sent": record["action"], "alert_id": alert_id, "by": operator}, status=202)


# ----------------------------------------------------------------------------- live feed


class _Feed:
    """One page's live feed: sends the rows it shows (or should now show), and the counts, at most once a second."""

    def __init__(self, response: web.StreamResponse, console: Console, filters: Filters) -> None:
        self.response = response
        self.console = console
        self.filters = filters
        #: Alert ids whose row the page has (matching when last sent).
        self.shown = {entry.alert_id for entry in console.inbox.select(filters, limit=PAGE_ROWS)}
        self.counts_due = False
        self.counts_sent_at = 0.0

    async def send(self, entry: Entry) -> None:
        match = self.filters.matches(entry)
        if not match and entry.alert_id not in self.shown:
            return  # never on this page: nothing to add or remove
        (self.shown.add if match else self.shown.discard)(entry.alert_id)
        data = {
            "id": entry.alert_id,
            "status": entry.alert["status"],
            "match": match,
            "html": self.console.row(entry),
        }
        await self.response.write(b"id: %d\nevent: alert\ndata: %s\n\n" % (entry.seq, orjson.dumps(data)))
        self.counts_due = True

    async def send_counts(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or (self.counts_due and now - self.counts_sent_at >= 1.0):
            counts = self.console.inbox.counts(self.filters)
            await self.response.write(b"event: counts\ndata: %s\n\n" % orjson.dumps(counts))
            self.counts_due, self.counts_sent_at = False, now

    async def catch_up(self, since: int) -> int:
        """Send every entry changed after *since*; the inbox's position."""
        position = self.console.inbox.seq
        for entry in self.console.inbox.since(since):
            await self.send(entry)
        return position


async def events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: each change of an alert the page shows or should show, as a rendered row.

    A page passes the inbox position it was rendered at (``since``; a reconnecting
    browser sends Last-Event-ID), so nothing changed in between is missed.
    """
    console = request.app[CONSOLE]
    filters = Filters.from_query(request.query)
    raw_since = request.headers.get("Last-Event-ID") or request.query.get("since") or "0"
    since = int(raw_since) if raw_since.isdigit() else 0
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    subscriber: Subscriber = console.hub.subscribe()  # before catching up: every later change is queued
    feed = _Feed(response, console, filters)
    try:
        await response.write(b"retry: 2000\n\n")
        since = await feed.catch_up(since)
        await feed.send_counts(force=True)
        while True:
            try:
                seq, entry = await asyncio.wait_for(subscriber.queue.get(), timeout=1.0)
            except TimeoutError:
                await feed.send_counts()
                if time.monotonic() - feed.counts_sent_at >= HEARTBEAT_S:
                    await feed.send_counts(force=True)  # doubles as a keep-alive
                continue
            if subscriber.lagged:
                subscriber.lagged = False
                while not subscriber.queue.empty():
                    subscriber.queue.get_nowait()
                since = await feed.catch_up(since)
                continue
            # A later change of the same alert is queued too: send each alert's latest state once.
            if seq > since and entry.seq == seq:
                await feed.send(entry)
                since = seq
            await feed.send_counts()
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        console.hub.unsubscribe(subscriber)
    return response


# ----------------------------------------------------------------------------- the rest


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    suffix = name[name.rfind(".") :] if "." in name else ""
    if "/" in name or suffix not in _STATIC_TYPES:
        raise web.HTTPNotFound()
    try:
        data = resources.files("streams.webconsole").joinpath("static", name).read_bytes()
    except (FileNotFoundError, OSError):
        raise web.HTTPNotFound() from None
    return web.Response(
        body=data,
        content_type=_STATIC_TYPES[suffix],
        headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"},
    )


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def metrics_view(_request: web.Request) -> web.Response:
    return web.Response(body=generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])


def create_app(console: Console) -> web.Application:
    app = web.Application(middlewares=[authenticate], client_max_size=64 * 1024)
    app[CONSOLE] = console

    async def http_session(app: web.Application) -> Any:
        # The session speaks only to the workers: their token goes with every request.
        token = {"Authorization": f"Bearer {console.worker_token}"} if console.worker_token else None
        console.http = aiohttp.ClientSession(headers=token)
        yield
        await console.http.close()

    app.cleanup_ctx.append(http_session)
    app.router.add_get("/", inbox_page)
    app.router.add_get("/events", events)
    app.router.add_get("/sign-in", sign_in_page)
    app.router.add_post("/sign-in", sign_in)
    app.router.add_post("/sign-out", sign_out)
    app.router.add_post("/alerts/{alert_id:.+}/actions", act)
    app.router.add_get("/alerts/{alert_id:.+}", alert_page)
    app.router.add_get("/customers/{customer_id}", customer_page)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    return app


async def run_console(
    settings: ConsoleSettings,
    credentials: Credentials,
    signer: SessionSigner,
    bootstrap: Connection,
    stop: asyncio.Event,
    on_ready: Callable[[str], None] | None = None,
    worker_token: str = "",
) -> None:
    """Serve the console until *stop* is set; *worker_token* is the workers' bearer token, if any."""
    from streams.kafka import ensure_topics, producer
    from streams.webconsole.feed import follow_alerts

    inbox, hub = Inbox(), Hub()
    await ensure_topics(bootstrap, (topics.ACTIONS,))
    async with producer(bootstrap) as actions:

        async def send_action(key: bytes, value: bytes) -> None:
            await actions.send_and_wait(topics.ACTIONS, value, key=key)

        console = Console(
            settings,
            credentials,
            signer,
            inbox,
            hub,
            bootstrap,
            send_action,
            _local_user(),
            worker_token=worker_token,
        )
        runner = web.AppRunner(create_app(console), access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, settings.console_host, settings.console_port)
        await site.start()
        follower = asyncio.create_task(
            follow_alerts(bootstrap, inbox, hub, settings.console_history_days * 86400, stop)
        )
        try:
            if on_ready is not None:
                on_ready(settings.public_url)
            await stop.wait()
        finally:
            follower.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follower
            await runner.cleanup()
