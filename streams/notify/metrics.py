"""Prometheus metrics of the notify bridge, served at /metrics on its own port (TOUCHPOINT_NOTIFY_WEB_PORT).

Importing this module registers them; only the bridge process does. Every series of a
bounded label set exists from start-up at 0.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge, Histogram

from agents.domain.refusal import REASONS

#: What an accepted post carried: a new or changed active alert, a resolution, an alert ended because the
#: worker no longer keeps it, or a re-post of an unchanged active alert.
KINDS: Final = ("firing", "resolved", "expired", "resend")
#: Why a post to an Alertmanager failed: no answer (refused, timed out), a 5xx, or a 4xx (the alerts refused).
FAILURES: Final = ("unreachable", "server_error", "rejected")

ALERTS_SENT: Final = Counter(
    "touchpoint_notify_alerts",
    "Alerts accepted by Alertmanager, by kind: firing, resolved, expired, resend.",
    ["kind"],
)
POST_FAILURES: Final = Counter(
    "touchpoint_notify_post_failures",
    "Posts to an Alertmanager that failed, by reason: unreachable, server_error (retried), rejected (4xx).",
    ["reason"],
)
ACTIVE_ALERTS: Final = Gauge(
    "touchpoint_notify_active_alerts",
    "Open and acknowledged alerts this bridge re-posts, in the partitions it owns (sum over bridges).",
)
DELIVERY_SECONDS: Final = Histogram(
    "touchpoint_notify_delivery_seconds",
    "From an alert record's Kafka timestamp to Alertmanager accepting it (first post of that record).",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
INVALID_RECORDS: Final = Counter(
    "touchpoint_notify_invalid_records",
    "Records on alert topics that are not valid alert.v1, dead-lettered, by reason.",
    ["reason"],
)

for _kind in KINDS:
    ALERTS_SENT.labels(_kind)
for _failure in FAILURES:
    POST_FAILURES.labels(_failure)
for _reason in REASONS:
    INVALID_RECORDS.labels(_reason)
