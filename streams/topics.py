"""Every topic the product reads or writes, by name, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import faust
from faust.types import TopicT

from agents.catalogue import DETECTORS, plugin_types
from agents.domain.alert import SLA_ALERT_TYPES
from streams.direct import DirectTopic

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
ALL: Final = (RAW, BY_CUSTOMER, DEAD_LETTER, ENRICHED, TRANSITIONS, ACTIONS, *map(alert_topic, ALERT_TYPES))


@dataclass(frozen=True)
class Topics:
    """The topics of one app: Faust topics where the app reads, ``DirectTopic``s where it only writes."""

    raw: TopicT
    by_customer: DirectTopic
    dead_letter: DirectTopic
    enriched: DirectTopic
    transitions: DirectTopic
    actions: TopicT
    #: Both inputs of the journey agent, co-partitioned: customer-keyed touchpoints and alert actions.
    journey_inputs: TopicT
    alerts: dict[str, DirectTopic]

    def all(self) -> tuple[TopicT | DirectTopic, ...]:
        fixed = (self.raw, self.by_customer, self.dead_letter, self.enriched, self.transitions, self.actions)
        return (*fixed, *self.alerts.values())


def declare(app: faust.App, partitions: int) -> Topics:
    """Create the Faust topic objects; values and keys stay bytes (orjson does the JSON)."""

    def topic(*names: str) -> TopicT:
        return app.topic(
            *names,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions,
        )

    def output(name: str) -> DirectTopic:
        return DirectTopic(app, topic(name))

    return Topics(
        raw=topic(RAW),
        by_customer=output(BY_CUSTOMER),
        dead_letter=output(DEAD_LETTER),
        enriched=output(ENRICHED),
        transitions=output(TRANSITIONS),
        actions=topic(ACTIONS),
        journey_inputs=topic(BY_CUSTOMER, ACTIONS),
        alerts={alert_type: output(alert_topic(alert_type)) for alert_type in alert_types()},
    )
