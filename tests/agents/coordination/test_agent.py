"""The coordinator agent keeps its state a record per pending warning: a busy contact centre's state
fits, each batch writes only what it changed, and the next owner loads the same coordinator.

The agent runs on stand-ins for the app, the table and the batch host (``agents.ports``): what is
tested is what it stages, not the broker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from agents.config import default_config
from agents.coordination import agent
from agents.coordination.coordinator import Coordinator
from agents.coordination.progress import Progress, encode_signals
from agents.domain.alert import FIRST_RESPONSE_DUE_SOON, DueSoon
from streams import metrics

pytestmark = pytest.mark.unit

MINUTE = 60
#: Tuesday 6 January 2026, 10:00 UTC (11:00 in Berlin): support is staffed.
T0 = 1_767_693_600
#: Kafka's default request size, the producer's limit on one record.
REQUEST_LIMIT = 1_048_576
CHANGELOG = "touchpoint-coordinator_state-changelog"


@dataclass
class Kept:
    """The coordinator's table: what the agent staged, and the records it holds once they are written."""

    data: dict[bytes, bytes] = field(default_factory=dict)
    #: (key, value; None for a deletion) of every stage, in order.
    staged: list[tuple[bytes, bytes | None]] = field(default_factory=list)

    def get(self, key: bytes) -> bytes | None:
        return self.data.get(key)

    def stage(self, key: bytes, value: bytes, partition: int) -> None:
        self.staged.append((key, value))
        self.data[key] = value

    def stage_delete(self, key: bytes, partition: int) -> None:
        self.staged.append((key, None))
        self.data.pop(key, None)

    def retain(self, owned: set[int]) -> None:
        pass

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(list(self.data.items()))

    def batch(self) -> list[tuple[bytes, bytes | None]]:
        """The stages since the last call."""
        staged, self.staged = self.staged, []
        return staged


@dataclass(frozen=True)
class Record:
    value: bytes | None
    offset: int
    topic: str = "touchpoint-journey.progress"
    partition: int = 0
    timestamp: int = 0
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


class Sink:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_topic_name(self) -> str:
        return self.name

    async def send(self, **_: Any) -> Any:
        raise AssertionError("the agent sends through the batch's outbox")


class Worker:
    """The agent installed on stand-ins: ``apply(records)`` is one fetch, ``recover()`` a rebalance."""

    def __init__(self, kept: Kept, coordinator: Coordinator) -> None:
        self.sent: list[tuple[str, bytes | None, bytes]] = []
        self.recovered: list[Callable[[], Any]] = []
        self.handler: Callable[[int, Sequence[Record]], None] | None = None
        self.offset = 0
        app = SimpleNamespace(
            conf=SimpleNamespace(producer_max_request_size=REQUEST_LIMIT),
            assignor=SimpleNamespace(
                assigned_actives=lambda: [SimpleNamespace(topic=CHANGELOG, partition=0)]
            ),
            task=lambda function: function,
        )
        table = SimpleNamespace(
            on_recover=self.recovered.append,
            changelog_topic=SimpleNamespace(get_topic_name=lambda: CHANGELOG),
        )
        outbox = SimpleNamespace(add=lambda topic, *, key, value, **_: self.sent.append((topic, key, value)))
        self.after_apply: list[Callable[[], None]] = []
        batches = SimpleNamespace(outbox=outbox, route=self._route, after_apply=self.after_apply.append)
        topics = SimpleNamespace(
            progress_input=object(),
            best_customers=Sink("model.best-customers"),
            alerts={FIRST_RESPONSE_DUE_SOON: Sink("alerts.first_response_due_soon")},
        )
        #: Decisions the journey made with an earlier boundary's threshold, as its tracker counts them.
        self.late = 0
        tracker = SimpleNamespace(
            fixed_threshold=lambda: None,
            late_thresholds=lambda: self.late,
            learn_threshold=lambda boundary, threshold: None,
        )

        async def follow() -> Any:
            raise AssertionError("not started here")

        agent.install(app, batches, topics, table, kept, coordinator, tracker, metrics, follow)  # type: ignore[arg-type]

    def _route(self, topic: Any, handler: Callable[[int, Sequence[Record]], None]) -> None:
        self.handler = handler

    def apply(self, signals: list[bytes]) -> None:
        assert self.handler is not None
        records = [Record(value, self.offset + number) for number, value in enumerate(signals)]
        self.offset += len(records)
        self.handler(0, records)
        for hook in self.after_apply:
            hook()

    async def recover(self) -> None:
        for load in self.recovered:
            await load()


def warning(number: int, warn_at: int) -> DueSoon:
    """A realistic item: hashed ids, a team, a topic, the customer's stage and tier (~500 bytes)."""
    customer = f"cust-{number:06d}-5f0c2d9a8b7e6f41"
    event = f"evt-2026-01-06-{number:06d}-7d3a9c51e2b84f06a1c3"
    return DueSoon(
        item_id=f"{FIRST_RESPONSE_DUE_SOON}/{customer}/{event}",
        customer_id=customer,
        channel=("chat", "email", "phone", "social")[number % 4],
        location=f"store-{('berlin-mitte', 'hamburg-altona', 'munich-schwabing')[number % 3]}",
        evidence=event,
        asked_at=warn_at - 5 * MINUTE,
        warn_at=warn_at,
        deadline=warn_at + 10 * MINUTE,
        severity=("info", "warning")[number % 2],
        reasons=("first_response_due_soon", "purchase_intent"),
        topic="discount on the air purifier",
        stage="repeat_customer",
        value_tier="gold",
    )


async def test_a_busy_centres_five_thousand_pending_warnings_are_kept_a_small_record_each_and_once() -> None:
    kept = Kept()
    coordinator = Coordinator(default_config(), 1)
    worker = Worker(kept, coordinator)
    await worker.recover()
    items = [warning(number, T0 + number % 240) for number in range(5000)]
    for first in range(0, 5000, 500):  # ten fetches of 500 warnings
        worker.apply(list(encode_signals(0, items[first : first + 500], [], None)))
        staged = kept.batch()
        assert len(staged) == 500 + (first == 0), "each new warning once (the bounded state once, at first)"
        assert all(value is not None for _, value in staged)
    whole = orjson.dumps(coordinator.to_json())
    assert len(whole) > REQUEST_LIMIT, "kept as one record, this state would not fit"
    worker.apply(list(encode_signals(0, [], [(items[7].item_id, T0 + 4 * MINUTE)], None)))
    assert kept.batch() == [(f'answered/["{items[7].item_id}"]'.encode(), str(T0 + 4 * MINUTE).encode())]
    again = replace(items[8], severity="critical")
    worker.apply(list(encode_signals(0, [again], [], None)))
    [(_, value)] = kept.batch()
    assert value is not None
    assert orjson.loads(value)["severity"] == "critical"
    worker.apply(list(encode_signals(0, [], [], Progress(0, T0 + 5 * MINUTE))))  # every interval ends
    digests = [value for topic, _, value in worker.sent if topic == "alerts.first_response_due_soon"]
    assert len(digests) == 12, "one per queue"
    staged = kept.batch()
    assert len([key for key, value in staged if value is None]) == 5000 + 1, "pending no more; the answer"
    assert len(staged) == 5000 + 1 + 12 + 4999 + 1, "+ each digest and each inquiry it lists + the state"
    assert staged[-1][0] == b"state", "the bounded state last"
    biggest = max(len(value) for _, value in staged if value is not None)
    assert biggest < REQUEST_LIMIT // 16, f"every record far below the limit ({biggest:,} bytes)"
    assert REGISTRY.get_sample_value("touchpoint_records_too_large_total", {"topic": CHANGELOG}) in (None, 0)

    # The next owner, after a rebalance: the same coordinator from every record, nothing to rewrite.
    successor = Coordinator(default_config(), 1)
    follower = Worker(Kept(dict(kept.data)), successor)
    await follower.recover()
    assert successor.to_json() == coordinator.to_json()
    follower.apply([])
    later = Progress(0, T0 + 20 * MINUTE)
    assert [a.to_dict() for a in successor.passed(later).alerts] == [
        a.to_dict() for a in coordinator.passed(later).alerts
    ]


async def test_a_worker_upgraded_in_place_loads_its_whole_state_and_keeps_it_a_record_per_entry() -> None:
    kept = Kept()
    before = Coordinator(default_config(), 1)
    for item in (warning(1, T0 + MINUTE), warning(2, T0 + 2 * MINUTE)):
        before.due_soon(item)
    before.passed(Progress(0, T0 + 5 * MINUTE))
    before.due_soon(warning(3, T0 + 6 * MINUTE))
    kept.data[b"state"] = orjson.dumps(before.to_json())  # everything under one key, as it was kept
    coordinator = Coordinator(default_config(), 1)
    worker = Worker(kept, coordinator)
    await worker.recover()
    assert coordinator.to_json() == before.to_json()
    worker.apply([])  # the first fetch after the upgrade
    assert kept.data == dict(before.records())
    assert len(kept.data[b"state"]) < 200
    assert kept.batch()[-1][0] == b"state", "replaced last: a stop on the way leaves the whole state"


def test_decisions_made_with_a_late_threshold_are_counted_once_each_after_their_batch() -> None:
    def counted() -> float:
        return REGISTRY.get_sample_value("touchpoint_best_customer_threshold_late_total") or 0.0

    worker = Worker(Kept(), Coordinator(default_config(), 1))
    before = counted()
    worker.late = 3  # the journey's decisions in this fetch: three stood in for a boundary not known yet
    worker.apply([])
    assert counted() == before + 3
    worker.apply([])
    assert counted() == before + 3, "nothing new: nothing counted again"
    worker.late = 5
    worker.apply([])
    assert counted() == before + 5
