"""Prometheus metrics of the ops console, served at /metrics on its port.

Importing this module registers them; only the console process does. Every series of a
bounded label set exists from start-up at 0.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

from agents.domain.refusal import REASONS

ACTIONS: Final = ("acknowledge", "resolve", "snooze")
SIGN_IN_OUTCOMES: Final = ("accepted", "refused")

LIVE_CLIENTS: Final = Gauge(
    "touchpoint_console_live_clients",
    "Browsers following the console's live feed (server-sent events) now.",
)
ALERTS_KNOWN: Final = Gauge(
    "touchpoint_console_alerts",
    "Alerts the console holds, by status group: active (open or acknowledged) or resolved.",
    ["status"],
)
ACTIONS_SENT: Final = Counter(
    "touchpoint_console_actions",
    "Operator actions the console wrote to alerts.actions, by action.",
    ["action"],
)
SIGN_INS: Final = Counter(
    "touchpoint_console_sign_ins",
    "Sign-in attempts, by outcome: accepted or refused.",
    ["outcome"],
)
INVALID_RECORDS: Final = Counter(
    "touchpoint_console_invalid_records",
    "Records on alert topics that are not valid alert.v1, skipped by the console, by reason "
    "(the notify bridge dead-letters them).",
    ["reason"],
)

for _action in ACTIONS:
    ACTIONS_SENT.labels(_action)
for _outcome in SIGN_IN_OUTCOMES:
    SIGN_INS.labels(_outcome)
for _reason in REASONS:
    INVALID_RECORDS.labels(_reason)
for _status in ("active", "resolved"):
    ALERTS_KNOWN.labels(_status)
