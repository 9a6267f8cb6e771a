"""The composition root: ``create_app(settings)`` wires topics, agents, metrics and views."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TableT, TopicT

from agents.config import load_config
from agents.domain.state import CustomerState
from agents.ingest import agent as ingest_agent
from agents.ingest.decode import TouchpointDecoder
from agents.journey import agent as journey_agent
from agents.journey.track import JourneyTracker
from streams import metrics, tables, topics, web, worker_metrics
from streams.runtime import recovery
from streams.runtime.batches import BatchHost
from streams.runtime.direct import DirectTopic
from streams.runtime.state_writer import StateWriter
from streams.runtime.transport import Transport, read_to_end
from streams.settings import Settings

__all__ = ["Topics", "TouchpointApp", "create_app", "make_topics"]

log = logging.getLogger(__name__)


class TouchpointApp(faust.App):
    """A Faust app that carries its Settings, uses the tunable-fetch transport and restores tables in bulk."""

    settings: Settings
    streams: Topics
    customers: TableT[bytes, CustomerState]
    states: StateWriter[CustomerState]
    batches: BatchHost

    def __init__(self, *args: Any, **options: Any) -> None:
        # Tables come back from their changelogs in bulk after a rebalance (streams.runtime.recovery).
        options.setdefault("TableManager", recovery.TableManager)
        super().__init__(*args, **options)

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)


@dataclass(frozen=True)
class Topics:
    """The topics of one app: Faust topics where the app reads, ``DirectTopic``s where it only writes."""

    raw: TopicT
    by_customer: DirectTopic
    dead_letter: DirectTopic
    enriched: DirectTopic
    transitions: DirectTopic
    actions: TopicT
    #: alerts.actions again, to write to: an action following an alert that moved with a merge.
    actions_out: DirectTopic
    #: Operators' splits of a merge (read), merges and splits, and conflicts (written).
    identity_actions: TopicT
    merges: DirectTopic
    conflicts: DirectTopic
    #: The inputs of the journey agent, co-partitioned: customer-keyed touchpoints, alert actions, splits.
    journey_inputs: TopicT
    alerts: dict[str, DirectTopic]

    def all(self) -> tuple[TopicT | DirectTopic, ...]:
        fixed = (self.raw, self.by_customer, self.dead_letter, self.enriched, self.transitions, self.actions)
        identity = (self.identity_actions, self.merges, self.conflicts)
        return (*fixed, *identity, *self.alerts.values())


def make_topics(app: faust.App, partitions: int) -> Topics:
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
        raw=topic(topics.RAW),
        by_customer=output(topics.BY_CUSTOMER),
        dead_letter=output(topics.DEAD_LETTER),
        enriched=output(topics.ENRICHED),
        transitions=output(topics.TRANSITIONS),
        actions=topic(topics.ACTIONS),
        actions_out=output(topics.ACTIONS),
        identity_actions=topic(topics.IDENTITY_ACTIONS),
        merges=output(topics.IDENTITY_MERGES),
        conflicts=output(topics.IDENTITY_CONFLICTS),
        journey_inputs=topic(topics.BY_CUSTOMER, topics.ACTIONS, topics.IDENTITY_ACTIONS),
        alerts={alert_type: output(topics.alert_topic(alert_type)) for alert_type in topics.alert_types()},
    )


def create_app(settings: Settings) -> TouchpointApp:
    """Build the worker's Faust app from *settings* (the broker must already be known)."""
    if settings.embedded:
        raise ValueError("create_app needs a broker URL; start the embedded broker first")
    heartbeat = min(3.0, settings.session_timeout_s / 3)
    app = TouchpointApp(
        settings.app_id,
        broker=settings.broker,
        store=f"{settings.store}://",  # rocksdb: the rocksdict driver, files under data_dir
        table_standby_replicas=settings.standby_replicas,
        autodiscover=False,
        datadir=str(settings.data_dir),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        # A new group reads topics from the start: events produced before the first worker came up are not lost.
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout_s,
        broker_heartbeat_interval=heartbeat,
        producer_linger=settings.producer_linger_ms / 1000,
        web_enabled=True,
        web_bind=settings.web_host,
        web_host=settings.web_host,
        web_port=settings.web_port,
        **dict(settings.faust_overrides),
    )
    # A bad rules or model file stops start-up here, with file, key and reason.
    config = load_config(settings.config, settings.model)
    salt = settings.identity_salt.encode()
    app.settings = settings
    app.streams = make_topics(app, settings.partitions)
    app.customers = tables.customer_to_state(app, settings.partitions)
    # The restore counters exist from start-up, before a rebalance first restores anything.
    metrics.STATE_RESTORED_RECORDS.labels(app.customers.name)
    metrics.STATE_RESTORED_KEYS.labels(app.customers.name)
    decoder = TouchpointDecoder(
        identity_salt=salt,
        max_bytes=settings.max_event_bytes,
        max_future_skew=config.time.max_future_skew,
        identity=config.identity,
    )
    # The agents take their records a fetch at a time, beneath Faust's per-message path.
    app.batches = BatchHost(app)
    tracker = JourneyTracker(config, salt)
    app.states = StateWriter(app, app.customers, CustomerState.encode, decode=CustomerState.decode)
    states = app.states
    # Each customer's state changed by a fetch is written once, after that fetch's outputs.
    app.batches.after_flush(states.write_staged)
    metrics.STATE_WRITES_HELD.set_function(lambda: len(states))
    control_secret = settings.control_secret.encode()
    if not control_secret:
        control_secret = secrets.token_bytes(32)
        log.warning(
            "TOUCHPOINT_CONTROL_SECRET is not set: timer ticks and identity records are signed with a "
            "secret of this worker only. Set the same secret on every worker of the app, or records sent "
            "by another worker (or before a rebalance) are refused as forged_control by the partition's "
            "next owner."
        )
    journey = journey_agent.install(
        app,
        app.batches,
        app.streams,
        app.customers,
        app.states,
        tracker,
        config,
        metrics,
        control_secret,
        caught_up=read_to_end(app, app.streams.by_customer.get_topic_name()),
    )
    # Touchpoints of customers whose state this worker owns are applied as ingest reads them.
    ingest_agent.install(app.batches, app.streams, decoder, metrics, control_secret, journey.shortcut)
    web.install(app, app.customers, app.states, tracker.model)
    worker_metrics.install(app, metrics)

    @app.task  # type: ignore[untyped-decorator]
    async def declare_topics() -> None:
        # Output topics must exist before anyone subscribes to them, even if nothing was written yet.
        for topic in app.streams.all():
            await topic.maybe_declare()

    return app
