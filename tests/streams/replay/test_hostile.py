"""Hostile records through the replay: it finishes, accounts for every line, writes the same bytes in one
process and in two, and no raw identifier gets past ingest.

Simulator traffic with some of its records made hostile: a field set to a wrong type or an extreme value,
an instant the product cannot hold, ids borrowed from other records (another customer's event id, another
conversation, another issue), identifiers in other scripts or of every length, redeliveries, garbage lines.
The replay runs the worker's own core, so what holds here holds for the worker's processing of a record.
"""

from __future__ import annotations

import random
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agents.config import Config, config_from_mapping
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from streams.replay import OUTPUT_FILES, replay
from tests.streams.replay.traffic import simulated

pytestmark = pytest.mark.unit

SALT = b"hostile"
#: Identity on, so that two processes hand work to each other as identifiers link customers.
CONFIG: Config = config_from_mapping({"identity": {"enabled": True}})

TEXTS = (
    "",
    " ",
    "\x00",
    "İ" * 40,
    "ß",
    "e\u0301",
    "\U0001f600" * 10,
    "a\u200bb",
    "\u202e",
    "٣",
    "x" * 128,
    "y" * 129,
    "z" * 513,
    "id:abc",
    "null",
    "NaN",
    "1e999",
)
NUMBERS = (
    0,
    -0.0,
    -1,
    0.5,
    1e9,
    1e9 + 1,
    1e-300,
    5e-324,
    1.7976931348623157e308,
    2**53 + 1,
    2**63,
    -(2**63),
    604800,
    604801,
)
ANYTHING: tuple[Any, ...] = (*TEXTS, *NUMBERS, True, False, None, [], {}, [1], {"a": {"b": []}})
INSTANTS = (
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59+23:59",
    "2026-02-29T10:00:00Z",
    "2026-01-05 10:00:00+00:00",
    "2026-01-05t10:00:00z",
    "2026-01-05T10:00:60Z",
    "2026-01-05T24:00:00Z",
    "2026-01-05T10:00:00.123456789+14:00",
    "1969-12-31T23:59:59Z",
    "2026-03-29T02:30:00+01:00",
    "2026-01-05T10:00:00-00:00",
    "2026-01-05T10:00:00+00:60",
    "２０２６-01-05T10:00:00Z",
)
FIELDS = (
    "event_id",
    "occurred_at",
    "customer_id",
    "channel",
    "type",
    "actor",
    "conversation_id",
    "location",
    "attributes",
    "identifiers",
    "schema_version",
)
ATTRIBUTES = (
    "amount",
    "currency",
    "wait_seconds",
    "transfer_kind",
    "issue_id",
    "csat",
    "nps",
    "agent_id",
    "topic",
)
IDENTIFIERS = {
    "email": ("A@B.C", "İ@x.com", "  a@b.example  ", "ß@ß", "x" * 254 + "@y.example"),
    "phone": ("+1 (555) 0100", "1()", "+" + "9" * 30, "٣٣٣٣٣٣٣"),
    "loyalty_id": ("L-1", "l-1 ", "x" * 128),
    "device_id": ("dev-1", "DEV-1", ""),
    "fax": ("123",),
}
#: At most this share of the records are made hostile.
COUNT = 400


@cache
def base(seed: int) -> tuple[dict[str, Any], ...]:
    """The simulator's records of 20 customers from *seed*, read (its malformed ones left out)."""
    records = []
    for line in simulated(20, seed, COUNT).splitlines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return tuple(records)


def hostile(rng: random.Random, record: dict[str, Any], others: tuple[dict[str, Any], ...]) -> bytes:
    """*record* made hostile, one to three ways, as a line."""
    changed = orjson.loads(orjson.dumps(record))
    for _ in range(rng.randint(1, 3)):
        way = rng.randrange(8)
        if way == 0:
            changed[rng.choice(FIELDS)] = rng.choice(ANYTHING)
        elif way == 1:
            changed["occurred_at"] = rng.choice(INSTANTS)
        elif way == 2:
            attributes = changed["attributes"] if isinstance(changed.get("attributes"), dict) else {}
            attributes[rng.choice(ATTRIBUTES)] = rng.choice(ANYTHING)
            changed["attributes"] = attributes
        elif way == 3:
            other = rng.choice(others)
            for name in rng.sample(
                ("event_id", "conversation_id", "customer_id", "attributes"), rng.randint(1, 2)
            ):
                if name in other:
                    changed[name] = other[name]
        elif way == 4:
            identifiers = changed["identifiers"] if isinstance(changed.get("identifiers"), dict) else {}
            kind = rng.choice(sorted(IDENTIFIERS))
            identifiers[kind] = rng.choice(IDENTIFIERS[kind] + TEXTS[:6])
            changed["identifiers"] = identifiers
            if rng.random() < 0.5:
                changed.pop("customer_id", None)
        elif way == 5:
            changed.pop(rng.choice(FIELDS), None)
        elif way == 6:
            changed["type"] = rng.choice(("purchase", "refund", "complaint", "resolution", "feedback"))
        else:
            return rng.choice((b"{", b"[]", b'"x"', b"\xff\xfe", b"{}" * 3, b"null"))
    return orjson.dumps(changed)


@st.composite
def histories(draw: st.DrawFn) -> bytes:
    """Simulator traffic with a share of its records hostile, and some lines delivered again later."""
    records = base(draw(st.integers(1, 3)))
    rng = draw(st.randoms(use_true_random=False))
    share = draw(st.sampled_from((0.0, 0.05, 0.2, 0.6)))
    lines = [
        hostile(rng, record, records) if rng.random() < share else orjson.dumps(record) for record in records
    ]
    lines.extend(rng.choice(lines) for _ in range(rng.randrange(20)))
    return b"".join(line.replace(b"\n", b" ") + b"\n" for line in lines)


def replayed(history: bytes, processes: int, folder: Path) -> tuple[Any, dict[str, bytes]]:
    source = folder / "history.jsonl"
    source.write_bytes(history)
    out = folder / f"out-{processes}"
    decoder = TouchpointDecoder(identity_salt=SALT, identity=CONFIG.identity)
    summary = replay(source, out, decoder, JourneyTracker(CONFIG, SALT), processes=processes)
    return summary, {name: (out / name).read_bytes() for name in OUTPUT_FILES.values()}


def raw_identifiers(history: bytes) -> set[bytes]:
    """The identifiers' values in *history* long enough not to occur by chance, as JSON would write them; but
    not the texts any field may be given, such as an event id."""
    found = set()
    for line in history.splitlines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        identifiers = record.get("identifiers") if isinstance(record, dict) else None
        for value in identifiers.values() if isinstance(identifiers, dict) else ():
            if isinstance(value, str) and len(value.strip()) > 6 and value not in TEXTS:
                found.add(orjson.dumps(value.strip().lower())[1:-1])
    return found


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(histories())
def test_hostile_records_are_refused_or_applied_the_same_in_any_number_of_processes(history: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        one, written = replayed(history, 1, Path(folder))
        _, written_by_two = replayed(history, 2, Path(folder))

    assert written_by_two == written
    lines = len(history.splitlines())
    assert one.records + one.blank_lines == lines
    # Every record is accepted or dead-lettered with a reason; what is accepted and then refused by the journey
    # is dead-lettered too.
    assert one.accepted + sum(one.rejected.values()) == one.records
    dead_letters = written["dead-letter.jsonl"].splitlines()
    assert len(dead_letters) == sum((one.rejected + one.refused).values())
    assert all(orjson.loads(line)["reason"] for line in dead_letters)
    for name, content in written.items():
        if name != "dead-letter.jsonl":  # holds refused records as they came: behind ingest, as the topic is
            lowered = content.lower()
            assert not [value for value in raw_identifiers(history) if value in lowered], name
