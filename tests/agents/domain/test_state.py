"""The per-customer state: a lossless compact encoding, small per customer, bounded however long the history."""

from __future__ import annotations

import itertools
import struct
from collections import defaultdict
from typing import Any

import msgpack
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.config import config_from_mapping, default_config
from agents.domain.dedupe_window import entries
from agents.domain.state import _KEYS, _PACK, _UNPACK, CustomerState, summarize
from agents.identity.merging import Ledger
from agents.ingest.decode import Accepted, TouchpointDecoder
from agents.journey.track import JourneyTracker
from streams.sim import SimulationSpec, generate
from tests.agents.domain.windows import pairs, window
from tests.agents.journey.histories import histories, replay
from tests.agents.journey.touchpoints import (
    SALT,
    Journey,
    complaint,
    feedback,
    inquiry,
    purchase,
    reply,
    resolution,
    visit,
)

pytestmark = pytest.mark.unit

ENCODED_LIMIT = 1024

instants = st.integers(1, 4_102_444_800)  # up to 2100
small = st.integers(0, 1_000_000)
keys = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)
states = st.builds(
    CustomerState,
    partition=st.integers(-1, 1023),
    events=small,
    first_seen=instants,
    last_seen=instants,
    channels=st.dictionaries(
        st.sampled_from(("web", "app", "store")), st.lists(instants, min_size=2, max_size=2)
    ),
    purchase_count=small,
    purchase_value=st.floats(0, 1e12, allow_nan=False),
    purchase_days=st.lists(st.integers(0, 50_000), max_size=20, unique=True).map(sorted),
    purchase_days_folded=small,
    first_purchase=instants,
    last_purchase=instants,
    unpriced_purchases=small,
    refund_count=small,
    refund_value=st.floats(0, 1e12, allow_nan=False),
    complaints_open=st.dictionaries(keys, instants, max_size=4),
    complaints_total=small,
    complaints_resolved=small,
    recently_resolved=st.dictionaries(keys, instants, max_size=4),
    csat=st.none() | st.tuples(st.integers(1, 5), instants).map(list),
    nps=st.none() | st.tuples(st.integers(0, 10), instants).map(list),
    satisfaction_sum=st.floats(0, 1e6, allow_nan=False),
    satisfaction_weight=st.floats(0, 1e6, allow_nan=False),
    satisfaction_at=instants,
    inquiries_open=st.dictionaries(keys, instants, max_size=4),
    recently_answered=st.dictionaries(keys, instants, max_size=4),
    referrals=small,
    recent_events=st.dictionaries(st.integers(0, 2**64 - 1), st.integers(0, 2**32 - 1), max_size=32).map(
        lambda kept: window(*kept.items())
    ),
    stage=st.sampled_from(("", "prospect", "loyal", "lapsed")),
    stage_since=instants,
    value_tier=st.sampled_from(("", "bronze", "platinum")),
    wake_at=st.none() | instants,
)


@settings(max_examples=200, deadline=None)
@given(states)
def test_any_state_survives_an_encode_decode_round_trip(state: CustomerState) -> None:
    assert CustomerState.decode(state.encode()) == state


@settings(max_examples=200, deadline=None)
@given(states)
def test_the_encoding_is_the_short_keyed_document_of_the_partition_and_the_fields_set(
    state: CustomerState,
) -> None:
    # The changelog's bytes: workers of different versions read each other's states.
    document: dict[str, Any] = {}
    for name, short in _KEYS.items():
        value = getattr(state, name)
        if value or name == "partition":
            document[short] = value
    assert state.encode() == msgpack.packb(document)


#: What a state's fields hold, the detectors' memories above all (any JSON-like value, binary too).
documents = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=300)
    | st.binary(max_size=300),
    lambda inner: st.lists(inner, max_size=20) | st.dictionaries(st.text(max_size=40), inner, max_size=20),
    max_leaves=60,
)


@settings(max_examples=500, deadline=None)
@given(st.dictionaries(st.sampled_from(list(_KEYS.values())), documents))
def test_states_are_written_and_read_as_the_msgpack_package_writes_and_reads_them(
    document: dict[str, Any],
) -> None:
    # Every earlier version wrote its states with the msgpack package: same bytes, same values back.
    packed = msgpack.packb(document)
    assert _PACK(document) == packed
    assert _UNPACK(packed) == msgpack.unpackb(packed)


@settings(max_examples=100, deadline=None)
@given(histories())
def test_a_tracked_state_survives_an_encode_decode_round_trip(events: list[dict[str, Any]]) -> None:
    for state in replay(events).values():
        restored = CustomerState.decode(state.encode())
        assert restored == state
        assert restored.satisfaction == state.satisfaction
        assert restored.encode() == state.encode()


@settings(max_examples=200, deadline=None)
@given(states)
def test_a_summary_read_from_the_encoded_form_equals_the_states_own(state: CustomerState) -> None:
    # A worker rebuilds its timers and gauges from states still encoded after a bulk restore.
    assert summarize(state.encode()) == summarize(state)


@settings(max_examples=50, deadline=None)
@given(histories())
def test_tracked_states_summarize_alike_encoded_or_not(events: list[dict[str, Any]]) -> None:
    for state in replay(events).values():
        assert summarize(state.encode()) == summarize(state)


def test_a_fresh_state_encodes_to_its_partition_only_and_decodes_equal() -> None:
    for partition in (0, 5):
        state = CustomerState(partition=partition)
        assert msgpack.unpackb(state.encode()) == {"p": partition}
        assert CustomerState.decode(state.encode()) == state


def test_a_json_state_of_an_earlier_version_still_decodes_with_an_empty_dedupe_window() -> None:
    # Changelogs written before the MessagePack codec hold JSON, with CRC-32s of event ids under "ids".
    earlier = orjson.dumps(
        {"p": 3, "n": 2, "f": 1767600000, "l": 1767603600, "st": "prospect", "ids": "AAAAAQ=="}
    )
    state = CustomerState.decode(earlier)
    assert (state.partition, state.events, state.stage, state.recent_events) == (3, 2, "prospect", b"")
    assert summarize(earlier) == summarize(state)


def test_the_dedupe_window_is_read_from_and_written_as_the_changelog_bytes_of_earlier_versions() -> None:
    # Earlier versions kept the window as a dict of integers and packed it for the changelog like this.
    kept = {2**64 - 1: 2**32 - 1, 0: 0, 12345678901234567890: 7}
    earlier = msgpack.packb(
        {
            "p": 1,
            "n": 3,
            "dd": struct.pack(">" + "QI" * len(kept), *itertools.chain.from_iterable(kept.items())),
        }
    )
    state = CustomerState.decode(earlier)
    assert pairs(state.recent_events) == list(kept.items())
    assert state.encode() == earlier


@pytest.mark.parametrize("window_bytes", [b"\x00" * 11, b"\x00" * 13, "not bytes"])
def test_a_dedupe_window_of_no_whole_entries_is_refused(window_bytes: object) -> None:
    with pytest.raises(ValueError, match="whole entries of 12 bytes"):
        CustomerState.decode(msgpack.packb({"p": 1, "n": 1, "dd": window_bytes}))


def test_tracking_goes_on_identically_after_a_round_trip() -> None:
    # A rebalance restores the state from its changelog record mid-history: the rest must not notice.
    first = [purchase(0, 19.99), feedback(1, csat=4), inquiry(2), complaint(3)]
    rest = [purchase(30, 5.01), reply(30.5), resolution(31), feedback(40, nps=9), purchase(61), visit(500)]
    live, restored = Journey(), Journey()
    live.send(*first)
    restored.state = CustomerState.decode(live.current.encode())
    before = len(live.transitions)
    live.send(*rest)
    restored.send(*rest)
    assert restored.current.encode() == live.current.encode()
    assert len(restored.transitions) >= 3
    assert restored.transitions == live.transitions[before:]


def simulated_customers(touchpoints: int) -> dict[str, list[dict[str, Any]]]:
    """Normalised events of simulated customers with at least *touchpoints* events, their first ones."""
    decoder = TouchpointDecoder(identity_salt=SALT)
    by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    seen: set[str] = set()
    for record in itertools.islice(
        generate(SimulationSpec(customers=50, seed=3, malformed_share=0.0)), 5_000
    ):
        outcome = decoder(record)
        assert isinstance(outcome, Accepted)
        if outcome.event["event_id"] not in seen:  # the simulator redelivers a few: keep distinct touchpoints
            seen.add(outcome.event["event_id"])
            by_customer[outcome.customer_id].append(outcome.event)
    return {
        customer: events[:touchpoints]
        for customer, events in by_customer.items()
        if len(events) >= touchpoints
    }


def test_a_typical_customer_with_50_realistic_touchpoints_encodes_to_under_1_kb() -> None:
    customers = simulated_customers(50)
    assert len(customers) >= 20, "the simulation should give plenty of busy customers"
    tracker = JourneyTracker(default_config(), SALT)
    sizes = {}
    for customer, events in customers.items():
        state = None
        for event in events:
            state = tracker.track(state, customer, event, 0).state
        assert state is not None
        assert state.events == 50
        sizes[customer] = len(state.encode())
    largest = max(sizes, key=sizes.__getitem__)
    median = sorted(sizes.values())[len(sizes) // 2]
    measured = (
        f"largest {sizes[largest]} bytes ({largest}), median {median} bytes over {len(sizes)} customers"
    )
    # The target is the typical customer. Open alerts add to it until settled or expired (at most
    # alerts.max_open_per_customer of them, ~250 bytes of facts for an SLA alert, ~700 with a detector's text).
    assert median < ENCODED_LIMIT, measured
    assert sizes[largest] < ENCODED_LIMIT * 4, measured
    print(measured)


def long_history(count: int) -> list[dict[str, Any]]:
    """*count* daily touchpoints: every other one a purchase, between them new chats and issues, answered."""
    events = []
    for number in range(count):
        day = float(number)
        kind = number % 8
        if kind % 2 == 0:
            events.append(purchase(day, 10.0))
        elif kind == 1:
            events.append(inquiry(day, f"conv-{number}"))
        elif kind == 3:
            events.append(reply(day, f"conv-{number - 2}"))
        elif kind == 5:
            events.append(complaint(day, f"issue-{number}"))
        else:
            events.append(resolution(day, f"issue-{number - 2}"))
    return events


@pytest.mark.parametrize(
    "rules",
    [
        pytest.param({}, id="default bounds"),
        pytest.param(
            {"state": {"dedupe_window": 4, "answered_memory": 2, "max_purchase_days": 8}}, id="tight bounds"
        ),
    ],
)
def test_remembered_collections_stay_bounded_by_the_rules_after_1000_events(rules: dict[str, Any]) -> None:
    config = config_from_mapping(rules)
    journey = Journey(config)
    journey.send(*long_history(1_000))
    state, bounds = journey.current, config.state
    assert state.events == 1_000
    assert len(entries(state.recent_events)) == bounds.dedupe_window
    assert len(state.recently_answered) == bounds.answered_memory
    assert len(state.recently_resolved) == bounds.answered_memory
    assert len(state.purchase_days) == bounds.max_purchase_days
    # Folding keeps the count of purchase days exact, and keeps the newest days for the cadence.
    assert state.distinct_purchase_days == 500
    assert state.purchase_days[-1] - state.purchase_days[0] == 2 * (bounds.max_purchase_days - 1)
    # Everything answered and resolved was closed: nothing is left open.
    assert (state.inquiries_open, state.complaints_open) == ({}, {})
    assert (state.complaints_total, state.complaints_resolved) == (125, 125)


def test_a_record_without_the_worker_fields_summarizes_to_no_partition() -> None:
    summary = summarize(b"{}")
    assert (summary.partition, summary.stage, summary.wake_at, summary.inquiries_open, summary.sla_cases) == (
        -1,
        "",
        None,
        0,
        0,
    )


def test_the_lookup_form_has_long_names_and_derived_figures_but_no_worker_fields() -> None:
    state = CustomerState(
        partition=3,
        events=4,
        purchase_count=2,
        purchase_value=120.456,
        refund_value=20.0,
        purchase_days=[20_458, 20_460],
        purchase_days_folded=1,
        satisfaction_sum=1.5,
        satisfaction_weight=2.0,
        recent_events=window((1, 10), (2, 20)),
        stage="repeat",
        merges=[Ledger("id:device_id:0123456789abcdef0123", 1_768_000_000, "ev-9").to_list()],
    )
    document = state.to_json()
    assert "partition" not in document
    assert "recent_events" not in document
    assert document["merged_from"] == ["id:device_id:0123456789abcdef0123"], (
        "the profiles merged in, not the ledger"
    )
    assert document["net_value"] == 100.46
    assert document["satisfaction"] == 0.75
    assert document["distinct_purchase_days"] == 3
    assert (document["events"], document["stage"], document["purchase_days"]) == (
        4,
        "repeat",
        [20_458, 20_460],
    )
    derived = {"net_value", "satisfaction", "distinct_purchase_days", "merged_from"}
    # The worker's own bookkeeping (dedupe memory, partition, identity graph) stays out of the lookup.
    assert not {"recent_events", "partition", "merges", "identity"} & set(document)
    assert set(document) - derived <= set(CustomerState.__dataclass_fields__), "long names only"
    assert {"events", "stage", "value_tier", "purchase_count", "clv", "alerts_open"} <= set(document)
    assert orjson.loads(orjson.dumps(document)) == document, "JSON-ready"
