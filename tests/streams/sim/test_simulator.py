"""The traffic simulator: deterministic, contract-valid, realistic in the ways the detectors rely on."""

from __future__ import annotations

import ast
import itertools
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

import schemas
from streams.sim import SimulationSpec, generate, generate_events, generate_with_persons

pytestmark = pytest.mark.unit

BERLIN = ZoneInfo("Europe/Berlin")
SIMULATOR_SOURCES = sorted((Path(__file__).resolve().parents[3] / "streams" / "sim").glob("*.py"))


def take(spec: SimulationSpec, count: int) -> list[bytes]:
    return list(itertools.islice(generate(spec), count))


def parse_valid(record: bytes) -> dict[str, Any] | None:
    """The event if the record satisfies the touchpoint contract, else None."""
    try:
        event = orjson.loads(record)
        schemas.validator("touchpoint")(event)
    except (orjson.JSONDecodeError, schemas.ValidationError):
        return None
    return event  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def clean_run() -> list[tuple[datetime, dict[str, Any]]]:
    """The first 20,000 records of the default spec without malformed ones, parsed and validated."""
    records = itertools.islice(generate_events(SimulationSpec(malformed_share=0.0)), 20_000)
    validate = schemas.validator("touchpoint")
    run = []
    for instant, record in records:
        event = orjson.loads(record)
        validate(event)
        run.append((instant, event))
    return run


@pytest.fixture(scope="module")
def noisy_records() -> list[bytes]:
    return take(SimulationSpec(malformed_share=0.05), 10_000)


@pytest.fixture(scope="module")
def dst_run() -> list[dict[str, Any]]:
    """Two weeks of traffic around the switch to summer time (Sunday 29 March 2026 in Berlin)."""
    spec = SimulationSpec(start=datetime(2026, 3, 23, tzinfo=UTC), malformed_share=0.0)
    return [orjson.loads(record) for record in take(spec, 20_000)]


def local(event: dict[str, Any]) -> datetime:
    """occurred_at as written: an aware datetime whose wall-clock fields are the local time."""
    return datetime.fromisoformat(event["occurred_at"])


def staffed(moment: datetime) -> bool:
    return moment.weekday() < 5 and (9, 0) <= (moment.hour, moment.minute) < (17, 30)


def test_the_same_spec_yields_identical_bytes() -> None:
    assert take(SimulationSpec(), 5_000) == take(SimulationSpec(), 5_000)


def test_a_different_seed_yields_a_different_stream() -> None:
    assert take(SimulationSpec(seed=8), 5_000) != take(SimulationSpec(), 5_000)


def test_without_malformed_share_every_record_passes_the_contract(
    clean_run: list[tuple[datetime, dict[str, Any]]],
) -> None:
    assert len(clean_run) == 20_000  # the fixture validated each one


def test_the_malformed_share_is_within_tolerance_of_the_spec(noisy_records: list[bytes]) -> None:
    invalid = sum(parse_valid(record) is None for record in noisy_records)
    assert 0.03 <= invalid / len(noisy_records) <= 0.07


def test_malformed_records_are_inserted_and_every_other_record_is_valid(noisy_records: list[bytes]) -> None:
    """Filtering the broken records out of a noisy run gives exactly the clean run."""
    valid = [record for record in noisy_records if parse_valid(record) is not None]
    assert valid == take(SimulationSpec(malformed_share=0.0), len(valid))


def test_malformed_records_break_in_every_way_a_consumer_must_survive() -> None:
    kinds: Counter[str] = Counter()
    for record in take(SimulationSpec(malformed_share=0.3), 3_000):
        if parse_valid(record) is not None:
            continue
        if not record.strip():
            kinds["empty"] += 1
            continue
        try:
            text = record.decode()
        except UnicodeDecodeError:
            kinds["invalid utf-8"] += 1
            continue
        try:
            document = orjson.loads(text)
        except orjson.JSONDecodeError:
            kinds["not json"] += 1
            continue
        if isinstance(document, list):
            kinds["array"] += 1
        elif document["channel"] not in ("app", "web", "phone", "chat", "store", "email", "social"):
            kinds["unknown channel"] += 1
        elif "customer_id" not in document and "identifiers" not in document:
            kinds["no customer"] += 1
        elif document["occurred_at"][-6] not in "+-" and not document["occurred_at"].endswith("Z"):
            kinds["naive timestamp"] += 1
        elif isinstance(document.get("attributes", {}).get("amount"), str):
            kinds["wrong type"] += 1
    expected = {"empty", "invalid utf-8", "not json", "array", "unknown channel", "no customer"}
    assert expected | {"naive timestamp", "wrong type"} <= set(kinds)


def test_every_channel_and_every_type_appears_within_20000_records(
    clean_run: list[tuple[datetime, dict[str, Any]]],
) -> None:
    properties = schemas.load_schema("touchpoint")["properties"]
    assert {event["channel"] for _, event in clean_run} == set(properties["channel"]["enum"])
    assert {event["type"] for _, event in clean_run} == set(properties["type"]["enum"])
    assert {event["actor"] for _, event in clean_run} == set(properties["actor"]["enum"])


def test_event_times_never_go_backwards_and_match_occurred_at(
    clean_run: list[tuple[datetime, dict[str, Any]]],
) -> None:
    instants = [instant for instant, _ in clean_run]
    assert all(earlier <= later for earlier, later in itertools.pairwise(instants))
    assert all(local(event) == instant for instant, event in clean_run)
    assert instants[0] >= SimulationSpec().start
    assert instants[-1] - instants[0] > timedelta(days=7)  # long enough for weekly rhythms and follow-ups


def test_occurred_at_carries_the_local_offset_across_a_dst_change(dst_run: list[dict[str, Any]]) -> None:
    offsets = Counter(event["occurred_at"][-6:] for event in dst_run)
    assert set(offsets) == {"+01:00", "+02:00"}
    for event in dst_run:
        moment = local(event)
        assert moment.utcoffset() == moment.astimezone(BERLIN).utcoffset(), event


def test_store_visits_and_purchases_happen_only_within_store_hours(dst_run: list[dict[str, Any]]) -> None:
    store_events = [event for event in dst_run if event["channel"] == "store"]
    assert sum(event["type"] == "purchase" for event in store_events) > 100
    for event in store_events:
        moment = local(event)
        assert moment.weekday() < 6, event
        assert 9 <= moment.hour < 20, event
        assert event["location"].startswith("store-")


def test_phone_calls_reach_an_agent_only_while_the_team_is_staffed(
    clean_run: list[tuple[datetime, dict[str, Any]]],
) -> None:
    for _, event in clean_run:
        if event["type"] == "queue_wait":
            # A call that started before 17:30 may be picked up a little later, never in the evening.
            moment = local(event)
            assert moment.weekday() < 5, event
            assert 9 <= moment.hour < 18, event


def test_some_after_hours_inquiries_are_never_answered(
    clean_run: list[tuple[datetime, dict[str, Any]]],
) -> None:
    cutoff = clean_run[-1][0] - timedelta(days=4)  # later ones may still get an answer after the sample ends
    inquiries: dict[str, datetime] = {}
    replied: set[str] = set()
    for instant, event in clean_run:
        conversation = event.get("conversation_id")
        if conversation is None:
            continue
        if event["type"] == "inquiry" and conversation not in inquiries and instant < cutoff:
            inquiries[conversation] = local(event)
        elif event["type"] == "reply":
            replied.add(conversation)
    after_hours = [conversation for conversation, moment in inquiries.items() if not staffed(moment)]
    assert len(after_hours) > 100
    unanswered = [conversation for conversation in after_hours if conversation not in replied]
    assert 0.1 * len(after_hours) < len(unanswered) < 0.9 * len(after_hours)
    assert any(
        local(event).hour == 19 for _, event in clean_run if event.get("conversation_id") in unanswered
    )


def test_some_issues_recur_three_times_within_two_weeks_before_resolution(
    clean_run: list[tuple[datetime, dict[str, Any]]],
) -> None:
    complaints: defaultdict[str, list[datetime]] = defaultdict(list)
    resolved: dict[str, datetime] = {}
    for instant, event in clean_run:
        if event["type"] == "complaint":
            complaints[event["attributes"]["issue_id"]].append(instant)
        elif event["type"] == "resolution":
            resolved[event["attributes"]["issue_id"]] = instant
    recurring = [
        issue
        for issue, times in complaints.items()
        if len(times) >= 3 and issue in resolved and resolved[issue] - times[0] <= timedelta(days=14)
    ]
    assert recurring
    assert any(issue not in resolved for issue in complaints)


def test_calls_wait_mostly_under_twenty_seconds_with_a_tail(
    clean_run: list[tuple[datetime, dict[str, Any]]],
) -> None:
    waits = [event["attributes"]["wait_seconds"] for _, event in clean_run if event["type"] == "queue_wait"]
    assert sum(wait < 20 for wait in waits) > 0.6 * len(waits)
    assert max(waits) > 120


def test_some_contacts_have_several_and_cold_transfers(
    clean_run: list[tuple[datetime, dict[str, Any]]],
) -> None:
    transfers: Counter[str] = Counter()
    kinds = set()
    for _, event in clean_run:
        if event["type"] == "transfer":
            transfers[event["conversation_id"]] += 1
            kinds.add(event["attributes"]["transfer_kind"])
    assert kinds == {"warm", "cold"}
    assert max(transfers.values()) >= 2


def test_purchases_carry_realistic_euro_amounts(clean_run: list[tuple[datetime, dict[str, Any]]]) -> None:
    purchases = [event["attributes"] for _, event in clean_run if event["type"] == "purchase"]
    amounts = sorted(attributes["amount"] for attributes in purchases)
    assert {attributes["currency"] for attributes in purchases} == {"EUR"}
    assert all(round(amount, 2) == amount > 0 for amount in amounts)
    assert 20 < amounts[len(amounts) // 2] < 300  # median
    assert amounts[-1] > 5 * amounts[len(amounts) // 2]  # a long right tail


def test_a_share_of_events_know_the_customer_only_by_identifiers(
    clean_run: list[tuple[datetime, dict[str, Any]]],
) -> None:
    anonymous = [event for _, event in clean_run if "customer_id" not in event]
    assert 0.08 < len(anonymous) / len(clean_run) < 0.3
    identifies = [event for _, event in clean_run if event["type"] == "identify"]
    assert identifies
    assert all("customer_id" in event and event["identifiers"] for event in identifies)


def test_duplicates_repeat_an_earlier_record_byte_for_byte() -> None:
    records = take(SimulationSpec(malformed_share=0.0), 20_000)
    seen: set[bytes] = set()
    duplicates = 0
    for record in records:
        duplicates += record in seen
        seen.add(record)
    assert 0 < duplicates < 0.02 * len(records)
    assert len({orjson.loads(record)["event_id"] for record in records}) == len(seen)


def test_the_spec_rejects_a_naive_start_and_an_impossible_share() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        SimulationSpec(start=datetime(2026, 1, 5))
    with pytest.raises(ValueError, match="malformed_share"):
        SimulationSpec(malformed_share=1.5)


def test_the_simulator_imports_nothing_but_the_standard_library_and_orjson() -> None:
    imported: set[str] = set()
    for source in SIMULATOR_SOURCES:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module)
    outside = {name.split(".")[0] for name in imported if name.split(".")[:2] != ["streams", "sim"]}
    assert outside - set(sys.stdlib_module_names) == {"orjson"}


@pytest.fixture(scope="module")
def people() -> list[tuple[dict[str, Any], str]]:
    """The valid events of 60,000 records of 2,000 customers, each with the person who made it."""
    labelled = itertools.islice(generate_with_persons(SimulationSpec(customers=2000)), 60_000)
    return [(orjson.loads(record), person) for record, person in labelled if person is not None]


def test_every_valid_event_has_a_person_and_every_customer_id_names_one_person(
    people: list[tuple[dict[str, Any], str]],
) -> None:
    persons_of: defaultdict[str, set[str]] = defaultdict(set)
    for event, person in people:
        if "customer_id" in event:
            persons_of[event["customer_id"]].add(person)
    assert persons_of
    assert all(len(persons) == 1 for persons in persons_of.values())
    # A redelivery is its original's person; malformed records have none.
    records = list(itertools.islice(generate_with_persons(SimulationSpec(malformed_share=0.05)), 5_000))
    assert any(person is None for _, person in records)
    assert all(parse_valid(record) is not None for record, person in records if person is not None)


def test_identify_events_link_the_identifiers_a_person_shows_up_with_unidentified(
    people: list[tuple[dict[str, Any], str]],
) -> None:
    linked: defaultdict[str, set[str]] = defaultdict(set)
    anonymous: defaultdict[str, set[str]] = defaultdict(set)
    for event, person in people:
        values = set((event.get("identifiers") or {}).values())
        (linked if "customer_id" in event else anonymous)[person] |= values
    # Of persons the company knows: a prospect who never signs up is never linked to anything.
    known = [person for person in anonymous if person in linked]
    shown = sum(len(anonymous[person]) for person in known)
    covered = sum(len(anonymous[person] & linked[person]) for person in known)
    assert covered / shown > 0.75, "most identifiers a customer shows up with unidentified get linked"
    assert covered < shown, "some never are: a public social account, a number the CRM never matched"


def test_some_couples_share_a_tablet_that_both_use_and_log_in_on(
    people: list[tuple[dict[str, Any], str]],
) -> None:
    users: defaultdict[str, set[str]] = defaultdict(set)
    claimants: defaultdict[str, set[str]] = defaultdict(set)
    for event, person in people:
        device = (event.get("identifiers") or {}).get("device_id")
        if device is not None:
            users[device].add(person)
            if "customer_id" in event:
                claimants[device].add(event["customer_id"])
    shared = [device for device, persons in users.items() if len(persons) > 1]
    assert shared, "a household tablet is used by both partners"
    assert all(len(users[device]) == 2 for device in shared), "only within a household"
    assert any(len(claimants[device]) == 2 for device in shared), "both partners log in on one"
