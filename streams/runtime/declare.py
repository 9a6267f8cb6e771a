"""The product's topics, created before a client names one: the worker's, and any other client's.

A broker creates a topic the first time a client asks for its metadata: Apache Kafka where
``auto.create.topics.enable`` is on (its default), the embedded broker always. aiokafka asks
for it whenever a consumer subscribes or a producer first sends. Such a topic gets the broker's
default partition count and no configuration. A fresh worker used to declare its topics in a
task that ran once it was ready, while its consumers had already subscribed and its first
records were on the way. So ``touchpoints.by-customer`` and the other journey inputs could come
out with the broker's count instead of the worker's, and ``model.best-customers`` with several
partitions and deletion instead of one compacted partition. Worse, a topic another worker was
creating at that moment could change its partition count under the producer, which then held a
batch for a partition that no longer existed: the worker's first commit waited for it for the
producer's request timeout (20 minutes).

So the app creates its topics when it starts, before its consumer, producer and tables do
(``TouchpointApp.on_start``), all missing ones in one CreateTopics request, and checks the
partition count of the topics that already existed. The journey inputs must have the worker's count: they
are co-partitioned with the customer tables, and a record in a partition the tables lack could
never be applied. A worker refuses to start on such a cluster and says which topic and what to
do. Any other difference is a warning. Faust's own topics (changelogs, the assignor's) are
declared by Faust, also before first use; the customer tables' changelogs are checked like the
journey's inputs where they exist already.

The product's other clients (the commands, the console, the notify bridge) create what they are
about to name the same way, but as guests: ``create_missing_topics`` leaves an existing topic of
any size alone and turns a refusal into a line in the log (``streams.kafka.ensure_topics``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, TopicAuthorizationFailedError, for_code

from streams.topics import TopicSpec

__all__ = [
    "DeclarationPlan",
    "TopicSpec",
    "TopicsError",
    "create_missing_topics",
    "declare_topics",
    "listed_topics",
    "plan_declaration",
]

log = logging.getLogger(__name__)


class TopicsError(RuntimeError):
    """The cluster's topics do not fit the worker: it cannot create them, or their partitions differ."""


@dataclass(frozen=True, slots=True)
class DeclarationPlan:
    """What to do with the cluster's topics: the missing ones to create, the existing ones that differ."""

    create: tuple[TopicSpec, ...]
    #: Existing topics whose partition count is not the spec's: (spec, the count they have).
    mismatched: tuple[tuple[TopicSpec, int], ...]
    #: Every topic the broker listed (name → partition count), before any was created.
    existing: Mapping[str, int] = field(default_factory=dict)

    def refusals(self) -> list[str]:
        """One line per co-partitioned topic of the wrong size: reasons not to start."""
        return [
            f"{spec.name} has {count} partitions, but the worker's tables have {spec.partitions}"
            for spec, count in self.mismatched
            if spec.copartitioned
        ]

    def warnings(self) -> list[str]:
        """One line per other topic of an unexpected size: the worker runs, but says so."""
        return [
            f"{spec.name} has {count} partitions where the worker would create {spec.partitions}"
            for spec, count in self.mismatched
            if not spec.copartitioned
        ]


def plan_declaration(specs: Iterable[TopicSpec], existing: Mapping[str, int]) -> DeclarationPlan:
    """Compare *specs* with the *existing* topics (name → partition count).

    A name given twice is planned once; its co-partitioned spec wins, so a stricter reader is
    never overruled by a looser one."""
    by_name: dict[str, TopicSpec] = {}
    for spec in specs:
        known = by_name.get(spec.name)
        if known is None or (spec.copartitioned and not known.copartitioned):
            by_name[spec.name] = spec
    create = tuple(spec for name, spec in by_name.items() if name not in existing and spec.create)
    mismatched = tuple(
        (spec, existing[name])
        for name, spec in by_name.items()
        if name in existing and existing[name] != spec.partitions
    )
    return DeclarationPlan(create, mismatched, existing)


async def declare_topics(specs: Iterable[TopicSpec], client_options: Mapping[str, Any]) -> DeclarationPlan:
    """Create the missing topics of *specs*, check the rest, and return what was found.

    *client_options* are the admin client's: brokers, client id, TLS and SASL. Raises
    ``TopicsError`` if a topic cannot be created or a co-partitioned one has another size."""
    plan, failures = await _create_missing(specs, client_options)
    if failures:
        raise TopicsError(
            "cannot create the worker's topics: "
            + "; ".join(f"{name}: {reason}" for name, reason in failures)
            + ". Create them first with the partitions and retention in docs/operations.md"
        )
    for warning in plan.warnings():
        log.warning("%s (created before the worker, by another client or by hand)", warning)
    refusals = plan.refusals()
    if refusals:
        raise TopicsError(
            "; ".join(refusals)
            + ". These topics are co-partitioned with the customer tables: start the workers with "
            "TOUCHPOINT_PARTITIONS set to the topics' count, or recreate the topics with the workers' count"
        )
    return plan


async def create_missing_topics(specs: Iterable[TopicSpec], client_options: Mapping[str, Any]) -> set[str]:
    """Create the topics of *specs* that do not exist yet, as a client (not a worker) does before it names one.

    A client does not own the cluster's layout: topics that exist are left as they are, whatever
    their size (the workers refuse a journey input of the wrong one and say so), and a topic the
    broker will not let this client create is a warning, not an error, since writing to it or
    reading it may still be allowed. A refusal for want of permission is only an info line: a broker
    that enforces ACLs would not create the topic for this client on first use either.

    Returns the topics this client sees now: those the broker listed, and those it created."""
    plan, failures = await _create_missing(specs, client_options)
    for name, reason in failures:
        if reason.startswith(TopicAuthorizationFailedError.__name__):
            # Nor will the broker create it for this client: whoever may (the workers, the set-up) does.
            log.info("not allowed to create topic %s; left to the workers or the set-up", name)
        else:
            log.warning(
                "could not create topic %s: %s; the broker may create it with its own defaults", name, reason
            )
    failed = {name for name, _ in failures}
    return {*plan.existing, *(spec.name for spec in plan.create if spec.name not in failed)}


async def _create_missing(
    specs: Iterable[TopicSpec], client_options: Mapping[str, Any]
) -> tuple[DeclarationPlan, list[tuple[str, str]]]:
    """The plan for *specs* against the cluster, and (topic, reason) for each missing one not created."""
    specs = list(specs)
    failures: list[tuple[str, str]] = []
    async with _admin(client_options) as admin:
        # Asking for every topic, none by name, is the one metadata request that creates nothing.
        plan = plan_declaration(specs, _partition_counts(await admin.describe_topics()))
        if plan.create:
            response = await admin.create_topics([_new_topic(spec) for spec in plan.create])
            failures = _failures(response.topic_errors)
            created = [spec.name for spec in plan.create if spec.name not in dict(failures)]
            if created:
                log.info("created %d topics: %s", len(created), ", ".join(created))
    return plan, failures


async def listed_topics(client_options: Mapping[str, Any]) -> dict[str, int]:
    """The topics the broker lists to this client, with their partition counts; creates none.

    A broker that enforces ACLs lists only the topics the client's principal may describe."""
    async with _admin(client_options) as admin:
        return _partition_counts(await admin.describe_topics())


@asynccontextmanager
async def _admin(client_options: Mapping[str, Any]) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(**client_options)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


def _partition_counts(topics: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    return {topic["topic"]: len(topic["partitions"]) for topic in topics if topic["error_code"] == 0}


def _new_topic(spec: TopicSpec) -> NewTopic:
    return NewTopic(spec.name, spec.partitions, spec.replicas, topic_configs=dict(spec.config))


def _failures(topic_errors: Iterable[tuple[Any, ...]]) -> list[tuple[str, str]]:
    """(topic, reason) for each topic the broker did not create and that does not exist."""
    failures: list[tuple[str, str]] = []
    for name, code, *message in topic_errors:
        if code in (0, TopicAlreadyExistsError.errno):  # exists: another worker created it first
            continue
        error: type[KafkaError] = for_code(code)
        detail = message[0] if message and message[0] else error.description
        failures.append((name, f"{error.__name__} ({detail})"))
    return failures
