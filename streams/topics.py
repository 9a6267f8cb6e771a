"""Every topic the product reads or writes, by name, in one place.

Names only, no stream engine: the CLI, replay, the notify bridge and the console read them
too. The worker's Faust topic objects are declared from them in ``streams.app``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
#: Internal, one partition: each journey partition's first-response warnings and the progress of its clock,
#: with its buyers' value sketch at each population boundary, in order, for the coordinator
#: (agents/coordination/): warning digests and the best-customer threshold.
PROGRESS: Final = "journey.progress"
#: Internal, one partition, compacted: the best-customer threshold of each population boundary, read by every worker.
BEST_CUSTOMERS: Final = "model.best-customers"
#: Requests to forget a customer: schemas/erasure_request.v1.json, keyed by customer id.
ERASURE_REQUESTS: Final = "privacy.erasure-requests"
#: Confirmations that a customer was forgotten, for downstream services: schemas/erasure.v1.json.
ERASURES: Final = "privacy.erasures"
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
    ERASURE_REQUESTS,
    ERASURES,
    *map(alert_topic, ALERT_TYPES),
    PROGRESS,
    BEST_CUSTOMERS,
)

#: The journey's inputs: co-partitioned with the customer tables, so each must have the workers'
#: partition count (``TOUCHPOINT_PARTITIONS``) and be keyed by customer.
JOURNEY_INPUTS: Final = (BY_CUSTOMER, ACTIONS, ERASURE_REQUESTS, IDENTITY_ACTIONS)
#: Internal topics of one partition whatever the workers' count: one coordinator reads each in order.
SINGLE_PARTITION: Final = (PROGRESS, BEST_CUSTOMERS)


DAY_MS: Final = 86_400_000

#: Days each topic keeps its records (Kafka's ``retention.ms``), as the worker and docker-compose create
#: them. Short where raw personal data lies (the producers' topic, the dead-letters, which keep refused
#: records as they came) and where records are only the worker's own input; a month for what other
#: services read. docs/operations.md lists them, with how to change them on a cluster.
RETENTION_DAYS: Final = {
    RAW: 7,
    BY_CUSTOMER: 7,
    DEAD_LETTER: 7,
    ENRICHED: 30,
    TRANSITIONS: 30,
    IDENTITY_MERGES: 30,
    IDENTITY_CONFLICTS: 30,
    IDENTITY_ACTIONS: 30,
    ACTIONS: 30,
    ERASURE_REQUESTS: 7,
    ERASURES: 30,
    # Internal: the journey partitions' reports to the coordinator (warnings name customers).
    PROGRESS: 7,
    "alerts.*": 30,
}

#: The customer table's changelog: compacted (the latest state of each customer is kept), a deleted
#: customer's tombstone kept a day (long enough for every worker's restore to see it), and every
#: record eligible for compaction within a week, so an erased customer's old states are gone from the
#: broker's disks within about eight days.
CHANGELOG_CONFIG: Final = {
    "cleanup.policy": "compact",
    "delete.retention.ms": str(1 * DAY_MS),
    "max.compaction.lag.ms": str(7 * DAY_MS),
    "segment.ms": str(1 * DAY_MS),
}


#: The table of erased customers (customer key → instant of their erasure), so that a touchpoint dated
#: before an erasure, redelivered or late, never brings the customer back, even after a restart.
#: Compacted, and deleted after the erasures' own retention: by then no such touchpoint can arrive.
ERASED_CUSTOMERS_CONFIG: Final = {
    "cleanup.policy": "compact,delete",
    "retention.ms": str(RETENTION_DAYS[ERASURES] * DAY_MS),
}


def _retention_entry(topic: str) -> str | None:
    """The entry of ``RETENTION_DAYS`` that *topic* keeps its records by (an alert topic: ``alerts.*``)."""
    if topic in RETENTION_DAYS:
        return topic
    if topic.startswith("alerts."):
        return "alerts.*"
    return None


def retention_days(topic: str) -> int:
    """Days *topic* keeps its records (an alert topic: those of ``alerts.*``)."""
    entry = _retention_entry(topic)
    if entry is None:
        raise KeyError(f"no retention for topic {topic!r}")
    return RETENTION_DAYS[entry]


def never_compacted(topic: str) -> bool:
    """Whether *topic* is one of the product's topics created with deletion only (``topic_config``).

    Kafka keeps every offset of such a topic in a batch, so a fetch of it never shows a hole in its
    offsets (``streams.fetch_holes``)."""
    return _retention_entry(topic) is not None


def topic_config(topic: str) -> dict[str, str]:
    """The configuration *topic* is created with: time-based deletion after its retention."""
    return {"cleanup.policy": "delete", "retention.ms": str(retention_days(topic) * DAY_MS)}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as the product creates it: where it is missing, with these partitions and this configuration."""

    name: str
    partitions: int
    replicas: int = 1
    config: Mapping[str, str] = field(default_factory=dict)
    #: The partition count must be exactly ``partitions`` (co-partitioned with the worker's tables).
    copartitioned: bool = False
    #: False: only checked if it exists (a table's changelog, which Faust creates itself).
    create: bool = True


def topic_specs(partitions: int, replicas: int = 1) -> dict[str, TopicSpec]:
    """Every topic of the product (the installed plug-ins' alert topics too), by name, as a worker
    with *partitions* partitions and *replicas* replicas creates it.

    Any client of ours creates a missing topic so before it names one (``streams.kafka``), rather than
    let the broker create it with its own defaults; the worker's own declaration agrees with it (a
    test holds them together)."""
    built_in_alerts = set(map(alert_topic, ALERT_TYPES))
    names = (*(name for name in ALL if name not in built_in_alerts), *map(alert_topic, alert_types()))
    specs: dict[str, TopicSpec] = {}
    for name in names:
        if name == BEST_CUSTOMERS:  # the latest threshold of each boundary, kept for every new worker
            specs[name] = TopicSpec(name, 1, replicas, {"cleanup.policy": "compact"})
            continue
        count = 1 if name in SINGLE_PARTITION else partitions
        specs[name] = TopicSpec(
            name, count, replicas, topic_config(name), copartitioned=name in JOURNEY_INPUTS
        )
    return specs
