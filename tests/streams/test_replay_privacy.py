"""Personal data stays behind ingest: no raw e-mail or phone of the input in any file replay writes,
but the dead-letters (which keep refused records as they came); and erasures are honoured."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import orjson
import pytest

from agents.config import config_from_mapping
from agents.ingest.decode import TouchpointDecoder
from agents.journey.track import JourneyTracker
from streams.replay import OUTPUT_FILES, replay
from streams.sim import SimulationSpec, generate

pytestmark = pytest.mark.unit

KEY = b"replay-privacy-test-key-0123456789"
EVENTS = 5000


def _identifiers(records: list[bytes]) -> tuple[set[str], set[str]]:
    """Every e-mail and phone the valid input records name, as sent."""
    emails: set[str] = set()
    phones: set[str] = set()
    for record in records:
        try:
            document = orjson.loads(record)
        except orjson.JSONDecodeError:
            continue
        identifiers = document.get("identifiers") if isinstance(document, dict) else None
        if isinstance(identifiers, dict):
            if isinstance(identifiers.get("email"), str):
                emails.add(identifiers["email"])
            if isinstance(identifiers.get("phone"), str):
                phones.add(identifiers["phone"])
    return emails, phones


def _spellings(email: str, phone: str | None = None) -> set[str]:
    """The ways a raw value could show up in a file: as sent, normalised, JSON-escaped."""
    found = {email, email.strip(), email.strip().lower()} if email else set()
    if phone:
        found |= {phone, phone.strip(), re.sub(r"[\s().\-]", "", phone)}
    return {spelling for spelling in found if len(spelling) >= 6}


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    tmp = tmp_path_factory.mktemp("privacy")
    records = list(itertools.islice(generate(SimulationSpec(customers=400, seed=11)), EVENTS))
    source = tmp / "traffic.jsonl"
    source.write_bytes(b"".join(record.replace(b"\n", b" ") + b"\n" for record in records))
    # A note with a phone number in it: free text the enriched allow-list keeps out.
    note = orjson.dumps(
        {
            "schema_version": 1,
            "event_id": "note-1",
            "occurred_at": "2026-01-05T10:00:00+01:00",
            "customer_id": "cust-note",
            "channel": "phone",
            "type": "call_ended",
            "actor": "agent",
            "attributes": {"note": "call back on +49 170 5550123", "topic": "delivery"},
        }
    )
    with source.open("ab") as handle:
        handle.write(note + b"\n")
    out = tmp / "out"
    replay(source, out, TouchpointDecoder(identity_salt=KEY), JourneyTracker(config_from_mapping({}), KEY))
    return out, [*records, note]


def test_the_sample_names_customers_by_raw_e_mail_and_phone(replayed: tuple[Path, list[bytes]]) -> None:
    emails, phones = _identifiers(replayed[1])
    assert len(emails) >= 20, "the check below would prove nothing without raw identifiers in the input"
    assert len(phones) >= 10


def test_no_raw_e_mail_or_phone_of_the_input_is_in_any_output_file_but_the_dead_letters(
    replayed: tuple[Path, list[bytes]],
) -> None:
    out, records = replayed
    emails, phones = _identifiers(records)
    raw = set().union(*(_spellings(email) for email in emails), *(_spellings("", phone) for phone in phones))
    files = sorted(set(OUTPUT_FILES.values()) - {"dead-letter.jsonl"})
    assert "by-customer.jsonl" in files
    assert "enriched.jsonl" in files
    for name in files:
        text = (out / name).read_text()
        leaked = sorted(value for value in raw if value in text)
        assert not leaked, f"{name} holds raw identifiers: {leaked[:5]}"
    # Hashed, per kind, on by-customer: what identity resolution links by.
    by_customer = [orjson.loads(line) for line in (out / "by-customer.jsonl").read_bytes().splitlines()]
    hashed = [event["identifiers"] for event in by_customer if "identifiers" in event]
    assert hashed
    assert all(re.fullmatch(r"h:[0-9a-f]{20}", value) for ids in hashed for value in ids.values())


def test_free_text_attributes_stay_out_of_the_enriched_events(replayed: tuple[Path, list[bytes]]) -> None:
    out, _ = replayed
    [note] = [
        orjson.loads(line)
        for line in (out / "enriched.jsonl").read_bytes().splitlines()
        if b'"note-1"' in line
    ]
    assert note["touchpoint"]["attributes"] == {"topic": "delivery"}
    assert "5550123" not in (out / "enriched.jsonl").read_text()
    assert "5550123" not in (out / "alerts.jsonl").read_text()
