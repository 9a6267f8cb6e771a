"""Every topic the product reads or writes, by name, in one place.

Names only, no stream engine: the CLI, replay, the notify bridge and the console read them
too. The worker's Faust topic objects are declared from them in ``streams.app``.
"""

from __future__ import annotations

from typing import Final

from agents.catalogue import DETECTORS, plugin_types
from agents.domain.alert import SLA_ALERT_TYPES

#: Raw touchpoints from any producer: UTF-8 JSON per schemas/touchpoint.v1.json, any key.
RAW: Final = "touchpoints"
#: Valid, normalised touchpoints keyed by customer id (co-partitioned with customer state).
BY_CUSTOMER: Final = "touchpoints.by-customer"
#: Refused records: schemas/dead_letter.v1.json, keyed by the source topic:partition:offset.
DEAD_LETTER: Final = "touchpoints.dead-letter"
#: Each accepted touchpoint plus a customer snapshot, identifiers masked: schemas/enriched.v1.json.
ENRICHED: Final = "touchpoints.enriched"
#: Lifecycle stage changes: schemas/lifecycle_transition.v1.json, keyed by customer id.
TRANSITIONS: Final = "lifecycle.transitions"

#: Anonymous profiles merged into customers, and operators' splits: schemas/identity_merge.v1.json, keyed by customer id.
IDENTITY_MERGES: Final = "identity.merges"
#: Identifiers claimed by more than one customer: schemas/identity_conflict.v1.json, keyed by identifier key.
IDENTITY_CONFLICTS: Final = "identity.conflicts"
#: Operators' splits of a merge: schemas/identity_action.v1.json, keyed by the identifier key.
IDENTITY_ACTIONS: Final = "identity.actions"

#: Operators' acknowledge / resolve / snooze: schemas/alert_action.v1.json, keyed by customer id.
ACTIONS: Final = "alerts.actions"
#: Alert types; each has its own topic ``alerts.<type>`` (schemas/alert.v1.json), so a team subscribes to what it owns.
ALERT_TYPES: Final = (*SLA_ALERT_TYPES, *DETECTORS)


def alert_topic(alert_type: str) -> str:
    return f"alerts.{alert_type}"


def alert_types() -> tuple[str, ...]:
    """Every alert type this installation can raise: ALERT_TYPES, then the installed detector plug-ins'."""
    return (*ALERT_TYPES, *(kind for kind in plugin_types() if kind not in ALERT_TYPES))


#: Topics the worker owns, in data-flow order (the topic table in docs/topics.md follows it).
ALL: Final = (
    RAW,
    BY_CUSTOMER,
    DEAD_LETTER,
    ENRICHED,
    TRANSITIONS,
    IDENTITY_MERGES,
    IDENTITY_CONFLICTS,
    IDENTITY_ACTIONS,
    ACTIONS,
    *map(alert_topic, ALERT_TYPES),
)
