"""Web views on each worker's port: /metrics for Prometheus, /ready for orchestrators and tests."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


def install(app: Any) -> None:
    """Register the web views on *app*."""

    @app.page("/metrics")  # type: ignore[untyped-decorator]
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(generate_latest(), content_type=CONTENT_TYPE_LATEST.split(";")[0])

    @app.page("/ready")  # type: ignore[untyped-decorator]
    async def ready(web: Any, request: Any) -> Any:
        assignment = app.consumer.assignment() if app.consumer else set()
        recovered = app.tables.recovery.completed.is_set()
        is_ready = bool(assignment) and not app.rebalancing and recovered
        body = {
            "ready": is_ready,
            "rebalancing": bool(app.rebalancing),
            "recovered": recovered,
            "partitions": sorted(f"{tp.topic}:{tp.partition}" for tp in assignment),
        }
        return web.json(body, status=200 if is_ready else 503)
