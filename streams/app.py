"""The composition root: ``create_app(settings)`` wires topics, agents, metrics and views."""

from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass
from typing import Any

import faust
from faust.types import TableT, TopicT
from faust.types.auth import CredentialsT

from agents.config import load_config
from agents.coordination import agent as coordination_agent
from agents.coordination.coordinator import Coordinator
from agents.domain.state import CustomerState
from agents.ingest import agent as ingest_agent
from agents.ingest.decode import TouchpointDecoder
from agents.journey import agent as journey_agent
from agents.journey.track import JourneyTracker
from streams import metrics, tables, topics, web, worker_metrics
from streams.kafka_security import FileTokenProvider, KafkaSecurity
from streams.runtime import recovery
from streams.runtime.batches import BatchHost
from streams.runtime.declare import TopicSpec, declare_topics
from streams.runtime.direct import DirectTopic
from streams.runtime.state_writer import StateWriter
from streams.runtime.transport import Transport, client_options, read_to_end, start_plain_consumer
from streams.settings import Settings

__all__ = ["Topics", "TouchpointApp", "create_app", "make_topics"]

log = logging.getLogger(__name__)


class TouchpointApp(faust.App):
    """A Faust app that carries its Settings, uses the tunable-fetch transport and restores tables in bulk."""

    settings: Settings
    streams: Topics
    customers: TableT[bytes, CustomerState]
    erased: TableT[bytes, int]
    states: StateWriter[CustomerState]
    batches: BatchHost

    def __init__(self, *args: Any, **options: Any) -> None:
        # Tables come back from their changelogs in bulk after a rebalance (streams.runtime.recovery).
        options.setdefault("TableManager", recovery.TableManager)
        super().__init__(*args, **options)

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)

    async def on_start(self) -> None:
        await super().on_start()
        # Before the consumer subscribes and the producer first sends: either would have the broker
        # create a missing topic with its own defaults (streams.runtime.declare). An app made without
        # create_app (a test's bare app) has no topics of ours.
        if hasattr(self, "streams"):
            await declare_topics(topic_specs(self), client_options(self, "topics"))


@dataclass(frozen=True)
class Topics:
    """The topics of one app: Faust topics where the app reads, ``DirectTopic``s where it only writes."""

    raw: TopicT
    by_customer: DirectTopic
    dead_letter: DirectTopic
    enriched: DirectTopic
    transitions: DirectTopic
    actions: TopicT
    erasure_requests: TopicT
    erasures: DirectTopic
    #: alerts.actions again, to write to: an action following an alert that moved with a merge.
    actions_out: DirectTopic
    #: Operators' splits of a merge (read), merges and splits, and conflicts (written).
    identity_actions: TopicT
    merges: DirectTopic
    conflicts: DirectTopic
    #: The inputs of the journey agent, co-partitioned: customer-keyed touchpoints, alert actions,
    #: erasure requests and splits.
    journey_inputs: TopicT
    alerts: dict[str, DirectTopic]
    #: One partition each: what every journey partition reports to the coordinator (written by the
    #: journey, read by the coordinator), and the best-customer thresholds it publishes (compacted).
    progress: DirectTopic
    progress_input: TopicT
    best_customers: DirectTopic

    def all(self) -> tuple[TopicT | DirectTopic, ...]:
        fixed = (
            self.raw,
            self.by_customer,
            self.dead_letter,
            self.enriched,
            self.transitions,
            self.actions,
            self.erasure_requests,
            self.erasures,
        )
        identity = (self.identity_actions, self.merges, self.conflicts)
        return (*fixed, *identity, *self.alerts.values(), self.progress, self.best_customers)


def make_topics(app: faust.App, partitions: int) -> Topics:
    """Create the Faust topic objects; values and keys stay bytes (orjson does the JSON)."""
    layout = topics.topic_specs(partitions)

    def topic(*names: str, **options: Any) -> TopicT:
        # A topic's partitions and configuration (retention, or compaction) are the product's layout
        # (streams.topics.topic_specs), applied when the worker creates it; an existing topic keeps its own.
        spec = layout[names[0]] if len(names) == 1 else None
        return app.topic(
            *names,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=partitions if spec is None else spec.partitions,
            config=None if spec is None else dict(spec.config),
            **options,
        )

    def output(name: str) -> DirectTopic:
        return DirectTopic(app, topic(name))

    # Internal: Faust declares them, with their one partition, before the group subscribes to them.
    progress = topic(topics.PROGRESS, internal=True)

    return Topics(
        raw=topic(topics.RAW),
        by_customer=output(topics.BY_CUSTOMER),
        dead_letter=output(topics.DEAD_LETTER),
        enriched=output(topics.ENRICHED),
        transitions=output(topics.TRANSITIONS),
        actions=topic(topics.ACTIONS),
        erasure_requests=topic(topics.ERASURE_REQUESTS),
        erasures=output(topics.ERASURES),
        actions_out=output(topics.ACTIONS),
        identity_actions=topic(topics.IDENTITY_ACTIONS),
        merges=output(topics.IDENTITY_MERGES),
        conflicts=output(topics.IDENTITY_CONFLICTS),
        journey_inputs=topic(*topics.JOURNEY_INPUTS),
        alerts={alert_type: output(topics.alert_topic(alert_type)) for alert_type in topics.alert_types()},
        progress=DirectTopic(app, progress),
        progress_input=progress,
        best_customers=DirectTopic(app, topic(topics.BEST_CUSTOMERS, compacting=True, internal=True)),
    )


def create_app(settings: Settings) -> TouchpointApp:
    """Build the worker's Faust app from *settings* (the broker must already be known)."""
    if settings.embedded:
        raise ValueError("create_app needs a broker URL; start the embedded broker first")
    # A worker with the public development key would publish hashes anyone can reverse.
    settings.check_identity_key()
    heartbeat = min(3.0, settings.session_timeout_s / 3)
    _warn_about_faust_environment()
    views = settings.web_faust_views
    app = TouchpointApp(
        settings.app_id,
        # Faust would read every one of its settings from the environment too (BROKER_CREDENTIALS=user:pass
        # stopped start-up with the password in the message): the worker is configured by TOUCHPOINT_* only.
        env={},
        broker=settings.broker,
        broker_credentials=faust_credentials(settings.kafka_security),
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
        # Faust's own views show the cluster's layout and table contents: off unless asked for.
        web_router_enabled=views,
        web_tables_enabled=views,
        web_graph_enabled=views,
        web_stats_enabled=views,
        **dict(settings.faust_overrides),
    )
    # A bad rules or model file stops start-up here, with file, key and reason.
    config = load_config(settings.config, settings.model)
    salt = settings.identity_key
    app.settings = settings
    app.streams = make_topics(app, settings.partitions)
    app.customers = tables.customer_to_state(app, settings.partitions)
    app.erased = tables.erased_customers(app, settings.partitions)
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
    # Erasure instants are written as the states are: once per fetch, after its outputs.
    erased = StateWriter(app, app.erased, _encode_instant, decode=int)
    app.batches.after_flush(erased.write_staged)
    control_secret = settings.control_secret.reveal().encode()

    if not control_secret:
        control_secret = secrets.token_bytes(32)
        log.warning(
            "TOUCHPOINT_CONTROL_SECRET is not set: timer ticks and identity records are signed with a "
            "secret of this worker only. Set the same secret on every worker of the app, or records sent "
            "by another worker (or before a rebalance) are refused as forged_control by the partition's "
            "next owner."
        )
    coordinator = Coordinator(config, settings.partitions)
    # The coordinator's state, a record per pending warning and one for the rest: what a fetch changed
    # is written once, after that fetch's digests.
    coordinator_table = tables.coordinator_state(app)
    kept: StateWriter[bytes] = StateWriter(app, coordinator_table, bytes)
    app.batches.after_flush(kept.write_staged)
    _, thresholds_ready = coordination_agent.install(
        app,
        app.batches,
        app.streams,
        coordinator_table,
        kept,
        coordinator,
        tracker,
        metrics,
        follow=lambda: start_plain_consumer(app, "best-customers"),
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
        thresholds_ready=thresholds_ready,
        erased=erased,
    )
    # Touchpoints of customers whose state this worker owns are applied as ingest reads them.
    ingest_agent.install(app.batches, app.streams, decoder, metrics, control_secret, journey.shortcut)
    web.install(app, app.customers, app.states, tracker.model, settings.web_tokens())

    worker_metrics.install(app, metrics)

    return app


def topic_specs(app: TouchpointApp) -> list[TopicSpec]:
    """Every topic of *app*'s ``streams`` as Faust would create it, the journey's inputs co-partitioned, and
    the customer tables' changelogs to check."""
    conf = app.conf
    copartitioned = set(app.streams.journey_inputs.topics)
    specs: list[TopicSpec] = []
    for declared in app.streams.all():
        topic = declared.topic if isinstance(declared, DirectTopic) else declared
        specs.extend(
            TopicSpec(
                name,
                topic.partitions or conf.topic_partitions,
                topic.replicas or conf.topic_replication_factor,
                # make_topics puts every setting a topic is created with (compaction, retention) here.
                {key: str(value) for key, value in (topic.config or {}).items()},
                copartitioned=name in copartitioned,
            )
            for name in topic.topics
        )
    # Faust creates the tables' changelogs; one left by workers with another partition count is refused.
    specs.extend(
        TopicSpec(
            table.changelog_topic.get_topic_name(),
            table.partitions or conf.topic_partitions,
            copartitioned=True,
            create=False,
        )
        for table in (app.customers, app.erased)
    )
    return specs


def faust_credentials(security: KafkaSecurity) -> CredentialsT | None:
    """Faust's ``broker_credentials`` for *security*: the same TLS context and SASL login as the CLI's."""
    context = security.ssl_context()
    mechanism = security.sasl_mechanism
    if mechanism == "OAUTHBEARER" and security.oauth_token_file is not None:
        return faust.OAuthCredentials(
            oauth_cb=FileTokenProvider(security.oauth_token_file), ssl_context=context
        )
    if mechanism:
        return faust.SASLCredentials(
            username=security.sasl_username,
            password=security.sasl_password.reveal(),
            ssl_context=context,
            mechanism=mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


#: Faust settings that carry credentials when read from the environment; named in a warning, never shown.
_FAUST_CREDENTIAL_VARIABLES = ("BROKER_CREDENTIALS", "APP_BROKER_CREDENTIALS", "SSL_CONTEXT")


def _warn_about_faust_environment() -> None:
    for name in _FAUST_CREDENTIAL_VARIABLES:
        if os.environ.get(name):
            log.warning(
                "%s is set but ignored: the worker reads TOUCHPOINT_* settings only. For SASL use "
                "TOUCHPOINT_KAFKA_SASL_MECHANISM, _USERNAME and _PASSWORD (or _PASSWORD_FILE); for TLS "
                "TOUCHPOINT_KAFKA_TLS and TOUCHPOINT_KAFKA_CA_FILE (docs/configuration.md)",
                name,
            )


def _encode_instant(instant: int) -> bytes:
    """An erasure instant as the erased-customers table's JSON value serializer writes it."""
    return str(instant).encode()
