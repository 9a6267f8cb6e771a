"""Dead-letter records keep the evidence and satisfy their contract."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest

import schemas
from agents.domain.refusal import Rejected
from agents.ingest.dead_letter import dead_letter_record

pytestmark = pytest.mark.unit

WHEN = datetime(2026, 1, 5, 18, 30, tzinfo=UTC)
REJECTED = Rejected("schema", "channel must be one of app, web", "channel")


def record(raw: bytes | None, limit: int = 1024) -> dict[str, object]:
    encoded = dead_letter_record(
        raw, REJECTED, topic="touchpoints", partition=3, offset=17, rejected_at=WHEN, payload_limit=limit
    )
    document: dict[str, object] = orjson.loads(encoded)
    schemas.validator("dead_letter")(document)
    return document


def test_utf8_payload_is_kept_as_text_with_source_and_reason() -> None:
    document = record(b'{"channel": "fax"}')
    assert document["payload"] == '{"channel": "fax"}'
    assert document["payload_encoding"] == "utf-8"
    assert document["source"] == {"topic": "touchpoints", "partition": 3, "offset": 17}
    assert (document["reason"], document["field"]) == ("schema", "channel")
    assert document["rejected_at"] == "2026-01-05T18:30:00+00:00"


def test_binary_payload_is_kept_as_base64() -> None:
    raw = bytes(range(256))
    document = record(raw)
    assert document["payload_encoding"] == "base64"
    assert base64.b64decode(str(document["payload"])) == raw


def test_null_value_is_recorded_as_an_empty_payload() -> None:
    document = record(None)
    assert (document["payload"], document["payload_bytes"]) == ("", 0)


def test_oversized_payload_is_truncated_and_says_so() -> None:
    document = record(b"a" * 5000, limit=100)
    assert document["payload"] == "a" * 100
    assert document["payload_bytes"] == 5000
    assert document["payload_truncated"] is True


@pytest.mark.parametrize(
    "raw",
    [b"a" * 5000, "é".encode() * 2500, bytes(range(256)) * 20, b"x" * 100, b"x" * 101, b"x" * 99, b""],
)
def test_the_first_bytes_and_the_size_of_a_record_make_the_record_it_would_make_whole(raw: bytes) -> None:
    # A line too long to be read whole is known by its first bytes and its size (agents/lines.py).
    head = dead_letter_record(
        raw[:100],
        REJECTED,
        topic="t",
        partition=0,
        offset=1,
        rejected_at=WHEN,
        payload_limit=100,
        size=len(raw),
    )
    whole = dead_letter_record(
        raw, REJECTED, topic="t", partition=0, offset=1, rejected_at=WHEN, payload_limit=100
    )
    assert head == whole


def test_truncation_inside_a_multibyte_character_keeps_the_text_readable() -> None:
    document = record("é".encode() * 100, limit=51)
    assert document["payload_encoding"] == "utf-8"
    assert document["payload"] == "é" * 25


def test_a_payload_of_exactly_the_limit_is_kept_whole_and_not_flagged() -> None:
    whole = record(b"x" * 100, limit=100)
    assert (whole["payload"], whole["payload_truncated"], whole["payload_bytes"]) == ("x" * 100, False, 100)
    cut = record(b"x" * 101, limit=100)
    assert (cut["payload"], cut["payload_truncated"], cut["payload_bytes"]) == ("x" * 100, True, 101)


@pytest.mark.parametrize("kept", [1, 2, 3], ids=["1 of 4 bytes", "2 of 4 bytes", "3 of 4 bytes"])
def test_a_four_byte_character_cut_at_the_limit_is_dropped_and_the_rest_kept_as_text(kept: int) -> None:
    document = record(b"a" * 10 + "😀".encode() + b"tail", limit=10 + kept)
    assert (document["payload"], document["payload_encoding"], document["payload_truncated"]) == (
        "a" * 10,
        "utf-8",
        True,
    )


def test_a_bad_byte_before_the_cut_is_not_a_cut_character_and_goes_as_base64() -> None:
    raw = b"a" * 10 + b"\xff" + b"bcd" + b"e" * 10
    document = record(raw, limit=14)
    assert document["payload_encoding"] == "base64"
    assert base64.b64decode(str(document["payload"])) == raw[:14]


def test_a_bad_last_byte_of_a_whole_payload_is_not_a_cut_and_goes_as_base64() -> None:
    raw = b"{}\xe2"
    document = record(raw)
    assert (document["payload_encoding"], document["payload_truncated"]) == ("base64", False)
    assert base64.b64decode(str(document["payload"])) == raw


def test_a_payload_of_exactly_the_limit_ending_in_a_broken_character_is_not_a_cut_and_goes_as_base64() -> (
    None
):
    # Nothing was cut, so the broken character is what the producer sent: kept byte for byte.
    raw = b"a" * 9 + "é".encode()[:1]
    document = record(raw, limit=10)
    assert (document["payload_encoding"], document["payload_truncated"]) == ("base64", False)
    assert base64.b64decode(str(document["payload"])) == raw


def test_the_facts_of_a_refusal_are_kept_as_its_details() -> None:
    duplicate = Rejected(
        "conflicting_duplicate",
        "event id order-1 was applied with other content",
        "event_id",
        {"kept_digest": "1f0c9a2e", "refused_digest": "8b7e0d11"},
    )
    encoded = dead_letter_record(
        b"{}", duplicate, topic="touchpoints.by-customer", partition=1, offset=52, rejected_at=WHEN
    )
    document = orjson.loads(encoded)
    schemas.validator("dead_letter")(document)
    assert document["details"] == {"kept_digest": "1f0c9a2e", "refused_digest": "8b7e0d11"}
    assert "details" not in record(b"{}"), "a refusal without facts has no details"
